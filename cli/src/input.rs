//! Event input: files or standard input, JSON Lines, a JSON array, a CloudTrail
//! `{"Records": [...]}` document, or a Windows `.evtx` log, each possibly gzip-compressed.
//! evtx_dump-style records (`{"Event": {"System": ...}}`), read from EVTX or from JSON, are laid
//! flat by [`sigil_engine::layout`] so Sigma field names reach their values.
//!
//! Reading is split in two so that parsing can run on every core: [`Records`] (and [`read_raw`])
//! only split the input into raw records (a JSON Lines line stays text), and [`parse`] (or
//! [`RecordRun::events`], for a batch's records) turns them into events, wherever it runs. Every
//! event keeps where it came from (file and 1-based line, or 1-based position in an array or
//! `Records` list). A malformed event is handed on as an error with its position, never dropped:
//! counting and reporting it is the caller's job.
//!
//! What one input can make it hold is bounded ([`Limits`]): a JSON Lines line is read in chunks
//! and kept only up to `--max-line-bytes` (a longer one is a malformed event, skipped to its end);
//! an input read whole (a JSON array, a pretty-printed document, an EVTX log) only up to
//! `--max-document-bytes`; an event nested deeper than `sigil_engine::json::MAX_EVENT_DEPTH` is a
//! malformed event with its column.

use crate::record_run::RecordRun;
use flate2::read::MultiGzDecoder;
use serde_json::Value;
use sigil_engine::json::{deeper_than, MAX_EVENT_DEPTH};
use sigil_engine::lines::{self, LineRead, DEFAULT_MAX_LINE_BYTES};
use sigil_engine::{layout, session, Json};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc;

/// The most bytes an input read whole (a JSON array, a pretty-printed document, an EVTX log)
/// may hold by default: 1 GiB, as such an input is in memory while it is parsed.
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 1 << 30;

/// How much of one input the reader holds at once (`hunt`, `edge`, `normalize`, `publish`).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Limits {
    /// The longest JSON Lines line kept, in bytes; a longer line is a malformed event (reported
    /// with its line, never held in memory) and reading goes on at the next line.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
    /// The largest input read whole (a JSON array, a pretty-printed document, an EVTX log), in
    /// bytes; a larger one is reported and the other inputs are still read.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_DOCUMENT_BYTES)]
    pub max_document_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_line_bytes: DEFAULT_MAX_LINE_BYTES, max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES }
    }
}

impl Limits {
    /// Reads the rest of `reader` whole, or says which limit it passed.
    fn read_document(&self, reader: &mut dyn Read, into: &mut Vec<u8>) -> io::Result<()> {
        let start = into.len() as u64;
        reader.take(self.max_document_bytes.saturating_add(1).saturating_sub(start)).read_to_end(into)?;
        if into.len() as u64 > self.max_document_bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "an input read whole (JSON array, pretty-printed JSON, EVTX) is larger than the document limit \
                     of {} bytes (--max-document-bytes): raise it, or convert the input to JSON Lines",
                    self.max_document_bytes
                ),
            ));
        }
        Ok(())
    }
}

/// One event, or why the record at this position is not one.
pub type Record = Result<Value, String>;

/// A record as read, before JSON parsing.
pub enum Raw {
    /// A line of JSON Lines input, to be parsed.
    Line { number: u64, text: String },
    /// Something the reader already had to parse (array items, a whole-document input).
    Parsed { position: u64, record: Record },
    /// The input has nothing more buffered: what was read so far should be processed now
    /// rather than wait for more (a slow stream on standard input, say).
    Idle,
}

/// A buffered input whose buffer can be inspected (to notice a stream going quiet).
pub type Input = BufReader<Box<dyn Read + Send>>;

/// The inputs a command was given, or standard input (`-`) when none.
pub fn or_stdin(events: &[String]) -> Vec<String> {
    if events.is_empty() {
        vec!["-".to_string()]
    } else {
        events.to_vec()
    }
}

/// Opens `path` (`-` is standard input), decompressing gzip when the data starts with its magic.
pub fn open(path: &str) -> io::Result<Input> {
    let raw: Box<dyn Read + Send> = if path == "-" { Box::new(io::stdin()) } else { Box::new(File::open(path)?) };
    let mut reader = BufReader::with_capacity(1 << 16, raw);
    let is_gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if is_gzip { BufReader::with_capacity(1 << 16, Box::new(MultiGzDecoder::new(reader))) } else { reader })
}

/// Splits an input into raw records, in input order.
pub fn read_raw(reader: Input, limits: &Limits, sink: &mut dyn FnMut(Raw)) -> io::Result<()> {
    let mut records = Records::new(reader, limits)?;
    while let Some(raw) = records.next()? {
        sink(raw);
    }
    Ok(())
}

/// One input's raw records, taken one at a time (what [`read_raw`] hands on): a reader that
/// stops between any two records can be picked up by another thread, as `stream`'s workers do,
/// each reading the next batch for itself.
pub struct Records {
    limits: Limits,
    state: State,
}

enum State {
    /// JSON Lines, `number` the last line read and `line` its text (the buffer every line is
    /// read into). `idle_owed`: the last line emptied the reader's buffer, so an [`Raw::Idle`]
    /// comes next.
    Lines {
        reader: Input,
        number: u64,
        line: String,
        idle_owed: bool,
    },
    /// The records of an input parsed whole (a JSON array, a pretty-printed document).
    Whole(std::vec::IntoIter<Raw>),
    /// An EVTX log's records, decoded on a thread of their own and handed over a few at a time
    /// (decoded all at once, a log's records would take several times its size).
    Evtx {
        records: mpsc::Receiver<Raw>,
        decoder: Option<std::thread::JoinHandle<()>>,
    },
    Done,
}

impl Records {
    /// Looks at the start of `reader` to tell its format; an input read whole is read here.
    pub fn new(mut reader: Input, limits: &Limits) -> io::Result<Records> {
        let limits = *limits;
        let state = if reader.fill_buf()?.starts_with(EVTX_MAGIC) {
            let (records, decoder) = decode_evtx(reader, &limits)?;
            State::Evtx { records, decoder: Some(decoder) }
        } else {
            match first_significant_byte(&mut reader)? {
                None => State::Done,
                Some(b'[') => State::Whole(read_array(reader, &limits)?.into_iter()),
                Some(_) => State::Lines { reader, number: 0, line: String::new(), idle_owed: false },
            }
        };
        Ok(Records { limits, state })
    }

    /// The next record, or `None` at the input's end.
    #[allow(clippy::should_implement_trait)] // fallible: an `Iterator` of `io::Result` hides the end
    pub fn next(&mut self) -> io::Result<Option<Raw>> {
        Ok(self.next_lent()?.map(|record| match record {
            Lent::Line { number, text } => Raw::Line { number, text: text.to_owned() },
            Lent::Other(raw) => raw,
        }))
    }

    /// The next record into `run`: a line's text is copied into the run's text, with no
    /// allocation of its own.
    pub fn read_into(&mut self, run: &mut RecordRun) -> io::Result<Step> {
        Ok(match self.next_lent()? {
            Some(Lent::Line { number, text }) => {
                run.push_line(number, text);
                Step::Kept
            }
            Some(Lent::Other(Raw::Idle)) => Step::Idle,
            Some(Lent::Other(raw)) => {
                run.push_other(raw);
                Step::Kept
            }
            None => Step::End,
        })
    }

    /// The next record, a line lent from the reader's line buffer rather than copied: for a
    /// caller that copies it somewhere anyway. `None` at the input's end.
    pub fn next_lent(&mut self) -> io::Result<Option<Lent<'_>>> {
        Ok(match self.next_record()? {
            Next::Line(number) => Some(Lent::Line { number, text: self.line() }),
            Next::Other(raw) => Some(Lent::Other(raw)),
            Next::End => None,
        })
    }

    /// The text of the line [`Next::Line`] announced.
    fn line(&self) -> &str {
        match &self.state {
            State::Lines { line, .. } => line,
            _ => unreachable!("a line is announced by JSON Lines only"),
        }
    }

    fn next_record(&mut self) -> io::Result<Next> {
        let raw = match &mut self.state {
            State::Lines { .. } => return self.next_line(),
            State::Whole(records) => Ok(records.next()),
            State::Evtx { records, decoder } => match records.recv() {
                Ok(raw) => Ok(Some(raw)),
                // The decoder is done; had it stopped on a panic, the records after it would be
                // lost without a word.
                Err(_) => match decoder.take().map(std::thread::JoinHandle::join) {
                    Some(Err(_)) => Err(io::Error::other(
                        "the EVTX decoder failed on a record (above): the records after it were not read",
                    )),
                    _ => Ok(None),
                },
            },
            State::Done => Ok(None),
        };
        Ok(raw?.map_or(Next::End, Next::Other))
    }

    /// JSON Lines. When the first line is not complete JSON, the input may be one pretty-printed
    /// document (a CloudTrail file, say): it is read and parsed whole.
    fn next_line(&mut self) -> io::Result<Next> {
        let State::Lines { reader, number, line, idle_owed } = &mut self.state else {
            unreachable!("called on JSON Lines only")
        };
        if std::mem::take(idle_owed) {
            return Ok(Next::Other(Raw::Idle));
        }
        let limits = &self.limits;
        loop {
            // One buffer for every line, copied out by whoever takes it: growing a new vector
            // per line cost the reader a dozen reallocations a line.
            let mut bytes = std::mem::take(line).into_bytes();
            bytes.clear();
            match lines::read_line(reader, &mut bytes, limits.max_line_bytes)? {
                LineRead::End => {
                    self.state = State::Done;
                    return Ok(Next::End);
                }
                LineRead::Line { .. } => *number += 1,
                LineRead::TooLong { bytes, .. } => {
                    *number += 1;
                    let reason = lines::too_long_reason(bytes, limits.max_line_bytes, "--max-line-bytes");
                    return Ok(Next::Other(Raw::Parsed { position: *number, record: Err(reason) }));
                }
            }
            // A line that is not UTF-8 is a malformed event like any other, not the end of the input.
            match String::from_utf8(bytes) {
                Ok(text) => *line = text,
                Err(e) => {
                    let record = Err(format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to() + 1));
                    return Ok(Next::Other(Raw::Parsed { position: *number, record }));
                }
            }
            // Looked at in the line's buffer, before its copy: reading a line's last byte just
            // after copying it waited for the copy's stores (2% of a one-core hunt, with perf).
            if line.trim().is_empty() {
                continue;
            }
            if *number == 1 && serde_json::from_str::<serde::de::IgnoredAny>(line.trim()).is_err_and(|e| e.is_eof()) {
                let mut start = line.as_bytes().to_vec();
                start.push(b'\n');
                let whole = read_whole(reader, limits, start)?;
                let records = match serde_json::from_str::<Value>(&whole) {
                    Ok(value) => document_events(value),
                    Err(e) => vec![Raw::Parsed { position: e.line() as u64, record: Err(session_error(&e)) }],
                };
                self.state = State::Whole(records.into_iter());
                return self.next_record();
            }
            *idle_owed = reader.buffer().is_empty();
            return Ok(Next::Line(*number));
        }
    }
}

/// A JSON array of events, read and parsed whole.
fn read_array(mut reader: Input, limits: &Limits) -> io::Result<Vec<Raw>> {
    let text = read_whole(&mut reader, limits, Vec::new())?;
    Ok(match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(items)) => items_as_events(items),
        Ok(_) => vec![Raw::Parsed { position: 1, record: Err("expected a JSON array of events".into()) }],
        Err(e) => vec![Raw::Parsed {
            position: e.line() as u64,
            record: Err(format!("in a JSON array: {}", session_error(&e))),
        }],
    })
}

fn session_error(e: &serde_json::Error) -> String {
    sigil_engine::json::describe_parse_error(e)
}

/// The first bytes of an EVTX file header.
const EVTX_MAGIC: &[u8] = b"ElfFile\0";

/// How many decoded EVTX records may wait for the reader.
const EVTX_AHEAD: usize = 512;

/// A Windows event log: each record as the JSON evtx_dump writes, positioned by record order
/// (1-based). A record that cannot be read is a malformed event; the others still are read.
/// A record nested deeper than the event depth limit is a malformed event like a JSON one.
/// The log is read here; its records are decoded on a thread that stops when the receiver goes.
fn decode_evtx(mut reader: Input, limits: &Limits) -> io::Result<(mpsc::Receiver<Raw>, std::thread::JoinHandle<()>)> {
    let mut bytes = Vec::new();
    limits.read_document(&mut reader, &mut bytes)?;
    let settings = evtx::ParserSettings::default().num_threads(1);
    let mut parser = evtx::EvtxParser::from_buffer(bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not a readable EVTX log: {e}")))?
        .with_configuration(settings);
    let (records, receiver) = mpsc::sync_channel(EVTX_AHEAD);
    let decoder = std::thread::Builder::new().name("sigil-evtx".into()).spawn(move || {
        for (i, record) in parser.records_json_value().enumerate() {
            let record =
                record.map(|r| r.data).map_err(|e| format!("unreadable EVTX record: {e}")).and_then(within_depth);
            if records.send(Raw::Parsed { position: i as u64 + 1, record }).is_err() {
                return;
            }
        }
    })?;
    Ok((receiver, decoder))
}

fn first_significant_byte(reader: &mut Input) -> io::Result<Option<u8>> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => return Ok(Some(buf[i])),
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

/// An event parsed elsewhere than by the engine, held to the engine's depth limit.
fn within_depth(v: Value) -> Record {
    if deeper_than(&v, MAX_EVENT_DEPTH) {
        return Err(format!("nested deeper than the event depth limit of {MAX_EVENT_DEPTH} arrays and objects"));
    }
    Ok(v)
}

fn as_event(v: Value) -> Record {
    match v {
        Value::Object(_) => within_depth(v),
        other => Err(format!("expected a JSON object, found {}", session::kind(&Json::from_value(&other)))),
    }
}

/// The rest of `reader`, read whole after `start` (what was already read of it), as text.
fn read_whole(reader: &mut Input, limits: &Limits, mut start: Vec<u8>) -> io::Result<String> {
    limits.read_document(reader, &mut start)?;
    String::from_utf8(start).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// A parsed JSON document as events: a `{"Records": [...]}` object yields its records, any
/// other object is one event at position 1.
fn document_events(value: Value) -> Vec<Raw> {
    match value {
        Value::Object(mut map) if matches!(map.get("Records"), Some(Value::Array(_))) => {
            let Some(Value::Array(records)) = map.remove("Records") else { unreachable!("checked above") };
            items_as_events(records)
        }
        other => vec![Raw::Parsed { position: 1, record: as_event(other) }],
    }
}

/// The items of a JSON array (or `Records` list) as events, positioned by index (1-based).
fn items_as_events(items: Vec<Value>) -> Vec<Raw> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| Raw::Parsed { position: i as u64 + 1, record: as_event(item) })
        .collect()
}

/// What [`Records::next_record`] found: a JSON Lines line (its text in the reader's line buffer
/// until the next read), another record, or the input's end.
enum Next {
    Line(u64),
    Other(Raw),
    End,
}

/// A record as [`Records::next_lent`] gives it.
pub enum Lent<'r> {
    /// A JSON Lines line, valid until the next record is read.
    Line { number: u64, text: &'r str },
    /// Any other record (never a [`Raw::Line`]).
    Other(Raw),
}

/// What [`Records::read_into`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A record joined the run.
    Kept,
    /// The input has nothing more buffered (see [`Raw::Idle`]).
    Idle,
    /// The input ended.
    End,
}

/// An event, and the text it was parsed from when that text is its alone (the engine can then
/// search the text in one pass).
pub struct Event<'a> {
    pub doc: Json<'a>,
    pub text: Option<&'a str>,
}

/// Turns a raw record into events (one, or several for a `Records` line). A line's events
/// borrow from its text: parsing builds no copy of what has no escapes.
pub fn parse(raw: &Raw, out: &mut dyn FnMut(u64, Result<Event<'_>, String>)) {
    let whole = |doc, text| Ok(Event { doc: layout::flatten(doc), text });
    match raw {
        Raw::Parsed { position, record } => match record {
            Ok(value) => out(*position, whole(Json::from_value(value), None)),
            Err(reason) => out(*position, Err(reason.clone())),
        },
        Raw::Idle => {}
        Raw::Line { number, text } => {
            let text = text.trim();
            line_events(*number, text, Json::parse(text), out)
        }
    }
}

/// The events of line `number`, `parsed` from its trimmed `text` (alone, or in a run of lines):
/// each at its line, or at its position in a `Records` list.
pub fn line_events<'a>(
    number: u64,
    text: &'a str,
    parsed: Result<Json<'a>, serde_json::Error>,
    out: &mut dyn FnMut(u64, Result<Event<'a>, String>),
) {
    session::events_in_document(parsed, &mut |position, event| {
        let event = event.map(|(doc, whole)| Event { doc, text: whole.then_some(text) });
        out(position.unwrap_or(number), event)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<(u64, Result<Value, String>)> {
        records_within(text, &Limits::default())
    }

    fn records_within(text: &str, limits: &Limits) -> Vec<(u64, Result<Value, String>)> {
        let mut raws = Vec::new();
        let reader: Input = BufReader::new(Box::new(io::Cursor::new(text.as_bytes().to_vec())));
        read_raw(reader, limits, &mut |r| raws.push(r)).unwrap();
        let mut out = Vec::new();
        for raw in &raws {
            parse(raw, &mut |n, r| out.push((n, r.map(|e| e.doc.to_value()))));
        }
        out
    }

    #[test]
    fn json_lines_keep_line_numbers_and_errors() {
        let got = records("{\"a\":1}\n\n{oops\n[1]\n{\"b\":2}\n");
        let lines: Vec<(u64, bool)> = got.iter().map(|(n, r)| (*n, r.is_ok())).collect();
        assert_eq!(lines, vec![(1, true), (3, false), (4, false), (5, true)]);
    }

    #[test]
    fn a_line_that_is_not_utf8_is_one_malformed_event() {
        let mut raws = Vec::new();
        let data = b"{\"a\":1}\n\xff\xfe\n{\"b\":2}\n".to_vec();
        read_raw(BufReader::new(Box::new(io::Cursor::new(data))), &Limits::default(), &mut |r| raws.push(r)).unwrap();
        let mut out = Vec::new();
        for raw in &raws {
            parse(raw, &mut |n, r| out.push((n, r.is_ok())));
        }
        assert_eq!(out, vec![(1, true), (2, false), (3, true)]);
    }

    #[test]
    fn an_evtx_decoder_that_stopped_on_a_panic_is_a_read_error_not_the_end() {
        let (records, receiver) = mpsc::sync_channel(4);
        let decoder = std::thread::spawn(move || {
            records.send(Raw::Parsed { position: 1, record: Err("first".into()) }).unwrap();
            panic!("a record the decoder could not handle (this test's own panic)");
        });
        let state = State::Evtx { records: receiver, decoder: Some(decoder) };
        let mut records = Records { limits: Limits::default(), state };
        assert!(matches!(records.next(), Ok(Some(Raw::Parsed { position: 1, .. }))));
        let Err(err) = records.next() else { panic!("the decoder's panic ended the input without a word") };
        assert!(err.to_string().contains("the records after it were not read"), "{err}");
    }

    #[test]
    fn arrays_and_records_use_positions() {
        let got = records("[{\"a\":1},{\"a\":2}]");
        assert_eq!(got.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![1, 2]);
        let got = records("{\n  \"Records\": [{\"a\":1}, {\"a\":2}, 3]\n}\n");
        assert_eq!(
            got.iter().map(|(n, r)| (*n, r.is_ok())).collect::<Vec<_>>(),
            vec![(1, true), (2, true), (3, false)]
        );
        let got = records("{\"Records\": [{\"a\":1}, {\"a\":2}]}\n");
        assert_eq!(got.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn an_over_long_line_is_one_malformed_event_and_the_next_lines_are_read() {
        let limits = Limits { max_line_bytes: 16, ..Limits::default() };
        let long = format!("{{\"a\":\"{}\"}}", "x".repeat(100));
        let got = records_within(&format!("{{\"a\":1}}\n{long}\n{{\"b\":2}}\n"), &limits);
        let lines: Vec<(u64, bool)> = got.iter().map(|(n, r)| (*n, r.is_ok())).collect();
        assert_eq!(lines, vec![(1, true), (2, false), (3, true)]);
        assert_eq!(
            got[1].1.as_ref().unwrap_err(),
            "the line is 108 bytes, more than the line limit of 16 bytes (--max-line-bytes): skipped to the next line"
        );
    }

    #[test]
    fn an_input_read_whole_past_the_document_limit_is_an_error_naming_it() {
        let limits = Limits { max_document_bytes: 8, ..Limits::default() };
        let reader: Input = BufReader::new(Box::new(io::Cursor::new(b"[{\"a\":1},{\"b\":2}]".to_vec())));
        let err = read_raw(reader, &limits, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("document limit of 8 bytes (--max-document-bytes)"), "{err}");
        let got = records_within("{\n\"a\": 1\n}\n", &Limits { max_document_bytes: 64, ..Limits::default() });
        assert_eq!(got.len(), 1);
        assert!(got[0].1.is_ok());
    }

    #[test]
    fn an_event_nested_past_the_depth_limit_is_a_malformed_event_with_its_column() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        let got = records(&format!("{{\"a\":1}}\n{deep}\n{{\"b\":2}}\n"));
        let lines: Vec<(u64, bool)> = got.iter().map(|(n, r)| (*n, r.is_ok())).collect();
        assert_eq!(lines, vec![(1, true), (2, false), (3, true)]);
        let reason = got[1].1.as_ref().unwrap_err();
        assert!(reason.starts_with("nested deeper than the event depth limit of 100"), "{reason}");
        assert!(reason.contains("at column"), "{reason}");
        // In a JSON array, parsed whole, the same bound holds, by position.
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(110), "]".repeat(110));
        let got = records(&format!("[{{\"a\":1}}, {deep}, {{\"b\":2}}]"));
        let positions: Vec<(u64, bool)> = got.iter().map(|(n, r)| (*n, r.is_ok())).collect();
        assert_eq!(positions, vec![(1, true), (2, false), (3, true)]);
    }
}
