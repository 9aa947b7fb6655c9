//! Alerts as OCSF Detection Findings (2004), for `sigil hunt --format ocsf`.
//!
//! The finding's `time` is the event's (a correlation's: the end of its window; a silence's:
//! the moment it reached the rule's timespan). OCSF requires `time` and Sigil never reads the
//! clock for it, so a detection on an event without a readable time has `time` 0 (the
//! timestamp as written, if any, is kept in `unmapped`).

use super::{base, prune, severity, time_ms, DETECTION_FINDING};
use serde_json::{json, Map, Value};
use sigil_engine::alert::{AlertRule, CorrelationAlertJson};
use sigil_engine::correlate::EventRef;
use sigil_engine::silence::SilenceAlertJson;
use sigil_engine::suppress::SuppressionAlertJson;
use sigil_engine::Alert;

/// A detection alert as a Detection Finding. Its `uid` is the rule id and the event's
/// `file:line`, so the same hunt gives the same ids.
pub fn detection_finding(alert: &Alert<'_>) -> Value {
    let time = time_ms(&alert.timestamp);
    let source = format!("{}:{}", alert.source.file, alert.source.line);
    let mut obj = finding(&alert.rule, format!("{}:{source}", alert.rule.id), time.unwrap_or(0));
    let info = obj["finding_info"].as_object_mut().expect("finding_info is an object");
    info.insert("first_seen_time".into(), time.into());
    info.insert("last_seen_time".into(), time.into());
    obj.insert("evidences".into(), json!([{"data": alert.matched, "name": "matched fields"}]));
    obj.insert(
        "unmapped".into(),
        json!({
            "rule": alert.rule,
            "source": alert.source,
            "timestamp": if time.is_none() { alert.timestamp.clone() } else { Value::Null },
            "suppression": alert.suppression,
        }),
    );
    obj.insert("raw_data".into(), serde_json::to_string(alert.event).expect("an event serializes").into());
    prune(Value::Object(obj))
}

/// A correlation alert as a Detection Finding: `time` is the end of the window, the events
/// that made it fire are its related events.
pub fn correlation_finding(alert: &CorrelationAlertJson<'_>) -> Value {
    let window = WindowFinding {
        rule: &alert.rule,
        timestamp: &alert.timestamp,
        start: &alert.window.start,
        group: alert.group,
        related: alert.events,
        related_total: alert.events_total,
        count: alert.count.into(),
        evidence: json!({"group": alert.group, "count": alert.count, "value": alert.value}),
    };
    window.finding(json!({"rule": alert.rule}), serde_json::to_string(alert).expect("an alert serializes"))
}

/// A silence alert as a Detection Finding, shaped as a correlation's: `time` is the moment the
/// silence reached the timespan, `count` 0, and the related event the last one the source sent.
/// `unmapped.kind` says `silence` (a correlation's finding has none).
pub fn silence_finding(alert: &SilenceAlertJson<'_>) -> Value {
    let window = WindowFinding {
        rule: &alert.rule,
        timestamp: &alert.timestamp,
        start: &alert.window.start,
        group: &alert.group,
        related: std::slice::from_ref(alert.last_event),
        related_total: 1,
        count: alert.count.into(),
        evidence: json!({"group": alert.group, "count": alert.count, "last_event": alert.last_event}),
    };
    window.finding(
        json!({"rule": alert.rule, "kind": alert.kind}),
        serde_json::to_string(alert).expect("an alert serializes"),
    )
}

/// A suppression summary as a Detection Finding: `time` is the end of the window and `count`
/// every match the window held (the alert that opened it and those suppressed); the group and
/// the suppressed count are its evidence. `unmapped.kind` says `suppression`.
pub fn suppression_finding(alert: &SuppressionAlertJson<'_>) -> Value {
    let window = WindowFinding {
        rule: &alert.rule,
        timestamp: &alert.timestamp,
        start: &alert.window.start,
        group: alert.group,
        related: &[],
        related_total: 0,
        count: alert.matches.into(),
        evidence: json!({"group": alert.group, "suppressed": alert.suppressed, "matches": alert.matches, "last": alert.last}),
    };
    window.finding(
        json!({"rule": alert.rule, "kind": alert.kind, "suppressed": alert.suppressed}),
        serde_json::to_string(alert).expect("an alert serializes"),
    )
}

/// What an alert over a window of events (a correlation, a silence) gives its finding.
struct WindowFinding<'a> {
    rule: &'a AlertRule<'a>,
    timestamp: &'a str,
    start: &'a str,
    group: &'a Map<String, Value>,
    related: &'a [EventRef],
    related_total: usize,
    count: Value,
    evidence: Value,
}

impl WindowFinding<'_> {
    /// The finding, with `unmapped` and the alert itself as `raw_data`.
    fn finding(self, unmapped: Value, raw: String) -> Value {
        let ms = |s: &str| sigil_engine::time::parse_str(s).map(|dt| dt.timestamp_millis());
        let (start, end) = (ms(self.start), ms(self.timestamp));
        let group = serde_json::to_string(self.group).expect("a group serializes");
        let uid = format!("{}:{}:{group}", self.rule.id, end.unwrap_or(0));
        let mut obj = finding(self.rule, uid, end.unwrap_or(0));
        let related: Vec<Value> =
            self.related.iter().map(|e| json!({"uid": format!("{}:{}", e.file, e.line), "type": "Event"})).collect();
        let info = obj["finding_info"].as_object_mut().expect("finding_info is an object");
        info.insert("first_seen_time".into(), start.into());
        info.insert("last_seen_time".into(), end.into());
        info.insert("related_events".into(), related.into());
        info.insert("related_events_count".into(), self.related_total.into());
        obj.insert("start_time".into(), start.into());
        obj.insert("end_time".into(), end.into());
        obj.insert("count".into(), self.count);
        obj.insert("evidences".into(), json!([{"data": self.evidence}]));
        obj.insert("unmapped".into(), unmapped);
        obj.insert("raw_data".into(), raw.into());
        prune(Value::Object(obj))
    }
}

/// What both kinds of finding share: the rule as the analytic, its severity and ATT&CK tags.
fn finding(rule: &AlertRule<'_>, uid: String, time: i64) -> Map<String, Value> {
    let metadata = json!({
        "product": {"name": "Sigil", "vendor_name": "Sigil", "version": env!("CARGO_PKG_VERSION")},
        "uid": uid,
    });
    let mut obj = base(&DETECTION_FINDING, (1, "Create"), time, metadata);
    let (severity_id, severity) = severity(rule.level);
    obj.insert("severity_id".into(), severity_id.into());
    obj.insert("severity".into(), severity.into());
    obj.insert("status_id".into(), 1.into());
    obj.insert("status".into(), "New".into());
    obj.insert("message".into(), rule.title.into());
    obj.insert(
        "finding_info".into(),
        json!({
            "uid": uid,
            "title": rule.title,
            "analytic": {"uid": rule.id, "name": rule.title, "type_id": 1, "type": "Rule"},
            "attacks": attacks(rule.tags),
        }),
    );
    obj
}

/// ATT&CK techniques (`attack.t1685.002`) and tactics (`attack.defense-impairment`) of Sigma tags.
/// A lone tactic goes with every technique; several are listed on their own, since the tags do
/// not say which technique belongs to which.
fn attacks(tags: &[String]) -> Vec<Value> {
    let mut techniques = Vec::new();
    let mut tactics = Vec::new();
    for tag in tags {
        let Some(name) = tag.to_ascii_lowercase().strip_prefix("attack.").map(str::to_string) else { continue };
        if let Some(id) = name.strip_prefix('t').filter(|id| is_technique(id)) {
            let id = format!("T{id}");
            techniques.push(match id.split_once('.') {
                Some((technique, _)) => json!({"technique": {"uid": technique}, "sub_technique": {"uid": id}}),
                None => json!({"technique": {"uid": id}}),
            });
        } else if let Some((uid, caption)) = tactic(&name) {
            tactics.push(json!({"uid": uid, "name": caption}));
        }
    }
    if let [only] = tactics.as_slice() {
        if !techniques.is_empty() {
            for t in &mut techniques {
                t["tactic"] = only.clone();
            }
            return techniques;
        }
    }
    techniques.extend(tactics.into_iter().map(|t| json!({"tactic": t})));
    techniques
}

/// `1562` or `1562.008`.
fn is_technique(id: &str) -> bool {
    let (main, sub) = id.split_once('.').map_or((id, None), |(m, s)| (m, Some(s)));
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    digits(main, 4) && sub.is_none_or(|s| digits(s, 3))
}

/// The ATT&CK Enterprise tactic of a Sigma tactic tag (v19: Stealth and Defense Impairment).
fn tactic(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name.replace('_', "-").as_str() {
        "reconnaissance" => ("TA0043", "Reconnaissance"),
        "resource-development" => ("TA0042", "Resource Development"),
        "initial-access" => ("TA0001", "Initial Access"),
        "execution" => ("TA0002", "Execution"),
        "persistence" => ("TA0003", "Persistence"),
        "privilege-escalation" => ("TA0004", "Privilege Escalation"),
        "stealth" => ("TA0005", "Stealth"),
        "defense-impairment" => ("TA0112", "Defense Impairment"),
        // Retired in v19; a rule still tagged with it is reported as its author meant it then.
        "defense-evasion" => ("TA0005", "Defense Evasion"),
        "credential-access" => ("TA0006", "Credential Access"),
        "discovery" => ("TA0007", "Discovery"),
        "lateral-movement" => ("TA0008", "Lateral Movement"),
        "collection" => ("TA0009", "Collection"),
        "command-and-control" => ("TA0011", "Command and Control"),
        "exfiltration" => ("TA0010", "Exfiltration"),
        "impact" => ("TA0040", "Impact"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn techniques_take_a_lone_tactic() {
        let a = attacks(&tags(&["attack.defense-evasion", "attack.t1562.008", "attack.t1070", "cloud"]));
        assert_eq!(a.len(), 2);
        assert_eq!(a[0]["technique"]["uid"], "T1562");
        assert_eq!(a[0]["sub_technique"]["uid"], "T1562.008");
        assert_eq!(a[0]["tactic"]["uid"], "TA0005");
        assert_eq!(a[1]["technique"]["uid"], "T1070");
    }

    #[test]
    fn the_tactics_split_from_defense_evasion_in_attack_v19_are_known() {
        let a = attacks(&tags(&["attack.defense-impairment", "attack.t1685.002"]));
        assert_eq!(a[0]["tactic"], json!({"uid": "TA0112", "name": "Defense Impairment"}));
        let a = attacks(&tags(&["attack.stealth", "attack.t1078.004"]));
        assert_eq!(a[0]["tactic"], json!({"uid": "TA0005", "name": "Stealth"}));
    }

    #[test]
    fn several_tactics_are_listed_on_their_own() {
        let a = attacks(&tags(&["attack.persistence", "attack.privilege_escalation", "attack.t1098"]));
        assert_eq!(a.len(), 3);
        assert!(a[0].get("tactic").is_none());
        assert_eq!(a[2]["tactic"]["name"], "Privilege Escalation");
        assert!(attacks(&tags(&["attack.g0016", "attack.t12"])).is_empty());
    }
}
