//! The CSV timeline (`sigil hunt --format csv`): one row per alert, sorted by event time, with
//! stable columns ([`COLUMNS`]), RFC 4180 quoting (CRLF line ends, UTF-8, a header row).
//!
//! Sorting needs every row held, so a [`Timeline`] holds at most `max_rows` and refuses the row
//! past it (the caller stops with an error: no row is silently lost). Alerts without a time go
//! last; rows of equal time keep the order they came in. This module formats and sorts; it never
//! writes a file.

use serde_json::{Map, Value};
use sigil_engine::Alert;
use std::io::{self, Write};

/// The columns, in order. New columns are only ever added at the end.
pub const COLUMNS: [&str; 9] = ["time", "level", "rule_title", "rule_id", "tags", "file", "line", "matched", "kind"];

/// The default cap on rows (`--max-timeline-rows`).
pub const DEFAULT_MAX_ROWS: usize = 1_000_000;

/// One alert's cells, and its event time for sorting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub time_ms: Option<i64>,
    pub cells: [String; 9],
}

impl Row {
    /// A detection alert as the engine built it; `time_ms` is its event's time.
    pub fn of_detection(alert: &Alert<'_>, time_ms: Option<i64>) -> Row {
        Row {
            time_ms,
            cells: [
                scalar(&alert.timestamp),
                alert.rule.level.unwrap_or_default().to_string(),
                alert.rule.title.to_string(),
                alert.rule.id.to_string(),
                alert.rule.tags.join(";"),
                alert.source.file.clone(),
                alert.source.line.to_string(),
                compact(&alert.matched),
                alert.kind.to_string(),
            ],
        }
    }

    /// Any alert line's JSON. Correlations, suppressions and silences show their group where a
    /// detection shows its matched fields, and the first event they point at (a silence: the
    /// source's last event) as their file and line.
    pub fn from_json(alert: &Value) -> Row {
        let rule = alert.get("rule").cloned().unwrap_or(Value::Null);
        let text = |v: Option<&Value>| v.map(scalar).unwrap_or_default();
        let evidence = alert.get("source").or_else(|| alert.pointer("/events/0")).or_else(|| alert.get("last_event"));
        let tags: Vec<String> = rule.get("tags").and_then(Value::as_array).into_iter().flatten().map(scalar).collect();
        let empty = Map::new();
        let fields = alert.get("matched").or_else(|| alert.get("group")).and_then(Value::as_object).unwrap_or(&empty);
        Row {
            time_ms: alert.get("timestamp").and_then(crate::alerts::time_ms_of),
            cells: [
                text(alert.get("timestamp")),
                text(rule.get("level")),
                text(rule.get("title")),
                text(rule.get("id")),
                tags.join(";"),
                text(evidence.and_then(|e| e.get("file"))),
                text(evidence.and_then(|e| e.get("line"))),
                compact(fields),
                text(alert.get("kind")),
            ],
        }
    }
}

/// A value in a cell: strings as they are, null empty, anything else as JSON.
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Matched fields (or a group) as one cell: `field=value; field=value`.
pub fn compact(fields: &Map<String, Value>) -> String {
    fields.iter().map(|(k, v)| format!("{k}={}", scalar(v))).collect::<Vec<_>>().join("; ")
}

/// The rows of a run, held to be sorted.
#[derive(Debug)]
pub struct Timeline {
    rows: Vec<Row>,
    max_rows: usize,
}

impl Timeline {
    pub fn new(max_rows: usize) -> Timeline {
        Timeline { rows: Vec::new(), max_rows }
    }

    /// Adds a row; past `max_rows` the row is refused with a message saying what to do.
    pub fn push(&mut self, row: Row) -> Result<(), String> {
        if self.rows.len() >= self.max_rows {
            return Err(format!(
                "the CSV timeline holds every row to sort them, and this run has more than {} alerts: raise \
                 --max-timeline-rows, narrow the hunt (--min-level, --from/--to), or use --format jsonl",
                self.max_rows
            ));
        }
        self.rows.push(row);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes the header and the rows sorted by time (untimed last, ties in arrival order).
    pub fn write_csv(mut self, out: impl Write) -> io::Result<()> {
        // A stable sort: equal keys keep their order.
        self.rows.sort_by_key(|r| (r.time_ms.is_none(), r.time_ms));
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(out);
        writer.write_record(COLUMNS)?;
        for row in &self.rows {
            writer.write_record(&row.cells)?;
        }
        writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(time_ms: Option<i64>, title: &str) -> Row {
        let mut cells: [String; 9] = Default::default();
        cells[2] = title.to_string();
        Row { time_ms, cells }
    }

    #[test]
    fn rows_sort_by_time_untimed_last_ties_in_order() {
        let mut t = Timeline::new(10);
        for r in [row(None, "u"), row(Some(2), "b1"), row(Some(1), "a"), row(Some(2), "b2")] {
            t.push(r).unwrap();
        }
        let mut out = Vec::new();
        t.write_csv(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let titles: Vec<&str> =
            text.split("\r\n").skip(1).filter(|l| !l.is_empty()).map(|l| l.split(',').nth(2).unwrap()).collect();
        assert_eq!(titles, ["a", "b1", "b2", "u"]);
        assert!(text.starts_with("time,level,rule_title,rule_id,tags,file,line,matched,kind\r\n"));
    }

    #[test]
    fn the_row_past_the_cap_is_refused() {
        let mut t = Timeline::new(1);
        t.push(row(None, "a")).unwrap();
        assert!(t.push(row(None, "b")).unwrap_err().contains("--max-timeline-rows"));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_correlation_line_shows_its_group_and_first_event() {
        let alert = json!({"kind": "correlation", "rule": {"id": "c", "title": "C", "level": "high", "tags": ["a.b", "c"]},
            "timestamp": "2026-11-20T09:00:00.000Z", "group": {"user": "dave", "n": 3},
            "events": [{"file": "x.jsonl", "line": 4}]});
        let r = Row::from_json(&alert);
        assert_eq!(r.cells[4], "a.b;c");
        assert_eq!((r.cells[5].as_str(), r.cells[6].as_str()), ("x.jsonl", "4"));
        assert_eq!(r.cells[7], "user=dave; n=3");
        assert!(r.time_ms.is_some());
    }
}
