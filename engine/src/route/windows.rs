//! Windows event logs: a channel and an event id to the Sigma product, categories and service
//! (SigmaHQ's Windows logsource table).

use super::{Recognized, Source};

pub(super) fn windows(channel: &str, event_id: Option<u64>) -> Source {
    let win = |categories: &'static [&'static str], services: &'static [&'static str]| {
        Source::Recognized(Recognized { product: Some("windows"), categories, services })
    };
    // Lower-cased on the stack: this runs for every Windows event.
    let mut buf = [0u8; 128];
    let heap;
    let channel_lc = match buf.get_mut(..channel.len()) {
        Some(slot) => {
            slot.copy_from_slice(channel.as_bytes());
            slot.make_ascii_lowercase();
            std::str::from_utf8(slot).expect("ASCII lower-casing keeps UTF-8 valid")
        }
        None => {
            heap = channel.to_ascii_lowercase();
            heap.as_str()
        }
    };
    match channel_lc {
        "microsoft-windows-sysmon/operational" => win(sysmon_categories(event_id), &["sysmon"]),
        "security" => win(if event_id == Some(4688) { &["process_creation"] } else { &[] }, &["security"]),
        "system" => win(&[], &["system"]),
        "application" => win(&[], &["application"]),
        "windows powershell" => win(
            match event_id {
                Some(400) => &["ps_classic_start"],
                Some(600) => &["ps_classic_provider_start"],
                Some(800) => &["ps_classic_script"],
                _ => &[],
            },
            &["powershell-classic"],
        ),
        "microsoft-windows-powershell/operational" | "powershellcore/operational" => win(
            match event_id {
                Some(4103) => &["ps_module"],
                Some(4104) => &["ps_script"],
                _ => &[],
            },
            &["powershell"],
        ),
        other => {
            win(&[], WINDOWS_SERVICES.iter().find(|(c, _)| *c == other).map_or(&[], |(_, s)| std::slice::from_ref(s)))
        }
    }
}

/// Sysmon event ids to the Sigma categories they feed (SigmaHQ's windows logsource table).
fn sysmon_categories(event_id: Option<u64>) -> &'static [&'static str] {
    match event_id {
        Some(1) => &["process_creation"],
        Some(2) => &["file_change"],
        Some(3) => &["network_connection"],
        Some(4) | Some(16) => &["sysmon_status"],
        Some(5) => &["process_termination"],
        Some(6) => &["driver_load"],
        Some(7) => &["image_load"],
        Some(8) => &["create_remote_thread"],
        Some(9) => &["raw_access_thread"],
        Some(10) => &["process_access"],
        Some(11) => &["file_event"],
        Some(12) => &["registry_event", "registry_add", "registry_delete"],
        Some(13) => &["registry_event", "registry_set"],
        Some(14) => &["registry_event", "registry_rename"],
        Some(15) => &["create_stream_hash"],
        Some(17) | Some(18) => &["pipe_created"],
        Some(19) | Some(20) | Some(21) => &["wmi_event"],
        Some(22) => &["dns_query"],
        Some(23) => &["file_delete"],
        Some(24) => &["clipboard_capture"],
        Some(25) => &["process_tampering"],
        Some(26) => &["file_delete_detected"],
        Some(27) => &["file_block_executable"],
        Some(28) => &["file_block_shredding"],
        Some(29) => &["file_executable_detected"],
        Some(255) => &["sysmon_error"],
        _ => &[],
    }
}

/// Windows event log channels to the Sigma `service` that names them.
const WINDOWS_SERVICES: &[(&str, &str)] = &[
    ("microsoft-windows-windows defender/operational", "windefend"),
    ("microsoft-windows-taskscheduler/operational", "taskscheduler"),
    ("microsoft-windows-wmi-activity/operational", "wmi"),
    ("microsoft-windows-bits-client/operational", "bits-client"),
    ("microsoft-windows-dns-client/operational", "dns-client"),
    ("dns server", "dns-server"),
    ("microsoft-windows-windows firewall with advanced security/firewall", "firewall-as"),
    ("microsoft-windows-codeintegrity/operational", "codeintegrity-operational"),
    ("microsoft-windows-appxdeploymentserver/operational", "appxdeployment-server"),
    ("msexchange management", "msexchange-management"),
    ("microsoft-windows-smbclient/security", "smbclient-security"),
    ("microsoft-windows-ntlm/operational", "ntlm"),
    ("microsoft-windows-terminalservices-localsessionmanager/operational", "terminalservices-localsessionmanager"),
    ("microsoft-windows-applocker/exe and dll", "applocker"),
    ("microsoft-windows-printservice/admin", "printservice-admin"),
    ("microsoft-windows-printservice/operational", "printservice-operational"),
    ("microsoft-windows-security-mitigations/kernel mode", "security-mitigations"),
    ("microsoft-windows-shell-core/operational", "shell-core"),
    ("microsoft-windows-openssh/operational", "openssh"),
    ("microsoft-windows-ldap-client/debug", "ldap"),
    ("microsoft-windows-diagnosis-scripted/operational", "diagnosis-scripted"),
    ("microsoft-windows-kernel-shimengine/operational", "shim-engine"),
    ("microsoft-windows-capi2/operational", "capi2"),
    (
        "microsoft-windows-certificateservicesclient-lifecycle-system/operational",
        "certificateservicesclient-lifecycle-system",
    ),
    ("microsoft-windows-vhdmp/operational", "vhdmp"),
    ("microsoft-windows-dhcp-server/operational", "dhcp"),
    ("microsoft-windows-bitlocker/bitlocker management", "bitlocker"),
    ("microsoft-windows-lsa/operational", "lsa-server"),
    ("microsoft-windows-hyper-v-worker-admin", "hyper-v-worker"),
    ("microsoft-windows-kernel-pnp/configuration", "kernel-pnp"),
    ("microsoft-windows-appmodel-runtime/admin", "appmodel-runtime"),
    ("microsoft-windows-sense/operational", "sense"),
];
