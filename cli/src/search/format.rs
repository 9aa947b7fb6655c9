//! What `sigil search` prints: matching events (JSON Lines, a table, RFC 4180 CSV), the
//! `--count-by` stack counts, and a refused query with a caret under its column. It decides
//! nothing about matching.

use crate::output::{clip, compact};
use crate::SearchFormat;
use serde::Serialize;
use sigil_compiler::query::QueryError;
use sigil_engine::alert::event_time;
use sigil_engine::{event, Json};
use std::collections::HashMap;
use std::io::Write;

/// A refused query, ripgrep-style: the message, the query, and a caret under the column.
pub fn query_error(query: &str, e: &QueryError) -> String {
    // Tabs shown as spaces keep the caret under its character.
    let shown: String = query.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let pad = " ".repeat(e.column.saturating_sub(1));
    format!("the query is refused at column {}: {}\n  |\n  | {shown}\n  | {pad}^", e.column, e.message)
}

/// The header line of the event output (JSON Lines has none).
pub fn event_header(format: SearchFormat) -> Option<String> {
    match format {
        SearchFormat::Jsonl => None,
        SearchFormat::Table => Some(format!("{:<24}  {:<28}  EVENT\n", "TIME", "SOURCE")),
        SearchFormat::Csv => Some("file,line,time,event\r\n".into()),
    }
}

#[derive(Serialize)]
struct Source<'a> {
    file: &'a str,
    line: u64,
}

/// One matching event in JSON Lines: where it was read, its time, and the event as the query
/// saw it (EVTX records laid flat, `--lookup` columns joined).
#[derive(Serialize)]
struct EventLine<'a, 'e> {
    source: Source<'a>,
    time: serde_json::Value,
    event: &'a Json<'e>,
}

/// The event's time as text: RFC 3339 UTC when it parses, as written otherwise, empty if none.
fn time_text(time: &serde_json::Value) -> String {
    match time {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Appends one matching event in the chosen format.
pub fn write_event(
    out: &mut Vec<u8>,
    file: &str,
    line: u64,
    event: &Json<'_>,
    timestamp_field: Option<&str>,
    format: SearchFormat,
) {
    let time = event_time(event, timestamp_field);
    match format {
        SearchFormat::Jsonl => {
            sigil_engine::session::json_line(out, &EventLine { source: Source { file, line }, time, event })
        }
        SearchFormat::Table => {
            let source = format!("{file}:{line}");
            let text = compact(&serde_json::to_value(event).unwrap_or_default());
            let _ =
                writeln!(out, "{:<24}  {:<28}  {}", clip(&time_text(&time), 24), clip(&source, 28), head(&text, 160));
        }
        SearchFormat::Csv => {
            let text = serde_json::to_string(event).unwrap_or_default();
            let fields = [file.to_string(), line.to_string(), time_text(&time), text];
            csv_row(out, &fields);
        }
    }
}

/// The first `width` characters (an event's text reads from its start, paths or not).
fn head(s: &str, width: usize) -> String {
    match s.char_indices().nth(width.saturating_sub(1)) {
        Some((end, _)) if s.chars().count() > width => format!("{}…", &s[..end]),
        _ => s.to_string(),
    }
}

/// One RFC 4180 record: a field holding a comma, quote, CR or LF is quoted, quotes doubled.
fn csv_row(out: &mut Vec<u8>, fields: &[String]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.push(b'"');
            out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(field.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Longest value text counted as it is; longer values are counted by their first bytes, so a
/// hostile value cannot make one count key as large as a line.
const MAX_VALUE_BYTES: usize = 1024;

/// The `--count-by` key of an event: the field's value (a string as written, anything else as
/// compact JSON), or `None` when the field is absent.
pub fn count_key(event: &Json<'_>, field: &str) -> Option<String> {
    let value = event::lookup(event, field).first()?;
    let mut text = match value {
        Json::String(s) => s.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    };
    if text.len() > MAX_VALUE_BYTES {
        let mut end = MAX_VALUE_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    Some(text)
}

/// Stack counts, bounded: past `max` distinct values, events of new values count as (other).
pub struct Counts {
    counts: HashMap<Option<String>, u64>,
    max: usize,
    other: u64,
}

/// A row of the counts: a value (`None`: the field was absent) or the (other) bucket.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stacked {
    Absent,
    Value(String),
    Other,
}

impl Counts {
    pub fn new(max: usize) -> Counts {
        Counts { counts: HashMap::new(), max, other: 0 }
    }

    pub fn add(&mut self, batch: HashMap<Option<String>, u64>) {
        for (key, n) in batch {
            if let Some(count) = self.counts.get_mut(&key) {
                *count += n;
            } else if self.counts.len() < self.max {
                self.counts.insert(key, n);
            } else {
                self.other += n;
            }
        }
    }

    /// Events counted as (other).
    pub fn overflowed(&self) -> u64 {
        self.other
    }

    /// Most frequent first, then by value; (other) last.
    pub fn sorted(self) -> Vec<(Stacked, u64)> {
        let mut rows: Vec<(Stacked, u64)> =
            self.counts.into_iter().map(|(k, n)| (k.map_or(Stacked::Absent, Stacked::Value), n)).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if self.other > 0 {
            rows.push((Stacked::Other, self.other));
        }
        rows
    }
}

impl Stacked {
    fn label(&self) -> &str {
        match self {
            Stacked::Absent => "(none)",
            Stacked::Value(v) => v,
            Stacked::Other => "(other)",
        }
    }
}

#[derive(Serialize)]
struct CountLine<'a> {
    field: &'a str,
    /// `null` when the field is absent.
    value: Option<&'a str>,
    count: u64,
}

/// The counts: a table (COUNT, then the value), JSON Lines `{"field","value","count"}` (an
/// absent field's value is null) or CSV with the header `FIELD,count`.
pub fn write_counts(out: &mut Vec<u8>, field: &str, rows: &[(Stacked, u64)], format: SearchFormat) {
    match format {
        SearchFormat::Table => {
            let _ = writeln!(out, "{:>10}  {field}", "COUNT");
            for (value, count) in rows {
                let _ = writeln!(out, "{count:>10}  {}", compact(&serde_json::Value::String(value.label().into())));
            }
        }
        SearchFormat::Jsonl => {
            for (value, count) in rows {
                let value = (*value != Stacked::Absent).then(|| value.label());
                sigil_engine::session::json_line(out, &CountLine { field, value, count: *count });
            }
        }
        SearchFormat::Csv => {
            csv_row(out, &[field.to_string(), "count".into()]);
            for (value, count) in rows {
                csv_row(out, &[value.label().to_string(), count.to_string()]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let mut out = Vec::new();
        csv_row(&mut out, &["plain".into(), "a,b".into(), "say \"x\"".into(), "two\nlines".into()]);
        assert_eq!(String::from_utf8(out).unwrap(), "plain,\"a,b\",\"say \"\"x\"\"\",\"two\nlines\"\r\n");
    }

    #[test]
    fn counts_are_bounded_and_sorted() {
        let mut counts = Counts::new(2);
        counts.add(HashMap::from([(Some("b".to_string()), 2), (None, 2)]));
        counts.add(HashMap::from([(Some("c".to_string()), 5), (Some("b".to_string()), 1)]));
        assert_eq!(counts.overflowed(), 5);
        assert_eq!(counts.sorted(), vec![(Stacked::Value("b".into()), 3), (Stacked::Absent, 2), (Stacked::Other, 5)]);
    }

    #[test]
    fn the_caret_stands_under_the_column() {
        let e = QueryError { column: 5, message: "bad".into() };
        let text = query_error("a=1\tb", &e);
        assert!(text.ends_with("  | a=1 b\n  |     ^"), "{text}");
    }
}
