//! Evaluating events the way `sigil hunt --rules rule.yml events.jsonl --format jsonl` does, through
//! the engine's [`Session`] (the code path the CLI and the Wasm guest share), so the alert lines
//! are the CLI's bytes. The events text is read as the CLI reads a file: JSON Lines, or one JSON
//! array, or one (pretty-printed) document such as a CloudTrail `{"Records": [...]}` file.
//! This module never compiles rules; it takes a plan.

use serde::Serialize;
use sigil_engine::session::Session;
use sigil_engine::{Plan, Routing};

/// One alert line, described for the page.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertSummary {
    /// The event's 1-based line in the events text (for a correlation: the event that completed
    /// it); for a JSON array, the element's position.
    pub line: u64,
    pub rule_id: String,
    pub title: String,
    pub level: Option<String>,
    pub correlation: bool,
    /// For a detection on a `{"Records": [...]}` line: the 1-based record that fired (explain
    /// takes it as `options.record`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
}

/// An event the engine could not read.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventError {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Hunt {
    /// Exactly what the CLI prints on standard output, alert per line.
    pub alerts_jsonl: Vec<u8>,
    /// Per line of `alerts_jsonl`.
    pub alerts: Vec<AlertSummary>,
    pub read: u64,
    pub rejected: u64,
    pub errors: Vec<EventError>,
}

/// Runs every event of `events` through a fresh session of `plan`; `source` names the events.
pub fn run(plan: Plan, events: &str, routing: &Routing, source: &str, max_groups: usize) -> Result<Hunt, String> {
    let mut session = Session::new(plan, max_groups).map_err(|e| e.to_string())?;
    let mut hunt = Hunt::default();
    for record in records(events) {
        let before = hunt.alerts_jsonl.len();
        let report = session.eval_jsonl(source, record.position, &record.text, routing, &mut hunt.alerts_jsonl);
        hunt.read += report.events;
        hunt.rejected += report.rejected;
        for note in &report.notes {
            let message = note.split_once("malformed event: ").map_or(note.as_str(), |(_, m)| m);
            let column = if report.notes.len() == 1 { record.error_column } else { 1 };
            hunt.errors.push(EventError { line: record.line, column, message: message.to_string() });
        }
        if let Some(reason) = &record.unreadable {
            hunt.read += 1;
            hunt.rejected += 1;
            hunt.errors.push(EventError { line: record.line, column: record.error_column, message: reason.clone() });
        }
        let records_line = before < hunt.alerts_jsonl.len() && is_records_line(&record.text);
        for alert_line in hunt.alerts_jsonl[before..].split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            hunt.alerts.push(summary(alert_line, record.line, records_line));
        }
    }
    // The events end: suppression windows close and their counts are alerts too.
    let before = hunt.alerts_jsonl.len();
    session.finish(&mut hunt.alerts_jsonl);
    let last_line = hunt.alerts.last().map_or(0, |a| a.line);
    for alert_line in hunt.alerts_jsonl[before..].split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        hunt.alerts.push(summary(alert_line, last_line, false));
    }
    Ok(hunt)
}

fn summary(alert_line: &[u8], line: u64, records_line: bool) -> AlertSummary {
    let alert: serde_json::Value = serde_json::from_slice(alert_line).unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let rule = &alert["rule"];
    let correlation = alert["kind"] == "correlation";
    AlertSummary {
        line,
        rule_id: text(&rule["id"]).unwrap_or_default(),
        title: text(&rule["title"]).unwrap_or_default(),
        level: text(&rule["level"]),
        correlation,
        // The session numbers a Records line's events by record.
        record: if records_line && !correlation { alert["source"]["line"].as_u64() } else { None },
    }
}

/// Whether the session reads this line as a `{"Records": [...]}` list of events.
fn is_records_line(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text.trim()).is_ok_and(|v| v["Records"].is_array())
}

/// One JSON Lines line for the session, and where it stands in the page's text.
struct Record {
    /// The line (or element) number the session reports in alerts.
    position: u64,
    /// Where the page shows it.
    line: u64,
    text: String,
    /// Where a JSON error is, on that line (1 when unknown).
    error_column: u64,
    /// Why the record is not an event when the session cannot tell (a whole-text parse failed).
    unreadable: Option<String>,
}

/// Splits the events text as `sigil hunt` splits a file (cli/src/input.rs): a text starting with
/// `[` is one JSON array; a first line that is incomplete JSON starts one document spanning the
/// text; anything else is JSON Lines. Whole-text forms become one compact line per event, which
/// the session reads exactly as the CLI reads the parsed values.
fn records(events: &str) -> Vec<Record> {
    let first = events.trim_start();
    if first.starts_with('[') {
        return match serde_json::from_str::<serde_json::Value>(events) {
            Ok(serde_json::Value::Array(items)) => {
                items.iter().enumerate().map(|(i, item)| whole(i as u64 + 1, item)).collect()
            }
            Ok(_) => vec![unreadable(1, 1, "expected a JSON array of events".into())],
            Err(e) => vec![unreadable(e.line() as u64, e.column() as u64, format!("invalid JSON array: {e}"))],
        };
    }
    // As the CLI: only a first line that is itself incomplete JSON starts a whole document.
    let first_line = events.lines().next().unwrap_or_default();
    if !first_line.trim().is_empty()
        && serde_json::from_str::<serde::de::IgnoredAny>(first_line.trim()).is_err_and(|e| e.is_eof())
    {
        return match serde_json::from_str::<serde_json::Value>(events) {
            Ok(serde_json::Value::Object(mut doc)) => match doc.remove("Records") {
                Some(serde_json::Value::Array(items)) => {
                    items.iter().enumerate().map(|(i, item)| whole(i as u64 + 1, item)).collect()
                }
                Some(other) => {
                    doc.insert("Records".into(), other);
                    vec![whole(1, &serde_json::Value::Object(doc))]
                }
                None => vec![whole(1, &serde_json::Value::Object(doc))],
            },
            Ok(other) => vec![whole(1, &other)],
            Err(e) => vec![unreadable(e.line() as u64, e.column() as u64, format!("invalid JSON: {e}"))],
        };
    }
    events
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, text)| {
            let trimmed = text.trim_start();
            let indent = (text.len() - trimmed.len()) as u64;
            let error_column = serde_json::from_str::<serde::de::IgnoredAny>(trimmed.trim_end())
                .err()
                .map_or(1, |e| indent + e.column().max(1) as u64);
            let number = i as u64 + 1;
            Record { position: number, line: number, text: text.to_string(), error_column, unreadable: None }
        })
        .collect()
}

/// An event that arrived parsed, as the one line the session reads it from.
fn whole(position: u64, value: &serde_json::Value) -> Record {
    // A non-object element is still handed over: the session rejects it with the CLI's message.
    let text = serde_json::to_string(value).unwrap_or_default();
    Record { position, line: position, text, error_column: 1, unreadable: None }
}

fn unreadable(line: u64, column: u64, reason: String) -> Record {
    Record { position: line, line, text: String::new(), error_column: column, unreadable: Some(reason) }
}
