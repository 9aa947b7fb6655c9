//! Events to output lines, as `sigil normalize --to ocsf` writes them: a mapped event becomes
//! its OCSF object, any other event passes through unchanged, and both are counted. A
//! malformed event is counted as rejected and handed to the caller to report, never dropped.
//! Reads no file: the CLI brings records from its readers, a Wasm host brings JSON Lines text.

use serde_json::Value;
use sigil_engine::session;
use std::collections::BTreeMap;

/// What a run of normalisation came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Mapped events per OCSF class.
    pub mapped: BTreeMap<u64, u64>,
    /// Events no mapping covers, written unchanged.
    pub passed: u64,
    /// Malformed events.
    pub rejected: u64,
}

impl Counts {
    /// The closing summary line `sigil normalize` prints.
    pub fn summary(&self) -> String {
        let total: u64 = self.mapped.values().sum();
        let classes: Vec<String> = self.mapped.iter().map(|(class, n)| format!("{class}: {n}")).collect();
        let per_class = if classes.is_empty() { String::new() } else { format!(" ({})", classes.join(", ")) };
        format!(
            "normalized: {total} events mapped{per_class}, {} passed through unmapped, {} rejected",
            self.passed, self.rejected
        )
    }
}

/// One event's output line, without its line end: the OCSF object when a mapping applies,
/// otherwise `unchanged()` (the event's text as read).
pub fn normalize_record(event: &Value, unchanged: impl FnOnce() -> String, counts: &mut Counts) -> String {
    match crate::normalize(event) {
        Some(mapped) => {
            *counts.mapped.entry(mapped["class_uid"].as_u64().unwrap_or(0)).or_default() += 1;
            serde_json::to_string(&mapped).expect("a Value serializes")
        }
        None => {
            counts.passed += 1;
            unchanged()
        }
    }
}

/// Normalises JSON Lines text (a `{"Records": [...]}` line gives one line per record), its
/// first line numbered `first_line`: each output line is appended to `out` with its line end,
/// and `rejected(line, reason)` is called for each malformed event (for a record of a `Records`
/// line, `line` is its 1-based position, as `sigil hunt` and `sigil normalize` report it).
/// Blank lines are skipped.
pub fn normalize_jsonl(
    text: &str,
    first_line: u64,
    out: &mut Vec<u8>,
    counts: &mut Counts,
    rejected: &mut dyn FnMut(u64, &str),
) {
    for (number, line) in (first_line..).zip(text.split('\n')) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        session::events_in_line(line, &mut |position, event| match event {
            Ok((doc, whole)) => {
                let value = doc.to_value();
                let written =
                    normalize_record(&value, || if whole { line.to_string() } else { value.to_string() }, counts);
                out.extend_from_slice(written.as_bytes());
                out.push(b'\n');
            }
            Err(reason) => {
                counts.rejected += 1;
                rejected(position.unwrap_or(number), &reason);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_each_class() {
        let mut counts = Counts { passed: 3, ..Counts::default() };
        counts.mapped.insert(6003, 8);
        counts.mapped.insert(3002, 4);
        assert_eq!(
            counts.summary(),
            "normalized: 12 events mapped (3002: 4, 6003: 8), 3 passed through unmapped, 0 rejected"
        );
        assert_eq!(Counts::default().summary(), "normalized: 0 events mapped, 0 passed through unmapped, 0 rejected");
    }

    #[test]
    fn lines_are_mapped_passed_through_or_rejected_with_their_number() {
        let text = concat!(
            r#"{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateUser","#,
            r#""eventTime":"2024-01-02T03:04:05Z","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","#,
            r#""userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a","accountId":"1","userName":"a"},"#,
            r#""requestParameters":{"userName":"b"},"recipientAccountId":"1"}"#,
            "\n\n  {\"message\": \"hello\"}  \n{oops\n"
        );
        let (mut out, mut counts, mut bad) = (Vec::new(), Counts::default(), Vec::new());
        normalize_jsonl(text, 10, &mut out, &mut counts, &mut |line, reason| bad.push((line, reason.to_string())));
        let lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains(r#""class_uid":3001"#) || lines[0].contains(r#""class_uid":6003"#), "{}", lines[0]);
        assert_eq!(lines[1], r#"{"message": "hello"}"#, "passed through as written");
        assert_eq!(counts.passed, 1);
        assert_eq!(counts.rejected, 1);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 13);

        // A record of a `Records` line that is not an object is numbered by its position.
        bad.clear();
        normalize_jsonl("{\"Records\": [{}, 2]}\n", 10, &mut out, &mut counts, &mut |line, _| {
            bad.push((line, String::new()))
        });
        assert_eq!(bad, [(2, String::new())]);
    }
}
