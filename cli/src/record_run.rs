//! The records of one batch as a worker takes them: its lines' text in one string, parsed by
//! one deserializer. What a record is, and how an input is cut into records, is
//! [`crate::input`]'s; this module only keeps a batch's records and turns them into events.

use crate::input::{self, Event, Raw};
use sigil_engine::json_lines::JsonLines;

/// The records of one batch: its lines' text one after another in one string (each line
/// followed by `\n`), and the records that are not lines. A line copied into a string of its
/// own cost an allocation and a free per event; one text also lets its lines be parsed by one
/// deserializer ([`JsonLines`]).
#[derive(Default)]
pub struct RecordRun {
    text: String,
    records: Vec<Kept>,
}

enum Kept {
    Line { number: u64, start: usize, end: usize },
    Other(Raw),
}

impl RecordRun {
    /// An empty run whose text has room for `bytes`.
    pub fn with_capacity(records: usize, bytes: usize) -> RecordRun {
        RecordRun { text: String::with_capacity(bytes), records: Vec::with_capacity(records) }
    }

    pub(crate) fn push_line(&mut self, number: u64, line: &str) {
        let start = self.text.len();
        self.text.push_str(line);
        self.records.push(Kept::Line { number, start, end: self.text.len() });
        self.text.push('\n');
    }

    pub(crate) fn push_other(&mut self, raw: Raw) {
        self.records.push(Kept::Other(raw));
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The bytes of its lines' text.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// The line number of each record (0 for a record that is not a line).
    #[cfg(test)]
    pub fn line_numbers(&self) -> Vec<u64> {
        self.records.iter().map(|k| if let Kept::Line { number, .. } = k { *number } else { 0 }).collect()
    }

    /// Its events in order, as [`input::parse`] gives each record's.
    pub fn events(&self, out: &mut dyn FnMut(u64, Result<Event<'_>, String>)) {
        let mut lines = JsonLines::new(&self.text);
        for kept in &self.records {
            match kept {
                Kept::Line { number, start, end } => {
                    let text = self.text[*start..*end].trim();
                    input::line_events(*number, text, lines.parse(*start, *end), out)
                }
                Kept::Other(raw) => input::parse(raw, out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Seen = Vec<(u64, Result<(String, Option<String>), String>)>;

    fn seen(out: &mut Seen) -> impl FnMut(u64, Result<Event<'_>, String>) + '_ {
        |at, event| out.push((at, event.map(|e| (e.doc.to_value().to_string(), e.text.map(str::to_string)))))
    }

    #[test]
    fn a_run_gives_the_events_of_each_record_parsed_alone() {
        let lines = [
            (1, "{\"a\":1}\r"),
            (3, "{\"a\":"),
            (4, "{\"Records\":[{\"b\":1},2]}"),
            (5, " {\"c\":\"x\\\\y\"} "),
            (6, "{\"d\":1}{\"d\":2}"),
            (7, "[1]"),
        ];
        let mut run = RecordRun::default();
        let mut alone = Seen::new();
        for (number, text) in lines {
            run.push_line(number, text);
            input::parse(&Raw::Line { number, text: text.to_string() }, &mut seen(&mut alone));
            if number == 1 {
                let other = || Raw::Parsed { position: 2, record: Err("not an event".into()) };
                run.push_other(other());
                input::parse(&other(), &mut seen(&mut alone));
            }
        }
        let mut ours = Seen::new();
        run.events(&mut seen(&mut ours));
        assert_eq!(ours, alone);
        // What each record came to: every kind of outcome is in the comparison above.
        let outcomes: Vec<(u64, bool)> = ours.iter().map(|(at, e)| (*at, e.is_ok())).collect();
        assert_eq!(
            outcomes,
            [(1, true), (2, false), (3, false), (1, true), (2, false), (5, true), (6, false), (7, false)]
        );
        assert_eq!(ours[5].1, Ok(("{\"c\":\"x\\\\y\"}".to_string(), Some("{\"c\":\"x\\\\y\"}".to_string()))));
    }
}
