//! Windows events in the flat layout (`EventID`, `Channel` and the event data fields at the
//! top level, as nxlog and winlogbeat-to-flat pipelines write them): Security 4624/4625 →
//! Authentication (3002), Sysmon 1 and Security 4688 → Process Activity (1007, Launch).
//! Windows writes `-` for an empty field; such fields are read as absent.

//!
//! Each field of [`FIELDS`] that a class holds verbatim is at its attribute; every other field
//! of the record stays under `unmapped` at its own name, including those read to compute an
//! attribute (`User` split into `process.user.{domain,name}`, `Hashes` made fingerprints,
//! `LogonType` made `logon_type_id`, hexadecimal ids made numbers): the `ocsf` pipeline finds
//! each Windows field at its attribute or at `unmapped.<field>`, as on CloudTrail.

use super::{
    base, file_name, merge, parse_int, some_of, status, time_ms, Activity, Class, Field, Source, ACTOR_KEYS,
    AUTHENTICATION, ENDPOINT_KEYS, PROCESS_ACTIVITY, PROCESS_KEYS, USER_KEYS,
};
use crate::shape::{claim_verbatim, finish_pruned, prune};
use serde_json::{json, Map, Value};

/// Windows fields and the OCSF attributes that hold them verbatim (Sysmon 1, Security 4688 as
/// Process Activity; 4624/4625 as Authentication). The `ocsf` pipeline maps the same names to
/// the same attributes (cli/tests/ocsf_parity.rs holds the two together).
pub const FIELDS: &[Field] = &[
    Field { from: "CommandLine", to: &["process.cmd_line"] },
    Field { from: "Image", to: &["process.file.path"] },
    Field { from: "NewProcessName", to: &["process.file.path"] },
    Field { from: "OriginalFileName", to: &["process.file.internal_name"] },
    Field { from: "Company", to: &["process.file.company_name"] },
    Field { from: "Product", to: &["process.file.product.name"] },
    Field { from: "FileVersion", to: &["process.file.version"] },
    Field { from: "Description", to: &["process.file.desc"] },
    Field { from: "CurrentDirectory", to: &["process.working_directory"] },
    Field { from: "IntegrityLevel", to: &["process.integrity"] },
    Field { from: "ProcessGuid", to: &["process.uid"] },
    Field { from: "ParentImage", to: &["process.parent_process.file.path"] },
    Field { from: "ParentProcessName", to: &["process.parent_process.file.path"] },
    Field { from: "ParentCommandLine", to: &["process.parent_process.cmd_line"] },
    Field { from: "ParentProcessGuid", to: &["process.parent_process.uid"] },
    Field { from: "LogonId", to: &["process.session.uid"] },
    Field { from: "LogonGuid", to: &["process.session.uuid", "session.uuid"] },
    Field { from: "Hostname", to: &["device.hostname", "dst_endpoint.hostname"] },
    Field { from: "Computer", to: &["device.hostname", "dst_endpoint.hostname"] },
    Field { from: "ComputerName", to: &["device.hostname", "dst_endpoint.hostname"] },
    Field { from: "Channel", to: &["metadata.log_name"] },
    Field { from: "SubjectUserName", to: &["actor.user.name"] },
    Field { from: "SubjectUserSid", to: &["actor.user.uid"] },
    Field { from: "SubjectDomainName", to: &["actor.user.domain"] },
    Field { from: "SubjectLogonId", to: &["actor.session.uid"] },
    Field { from: "TargetUserName", to: &["user.name", "process.user.name"] },
    Field { from: "TargetUserSid", to: &["user.uid", "process.user.uid"] },
    Field { from: "TargetDomainName", to: &["user.domain", "process.user.domain"] },
    Field { from: "TargetLogonId", to: &["session.uid"] },
    Field { from: "IpAddress", to: &["src_endpoint.ip"] },
    Field { from: "WorkstationName", to: &["src_endpoint.name"] },
    Field { from: "AuthenticationPackageName", to: &["auth_protocol"] },
    Field { from: "Status", to: &["status_code"] },
    Field { from: "ProcessName", to: &["actor.process.file.path"] },
];

const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";
const LAUNCH: Activity = (1, "Launch");

pub fn map(event: &Value) -> Option<Value> {
    let id = match event.get("EventID")? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    let channel = event.get("Channel")?.as_str()?;
    let src = Source::tabled(event);
    if channel.eq_ignore_ascii_case("Security") {
        match id {
            4624 => logon(&src, true),
            4625 => logon(&src, false),
            4688 => security_process_creation(&src),
            _ => None,
        }
    } else if channel.eq_ignore_ascii_case(SYSMON) && id == 1 {
        sysmon_process_creation(&src)
    } else {
        None
    }
}

/// Completes a mapped object: pruned, and each field it holds verbatim claimed out of
/// `unmapped` (see the module doc).
fn finish(class: &Class, obj: Map<String, Value>, src: &Source<'_>) -> Option<Value> {
    let Value::Object(obj) = prune(Value::Object(obj)) else { unreachable!("an object stays an object") };
    claim_verbatim(&obj, src, FIELDS);
    finish_pruned(class, obj, src)
}

/// A field's text, `-` being absent. A `-` is still marked read.
fn field<'a>(src: &Source<'a>, key: &str) -> Option<&'a str> {
    src.str(key).filter(|v| *v != "-")
}

/// A number field (decimal or `0x` hexadecimal), `-` being absent.
fn int(src: &Source<'_>, key: &str) -> Option<i64> {
    if src.peek(key).and_then(Value::as_str) == Some("-") {
        src.mark(key);
    }
    src.int(key)
}

/// The event time: the first of these that parses.
fn time(src: &Source<'_>) -> Option<i64> {
    ["TimeCreated", "TimeCreated.SystemTime", "@timestamp", "UtcTime", "TimeGenerated"].into_iter().find_map(|k| {
        let ms = time_ms(src.peek(k)?)?;
        src.mark(k);
        Some(ms)
    })
}

/// Metadata, device, and the message's first line: what every mapped Windows event has.
fn common(src: &Source<'_>, class: &super::Class, activity: Activity, time: i64) -> Map<String, Value> {
    let channel = src.str("Channel");
    let product = if channel == Some(SYSMON) {
        json!({"name": "Sysmon", "vendor_name": "Microsoft"})
    } else {
        json!({"name": "Microsoft Windows", "vendor_name": "Microsoft", "feature": {"name": channel}})
    };
    let metadata = json!({
        "product": product,
        "event_code": src.text("EventID"),
        "log_name": channel,
        "log_provider": src.str("SourceName").or_else(|| src.str("ProviderName")).or_else(|| src.str("Provider_Name")),
        "sequence": int(src, "RecordNumber").or_else(|| int(src, "EventRecordID")),
    });
    let mut obj = base(class, activity, time, metadata);
    let message = src.str("Message").and_then(|m| m.lines().next()).map(str::trim).filter(|m| !m.is_empty());
    obj.insert("message".into(), message.into());
    obj
}

fn hostname<'a>(src: &Source<'a>) -> Option<&'a str> {
    field(src, "Hostname").or_else(|| field(src, "Computer")).or_else(|| field(src, "ComputerName"))
}

fn device(src: &Source<'_>) -> Value {
    let device = json!({
        "hostname": hostname(src),
        "type_id": 0,
        "type": "Unknown",
        "os": {"name": "Windows", "type_id": 100, "type": "Windows"},
    });
    some_of(device, &["hostname"])
}

/// A user from the name, SID and domain fields with this prefix (`Target`, `Subject`).
fn user(src: &Source<'_>, prefix: &str) -> Value {
    let user = json!({
        "name": field(src, &format!("{prefix}UserName")),
        "uid": field(src, &format!("{prefix}UserSid")),
        "domain": field(src, &format!("{prefix}DomainName")),
    });
    some_of(user, &["name", "uid"])
}

/// A user written `DOMAIN\name` (Sysmon's `User`).
fn qualified_user(name: Option<&str>) -> Value {
    let Some(name) = name else { return Value::Null };
    let (domain, name) = name.split_once('\\').map_or((None, name), |(d, n)| (Some(d), n));
    some_of(json!({"name": name, "domain": domain}), USER_KEYS)
}

fn file(path: Option<&str>) -> Value {
    match path {
        Some(path) => json!({"path": path, "name": file_name(path), "type_id": 1, "type": "Regular File"}),
        None => Value::Null,
    }
}

fn logon(src: &Source<'_>, success: bool) -> Option<Value> {
    let time = time(src)?;
    let logon_type = int(src, "LogonType");
    let (logon_type_id, logon_type_name) = match logon_type {
        Some(0) => (1, "System"),
        Some(2) => (2, "Interactive"),
        Some(3) => (3, "Network"),
        Some(4) => (4, "Batch"),
        Some(5) => (5, "OS Service"),
        Some(7) => (7, "Unlock"),
        Some(8) => (8, "Network Cleartext"),
        Some(9) => (9, "New Credentials"),
        Some(10) => (10, "Remote Interactive"),
        Some(11) => (11, "Cached Interactive"),
        Some(12) => (12, "Cached Remote Interactive"),
        Some(13) => (13, "Cached Unlock"),
        Some(_) => (99, "Other"),
        None => (0, "Unknown"),
    };
    let package = field(src, "AuthenticationPackageName");
    let auth_protocol_id = match package {
        Some(p) if p.eq_ignore_ascii_case("NTLM") => 1,
        Some(p) if p.eq_ignore_ascii_case("Kerberos") => 2,
        Some(_) => 99,
        None => 0,
    };
    let caller = json!({
        "pid": int(src, "ProcessId").filter(|pid| *pid > 0),
        "file": file(field(src, "ProcessName")),
    });
    let actor = json!({
        "user": user(src, "Subject"),
        "process": some_of(caller, PROCESS_KEYS),
        "session": {"uid": field(src, "SubjectLogonId").filter(|id| *id != "0x0")},
    });
    let source = json!({
        "ip": field(src, "IpAddress"),
        "port": int(src, "IpPort").filter(|p| *p > 0),
        "name": field(src, "WorkstationName"),
    });
    let mut obj = common(src, &AUTHENTICATION, (1, "Logon"), time);
    merge(&mut obj, status(Some(success)));
    merge(
        &mut obj,
        json!({
            "user": user(src, "Target"),
            "actor": some_of(actor, ACTOR_KEYS),
            "session": {"uid": field(src, "TargetLogonId"), "uuid": field(src, "LogonGuid")},
            "logon_type_id": logon_type_id,
            "logon_type": logon_type_name,
            "auth_protocol_id": auth_protocol_id,
            "auth_protocol": package,
            "status_code": field(src, "Status"),
            "status_detail": field(src, "FailureReason").map(failure_reason),
            "src_endpoint": some_of(source, ENDPOINT_KEYS),
            "dst_endpoint": some_of(json!({"hostname": hostname(src)}), ENDPOINT_KEYS),
        }),
    );
    finish(&AUTHENTICATION, obj, src)
}

/// The text of a 4625 failure reason written as a message id (`%%2313`).
fn failure_reason(reason: &str) -> String {
    let text = match reason.trim() {
        "%%2304" => "An Error occurred during Logon.",
        "%%2305" => "The specified user account has expired.",
        "%%2306" => "The NetLogon component is not active.",
        "%%2307" => "Account locked out.",
        "%%2308" => "The user has not been granted the requested logon type at this machine.",
        "%%2309" => "The specified account's password has expired.",
        "%%2310" => "Account currently disabled.",
        "%%2311" => "Account logon time restriction violation.",
        "%%2312" => "User not allowed to logon at this computer.",
        "%%2313" => "Unknown user name or bad password.",
        other => other,
    };
    text.to_string()
}

fn security_process_creation(src: &Source<'_>) -> Option<Value> {
    let time = time(src)?;
    let parent = json!({
        "pid": int(src, "ProcessId"),
        "file": file(field(src, "ParentProcessName")),
        "name": field(src, "ParentProcessName").map(file_name),
    });
    let parent = some_of(parent, PROCESS_KEYS);
    let creator = user(src, "Subject");
    // The new process's account when it differs from the creator's (4688 version 2); the NULL
    // SID and `-` otherwise.
    let target = if field(src, "TargetUserName").is_some() { user(src, "Target") } else { Value::Null };
    let label = field(src, "MandatoryLabel");
    let process = json!({
        "pid": int(src, "NewProcessId"),
        "file": file(field(src, "NewProcessName")),
        "name": field(src, "NewProcessName").map(file_name),
        "cmd_line": field(src, "CommandLine"),
        "user": if target.is_null() { creator.clone() } else { target },
        "parent_process": parent,
        "integrity": label.map(|l| integrity_of_label(l).1),
        "integrity_id": label.map(|l| integrity_of_label(l).0),
        "created_time": time,
    });
    let actor = json!({
        "user": creator,
        "process": parent,
        "session": {"uid": field(src, "SubjectLogonId")},
    });
    process_activity(src, time, some_of(process, PROCESS_KEYS), some_of(actor, ACTOR_KEYS))
}

fn sysmon_process_creation(src: &Source<'_>) -> Option<Value> {
    let time = time(src)?;
    let image = field(src, "Image");
    let mut image_file = file(image);
    if let Value::Object(f) = &mut image_file {
        let extra = json!({
            "hashes": field(src, "Hashes").map(hashes),
            "company_name": field(src, "Company"),
            "desc": field(src, "Description"),
            "version": field(src, "FileVersion"),
            "internal_name": field(src, "OriginalFileName"),
            "product": some_of(json!({"name": field(src, "Product")}), &["name"]),
        });
        merge(f, extra);
    }
    let parent_image = field(src, "ParentImage");
    let parent = json!({
        "pid": int(src, "ParentProcessId"),
        "uid": field(src, "ParentProcessGuid"),
        "file": file(parent_image),
        "name": parent_image.map(file_name),
        "cmd_line": field(src, "ParentCommandLine"),
        "user": qualified_user(field(src, "ParentUser")),
    });
    let parent = some_of(parent, PROCESS_KEYS);
    let level = field(src, "IntegrityLevel");
    let user = qualified_user(field(src, "User"));
    let process = json!({
        "pid": int(src, "ProcessId"),
        "uid": field(src, "ProcessGuid"),
        "file": image_file,
        "name": image.map(file_name),
        "cmd_line": field(src, "CommandLine"),
        "working_directory": field(src, "CurrentDirectory"),
        "user": user,
        "session": {"uid": field(src, "LogonId"), "uuid": field(src, "LogonGuid"), "terminal": src.text("TerminalSessionId")},
        "integrity": level,
        "integrity_id": level.map(integrity_id),
        "created_time": src.get("UtcTime").and_then(time_ms),
        "parent_process": parent,
    });
    let actor_user = if parent["user"].is_null() { user.clone() } else { parent["user"].clone() };
    let actor = json!({"process": parent, "user": actor_user});
    process_activity(src, time, some_of(process, PROCESS_KEYS), some_of(actor, ACTOR_KEYS))
}

fn process_activity(src: &Source<'_>, time: i64, process: Value, actor: Value) -> Option<Value> {
    let mut obj = common(src, &PROCESS_ACTIVITY, LAUNCH, time);
    merge(&mut obj, status(Some(true)));
    merge(
        &mut obj,
        json!({
            "process": process,
            "actor": actor,
            "device": device(src),
            "launch_type_id": 1,
            "launch_type": "Spawn",
        }),
    );
    finish(&PROCESS_ACTIVITY, obj, src)
}

/// Sysmon's `Hashes` (`SHA1=…,MD5=…,IMPHASH=…`) as OCSF fingerprints.
fn hashes(text: &str) -> Value {
    let list: Vec<Value> = text
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(algorithm, value)| {
            let (id, name) = match algorithm.trim().to_ascii_uppercase().as_str() {
                "MD5" => (1, "MD5"),
                "SHA1" => (2, "SHA-1"),
                "SHA256" => (3, "SHA-256"),
                "SHA512" => (4, "SHA-512"),
                "IMPHASH" => (18, "Imphash"),
                _ => (99, algorithm.trim()),
            };
            json!({"algorithm_id": id, "algorithm": name, "value": value.trim()})
        })
        .collect();
    Value::Array(list)
}

/// The OCSF integrity level of a Sysmon `IntegrityLevel`.
fn integrity_id(level: &str) -> u64 {
    match level {
        "Untrusted" => 1,
        "Low" => 2,
        "Medium" => 3,
        "High" => 4,
        "System" => 5,
        "Protected" => 6,
        _ => 99,
    }
}

/// The integrity level of a 4688 `MandatoryLabel`: a SID (`S-1-16-12288`), or its rendered
/// name (`Mandatory Label\High Mandatory Level`).
fn integrity_of_label(label: &str) -> (u64, &str) {
    let level = match label.strip_prefix("S-1-16-").and_then(parse_int) {
        Some(0) => "Untrusted",
        Some(4096) => "Low",
        Some(8192) => "Medium",
        Some(12288) => "High",
        Some(16384) => "System",
        Some(20480) => "Protected",
        Some(_) => return (99, label),
        None => {
            let name = label.rsplit('\\').next().unwrap_or(label);
            name.strip_suffix(" Mandatory Level").unwrap_or(name)
        }
    };
    match integrity_id(level) {
        99 => (99, label),
        id => (id, level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_logons_are_failed_authentications() {
        let event = json!({
            "EventID": 4625, "Channel": "Security", "Hostname": "WS01", "TimeCreated": "2026-11-20T08:00:00Z",
            "TargetUserName": "Administrator", "TargetDomainName": "WS01", "LogonType": "3",
            "Status": "0xc000006d", "FailureReason": "%%2313", "SubStatus": "0xc000006a",
            "IpAddress": "198.51.100.9", "IpPort": "-", "AuthenticationPackageName": "NTLM"
        });
        let o = map(&event).unwrap();
        assert_eq!((o["class_uid"].as_u64(), o["activity_id"].as_u64()), (Some(3002), Some(1)));
        assert_eq!(o["status_id"], 2);
        assert_eq!(o["status_detail"], "Unknown user name or bad password.");
        assert_eq!(o["logon_type_id"], 3);
        assert_eq!(o["auth_protocol_id"], 1);
        assert_eq!(o["src_endpoint"], json!({"ip": "198.51.100.9"}));
        assert_eq!(o["dst_endpoint"]["hostname"], "WS01");
        // What no attribute holds verbatim stays under `unmapped`, as the record wrote it.
        assert_eq!(
            o["unmapped"],
            json!({"EventID": 4625, "TimeCreated": "2026-11-20T08:00:00Z", "LogonType": "3", "IpPort": "-",
                   "FailureReason": "%%2313", "SubStatus": "0xc000006a"})
        );
    }

    #[test]
    fn process_creations_are_process_launches() {
        let event = json!({
            "EventID": 4688, "Channel": "Security", "Hostname": "WS01", "@timestamp": "2026-11-20T08:00:00Z",
            "NewProcessName": "C:\\Windows\\System32\\cmd.exe", "NewProcessId": "0xbc8", "ProcessId": "0x3b0",
            "ParentProcessName": "C:\\Windows\\explorer.exe", "CommandLine": "cmd /c whoami",
            "SubjectUserName": "alice", "SubjectDomainName": "ACME", "TargetUserName": "-",
            "MandatoryLabel": "S-1-16-12288"
        });
        let o = map(&event).unwrap();
        assert_eq!((o["class_uid"].as_u64(), o["type_uid"].as_u64()), (Some(1007), Some(100701)));
        assert_eq!(o["process"]["pid"], 0xbc8);
        assert_eq!(o["process"]["file"]["name"], "cmd.exe");
        assert_eq!(o["process"]["parent_process"]["pid"], 0x3b0);
        assert_eq!(o["process"]["integrity"], "High");
        assert_eq!(integrity_of_label("Mandatory Label\\Medium Mandatory Level"), (3, "Medium"));
        assert_eq!(o["actor"]["user"]["name"], "alice");
        assert_eq!(o["device"]["hostname"], "WS01");
        let unmapped = &o["unmapped"];
        assert_eq!((&unmapped["NewProcessId"], &unmapped["ProcessId"]), (&json!("0xbc8"), &json!("0x3b0")));
        assert_eq!((&unmapped["MandatoryLabel"], &unmapped["TargetUserName"]), (&json!("S-1-16-12288"), &json!("-")));
        for verbatim in ["CommandLine", "NewProcessName", "ParentProcessName", "SubjectUserName", "Hostname"] {
            assert!(unmapped.get(verbatim).is_none(), "{verbatim} is held at its attribute");
        }
    }

    #[test]
    fn a_sysmon_user_stays_as_written_beside_its_split() {
        let event = json!({
            "EventID": 1, "Channel": SYSMON, "Hostname": "WS01", "UtcTime": "2026-11-20 08:00:00.123",
            "Image": "C:\\Windows\\System32\\whoami.exe", "User": "NT AUTHORITY\\SYSTEM", "ProcessId": "4242",
            "Hashes": "SHA1=AB,MD5=CD"
        });
        let o = map(&event).unwrap();
        assert_eq!(
            (&o["process"]["user"]["name"], &o["process"]["user"]["domain"]),
            (&json!("SYSTEM"), &json!("NT AUTHORITY"))
        );
        assert_eq!(o["unmapped"]["User"], "NT AUTHORITY\\SYSTEM");
        assert_eq!((&o["process"]["pid"], &o["unmapped"]["ProcessId"]), (&json!(4242), &json!("4242")));
        assert_eq!(o["unmapped"]["Hashes"], "SHA1=AB,MD5=CD");
        assert!(o["unmapped"].get("Image").is_none());
    }

    #[test]
    fn sysmon_hashes_are_fingerprints() {
        let h = hashes("SHA1=AB,MD5=CD,IMPHASH=EF");
        assert_eq!(h[0], json!({"algorithm_id": 2, "algorithm": "SHA-1", "value": "AB"}));
        assert_eq!(h[2]["algorithm_id"], 18);
    }

    #[test]
    fn other_events_and_channels_are_not_mapped() {
        let time = "2026-11-20T08:00:00Z";
        assert!(map(&json!({"EventID": 4634, "Channel": "Security", "Hostname": "h", "@timestamp": time})).is_none());
        assert!(map(&json!({"EventID": 1, "Channel": "System", "Hostname": "h", "@timestamp": time})).is_none());
    }
}
