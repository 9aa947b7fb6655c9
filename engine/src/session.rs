//! A hunt over JSON Lines as one sequential caller runs it: each line parsed (a CloudTrail
//! `Records` line gives several events) and laid flat, evaluated, its alerts written as the JSON
//! `sigil hunt --format jsonl` prints, and correlations fed in input order.
//!
//! The Wasm guest runs exactly this, batch by batch; `sigil hunt` runs the same steps spread
//! over threads (parsing and detection per worker, correlation in its ordered writer), using
//! [`events_in_line`], [`write_detections`] and the two steps of [`crate::silence`] so both
//! print the same bytes. Errors are values: a malformed line is counted and reported, never a
//! panic.

use crate::alert::{event_time_ms, Alert, CorrelationAlertJson, EventSource};
use crate::correlate::{Correlator, EventRef, Feed, Readers, SavedState};
use crate::edge::select;
use crate::eval::{Detection, Engine, EngineError, Routing, Scratch};
use crate::json::Json;
use crate::json_lines::JsonLines;
use crate::layout;
use crate::plan::Plan;
use crate::silence::SilenceWatch;
use crate::suppress::{Closed, RuleRef, SavedSuppression, SuppressionAlertJson, Suppressor};
use std::sync::Arc;

/// One event of a line and whether the line is its text alone, or why it is not an event.
pub type LineEvent<'a> = Result<(Json<'a>, bool), String>;

/// Calls `out` for each event of one JSON Lines line: `(position, event, whole_text)`. The
/// position is `None` for the line itself and the 1-based record for a `{"Records": [...]}`
/// line; `whole_text` says whether the line's text is this event's alone (then the engine may
/// search it in one pass). A line that is not a JSON object gives one error, as does one nested
/// deeper than [`crate::json::MAX_EVENT_DEPTH`] (the error says so, with its column). The line's
/// length is bounded by whoever read it ([`crate::lines`]).
pub fn events_in_line<'a>(text: &'a str, out: &mut dyn FnMut(Option<u64>, LineEvent<'a>)) {
    events_in_document(Json::parse(text), out)
}

/// [`events_in_line`] for a line already parsed (by [`JsonLines`], say).
pub fn events_in_document<'a>(
    parsed: Result<Json<'a>, serde_json::Error>,
    out: &mut dyn FnMut(Option<u64>, LineEvent<'a>),
) {
    match parsed {
        Ok(Json::Object(mut obj)) if matches!(obj.get("Records"), Some(Json::Array(_))) => {
            let Some(Json::Array(records)) = obj.remove("Records") else { unreachable!("checked above") };
            for (i, record) in records.into_iter().enumerate() {
                let position = Some(i as u64 + 1);
                match record {
                    doc @ Json::Object(_) => out(position, Ok((layout::flatten(doc), false))),
                    other => out(position, Err(format!("expected a JSON object, found {}", kind(&other)))),
                }
            }
        }
        Ok(doc @ Json::Object(_)) => out(None, Ok((layout::flatten(doc), true))),
        Ok(other) => out(None, Err(format!("expected a JSON object, found {}", kind(&other)))),
        Err(e) => out(None, Err(crate::json::describe_parse_error(&e))),
    }
}

/// How a JSON value is named in messages.
pub fn kind(v: &Json<'_>) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// What one batch came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub events: u64,
    pub rejected: u64,
    pub alerts: u64,
    /// `file:line: malformed event: reason`, one per rejected event.
    pub notes: Vec<String>,
    /// State that reached a bound (a value_count group full of distinct values), once each.
    pub warnings: Vec<String>,
}

/// A loaded plan with its correlation state, fed batch after batch.
pub struct Session {
    engine: Engine,
    readers: Readers,
    correlator: Correlator,
    scratch: Scratch,
    timestamp_field: Option<String>,
    /// Events without a readable time take the time of the event before them.
    last_time: i64,
    /// Silence rules, once enabled ([`Session::enable_silence`]): they read the time of every
    /// event, not only of those that fire.
    silence: Option<SilenceWatch>,
    /// The windows of rules with `suppress:`.
    suppressor: Suppressor,
}

/// What `--state` carries from one run to the next: the correlation windows (at the top level,
/// as before suppression existed, so older state files still load) and the suppression windows.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct State {
    #[serde(flatten)]
    pub correlations: SavedState,
    #[serde(default)]
    pub suppression: SavedSuppression,
}

/// A correlation or suppression alert, in output order.
pub enum Emitted<'a> {
    Correlation(&'a CorrelationAlertJson<'a>),
    Suppression(&'a SuppressionAlertJson<'a>),
}

impl Emitted<'_> {
    pub fn json_line(&self, out: &mut Vec<u8>) {
        match self {
            Emitted::Correlation(a) => json_line(out, a),
            Emitted::Suppression(a) => json_line(out, a),
        }
    }
}

impl Session {
    pub fn new(plan: Plan, max_groups: usize) -> Result<Session, EngineError> {
        let engine = Engine::new(plan)?;
        let readers = Readers::new(engine.plan());
        let correlator = Correlator::new(engine.plan(), max_groups);
        Ok(Session {
            engine,
            readers,
            correlator,
            scratch: Scratch::default(),
            timestamp_field: None,
            last_time: 0,
            silence: None,
            suppressor: Suppressor::new(max_groups),
        })
    }

    /// Sets how many distinct values a value_count group tells apart (`--max-distinct-values`).
    pub fn set_max_distinct_values(&mut self, n: usize) {
        self.correlator.set_max_distinct_values(n);
    }

    /// What reached a bound since the last call (see [`Correlator::take_warnings`]).
    pub fn take_warnings(&mut self) -> Vec<String> {
        self.correlator.take_warnings()
    }

    /// Reads event times from `field` instead of the usual timestamp fields.
    pub fn set_timestamp_field(&mut self, field: Option<String>) {
        self.timestamp_field = field;
    }

    /// Watches the plan's silence rules from now on (they are ignored until this is called),
    /// keeping at most `max_groups` sources.
    pub fn enable_silence(&mut self, max_groups: usize) {
        if self.silence.is_none() && !self.engine.plan().silences.is_empty() {
            self.silence = Some(SilenceWatch::new(self.engine.plan().silences.clone(), max_groups));
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The open correlation and suppression windows, as `sigil hunt --state FILE` saves them.
    pub fn save_state(&self) -> State {
        State { correlations: self.correlator.save(), suppression: self.suppressor.save(self.engine.plan()) }
    }

    /// Restores saved windows (see [`Correlator::restore`]); returns how many groups were
    /// dropped because their rule is not in this plan.
    pub fn restore_state(&mut self, state: State) -> Result<usize, String> {
        let dropped = self.correlator.restore(state.correlations)?;
        Ok(dropped + self.suppressor.restore(self.engine.plan(), state.suppression))
    }

    /// Drops the open correlation and suppression windows; returns how many were open.
    pub fn flush_state(&mut self) -> usize {
        let open = self.suppressor.len();
        self.suppressor = Suppressor::new(self.suppressor_capacity());
        self.correlator.clear() + open
    }

    fn suppressor_capacity(&self) -> usize {
        self.correlator.max_groups()
    }

    /// The input ended: closes every suppression window, appending the summaries of those that
    /// suppressed matches to `out`; returns how many were written.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> u64 {
        let mut closed = Vec::new();
        self.suppressor.flush(&mut closed);
        for c in &closed {
            json_line(out, &c.alert(self.engine.plan()));
        }
        closed.len() as u64
    }

    /// Evaluates JSON Lines `text` whose first line is line `first_line` of `source`, appending
    /// alerts (silences when enabled, detections, then any correlation they complete) to `out`
    /// as JSON Lines.
    pub fn eval_jsonl(
        &mut self,
        source: &str,
        first_line: u64,
        text: &str,
        routing: &Routing,
        out: &mut Vec<u8>,
    ) -> BatchReport {
        let mut report = BatchReport::default();
        let file: Arc<str> = Arc::from(source);
        let mut detections = Vec::new();
        let mut docs = JsonLines::new(text);
        for (i, (start, end)) in line_spans(text).enumerate() {
            let line_number = first_line + i as u64;
            let line = text[start..end].trim();
            if line.is_empty() {
                continue;
            }
            events_in_document(docs.parse(start, end), &mut |position, event| {
                let at = position.unwrap_or(line_number);
                report.events += 1;
                match event {
                    Ok((doc, whole)) => {
                        let text = whole.then_some(line);
                        report.alerts += self.eval_event(&file, at, &doc, text, routing, &mut detections, out);
                    }
                    Err(reason) => {
                        report.rejected += 1;
                        report.notes.push(format!("sigil: {source}:{at}: malformed event: {reason}"));
                    }
                }
            });
        }
        report.warnings = self.take_warnings();
        report
    }

    /// Evaluates one event, at line (or position) `at` of `file`, appending its alerts to `out`
    /// in the order of [`Session::eval_jsonl`]: silences the event's time reveals, detections,
    /// then the correlations they complete. `text` is the event's own JSON text when the line
    /// holds it alone (the engine may search it in one pass). `detections` is cleared and left
    /// holding the rules that fired. Returns the number of alerts written.
    #[allow(clippy::too_many_arguments)]
    pub fn eval_event(
        &mut self,
        file: &Arc<str>,
        at: u64,
        doc: &Json<'_>,
        text: Option<&str>,
        routing: &Routing,
        detections: &mut Vec<Detection>,
        out: &mut Vec<u8>,
    ) -> u64 {
        let Session { engine, readers, correlator, scratch, timestamp_field, last_time, silence, suppressor } = self;
        let mut alerts = 0;
        if let Some(watch) = silence {
            let time = event_time_ms(doc, timestamp_field.as_deref());
            let source = select::event_source(doc, routing);
            let evidence = EventRef { file: Arc::clone(file), line: at };
            alerts += watch.observe(doc, &source, time, &evidence, &mut |alert| json_line(out, alert));
        }
        detections.clear();
        engine.evaluate_with_text(scratch, doc, text, routing, detections);
        if detections.is_empty() {
            return alerts;
        }
        let evidence = EventSource { file: file.to_string(), line: at };
        let mut feeds = Vec::new();
        let plan = engine.plan();
        let event_time = event_time_ms(doc, timestamp_field.as_deref());
        let mut suppressed = 0;
        let written = write_detections(
            engine,
            readers,
            detections,
            doc,
            &evidence,
            timestamp_field.as_deref(),
            &mut feeds,
            &mut |alert| {
                let mut closed = Vec::new();
                let emit = admit_detection(plan, suppressor, alert, event_time, &mut closed);
                for c in &closed {
                    json_line(out, &c.alert(plan));
                }
                suppressed += u64::from(!emit);
                alerts += closed.len() as u64;
                if emit {
                    json_line(out, alert);
                }
            },
        );
        alerts += written - suppressed;
        if !feeds.is_empty() {
            let time = event_time.unwrap_or(*last_time);
            *last_time = time;
            let evidence = EventRef { file: Arc::clone(file), line: at };
            alerts += observe(correlator, suppressor, plan, time, evidence, feeds, &mut |alert| alert.json_line(out));
        }
        alerts
    }
}

/// Where the lines of `text` start and end (the `\n` excluded), as `str::lines` cuts them but
/// for a `\r` before a `\n` (callers trim each line) and an empty last line after a final `\n`
/// (callers skip empty lines). Found with the memchr crate, whose SIMD search also runs on
/// wasm32, where this loop is the guest's.
fn line_spans(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut start = 0;
    memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len())).map(move |end| {
        let span = (start, end);
        start = end + 1;
        span
    })
}

/// Hands the alerts of an event's detections to `write` and collects what correlations read
/// from it; returns the number of alerts written.
#[allow(clippy::too_many_arguments)]
pub fn write_detections(
    engine: &Engine,
    readers: &Readers,
    detections: &[Detection],
    event: &Json<'_>,
    source: &EventSource,
    timestamp_field: Option<&str>,
    feeds: &mut Vec<Feed>,
    write: &mut dyn FnMut(&Alert<'_>),
) -> u64 {
    let mut alerts = 0;
    for detection in detections {
        if readers.reads(detection.rule) {
            readers.feeds_for_rule(detection.rule, event, feeds);
        }
        if !engine.rules()[detection.rule].alert {
            continue;
        }
        alerts += 1;
        write(&Alert::detection(engine, detection, event, source, timestamp_field));
    }
    alerts
}

/// Decides, in input order, whether a detection alert is written or counted by its rule's
/// suppression (true: written; always, for a rule without `suppress:`). The windows the match's
/// time closes go to `closed`: their summaries come before the alert.
pub fn admit_detection(
    plan: &Plan,
    suppressor: &mut Suppressor,
    alert: &Alert<'_>,
    time: Option<i64>,
    closed: &mut Vec<Closed>,
) -> bool {
    match (&plan.rules[alert.rule_index].info.suppress, &alert.suppression) {
        (Some(suppression), Some(note)) => {
            suppressor.admit(RuleRef::Detection(alert.rule_index), suppression, note.group.clone(), time, closed)
        }
        _ => true,
    }
}

/// A detection alert of a rule with `suppress:`, rendered by a worker and decided by the
/// ordered stage ([`admit_rendered`]): threaded callers (`hunt`, `serve`) hand these over in
/// event order between their other output.
#[derive(Debug, Clone)]
pub struct Suppressible {
    pub rule: usize,
    pub group: serde_json::Map<String, serde_json::Value>,
    pub time: Option<i64>,
    /// The alert as it is written when it opens a window.
    pub rendered: Vec<u8>,
}

impl Suppressible {
    /// The alert rendered by `render`, with its group and time, when its rule has `suppress:`
    /// (else `None`: the alert is written as it comes).
    pub fn of(alert: &Alert<'_>, time: Option<i64>, render: impl FnOnce(&mut Vec<u8>)) -> Option<Suppressible> {
        let note = alert.suppression.as_ref()?;
        let mut rendered = Vec::new();
        render(&mut rendered);
        Some(Suppressible { rule: alert.rule_index, group: note.group.clone(), time, rendered })
    }
}

/// The ordered stage of a threaded caller: appends to `out` the summaries of the windows a
/// rendered alert's time closes (through `summary`, which renders them in the caller's format),
/// then the alert unless it is counted. Returns how many alerts were written.
pub fn admit_rendered(
    plan: &Plan,
    suppressor: &mut Suppressor,
    item: Suppressible,
    out: &mut Vec<u8>,
    summary: &mut dyn FnMut(&mut Vec<u8>, &SuppressionAlertJson<'_>),
) -> u64 {
    let mut closed = Vec::new();
    let emit = match &plan.rules[item.rule].info.suppress {
        Some(suppression) => {
            suppressor.admit(RuleRef::Detection(item.rule), suppression, item.group, item.time, &mut closed)
        }
        None => true,
    };
    for c in &closed {
        summary(out, &c.alert(plan));
    }
    if emit {
        out.extend_from_slice(&item.rendered);
    }
    closed.len() as u64 + u64::from(emit)
}

/// Feeds one event's correlation inputs, in input order, handing the correlation alerts that
/// fire (and emit, and are not suppressed), and the suppression summaries their times close,
/// to `write`; returns how many were written.
pub fn observe(
    correlator: &mut Correlator,
    suppressor: &mut Suppressor,
    plan: &Plan,
    time: i64,
    evidence: EventRef,
    feeds: Vec<Feed>,
    write: &mut dyn FnMut(Emitted<'_>),
) -> u64 {
    let mut alerts = 0;
    for alert in correlator.observe(time, evidence, feeds) {
        let corr = correlator.correlation(alert.correlation);
        if !corr.emit {
            continue;
        }
        let json = CorrelationAlertJson::new(corr, &alert);
        if let (Some(suppression), Some(note)) = (&corr.info.suppress, &json.suppression) {
            let mut closed = Vec::new();
            let rule = RuleRef::Correlation(alert.correlation as usize);
            let emit = suppressor.admit(rule, suppression, note.group.clone(), Some(alert.window_end_ms), &mut closed);
            for c in &closed {
                write(Emitted::Suppression(&c.alert(plan)));
            }
            alerts += closed.len() as u64;
            if !emit {
                continue;
            }
        }
        alerts += 1;
        write(Emitted::Correlation(&json));
    }
    alerts
}

/// One value as a JSON Lines line: the alert contract's serialisation.
pub fn json_line(out: &mut Vec<u8>, value: &impl serde::Serialize) {
    // Serialising into memory can only fail for maps with non-string keys, which alerts have not.
    if serde_json::to_writer(&mut *out, value).is_ok() {
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_lines_give_positioned_events_and_bad_lines_one_error() {
        let mut got = Vec::new();
        events_in_line(r#"{"Records": [{"a": 1}, 2, {"b": 3}]}"#, &mut |p, e| got.push((p, e.is_ok())));
        assert_eq!(got, vec![(Some(1), true), (Some(2), false), (Some(3), true)]);
        let mut got = Vec::new();
        events_in_line("[1]", &mut |p, e| got.push((p, e.map(|_| ()))));
        assert_eq!(got, vec![(None, Err("expected a JSON object, found an array".to_string()))]);
    }

    #[test]
    fn lines_are_numbered_as_str_lines_numbers_them() {
        for text in ["", "a", "a\n", "a\r\nb", "\n\nc\n", "é\nü\r\n\n", "x\n\n"] {
            let ours: Vec<&str> = super::line_spans(text).map(|(start, end)| text[start..end].trim()).collect();
            let std: Vec<&str> = text.lines().map(str::trim).collect();
            // The same lines at the same positions; ours may add one empty last line.
            assert_eq!(&ours[..std.len()], &std[..], "{text:?}");
            assert!(ours[std.len()..].iter().all(|l| l.is_empty()), "{text:?}");
        }
    }
}
