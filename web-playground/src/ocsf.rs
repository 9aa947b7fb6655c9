//! OCSF in the page, by the `sigil-ocsf` crate (nothing here maps a field): one event as
//! `sigil normalize --to ocsf` writes it, and alerts as the Detection Findings (class 2004)
//! `sigil hunt --format ocsf` prints.
//!
//! Findings are made from the alert lines the page already has (`evaluate`'s `alerts_jsonl`,
//! the engine session's output): each line is read back into the engine's alert type, which
//! `sigil_ocsf` turns into a finding exactly as the CLI does with the alert it just built (the
//! alert's JSON holds every field of the type, and `Json` serialises as `serde_json` reads it,
//! so the finding's bytes are the CLI's). No evaluation runs twice.

use serde::Serialize;
use serde_json::{Map, Value};
use sigil_engine::alert::{AlertRule, CorrelationAlertJson, Window};
use sigil_engine::correlate::EventRef;
use sigil_engine::session;
use sigil_engine::silence::SilenceAlertJson;
use sigil_engine::suppress::{SuppressionAlertJson, SuppressionNote};
use sigil_engine::{Alert, EventSource, Json};

/// What the page shows for an event no mapping covers.
pub const NOT_MAPPED: &str = "no OCSF mapping for this event: it would pass through unchanged";

/// One event of the events text as OCSF.
#[derive(Debug, Default, Serialize)]
pub struct Normalized {
    /// The event was read (it may still have no mapping).
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A mapping applied: `pretty` is the OCSF object.
    pub mapped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_uid: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Why there is no OCSF object ([`NOT_MAPPED`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The line `sigil normalize --to ocsf` writes for this event (without its line end): the
    /// OCSF object, or the event unchanged.
    pub line: String,
    /// The OCSF object pretty-printed (empty when not mapped).
    pub pretty: String,
    /// Which event of the line this is (1-based; a `{"Records": [...]}` line holds several).
    pub record: u64,
    /// How many events the line holds.
    pub records: u64,
}

/// Maps the event on one JSON Lines line, as `sigil normalize --to ocsf` does; for a
/// `{"Records": [...]}` line, its `record`th event (1-based, clamped to the records).
pub fn normalize(event_line: &str, record: u64) -> Normalized {
    let line = event_line.trim();
    if line.is_empty() {
        return Normalized { error: Some("the line is empty".into()), ..Default::default() };
    }
    // Each event of the line: its output line and OCSF class, or why it is not an event.
    let mut events: Vec<Result<(String, Option<u64>), String>> = Vec::new();
    session::events_in_line(line, &mut |_, event| {
        events.push(event.map(|(doc, whole)| {
            let value = doc.to_value();
            let mut counts = sigil_ocsf::Counts::default();
            // As `sigil normalize`: a line that is its event alone passes through as written.
            let written = sigil_ocsf::normalize_record(
                &value,
                || if whole { line.to_string() } else { value.to_string() },
                &mut counts,
            );
            (written, counts.mapped.keys().next().copied())
        }))
    });
    let records = events.len() as u64;
    if records == 0 {
        return Normalized { error: Some("its Records list is empty".into()), ..Default::default() };
    }
    let record = record.clamp(1, records);
    let (written, class) = match events.swap_remove(record as usize - 1) {
        Ok(found) => found,
        Err(reason) => return Normalized { error: Some(reason), record, records, ..Default::default() },
    };
    let mut out = Normalized { ok: true, record, records, ..Default::default() };
    match class {
        Some(class_uid) => {
            let object: Value = serde_json::from_str(&written).unwrap_or_default();
            out.mapped = true;
            out.class_uid = Some(class_uid);
            out.class_name = object["class_name"].as_str().map(str::to_string);
            out.pretty = serde_json::to_string_pretty(&object).unwrap_or_default();
        }
        None => out.reason = Some(NOT_MAPPED.into()),
    }
    out.line = written;
    out
}

/// The alert lines as Detection Findings.
#[derive(Debug, Default, Serialize)]
pub struct Findings {
    /// Every alert line became a finding.
    pub ok: bool,
    /// Exactly what `sigil hunt --format ocsf` prints for these alerts, one finding per line.
    pub findings_jsonl: String,
    /// Each finding pretty-printed, in the order of the lines (an unreadable line has none).
    pub findings: Vec<String>,
    pub errors: Vec<FindingError>,
}

/// An alert line that is not one of the engine's alerts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FindingError {
    /// 1-based line of the alerts text.
    pub line: u64,
    pub message: String,
}

/// Turns alert lines (`sigil hunt --format jsonl`) into Detection Findings.
pub fn findings(alerts_jsonl: &str) -> Findings {
    let mut out = Findings::default();
    let mut bytes = Vec::new();
    for (i, line) in alerts_jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match finding(line) {
            Ok(finding) => {
                session::json_line(&mut bytes, &finding);
                out.findings.push(serde_json::to_string_pretty(&finding).unwrap_or_default());
            }
            Err(message) => out.errors.push(FindingError { line: i as u64 + 1, message }),
        }
    }
    out.ok = out.errors.is_empty();
    out.findings_jsonl = String::from_utf8_lossy(&bytes).into_owned();
    out
}

/// One alert line as its finding.
pub fn finding(alert_line: &str) -> Result<Value, String> {
    let alert: Value = serde_json::from_str(alert_line).map_err(|e| format!("not an alert: invalid JSON ({e})"))?;
    let tags = strings(&alert["rule"]["tags"]);
    let rule = rule(&alert["rule"], &tags)?;
    let kind = alert["kind"].as_str().unwrap_or_default();
    match kind {
        "detection" => {
            let source = EventSource {
                file: text(&alert["source"]["file"], "source.file")?.to_string(),
                line: number(&alert["source"]["line"], "source.line")?,
            };
            let event = Json::from_value(&alert["event"]);
            let alert = Alert {
                kind: "detection",
                rule,
                source: &source,
                timestamp: alert["timestamp"].clone(),
                matched: object(&alert["matched"], "matched")?.clone(),
                event: &event,
                suppression: suppression_note(&alert["suppression"])?,
                rule_index: 0,
            };
            Ok(sigil_ocsf::detection_finding(&alert))
        }
        "correlation" => {
            let events = event_refs(&alert["events"])?;
            let alert = CorrelationAlertJson {
                kind: "correlation",
                rule,
                timestamp: text(&alert["timestamp"], "timestamp")?.to_string(),
                group: object(&alert["group"], "group")?,
                count: optional(&alert["count"], Value::as_u64, "count")?.map(|n| n as usize),
                value: optional(&alert["value"], Value::as_f64, "value")?,
                window: window(&alert["window"])?,
                events: &events,
                events_total: number(&alert["events_total"], "events_total")? as usize,
                suppression: suppression_note(&alert["suppression"])?,
            };
            Ok(sigil_ocsf::correlation_finding(&alert))
        }
        "silence" => {
            let events = event_refs(&alert["events"])?;
            let last_event = event_ref(&alert["last_event"])?;
            let alert = SilenceAlertJson {
                kind: "silence",
                rule,
                timestamp: text(&alert["timestamp"], "timestamp")?.to_string(),
                group: object(&alert["group"], "group")?.clone(),
                count: number(&alert["count"], "count")? as usize,
                window: window(&alert["window"])?,
                events: &events,
                events_total: number(&alert["events_total"], "events_total")? as usize,
                last_event: &last_event,
            };
            Ok(sigil_ocsf::silence_finding(&alert))
        }
        "suppression" => {
            let alert = SuppressionAlertJson {
                kind: "suppression",
                rule,
                timestamp: text(&alert["timestamp"], "timestamp")?.to_string(),
                group: object(&alert["group"], "group")?,
                window: window(&alert["window"])?,
                suppressed: number(&alert["suppressed"], "suppressed")?,
                matches: number(&alert["matches"], "matches")?,
                last: text(&alert["last"], "last")?.to_string(),
                alerts: if alert["alerts"] == "correlation" { "correlation" } else { "detection" },
            };
            Ok(sigil_ocsf::suppression_finding(&alert))
        }
        other => Err(format!("not an alert: kind {other:?} (expected detection, correlation, silence or suppression)")),
    }
}

/// A detection or correlation alert's `suppression` member, when it has one.
fn suppression_note(value: &Value) -> Result<Option<SuppressionNote>, String> {
    match value {
        Value::Null => Ok(None),
        v => serde_json::from_value(v.clone()).map(Some).map_err(|e| format!("suppression: {e}")),
    }
}

fn rule<'a>(rule: &'a Value, tags: &'a [String]) -> Result<AlertRule<'a>, String> {
    let optional = |key: &str| rule[key].as_str();
    Ok(AlertRule {
        id: text(&rule["id"], "rule.id")?,
        name: optional("name"),
        title: text(&rule["title"], "rule.title")?,
        level: optional("level"),
        status: optional("status"),
        author: optional("author"),
        tags,
    })
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

fn window(value: &Value) -> Result<Window, String> {
    Ok(Window {
        start: text(&value["start"], "window.start")?.to_string(),
        end: text(&value["end"], "window.end")?.to_string(),
    })
}

fn event_refs(value: &Value) -> Result<Vec<EventRef>, String> {
    value.as_array().ok_or("not an alert: events is not a list")?.iter().map(event_ref).collect()
}

fn event_ref(value: &Value) -> Result<EventRef, String> {
    serde_json::from_value(value.clone())
        .map_err(|e| format!("not an alert: an event reference is not {{file, line}} ({e})"))
}

fn text<'a>(value: &'a Value, what: &str) -> Result<&'a str, String> {
    value.as_str().ok_or_else(|| format!("not an alert: {what} is not a string"))
}

fn number(value: &Value, what: &str) -> Result<u64, String> {
    value.as_u64().ok_or_else(|| format!("not an alert: {what} is not a whole number"))
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    value.as_object().ok_or_else(|| format!("not an alert: {what} is not an object"))
}

fn optional<T>(value: &Value, read: fn(&Value) -> Option<T>, what: &str) -> Result<Option<T>, String> {
    match value {
        Value::Null => Ok(None),
        v => read(v).map(Some).ok_or_else(|| format!("not an alert: {what} is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmapped_events_pass_through_and_bad_lines_are_errors() {
        let n = normalize(r#"  {"message": "hello"}  "#, 1);
        assert!(n.ok && !n.mapped, "{n:?}");
        assert_eq!((n.reason.as_deref(), n.line.as_str()), (Some(NOT_MAPPED), r#"{"message": "hello"}"#));
        assert_eq!(normalize("[1]", 1).error.as_deref(), Some("expected a JSON object, found an array"));
        assert!(normalize("{oops", 1).error.unwrap().starts_with("invalid JSON"));
        assert!(normalize("  ", 1).error.is_some());
        assert!(normalize(r#"{"Records": []}"#, 1).error.is_some());
    }

    #[test]
    fn lines_that_are_not_alerts_are_errors() {
        let f = findings("{\"kind\": \"detection\"}\n\nnope\n");
        assert!(!f.ok);
        assert_eq!(f.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![1, 3]);
        assert!(f.errors[0].message.contains("rule.id"), "{:?}", f.errors);
        assert!(f.findings_jsonl.is_empty() && f.findings.is_empty());
        assert!(finding(r#"{"kind": "other", "rule": {"id": "a", "title": "t"}}"#).unwrap_err().contains("\"other\""));
    }
}
