//! Event input: files or standard input, JSON Lines, a JSON array, a CloudTrail
//! `{"Records": [...]}` document, or a Windows `.evtx` log, each possibly gzip-compressed.
//! evtx_dump-style records (`{"Event": {"System": ...}}`), read from EVTX or from JSON, are laid
//! flat by [`sigil_engine::layout`] so Sigma field names reach their values.
//!
//! Reading is split in two so that parsing can run on every core: [`read_raw`] only splits the
//! input into raw records (a JSON Lines line stays text), and [`parse`] turns a raw record into
//! events, wherever it runs. Every event keeps where it came from (file and 1-based line, or
//! 1-based position in an array or `Records` list). A malformed event is handed on as an error
//! with its position, never dropped: counting and reporting it is the caller's job.

use flate2::read::MultiGzDecoder;
use serde_json::Value;
use sigil_engine::{layout, session, Json};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

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

/// Opens `path` (`-` is standard input), decompressing gzip when the data starts with its magic.
pub fn open(path: &str) -> io::Result<Input> {
    let raw: Box<dyn Read + Send> = if path == "-" { Box::new(io::stdin()) } else { Box::new(File::open(path)?) };
    let mut reader = BufReader::with_capacity(1 << 16, raw);
    let is_gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if is_gzip { BufReader::with_capacity(1 << 16, Box::new(MultiGzDecoder::new(reader))) } else { reader })
}

/// Splits an input into raw records, in input order.
pub fn read_raw(mut reader: Input, sink: &mut dyn FnMut(Raw)) -> io::Result<()> {
    if reader.fill_buf()?.starts_with(EVTX_MAGIC) {
        return read_evtx(reader, sink);
    }
    match first_significant_byte(&mut reader)? {
        None => Ok(()),
        Some(b'[') => {
            let mut text = String::new();
            reader.read_to_string(&mut text)?;
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Array(items)) => emit_list(items, sink),
                Ok(_) => sink(Raw::Parsed { position: 1, record: Err("expected a JSON array of events".into()) }),
                Err(e) => {
                    sink(Raw::Parsed { position: e.line() as u64, record: Err(format!("invalid JSON array: {e}")) })
                }
            }
            Ok(())
        }
        Some(_) => read_lines(reader, sink),
    }
}

/// The first bytes of an EVTX file header.
const EVTX_MAGIC: &[u8] = b"ElfFile\0";

/// A Windows event log: each record as the JSON evtx_dump writes, positioned by record order
/// (1-based). A record that cannot be read is a malformed event; the others still are read.
fn read_evtx(mut reader: Input, sink: &mut dyn FnMut(Raw)) -> io::Result<()> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    let settings = evtx::ParserSettings::default().num_threads(1);
    let mut parser = evtx::EvtxParser::from_buffer(bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not a readable EVTX log: {e}")))?
        .with_configuration(settings);
    for (i, record) in parser.records_json_value().enumerate() {
        let record = record.map(|r| r.data).map_err(|e| format!("unreadable EVTX record: {e}"));
        sink(Raw::Parsed { position: i as u64 + 1, record });
    }
    Ok(())
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

fn emit_list(items: Vec<Value>, sink: &mut dyn FnMut(Raw)) {
    for (i, item) in items.into_iter().enumerate() {
        sink(Raw::Parsed { position: i as u64 + 1, record: as_event(item) });
    }
}

fn as_event(v: Value) -> Record {
    match v {
        Value::Object(_) => Ok(v),
        other => Err(format!("expected a JSON object, found {}", session::kind(&Json::from_value(&other)))),
    }
}

/// JSON Lines. When the first line is not complete JSON, the input may be one pretty-printed
/// document (a CloudTrail file, say): it is read and parsed whole.
fn read_lines(mut reader: Input, sink: &mut dyn FnMut(Raw)) -> io::Result<()> {
    let mut number = 0u64;
    loop {
        let mut bytes = Vec::new();
        if reader.read_until(b'\n', &mut bytes)? == 0 {
            return Ok(());
        }
        number += 1;
        // A line that is not UTF-8 is a malformed event like any other, not the end of the input.
        let mut line = match String::from_utf8(bytes) {
            Ok(line) => line,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                sink(Raw::Parsed { position: number, record: Err(format!("not UTF-8 text (byte {})", at + 1)) });
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        if number == 1 && serde_json::from_str::<serde::de::IgnoredAny>(line.trim()).is_err_and(|e| e.is_eof()) {
            let mut rest = String::new();
            reader.read_to_string(&mut rest)?;
            line.push_str(&rest);
            match serde_json::from_str::<Value>(&line) {
                Ok(value) => expand(value, 1, &mut |position, record| sink(Raw::Parsed { position, record })),
                Err(e) => sink(Raw::Parsed { position: e.line() as u64, record: Err(format!("invalid JSON: {e}")) }),
            }
            return Ok(());
        }
        sink(Raw::Line { number, text: line });
        if reader.buffer().is_empty() {
            sink(Raw::Idle);
        }
    }
}

/// A parsed JSON value as events: a `{"Records": [...]}` object yields its records (positioned
/// by index), any other object is one event at `position`.
fn expand(value: Value, position: u64, out: &mut dyn FnMut(u64, Record)) {
    match value {
        Value::Object(mut map) if matches!(map.get("Records"), Some(Value::Array(_))) => {
            let Some(Value::Array(records)) = map.remove("Records") else { unreachable!("checked above") };
            for (i, r) in records.into_iter().enumerate() {
                out(i as u64 + 1, as_event(r));
            }
        }
        other => out(position, as_event(other)),
    }
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
            session::events_in_line(text, &mut |position, event| {
                let event = event.map(|(doc, whole)| Event { doc, text: whole.then_some(text) });
                out(position.unwrap_or(*number), event)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<(u64, Result<Value, String>)> {
        let mut raws = Vec::new();
        let reader: Input = BufReader::new(Box::new(io::Cursor::new(text.as_bytes().to_vec())));
        read_raw(reader, &mut |r| raws.push(r)).unwrap();
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
        read_raw(BufReader::new(Box::new(io::Cursor::new(data))), &mut |r| raws.push(r)).unwrap();
        let mut out = Vec::new();
        for raw in &raws {
            parse(raw, &mut |n, r| out.push((n, r.is_ok())));
        }
        assert_eq!(out, vec![(1, true), (2, false), (3, true)]);
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
}
