//! One request body through the engine, as `sigil hunt` runs a batch: each JSON Lines line
//! parsed (a `Records` line gives several events), lookups joined, rules evaluated, detection
//! alerts formatted, and what correlations read set aside for the caller to feed in order.
//!
//! It runs on any worker thread and touches no shared state: correlation, output and counts
//! are the server's. A malformed line is a [`Rejection`] with its line and column, never a
//! panic and never the end of the body.

use sigil_engine::alert::event_time_ms;
use sigil_engine::correlate::{Correlator, EventRef, Feed, Readers};
use sigil_engine::enrich::Lookup;
use sigil_engine::suppress::Suppressor;
use sigil_engine::{session, Engine, EventSource, Json, Plan, Routing, Scratch};
use std::sync::Arc;

/// The alerts' `source.file` for events that came over HTTP; `source.line` numbers the lines of
/// all requests in the order they were admitted.
pub const SOURCE_NAME: &str = "http";

/// What every worker evaluates bodies with.
pub struct Evaluator<'a> {
    pub engine: &'a Engine,
    pub readers: &'a Readers,
    pub routing: &'a Routing,
    pub timestamp_field: Option<&'a str>,
    pub lookups: &'a [Lookup],
    pub source: Arc<str>,
}

/// A line of the body that held no event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rejection {
    /// 1-based line of the request body.
    pub line: u64,
    /// 1-based column (in bytes) where the line stops being a JSON object.
    pub column: u64,
    pub reason: String,
}

/// An event's output, in body order.
pub enum Item {
    /// Formatted detection alerts.
    Text(Vec<u8>),
    /// An event whose detections correlations read: the server feeds them in order.
    Correlate { time: Option<i64>, evidence: EventRef, feeds: Vec<Feed> },
    /// A detection alert of a rule with `suppress:`: written or counted in order.
    Suppressible(session::Suppressible),
}

/// What one body came to before correlation.
#[derive(Default)]
pub struct Evaluated {
    /// Events evaluated.
    pub read: u64,
    pub rejected: Vec<Rejection>,
    pub detections: u64,
    pub items: Vec<Item>,
}

impl Evaluator<'_> {
    /// Evaluates `body`, whose first line is line `first_line + 1` of the server's stream.
    pub fn evaluate(&self, scratch: &mut Scratch, body: &[u8], first_line: u64) -> Evaluated {
        let mut done = Evaluated::default();
        let mut text = Vec::new();
        let mut detections = Vec::new();
        for (index, raw) in body.split(|&b| b == b'\n').enumerate() {
            let body_line = index as u64 + 1;
            let line = match std::str::from_utf8(raw) {
                Ok(line) => line.trim(),
                Err(e) => {
                    let column = e.valid_up_to() as u64 + 1;
                    done.rejected.push(Rejection { line: body_line, column, reason: "not UTF-8 text".into() });
                    continue;
                }
            };
            if line.is_empty() {
                continue;
            }
            let stream_line = first_line + body_line;
            session::events_in_line(line, &mut |_position, event| {
                let (mut event, whole) = match event {
                    Ok(event) => event,
                    Err(reason) => {
                        let column = error_column(line);
                        done.rejected.push(Rejection { line: body_line, column, reason });
                        return;
                    }
                };
                done.read += 1;
                let mut whole_text = whole.then_some(line);
                for table in self.lookups {
                    // Joined values are not in the line's text: its keyword shortcut no longer holds.
                    if table.apply(&mut event) {
                        whole_text = None;
                    }
                }
                detections.clear();
                self.engine.evaluate_with_text(scratch, &event, whole_text, self.routing, &mut detections);
                if detections.is_empty() {
                    return;
                }
                self.write(&event, &detections, stream_line, &mut text, &mut done);
            });
        }
        if !text.is_empty() {
            done.items.push(Item::Text(text));
        }
        done
    }

    fn write(
        &self,
        event: &Json<'_>,
        detections: &[sigil_engine::Detection],
        stream_line: u64,
        text: &mut Vec<u8>,
        done: &mut Evaluated,
    ) {
        let source = EventSource { file: self.source.to_string(), line: stream_line };
        let mut feeds = Vec::new();
        let time = event_time_ms(event, self.timestamp_field);
        let mut suppressible = 0;
        done.detections += session::write_detections(
            self.engine,
            self.readers,
            detections,
            event,
            &source,
            self.timestamp_field,
            &mut feeds,
            &mut |alert| match session::Suppressible::of(alert, time, |out| session::json_line(out, alert)) {
                Some(item) => {
                    if !text.is_empty() {
                        done.items.push(Item::Text(std::mem::take(text)));
                    }
                    done.items.push(Item::Suppressible(item));
                    suppressible += 1;
                }
                None => session::json_line(text, alert),
            },
        );
        // Suppressible alerts are counted when the ordered stage writes them.
        done.detections -= suppressible;
        if !feeds.is_empty() {
            if !text.is_empty() {
                done.items.push(Item::Text(std::mem::take(text)));
            }
            let evidence = EventRef { file: Arc::clone(&self.source), line: stream_line };
            done.items.push(Item::Correlate { time, evidence, feeds });
        }
    }
}

/// Correlation state shared by all requests: events are fed in the order their requests
/// reach it.
pub struct Correlations {
    pub correlator: Correlator,
    /// The windows of rules with `suppress:`.
    pub suppressor: Suppressor,
    /// Events without a readable time take the time of the event before them.
    pub last_time: i64,
}

impl Correlations {
    /// Feeds a body's items in order; returns the alert lines (detections and the
    /// correlation alerts they complete, interleaved as `hunt` prints them) and how many
    /// correlation alerts fired.
    pub fn feed(&mut self, plan: &Plan, items: Vec<Item>) -> (Vec<u8>, u64) {
        let mut out = Vec::new();
        let mut fired = 0;
        for item in items {
            match item {
                Item::Text(bytes) => out.extend_from_slice(&bytes),
                Item::Correlate { time, evidence, feeds } => {
                    let time = time.unwrap_or(self.last_time);
                    self.last_time = time;
                    let (correlator, suppressor) = (&mut self.correlator, &mut self.suppressor);
                    fired += session::observe(correlator, suppressor, plan, time, evidence, feeds, &mut |alert| {
                        alert.json_line(&mut out)
                    });
                    // A value_count group that reached --max-distinct-values: said once, on stderr.
                    for warning in self.correlator.take_warnings() {
                        eprintln!("sigil: serve: warning: {warning}");
                    }
                }
                Item::Suppressible(item) => {
                    fired += session::admit_rendered(plan, &mut self.suppressor, item, &mut out, &mut |out, s| {
                        session::json_line(out, s)
                    });
                }
            }
        }
        (out, fired)
    }

    /// The stream ended: closes every suppression window; the summaries of those that counted
    /// matches, as alert lines.
    pub fn finish(&mut self, plan: &Plan) -> Vec<u8> {
        let mut closed = Vec::new();
        self.suppressor.flush(&mut closed);
        let mut out = Vec::new();
        for c in &closed {
            session::json_line(&mut out, &c.alert(plan));
        }
        out
    }
}

/// Where `line` stops being valid JSON (1 when it is JSON of the wrong kind).
fn error_column(line: &str) -> u64 {
    match serde_json::from_str::<serde::de::IgnoredAny>(line) {
        Err(e) => e.column().max(1) as u64,
        Ok(_) => 1,
    }
}
