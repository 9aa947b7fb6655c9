//! The guest's `normalize` (the WIT call, and `sigil_normalize` of the C ABI): JSON Lines events
//! in, the lines `sigil normalize --to ocsf` prints out. The mapping and the counting are
//! `sigil_ocsf::normalize_jsonl`'s; this module only splits a batch into UTF-8 runs (a line that
//! is not UTF-8 is a rejected event, as the CLI reads it) and words the notes as `eval-batch`
//! does. It needs no pack and keeps no state between calls.

use sigil_ocsf::Counts;

/// What one batch of normalisation came to (the WIT `normalized` record).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    /// One line per event, each ending in `\n`: the OCSF object when a mapping applies, else
    /// the event as it came.
    pub lines: Vec<u8>,
    /// Mapped events per OCSF class, passed-through and rejected events.
    pub counts: Counts,
    /// `sigil: FILE:LINE: malformed event: REASON`, one per rejected event.
    pub notes: Vec<String>,
}

/// Normalises a batch of JSON Lines whose first line is line `first_line` of `source` (which
/// only appears in the notes). Lines must be whole, as for [`crate::eval_batch`].
pub fn normalize(source: &str, first_line: u64, events: &[u8]) -> Result<Normalized, String> {
    crate::guarded(|| {
        crate::check_first_line(first_line, events)?;
        let mut out = Normalized::default();
        let Normalized { lines, counts, notes } = &mut out;
        crate::for_each_piece(first_line, events, &mut |piece| match piece {
            crate::Piece::Text { text, first_line } => {
                sigil_ocsf::normalize_jsonl(text, first_line, lines, counts, &mut |line, reason| {
                    notes.push(format!("sigil: {source}:{line}: malformed event: {reason}"))
                })
            }
            crate::Piece::NotUtf8 { line, reason } => {
                counts.rejected += 1;
                notes.push(format!("sigil: {source}:{line}: malformed event: {reason}"));
            }
        });
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE_USER: &str = concat!(
        r#"{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateUser","#,
        r#""eventTime":"2024-01-02T03:04:05Z","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","#,
        r#""userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a","accountId":"1","userName":"a"},"#,
        r#""requestParameters":{"userName":"b"},"recipientAccountId":"1"}"#
    );

    #[test]
    fn events_are_mapped_passed_or_rejected_with_notes_like_eval_batch() {
        let mut events = format!("{CREATE_USER}\n").into_bytes();
        events.extend_from_slice(b"\xff\n  {\"message\": \"hi\"}\r\n\n{oops\n{\"Records\": [1, {}]}\n");
        let out = normalize("in.jsonl", 7, &events).unwrap();
        let text = String::from_utf8(out.lines).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].contains(r#""class_uid":"#), "mapped: {}", lines[0]);
        assert_eq!(lines[1], r#"{"message": "hi"}"#, "passed through as written");
        assert_eq!(lines[2], "{}");
        assert_eq!(out.counts.mapped.values().sum::<u64>(), 1);
        assert_eq!((out.counts.passed, out.counts.rejected), (2, 3));
        assert_eq!(
            out.notes,
            [
                "sigil: in.jsonl:8: malformed event: not UTF-8 text (byte 1)",
                "sigil: in.jsonl:11: malformed event: invalid JSON: key must be a string at line 1 column 2",
                "sigil: in.jsonl:1: malformed event: expected a JSON object, found a number",
            ]
        );
    }

    #[test]
    fn an_empty_batch_is_empty_and_a_huge_first_line_is_refused() {
        assert_eq!(normalize("x", 1, b""), Ok(Normalized::default()));
        assert!(normalize("x", u64::MAX, b"{}").unwrap_err().contains("too large"));
    }
}
