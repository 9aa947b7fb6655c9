//! One event message through the engine, as `sigil hunt` evaluates one event: parsed, laid
//! flat, evaluated (rules, routing and timestamp field as `hunt` takes them), its detection
//! alerts written as the JSON lines `hunt --format jsonl` prints, and what correlations read
//! from it grouped by partition. A message that holds no event (too large, not UTF-8, not a
//! JSON object) is a dead letter with the reason.
//!
//! It owns that evaluation only: no I/O, no state across messages (the scratch aside), so any
//! worker may evaluate any message and redelivery gives the same output and the same ids.

use crate::feed::{FeedItem, FeedMessage, HeldAlert, Partitioner};
use crate::ids;
use sigil_engine::alert::event_time_ms;
use sigil_engine::correlate::{Feed, Readers};
use sigil_engine::{layout, session, Engine, EventSource, Json, Routing, Scratch};
use std::collections::BTreeMap;

/// What a worker evaluates with.
pub struct Detector<'a> {
    pub engine: &'a Engine,
    pub readers: &'a Readers,
    pub routing: &'a Routing,
    pub timestamp_field: Option<&'a str>,
    pub partitioner: &'a Partitioner,
    /// Larger messages are dead letters.
    pub max_event_bytes: usize,
}

/// An alert or a feed, with the message id it is published under.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub id: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Evaluated {
        /// Detection alerts, one JSON line each (without the newline).
        alerts: Vec<Output>,
        /// What correlations read from the event, by partition (the worker publishes the
        /// feeds of a whole batch as one message per partition).
        feeds: Vec<(u32, FeedMessage)>,
    },
    /// Not an event: the reason goes with it to the dead-letter subject.
    Dead(String),
}

impl Detector<'_> {
    /// Evaluates the message at `seq` of the events stream, an event from `source` at
    /// `position`.
    pub fn evaluate(&self, scratch: &mut Scratch, seq: u64, source: &str, position: u64, payload: &[u8]) -> Outcome {
        if payload.len() > self.max_event_bytes {
            return Outcome::Dead(format!(
                "too large: {} bytes, more than --max-event-bytes {}",
                payload.len(),
                self.max_event_bytes
            ));
        }
        let text = match std::str::from_utf8(payload) {
            Ok(t) => t.trim(),
            Err(e) => return Outcome::Dead(format!("not UTF-8 text (byte {})", e.valid_up_to() + 1)),
        };
        let doc = match Json::parse(text) {
            Ok(doc @ Json::Object(_)) => layout::flatten(doc),
            Ok(other) => return Outcome::Dead(format!("expected a JSON object, found {}", session::kind(&other))),
            Err(e) => return Outcome::Dead(sigil_engine::json::describe_parse_error(&e)),
        };
        let mut detections = Vec::new();
        self.engine.evaluate_text(scratch, &doc, text, self.routing, &mut detections);
        let mut alerts = Vec::new();
        let mut feeds = Vec::new();
        if detections.is_empty() {
            return Outcome::Evaluated { alerts, feeds };
        }
        let evidence = EventSource { file: source.to_string(), line: position };
        let mut engine_feeds: Vec<Feed> = Vec::new();
        let time = event_time_ms(&doc, self.timestamp_field);
        let mut by_partition: BTreeMap<u32, (Vec<FeedItem>, Vec<HeldAlert>)> = BTreeMap::new();
        let mut k = 0;
        session::write_detections(
            self.engine,
            self.readers,
            &detections,
            &doc,
            &evidence,
            self.timestamp_field,
            &mut engine_feeds,
            &mut |alert| {
                let mut line = Vec::new();
                session::json_line(&mut line, alert);
                line.pop();
                let id = ids::detection(seq, k, alert.rule.id);
                k += 1;
                match &alert.suppression {
                    // Written or counted by the owner of its group's partition, in event order.
                    Some(note) => {
                        let p = self.partitioner.held_partition(alert.rule.id, &note.group);
                        let line = String::from_utf8(line).expect("alerts are UTF-8");
                        let held = HeldAlert { rule: alert.rule_index as u32, group: note.group.clone(), id, line };
                        by_partition.entry(p).or_default().1.push(held);
                    }
                    None => alerts.push(Output { id, payload: line }),
                }
            },
        );
        for f in engine_feeds {
            by_partition.entry(self.partitioner.partition(&f)).or_default().0.push(FeedItem::from_feed(f));
        }
        for (p, (items, held)) in by_partition {
            let file = source.to_string();
            feeds.push((p, FeedMessage { seq, time, file, line: position, feeds: items, held }));
        }
        Outcome::Evaluated { alerts, feeds }
    }
}
