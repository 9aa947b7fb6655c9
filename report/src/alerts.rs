//! One alert as the reports count it: its kind, rule, level, event time and entities.
//!
//! An [`AlertRecord`] is made either from the engine's [`Alert`] as it is written (what
//! `sigil hunt`'s workers do, next to the formatted text, so nothing is parsed again) or from
//! an alert line's JSON (what `sigil report` does with a saved file). Both give the same record.
//! This module reads alerts; it never counts or formats them.

use crate::entities::{self, Entity};
use serde_json::{Map, Value};
use sigil_engine::json::Json;
use sigil_engine::{time, Alert};

/// The Sigma levels, from least to most severe.
pub const LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// The rank of a Sigma level in [`LEVELS`] (case-insensitive), `None` for anything else.
pub fn level_rank(level: &str) -> Option<usize> {
    LEVELS.iter().position(|l| l.eq_ignore_ascii_case(level))
}

/// What a summary or timeline needs of one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    /// `detection`, `correlation`, `silence` or `suppression`.
    pub kind: String,
    pub rule_id: String,
    pub rule_title: String,
    pub level: Option<String>,
    /// Event time in milliseconds since the epoch, when the alert has one that parses.
    pub time_ms: Option<i64>,
    pub entities: Vec<Entity>,
}

impl AlertRecord {
    /// A detection alert as the engine built it; `time_ms` is its event's time as the caller
    /// already read it.
    pub fn of_detection(alert: &Alert<'_>, time_ms: Option<i64>) -> AlertRecord {
        AlertRecord {
            kind: alert.kind.to_string(),
            rule_id: alert.rule.id.to_string(),
            rule_title: alert.rule.title.to_string(),
            level: alert.rule.level.map(str::to_string),
            time_ms,
            entities: entities::of_alert(&alert.matched, Some(alert.event)),
        }
    }

    /// Any alert line's JSON (detection, correlation, silence or suppression). A detection's
    /// entities come from `matched` and `event`; the others' from their `group`.
    pub fn from_json(alert: &Value) -> Result<AlertRecord, String> {
        let rule = alert.get("rule").and_then(Value::as_object).ok_or("an alert without a `rule` object")?;
        let text = |map: &Map<String, Value>, key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
        let kind = alert.get("kind").and_then(Value::as_str).unwrap_or("detection").to_string();
        let empty = Map::new();
        let entities = if kind == "detection" {
            let matched = alert.get("matched").and_then(Value::as_object).unwrap_or(&empty);
            let event = alert.get("event").map(Json::from_value);
            entities::of_alert(matched, event.as_ref())
        } else {
            entities::of_alert(alert.get("group").and_then(Value::as_object).unwrap_or(&empty), None)
        };
        Ok(AlertRecord {
            kind,
            rule_id: text(rule, "id").unwrap_or_default(),
            rule_title: text(rule, "title").unwrap_or_default(),
            level: text(rule, "level"),
            time_ms: alert.get("timestamp").and_then(time_ms_of),
            entities,
        })
    }

    /// An alert line (one line of `sigil hunt --format jsonl`).
    pub fn from_line(line: &str) -> Result<AlertRecord, String> {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("not an alert line: {e}"))?;
        AlertRecord::from_json(&value)
    }
}

/// An alert's `timestamp` in milliseconds since the epoch, parsed as the engine parses event times.
pub fn time_ms_of(timestamp: &Value) -> Option<i64> {
    time::parse_value(&Json::from_value(timestamp)).map(|dt| dt.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::EntityKind;
    use serde_json::json;

    #[test]
    fn a_detection_line_gives_rule_level_time_and_entities() {
        let line = json!({"kind": "detection", "rule": {"id": "r1", "title": "T", "level": "high"},
            "timestamp": "2026-11-20T09:00:00.000Z", "matched": {"eventName": "StopLogging"},
            "event": {"sourceIPAddress": "203.0.113.77", "userIdentity": {"userName": "svc"}}})
        .to_string();
        let record = AlertRecord::from_line(&line).unwrap();
        assert_eq!(
            (record.kind.as_str(), record.rule_id.as_str(), record.level.as_deref()),
            ("detection", "r1", Some("high"))
        );
        assert_eq!(record.time_ms, Some(1_795_165_200_000));
        assert_eq!(record.entities.iter().map(|e| e.kind).collect::<Vec<_>>(), [EntityKind::Account, EntityKind::Ip]);
    }

    #[test]
    fn a_correlation_takes_its_entities_from_its_group() {
        let value = json!({"kind": "correlation", "rule": {"id": "c", "title": "C", "level": null},
            "timestamp": "2026-11-20T09:00:00Z", "group": {"sourceIPAddress": "203.0.113.77"}});
        let record = AlertRecord::from_json(&value).unwrap();
        assert_eq!(record.level, None);
        assert_eq!(record.entities[0].value, "203.0.113.77");
    }

    #[test]
    fn no_rule_is_an_error_and_no_time_is_none() {
        assert!(AlertRecord::from_json(&json!({"kind": "detection"})).is_err());
        let r = AlertRecord::from_json(&json!({"rule": {"id": "x"}, "timestamp": null})).unwrap();
        assert_eq!(r.time_ms, None);
        assert_eq!(level_rank("HIGH"), Some(3));
        assert_eq!(level_rank("severe"), None);
    }
}
