//! Aggregation windows: events of an `aggregate` entry become one summary per group and per
//! event-time window.
//!
//! Windows are tumbling, `window` long and aligned on the Unix epoch. They close by event time,
//! never by arrival or wall time: the stream's clock is the newest event time seen, and a window
//! closes once the clock reaches its end plus the entry's lateness. An event whose window has
//! closed is *late*: it is forwarded as it is rather than lost. Summaries come out in the order
//! their windows close (then entry, then group), and every open window closes at the end of the
//! stream. Past the group cap, the window that would close first closes early. This module
//! keeps the buckets and writes summaries; it does not decide which events come here.

use super::policy::{Aggregate, Measure};
use crate::event;
use crate::json::Json;
use crate::time;
use serde_json::{Map, Number, Value};
use std::collections::{BTreeMap, HashSet};

/// Which window and group a bucket counts: ordered by when it closes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct BucketKey {
    closes_at: i64,
    entry: u32,
    /// The group's values as JSON text.
    group: Box<str>,
}

#[derive(Debug)]
struct Bucket {
    start: i64,
    end: i64,
    group: Vec<Value>,
    events: u64,
    sum: f64,
    distinct: HashSet<Box<str>>,
}

/// The open buckets of every aggregate entry of a policy.
#[derive(Debug)]
pub struct Windows {
    /// Per policy entry: its name and, for aggregate entries, its settings.
    entries: Vec<(String, Option<Aggregate>)>,
    buckets: BTreeMap<BucketKey, Bucket>,
    max_buckets: usize,
    closed_early: u64,
}

/// What became of an event handed to [`Windows::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Aggregated,
    /// Its window had closed (or the entry does not aggregate): the caller forwards it.
    Late,
}

impl Windows {
    /// Windows for the policy entries `(name, aggregate settings if any)`, at most
    /// `max_buckets` open at once.
    pub fn new(entries: Vec<(String, Option<Aggregate>)>, max_buckets: usize) -> Windows {
        Windows { entries, buckets: BTreeMap::new(), max_buckets: max_buckets.max(1), closed_early: 0 }
    }

    /// Buckets closed before their time because of the group cap.
    pub fn closed_early(&self) -> u64 {
        self.closed_early
    }

    /// Adds an event of entry `entry` at `time`, the stream's clock being `clock`; the summary
    /// of a bucket closed early to make room goes to `emit`.
    pub fn add(&mut self, entry: usize, event: &Json<'_>, time: i64, clock: i64, emit: &mut dyn FnMut(Value)) -> Added {
        let Some((_, Some(agg))) = self.entries.get(entry) else { return Added::Late };
        let start = time.div_euclid(agg.window_ms) * agg.window_ms;
        let end = start.saturating_add(agg.window_ms);
        let closes_at = end.saturating_add(agg.lateness_ms);
        if closes_at <= clock {
            return Added::Late;
        }
        let group: Vec<Value> =
            agg.by.iter().map(|f| event::lookup(event, f).first().map_or(Value::Null, Json::to_value)).collect();
        let key = BucketKey {
            closes_at,
            entry: entry as u32,
            group: serde_json::to_string(&group).unwrap_or_default().into(),
        };
        let measure = agg.measure.clone();
        if !self.buckets.contains_key(&key) && self.buckets.len() >= self.max_buckets {
            if let Some((first, bucket)) = self.buckets.pop_first() {
                self.closed_early += 1;
                self.emit(&first, &bucket, emit);
            }
        }
        let bucket = self.buckets.entry(key).or_insert_with(|| Bucket {
            start,
            end,
            group,
            events: 0,
            sum: 0.0,
            distinct: HashSet::new(),
        });
        bucket.events += 1;
        match &measure {
            Measure::Count => {}
            Measure::Sum(field) => {
                bucket.sum += event::lookup(event, field).first().and_then(number).unwrap_or(0.0);
            }
            Measure::Distinct(field) => {
                if let Some(v) = event::lookup(event, field).first().filter(|v| !v.is_null()) {
                    bucket.distinct.insert(serde_json::to_string(v).unwrap_or_default().into());
                }
            }
        }
        Added::Aggregated
    }

    /// Closes every bucket whose window (plus lateness) the clock has reached, in order.
    pub fn close_until(&mut self, clock: i64, emit: &mut dyn FnMut(Value)) {
        while self.buckets.first_key_value().is_some_and(|(k, _)| k.closes_at <= clock) {
            let Some((key, bucket)) = self.buckets.pop_first() else { break };
            self.emit(&key, &bucket, emit);
        }
    }

    /// Closes every bucket (the end of the stream).
    pub fn close_all(&mut self, emit: &mut dyn FnMut(Value)) {
        self.close_until(i64::MAX, emit);
    }

    fn emit(&self, key: &BucketKey, bucket: &Bucket, emit: &mut dyn FnMut(Value)) {
        if let Some((name, Some(agg))) = self.entries.get(key.entry as usize) {
            emit(summary(name, bucket, agg));
        }
    }
}

fn number(v: &Json<'_>) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// A whole number as a JSON integer, anything else as a float.
fn json_number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::Number(Number::from(v as i64))
    } else {
        Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// One summary event.
fn summary(entry: &str, bucket: &Bucket, agg: &Aggregate) -> Value {
    let mut out = Map::new();
    out.insert("@timestamp".into(), Value::String(time::ms_to_rfc3339_utc(bucket.start)));
    out.insert("kind".into(), Value::String("sigil.aggregate".into()));
    out.insert("entry".into(), Value::String(entry.to_string()));
    let mut window = Map::new();
    window.insert("start".into(), Value::String(time::ms_to_rfc3339_utc(bucket.start)));
    window.insert("end".into(), Value::String(time::ms_to_rfc3339_utc(bucket.end)));
    out.insert("window".into(), Value::Object(window));
    let group: Map<String, Value> = agg.by.iter().cloned().zip(bucket.group.iter().cloned()).collect();
    out.insert("group".into(), Value::Object(group));
    out.insert("events".into(), Value::from(bucket.events));
    let (measure, field, value) = match &agg.measure {
        Measure::Count => ("count", None, Value::from(bucket.events)),
        Measure::Sum(f) => ("sum", Some(f), json_number(bucket.sum)),
        Measure::Distinct(f) => ("distinct", Some(f), Value::from(bucket.distinct.len())),
    };
    out.insert("measure".into(), Value::String(measure.into()));
    if let Some(f) = field {
        out.insert("field".into(), Value::String(f.clone()));
    }
    out.insert("value".into(), value);
    Value::Object(out)
}
