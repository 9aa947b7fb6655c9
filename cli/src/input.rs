//! Event input: files or standard input, JSON Lines, a JSON array, or a CloudTrail
//! `{"Records": [...]}` document, each possibly gzip-compressed.
//!
//! Every event keeps where it came from (file and 1-based line, or 1-based position in an array
//! or `Records` list). A malformed event is handed on as an error with its position, never
//! dropped: counting and reporting it is the caller's job.

use flate2::read::MultiGzDecoder;
use serde_json::Value;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

/// One item of input: an event, or why the record at this position is not one.
pub type Record = Result<Value, String>;

/// Opens `path` (`-` is standard input), decompressing gzip when the data starts with its magic.
pub fn open(path: &str) -> io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path == "-" { Box::new(io::stdin().lock()) } else { Box::new(File::open(path)?) };
    let mut reader = BufReader::with_capacity(1 << 16, raw);
    let is_gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if is_gzip {
        Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(reader)))
    } else {
        Box::new(reader)
    })
}

/// Reads every record of an input, calling `sink(position, record)` in input order.
pub fn read_records(mut reader: Box<dyn BufRead>, sink: &mut dyn FnMut(u64, Record)) -> io::Result<()> {
    let first = first_significant_byte(&mut reader)?;
    match first {
        None => Ok(()),
        Some(b'[') => {
            let mut text = String::new();
            reader.read_to_string(&mut text)?;
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Array(items)) => emit_list(items, sink),
                Ok(_) => sink(1, Err("expected a JSON array of events".into())),
                Err(e) => sink(e.line() as u64, Err(format!("invalid JSON array: {e}"))),
            }
            Ok(())
        }
        Some(_) => read_lines(reader, sink),
    }
}

fn first_significant_byte(reader: &mut Box<dyn BufRead>) -> io::Result<Option<u8>> {
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

fn emit_list(items: Vec<Value>, sink: &mut dyn FnMut(u64, Record)) {
    for (i, item) in items.into_iter().enumerate() {
        sink(i as u64 + 1, as_event(item));
    }
}

fn as_event(v: Value) -> Record {
    match v {
        Value::Object(_) => Ok(v),
        other => Err(format!("expected a JSON object, found {}", kind(&other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// JSON Lines; a line holding a `{"Records": [...]}` object yields its records. When the first
/// line is not complete JSON, the input may be one pretty-printed document: it is read whole.
fn read_lines(mut reader: Box<dyn BufRead>, sink: &mut dyn FnMut(u64, Record)) -> io::Result<()> {
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        number += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(mut map)) => {
                if let Some(Value::Array(_)) = map.get("Records") {
                    let Some(Value::Array(records)) = map.remove("Records") else { unreachable!() };
                    emit_list(records, sink);
                } else {
                    sink(number, Ok(Value::Object(map)));
                }
            }
            Ok(other) => sink(number, as_event(other)),
            Err(e) if number == 1 && e.is_eof() => {
                // A document spread over several lines: read it whole.
                let mut rest = String::new();
                reader.read_to_string(&mut rest)?;
                let whole = format!("{line}{rest}");
                return match serde_json::from_str::<Value>(&whole) {
                    Ok(Value::Object(mut map)) => {
                        match map.remove("Records") {
                            Some(Value::Array(records)) => emit_list(records, sink),
                            Some(other) => {
                                map.insert("Records".into(), other);
                                sink(1, Ok(Value::Object(map)));
                            }
                            None => sink(1, Ok(Value::Object(map))),
                        }
                        Ok(())
                    }
                    Ok(other) => {
                        sink(1, as_event(other));
                        Ok(())
                    }
                    Err(e) => {
                        sink(e.line() as u64, Err(format!("invalid JSON: {e}")));
                        Ok(())
                    }
                };
            }
            Err(e) => sink(number, Err(format!("invalid JSON: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<(u64, Result<Value, String>)> {
        let mut out = Vec::new();
        let reader: Box<dyn BufRead> = Box::new(BufReader::new(io::Cursor::new(text.as_bytes().to_vec())));
        read_records(reader, &mut |n, r| out.push((n, r))).unwrap();
        out
    }

    #[test]
    fn json_lines_keep_line_numbers_and_errors() {
        let got = records("{\"a\":1}\n\n{oops\n[1]\n{\"b\":2}\n");
        let lines: Vec<(u64, bool)> = got.iter().map(|(n, r)| (*n, r.is_ok())).collect();
        assert_eq!(lines, vec![(1, true), (3, false), (4, false), (5, true)]);
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
    }
}
