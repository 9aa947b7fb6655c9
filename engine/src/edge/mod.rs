//! `sigil edge`: a policy that forwards, drops, samples, aggregates or tags each event of a
//! stream, after the detections and correlations have seen the whole stream.
//!
//! * [`policy`] — the policy as data (what the YAML file says, or the compiled form a Wasm
//!   guest receives as JSON), checked against the loaded rules;
//! * [`select`] — which events a logsource selects (also used by silence rules);
//! * [`sample`] — the deterministic sampling verdict (a documented XXH64 rule);
//! * [`aggregate`] — event-time windows and their summary events;
//! * [`counts`] — the per-action counts that prove what was reduced;
//! * this module — [`Edge`], which runs a policy over JSON Lines next to a [`Session`].
//!
//! Order matters and is fixed: each event first goes through the session (detections, then
//! correlations, then silence), so no reduction can hide an alert; then the first policy entry
//! that selects it decides what is forwarded. Everything here is a function of the events and
//! their order, never of wall time or batch boundaries, so the native CLI and the Wasm guest
//! write the same bytes. No I/O: forwarded lines, alerts and notes go to an [`EdgeOutput`].

pub mod aggregate;
pub mod counts;
pub mod policy;
pub mod sample;
pub mod select;

use crate::alert::event_time_ms;
use crate::eval::{Detection, Routing};
use crate::json::Json;
use crate::json_lines::JsonLines;
use crate::route::Source;
use crate::session::{events_in_document, LineEvent, Session};
use aggregate::{Added, Windows};
pub use counts::Counts;
pub use policy::{Action, Policy, PolicyError, Selector};
use std::sync::Arc;

/// What a batch wrote: forwarded lines (events and summaries) and alerts, both JSON Lines,
/// and one note per malformed event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeOutput {
    pub forwarded: Vec<u8>,
    pub alerts: Vec<u8>,
    pub notes: Vec<String>,
}

/// A policy running over one stream: its aggregation windows, its clock and its counts.
#[derive(Debug)]
pub struct Edge {
    policy: Policy,
    entries: Vec<policy::Resolved>,
    windows: Windows,
    counts: Counts,
    /// The stream's clock: the newest event time seen.
    clock: Option<i64>,
    /// Events without a readable time take the time of the event before them.
    last_time: Option<i64>,
    detections: Vec<Detection>,
}

impl Edge {
    /// Checks `policy` against the session's rules and readies it; the session gets the
    /// policy's timestamp field and, when the policy asks for it, silence detection.
    pub fn new(policy: Policy, session: &mut Session) -> Result<Edge, PolicyError> {
        let entries = policy.resolve(session.engine().plan())?;
        session.set_timestamp_field(policy.timestamp_field.clone());
        if policy.silence {
            session.enable_silence(policy.max_groups);
        }
        let settings = entries
            .iter()
            .map(|r| {
                let agg = match &r.entry.action {
                    Action::Aggregate(a) => Some(a.clone()),
                    _ => None,
                };
                (r.entry.name.clone(), agg)
            })
            .collect();
        let windows = Windows::new(settings, policy.max_groups);
        Ok(Edge {
            policy,
            entries,
            windows,
            counts: Counts::default(),
            clock: None,
            last_time: None,
            detections: Vec::new(),
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The counts so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Summaries written early because the open groups reached the policy's cap.
    pub fn closed_early(&self) -> u64 {
        self.windows.closed_early()
    }

    /// Runs JSON Lines `text`, whose first line is line `first_line` of `source`, through the
    /// session and the policy.
    pub fn eval_jsonl(
        &mut self,
        session: &mut Session,
        source: &str,
        first_line: u64,
        text: &str,
        routing: &Routing,
        out: &mut EdgeOutput,
    ) {
        let file: Arc<str> = Arc::from(source);
        let mut docs = JsonLines::new(text);
        let mut start = 0;
        for (i, raw) in text.split_inclusive('\n').enumerate() {
            self.counts.bytes_in += raw.len() as u64;
            let span = (start, start + raw.strip_suffix('\n').unwrap_or(raw).len());
            start += raw.len();
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let line_number = first_line + i as u64;
            events_in_document(docs.parse(span.0, span.1), &mut |position, event| {
                let at = position.unwrap_or(line_number);
                self.one_event(session, &file, at, line, event, routing, out);
            });
        }
        out.notes.extend(session.take_warnings().into_iter().map(|w| format!("sigil: warning: {w}")));
    }

    /// Counts a record the caller could not even hand over as text (a line that is not UTF-8,
    /// say) as a rejected event, with its note.
    pub fn reject(&mut self, source: &str, at: u64, reason: &str, out: &mut EdgeOutput) {
        self.counts.events += 1;
        self.counts.rejected += 1;
        out.notes.push(format!("sigil: {source}:{at}: malformed event: {reason}"));
    }

    /// The end of the stream: every open window closes, the aggregation windows and the
    /// session's suppression windows (whose summaries are alerts).
    pub fn finish(&mut self, session: &mut Session, out: &mut EdgeOutput) {
        let Edge { windows, counts, .. } = self;
        windows.close_all(&mut |summary| write_summary(out, counts, &summary));
        counts.alerts += session.finish(&mut out.alerts);
    }

    #[allow(clippy::too_many_arguments)]
    fn one_event(
        &mut self,
        session: &mut Session,
        file: &Arc<str>,
        at: u64,
        line: &str,
        event: LineEvent<'_>,
        routing: &Routing,
        out: &mut EdgeOutput,
    ) {
        self.counts.events += 1;
        let (doc, whole) = match event {
            Ok(event) => event,
            Err(reason) => {
                self.counts.rejected += 1;
                out.notes.push(format!("sigil: {file}:{at}: malformed event: {reason}"));
                return;
            }
        };
        let text = whole.then_some(line);
        let mut detections = std::mem::take(&mut self.detections);
        detections.clear();
        self.counts.alerts += session.eval_event(file, at, &doc, text, routing, &mut detections, &mut out.alerts);

        let time = event_time_ms(&doc, self.policy.timestamp_field.as_deref()).or(self.last_time);
        if let Some(t) = time {
            self.last_time = Some(t);
            if self.clock.is_none_or(|c| t > c) {
                self.clock = Some(t);
                let Edge { windows, counts, .. } = self;
                windows.close_until(t, &mut |summary| write_summary(out, counts, &summary));
            }
        }

        let mut source: Option<Source> = None;
        let chosen = self.entries.iter().position(|r| match &r.entry.select {
            Selector::LogSource(ls) => {
                select::selects(source.get_or_insert_with(|| select::event_source(&doc, routing)), ls)
            }
            Selector::Rules(_) => detections.iter().any(|d| r.rules.get(d.rule).copied().unwrap_or(false)),
            Selector::AnyRule => !detections.is_empty(),
        });
        let action = chosen.map_or(&self.policy.default, |i| &self.entries[i].entry.action);
        let forward = |out: &mut EdgeOutput, counts: &mut Counts| forward_event(out, counts, text, &doc);
        match action {
            Action::Keep => {
                self.counts.kept += 1;
                forward(out, &mut self.counts);
            }
            Action::Drop => self.counts.dropped += 1,
            Action::Tag => {
                self.counts.tagged += 1;
                let rules = session.engine().rules();
                let titles: Vec<&str> = detections.iter().map(|d| rules[d.rule].info.title.as_str()).collect();
                let body = match text {
                    Some(t) => t.to_string(),
                    None => serde_json::to_string(&doc).unwrap_or_default(),
                };
                write_line(out, &mut self.counts, &with_tags(&body, &self.policy.tag_field, &titles));
            }
            Action::Sample(s) => match sample::key(&doc, &s.key) {
                // A `rules` selector can take an authentication event its rules' logsources did
                // not foresee (`--logsource all`, say): the refusal holds for it all the same.
                Some(_)
                    if !s.force
                        && policy::is_authentication(
                            source.get_or_insert_with(|| select::event_source(&doc, routing)),
                        ) =>
                {
                    self.counts.sampled_in += 1;
                    forward(out, &mut self.counts);
                }
                Some(key) if !sample::keeps(sample::hash(&key, s.seed), s.rate) => self.counts.sampled_out += 1,
                _ => {
                    self.counts.sampled_in += 1;
                    forward(out, &mut self.counts);
                }
            },
            Action::Aggregate(_) => {
                let entry = chosen.unwrap_or(usize::MAX);
                let added = match (time, self.clock) {
                    (Some(t), Some(clock)) => {
                        let Edge { windows, counts, .. } = self;
                        windows.add(entry, &doc, t, clock, &mut |summary| write_summary(out, counts, &summary))
                    }
                    _ => Added::Late,
                };
                match added {
                    Added::Aggregated => self.counts.aggregated_in += 1,
                    Added::Late => {
                        self.counts.late += 1;
                        forward(out, &mut self.counts);
                    }
                }
            }
        }
        self.detections = detections;
    }
}

/// An event forwarded as it is: its line when the line is the event's alone, else the event
/// as compact JSON (one record of a CloudTrail `Records` line).
fn forward_event(out: &mut EdgeOutput, counts: &mut Counts, text: Option<&str>, doc: &Json<'_>) {
    match text {
        Some(t) => write_line(out, counts, t.as_bytes()),
        None => write_line(out, counts, &serde_json::to_vec(doc).unwrap_or_default()),
    }
}

fn write_summary(out: &mut EdgeOutput, counts: &mut Counts, summary: &serde_json::Value) {
    counts.aggregated_out += 1;
    write_line(out, counts, &serde_json::to_vec(summary).unwrap_or_default());
}

fn write_line(out: &mut EdgeOutput, counts: &mut Counts, line: &[u8]) {
    out.forwarded.extend_from_slice(line);
    out.forwarded.push(b'\n');
    counts.bytes_out += line.len() as u64 + 1;
}

/// The event's JSON text with `field: [titles]` added as its last member; the rest of the
/// text stays as it was.
pub fn with_tags(text: &str, field: &str, titles: &[&str]) -> Vec<u8> {
    let body = text.trim_end();
    let Some(close) = body.rfind('}') else { return body.as_bytes().to_vec() };
    let head = body[..close].trim_end();
    let mut out = Vec::with_capacity(body.len() + 32 + titles.iter().map(|t| t.len() + 3).sum::<usize>());
    out.extend_from_slice(head.as_bytes());
    if !head.ends_with('{') {
        out.push(b',');
    }
    // Strings serialize into memory without error.
    let _ = serde_json::to_writer(&mut out, field);
    out.push(b':');
    let _ = serde_json::to_writer(&mut out, titles);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests;
