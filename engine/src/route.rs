//! Logsource routing: which rules an event may be evaluated against.
//!
//! An event's source is either declared by the caller (`--logsource`) or recognised from the
//! event itself for formats whose source is unambiguous (Windows events by `Channel` and
//! `EventID`, CloudTrail records). An event of unknown source is checked against every rule.
//! This module only decides sources and admission; it never evaluates predicates.

use crate::json::Json;
use crate::plan::LogSource;

/// The source of an event, as far as routing is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// Nothing is known: every rule runs.
    Unknown,
    /// Declared by the caller: a rule runs when every logsource field it sets is declared equal.
    Declared(LogSource),
    /// Recognised from the event: one product, and the categories and services it belongs to.
    Recognized(Recognized),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Recognized {
    pub product: &'static str,
    pub categories: &'static [&'static str],
    pub service: Option<&'static str>,
}

impl Source {
    /// Whether a rule written for `rule` runs on events of this source.
    pub fn admits(&self, rule: &LogSource) -> bool {
        match self {
            Source::Unknown => true,
            Source::Declared(declared) => declared.admits(rule),
            Source::Recognized(r) => {
                let product_ok = rule.product.as_deref().is_none_or(|p| p == r.product);
                let category_ok = rule.category.as_deref().is_none_or(|c| r.categories.contains(&c));
                let service_ok = rule.service.as_deref().is_none_or(|s| r.service == Some(s));
                product_ok && category_ok && service_ok
            }
        }
    }
}

/// Recognises the source of an event, or `Unknown`.
pub fn recognize(event: &Json<'_>) -> Source {
    let Json::Object(map) = event else { return Source::Unknown };
    let event_id = |v: Option<&Json<'_>>| {
        v.and_then(|v| match v {
            Json::Number(n) => n.as_u64(),
            Json::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    };
    if let Some(Json::String(channel)) = map.get("Channel") {
        return windows(channel, event_id(map.get("EventID")));
    }
    // Winlogbeat: 7.x and later nest the record under `winlog`; 6.x wrote it flat, lower-case.
    if let Some(Json::Object(winlog)) = map.get("winlog") {
        if let Some(Json::String(channel)) = winlog.get("channel") {
            return windows(channel, event_id(winlog.get("event_id")));
        }
    }
    if let (Some(Json::String(channel)), Some(id)) = (map.get("log_name"), map.get("event_id")) {
        return windows(channel, event_id(Some(id)));
    }
    if let (Some(Json::String(source)), Some(Json::String(_))) = (map.get("eventSource"), map.get("eventName")) {
        let cloudtrail_shape = ["eventTime", "eventVersion", "awsRegion"].iter().any(|k| map.contains_key(k));
        if source.ends_with(".amazonaws.com") && cloudtrail_shape {
            return Source::Recognized(Recognized { product: "aws", categories: &[], service: Some("cloudtrail") });
        }
    }
    Source::Unknown
}

fn windows(channel: &str, event_id: Option<u64>) -> Source {
    let win = |categories: &'static [&'static str], service: Option<&'static str>| {
        Source::Recognized(Recognized { product: "windows", categories, service })
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
        "microsoft-windows-sysmon/operational" => win(sysmon_categories(event_id), Some("sysmon")),
        "security" => win(if event_id == Some(4688) { &["process_creation"] } else { &[] }, Some("security")),
        "system" => win(&[], Some("system")),
        "application" => win(&[], Some("application")),
        "windows powershell" => win(
            match event_id {
                Some(400) => &["ps_classic_start"],
                Some(600) => &["ps_classic_provider_start"],
                Some(800) => &["ps_classic_script"],
                _ => &[],
            },
            Some("powershell-classic"),
        ),
        "microsoft-windows-powershell/operational" | "powershellcore/operational" => win(
            match event_id {
                Some(4103) => &["ps_module"],
                Some(4104) => &["ps_script"],
                _ => &[],
            },
            Some("powershell"),
        ),
        other => win(&[], WINDOWS_SERVICES.iter().find(|(c, _)| *c == other).map(|(_, s)| *s)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ls(product: Option<&str>, category: Option<&str>, service: Option<&str>) -> LogSource {
        LogSource::new(product, category, service)
    }

    #[test]
    fn sysmon_registry_events_feed_several_categories() {
        let src =
            recognize(&Json::from_value(&json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 13})));
        assert!(src.admits(&ls(Some("windows"), Some("registry_set"), None)));
        assert!(src.admits(&ls(Some("windows"), Some("registry_event"), None)));
        assert!(!src.admits(&ls(Some("windows"), Some("process_creation"), None)));
        assert!(!src.admits(&ls(Some("linux"), None, None)));
        assert!(src.admits(&ls(None, None, None)));
    }

    #[test]
    fn winlogbeat_records_are_windows_events() {
        let flat = json!({"log_name": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "event_data": {}});
        let nested = json!({"winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "1"}});
        for event in [flat, nested] {
            let src = recognize(&Json::from_value(&event));
            assert!(src.admits(&ls(Some("windows"), Some("process_creation"), None)), "{event}");
            assert!(!src.admits(&ls(Some("windows"), Some("registry_set"), None)), "{event}");
        }
    }

    #[test]
    fn cloudtrail_and_unknown() {
        let ct = recognize(&Json::from_value(
            &json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "eventTime": "x"}),
        ));
        let exported = recognize(&Json::from_value(
            &json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "eu-west-1"}),
        ));
        assert_eq!(ct, exported);
        assert_eq!(
            recognize(&Json::from_value(&json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}))),
            Source::Unknown
        );
        assert!(ct.admits(&ls(Some("aws"), None, Some("cloudtrail"))));
        assert!(!ct.admits(&ls(None, Some("webserver"), None)));
        assert_eq!(recognize(&Json::from_value(&json!({"a": 1}))), Source::Unknown);
    }
}
