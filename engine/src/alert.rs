//! Sigil's alert: the stable JSON object that `sigil hunt --format jsonl` prints, one per line.
//!
//! The shape is a contract (README, "Alert format"): fields may be added, never renamed or
//! removed. This module builds alerts; it never decides what fires.

use crate::eval::{Detection, Engine};
use crate::event;
use crate::json::Json;
use crate::plan::RuleInfo;
use crate::suppress::SuppressionNote;
use crate::time;
use serde::Serialize;
use serde_json::{Map, Value};

/// Where an event came from, so an alert points back to its evidence.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EventSource {
    /// The input path, or `-` for standard input.
    pub file: String,
    /// 1-based line in JSON Lines input; 1-based position in a JSON array or `Records` list.
    pub line: u64,
}

/// The event-time fields tried in order when no `--timestamp-field` is given.
pub const TIMESTAMP_FIELDS: &[&str] = &[
    "@timestamp",
    "timestamp",
    "time",
    "eventTime",
    "Event.System.TimeCreated.#attributes.SystemTime",
    "TimeCreated.SystemTime",
    "UtcTime",
    "published",
];

/// The value of the event's time field: `field`, or the first of [`TIMESTAMP_FIELDS`] that is
/// present and not null.
fn time_value<'a, 'e>(event: &'a Json<'e>, field: Option<&str>) -> Option<&'a Json<'e>> {
    let candidates: &[&str] = match field {
        Some(f) => &[f][..],
        None => TIMESTAMP_FIELDS,
    };
    candidates.iter().find_map(|name| event::lookup(event, name).first().filter(|v| !v.is_null()))
}

/// The event's time in milliseconds since the epoch, when its timestamp field parses.
pub fn event_time_ms(event: &Json<'_>, field: Option<&str>) -> Option<i64> {
    time_value(event, field).and_then(time::parse_value).map(|dt| dt.timestamp_millis())
}

/// The event's time: the first timestamp field present, normalised to RFC 3339 UTC when it
/// parses, and kept as written when it does not.
pub fn event_time(event: &Json<'_>, field: Option<&str>) -> Value {
    match time_value(event, field) {
        Some(v) => match time::parse_value(v) {
            Some(dt) => Value::String(time::to_rfc3339_utc(&dt)),
            None => v.to_value(),
        },
        None => Value::Null,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertRule<'a> {
    pub id: &'a str,
    pub name: Option<&'a str>,
    pub title: &'a str,
    pub level: Option<&'a str>,
    pub status: Option<&'a str>,
    /// Always present: the SigmaHQ licence (DRL 1.1) requires the author wherever a match shows.
    pub author: Option<&'a str>,
    pub tags: &'a [String],
}

impl<'a> AlertRule<'a> {
    pub fn new(info: &'a RuleInfo) -> Self {
        AlertRule {
            id: &info.id,
            name: info.name.as_deref(),
            title: &info.title,
            level: info.level.as_deref(),
            status: info.status.as_deref(),
            author: info.author.as_deref(),
            tags: &info.tags,
        }
    }
}

/// A detection alert.
#[derive(Debug, Clone, Serialize)]
pub struct Alert<'a> {
    pub kind: &'static str,
    pub rule: AlertRule<'a>,
    pub source: &'a EventSource,
    pub timestamp: Value,
    /// The fields whose predicates made the rule fire, with the values the event holds.
    pub matched: Map<String, Value>,
    pub event: &'a Json<'a>,
    /// For a rule with `suppress:`, the group this alert opens a window for: later matches of
    /// the group within the window are counted in a `suppression` alert instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<SuppressionNote>,
    /// The rule's position in the plan (not part of the JSON).
    #[serde(skip)]
    pub rule_index: usize,
}

impl<'a> Alert<'a> {
    pub fn detection(
        engine: &'a Engine,
        detection: &Detection,
        event: &'a Json<'a>,
        source: &'a EventSource,
        timestamp_field: Option<&str>,
    ) -> Alert<'a> {
        let mut matched = Map::new();
        for p in &detection.matched_predicates {
            if let Some((name, value)) = engine.matched_field(event, *p) {
                matched.entry(name.to_string()).or_insert_with(|| value.to_value());
            }
        }
        let info = &engine.rules()[detection.rule].info;
        Alert {
            kind: "detection",
            rule: AlertRule::new(info),
            source,
            timestamp: event_time(event, timestamp_field),
            matched,
            event,
            suppression: info.suppress.as_ref().map(|s| SuppressionNote {
                group: crate::suppress::detection_group(s, event),
                timespan_ms: s.timespan_ms,
            }),
            rule_index: detection.rule,
        }
    }
}

/// A correlation alert, in the same stable format family as detections.
#[derive(Debug, Clone, Serialize)]
pub struct CorrelationAlertJson<'a> {
    pub kind: &'static str,
    pub rule: AlertRule<'a>,
    pub timestamp: String,
    pub group: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub window: Window,
    /// The first [`crate::correlate::MAX_EVIDENCE`] events that made it fire.
    pub events: &'a [crate::correlate::EventRef],
    pub events_total: usize,
    /// As for a detection alert: the group of a correlation rule with `suppress:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<SuppressionNote>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub start: String,
    pub end: String,
}

impl<'a> CorrelationAlertJson<'a> {
    pub fn new(correlation: &'a crate::plan::Correlation, alert: &'a crate::correlate::CorrelationAlert) -> Self {
        let (count, value) = match alert.measure {
            crate::correlate::Measure::Count(n) => (Some(n), None),
            crate::correlate::Measure::Value(v) => (None, Some(v)),
        };
        CorrelationAlertJson {
            kind: "correlation",
            rule: AlertRule::new(&correlation.info),
            timestamp: time::ms_to_rfc3339_utc(alert.window_end_ms),
            group: &alert.group,
            count,
            value,
            window: Window {
                start: time::ms_to_rfc3339_utc(alert.window_start_ms),
                end: time::ms_to_rfc3339_utc(alert.window_end_ms),
            },
            events: &alert.events,
            events_total: alert.events_total,
            suppression: correlation.info.suppress.as_ref().map(|s| SuppressionNote {
                group: crate::suppress::correlation_group(s, &alert.group),
                timespan_ms: s.timespan_ms,
            }),
        }
    }
}
