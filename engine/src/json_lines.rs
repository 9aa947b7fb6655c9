//! The documents of a run of JSON Lines, parsed line by line by one serde_json deserializer
//! that goes on from each line to the next.
//!
//! serde_json decodes a string with escapes into a scratch buffer its deserializer owns. A
//! deserializer per line starts that buffer empty and grows it, by reallocation, for the first
//! such string of every event (a Windows event always has one: its paths). One deserializer for
//! a run of lines grows it once: parsing the OTRF Windows sample a line at a time took 271 ms,
//! as one run 249 ms.
//!
//! The documents are exactly those of parsing each line alone (`Json::parse(line.trim())`): a
//! value is taken from the run only when it starts on its line, after nothing but JSON white
//! space, and nothing but JSON white space follows it there. Anything else (two values on one
//! line, a value that runs on into the next line, a malformed line, white space JSON does not
//! know) is parsed again on its line alone, with that line's error and column, and so are the
//! lines after it until one parses; the run starts afresh after that one. This module only
//! parses; what makes a document an event (an object, a `Records` list) is [`crate::session`]'s.

use crate::json::Json;
use serde_json::de::StrRead;
use serde_json::{Deserializer, StreamDeserializer};

/// A text of JSON Lines whose lines are parsed in order.
pub struct JsonLines<'a> {
    text: &'a str,
    run: Option<Run<'a>>,
    /// A line had to be parsed alone: lines are parsed alone until one parses, then the run
    /// starts again. (Otherwise every line of a document printed over many lines would start a
    /// run that parses the rest of that document before it fails the line: quadratic work.)
    alone: bool,
}

/// One deserializer over the rest of the text, from the line it started on.
struct Run<'a> {
    /// Where in the text the deserializer's input begins.
    base: usize,
    values: StreamDeserializer<'a, StrRead<'a>, Json<'a>>,
}

impl<'a> JsonLines<'a> {
    pub fn new(text: &'a str) -> JsonLines<'a> {
        JsonLines { text, run: None, alone: false }
    }

    /// The document on the line `text[start..end]` (its `\n` excluded), as `Json::parse` gives
    /// it for the trimmed line. Lines are asked for in order; lines left out (blank ones) may
    /// hold only white space.
    pub fn parse(&mut self, start: usize, end: usize) -> Result<Json<'a>, serde_json::Error> {
        let text = self.text;
        if self.alone {
            return self.parse_alone(start, end);
        }
        if let Some(run) = &self.run {
            // The run goes on only over JSON white space: what it would otherwise step over
            // (a line left out that holds other white space) is not this line's to judge.
            let at = run.base + run.values.byte_offset();
            if at > start || !is_json_space(&text.as_bytes()[at..start]) {
                self.run = None;
            }
        }
        let run = self
            .run
            .get_or_insert_with(|| Run { base: start, values: Deserializer::from_str(&text[start..]).into_iter() });
        if let Some(Ok(doc)) = run.values.next() {
            let after = run.base + run.values.byte_offset();
            if after <= end && is_json_space(&text.as_bytes()[after..end]) {
                return Ok(doc);
            }
        }
        self.run = None;
        self.parse_alone(start, end)
    }

    /// The line parsed on its own; the lines after a failure are too, until one parses.
    fn parse_alone(&mut self, start: usize, end: usize) -> Result<Json<'a>, serde_json::Error> {
        let doc = Json::parse(self.text[start..end].trim());
        self.alone = doc.is_err();
        doc
    }
}

fn is_json_space(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every non-blank line of `text`, parsed through one `JsonLines` and alone: the two agree,
    /// value for value and error for error (with its line and column).
    fn agrees_with_each_line_alone(text: &str) {
        let mut lines = JsonLines::new(text);
        let mut start = 0;
        for line in text.split('\n') {
            let end = start + line.len();
            if !line.trim().is_empty() {
                let ours = lines.parse(start, end).map_err(|e| (e.to_string(), e.line(), e.column()));
                let alone = Json::parse(line.trim()).map_err(|e| (e.to_string(), e.line(), e.column()));
                assert_eq!(ours, alone, "line {line:?} of {text:?}");
            }
            start = end + 1;
        }
    }

    #[test]
    fn well_formed_lines_come_from_one_run() {
        let text = "{\"a\":\"C:\\\\x\"}\r\n\n  {\"b\":[1,2]}  \n\t{\"c\":{\"d\":\"e\\n\"}}\n";
        agrees_with_each_line_alone(text);
        let mut lines = JsonLines::new(text);
        let second = text.find("  {\"b\"").unwrap();
        lines.parse(0, text.find('\r').unwrap()).unwrap();
        lines.parse(second, second + "  {\"b\":[1,2]}  ".len()).unwrap();
        assert!(lines.run.is_some(), "the run went on over a blank line and a CRLF");
    }

    #[test]
    fn anything_else_is_each_line_alone() {
        for text in [
            // Two values on one line; a value running on into the next line; then good lines.
            "{\"a\":1}{\"b\":2}\n{\"a\":\n1}\n{\"c\":3}\n",
            // Trailing text, a malformed line between good ones, numbers and literals.
            "{\"a\":1} x\n{\"a\":1}\n{\"a\" 1}\n{\"a\":2}\n12\n12 13\ntrue\n",
            // White space JSON does not know: around a value, and alone on a line in between.
            "\u{a0}{\"a\":1}\n{\"a\":1}\u{a0}\n\u{2003}\n{\"a\":2}\n",
            // An escape cut short, a string left open, a lone surrogate; the last line unended.
            "{\"a\":\"\\u12\"}\n{\"a\":\"open}\n{\"a\":\"\\ud800\"}\n{\"z\":0}",
        ] {
            agrees_with_each_line_alone(text);
        }
    }

    #[test]
    fn after_a_line_parsed_alone_the_run_waits_for_a_line_that_parses() {
        // A document printed over several lines: no line of it starts a run that would parse
        // the rest of the document (each line would, with a run restarted after each failure).
        let text = "{\n  \"a\": {\n    \"b\": 1\n  }\n}\n{\"c\":1}\n{\"d\":2}\n";
        agrees_with_each_line_alone(text);
        let mut lines = JsonLines::new(text);
        let mut start = 0;
        let mut runs = Vec::new();
        for line in text.split('\n').filter(|l| !l.is_empty()) {
            start = text[start..].find(line).unwrap() + start;
            let _ = lines.parse(start, start + line.len());
            runs.push(lines.run.is_some());
            start += line.len();
        }
        // The first line started a run (and failed), the next four were parsed alone, `{"c":1}`
        // parsed alone too (the first to parse), and `{"d":2}` started the run again.
        assert_eq!(runs, [false, false, false, false, false, false, true]);
    }

    #[test]
    fn nesting_past_the_depth_limit_fails_on_its_line_only() {
        let deep = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(crate::json::MAX_EVENT_DEPTH),
            "]".repeat(crate::json::MAX_EVENT_DEPTH)
        );
        agrees_with_each_line_alone(&format!("{{\"a\":1}}\n{deep}\n{{\"b\":2}}\n"));
    }
}
