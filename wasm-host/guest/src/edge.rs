//! The guest's edge stream (`edge-batch` of the WIT world): the loaded session's detections,
//! then an edge policy (`sigil_engine::edge::Edge`), batch after batch, exactly as `sigil edge`
//! runs them natively.
//!
//! The policy arrives as its compiled JSON with every batch; the stream (windows, counts)
//! carries on while that text stays the same, and a different text starts a new stream, as
//! does loading a pack. This module keeps the stream between calls; the decisions are the
//! engine's.

use sigil_engine::edge::{Edge, EdgeOutput, Policy};
use std::cell::RefCell;

/// What one edge batch came to (the WIT `edge-result` record).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeBatch {
    pub forwarded: Vec<u8>,
    pub alerts: Vec<u8>,
    pub notes: Vec<String>,
    /// The stream's counts so far, as JSON (`sigil_engine::edge::Counts`).
    pub counts: String,
}

thread_local! {
    // The policy text the stream runs, and the stream.
    static STREAM: RefCell<Option<(String, Edge)>> = const { RefCell::new(None) };
}

/// Ends any edge stream (a new pack was loaded: rule references no longer hold).
pub(crate) fn forget() {
    STREAM.with(|s| *s.borrow_mut() = None);
}

/// Runs `events` (JSON Lines whose first line is line `first_line` of `source`) through the
/// loaded rules and `policy`; with `end`, closes the stream afterwards.
pub fn edge_batch(
    policy: &str,
    source: &str,
    first_line: u64,
    events: &[u8],
    routing: &str,
    end: bool,
) -> Result<EdgeBatch, String> {
    crate::guarded(|| {
        let routing = crate::batch_routing(routing, first_line, events)?;
        crate::with_session(|slot| {
            let session = crate::loaded(slot)?;
            STREAM.with(|cell| {
                let mut stream =
                    cell.try_borrow_mut().map_err(|_| "the engine is busy (a call re-entered it)".to_string())?;
                if stream.as_ref().is_none_or(|(text, _)| text != policy) {
                    let compiled: Policy =
                        serde_json::from_str(policy).map_err(|e| format!("not a compiled edge policy: {e}"))?;
                    let edge = Edge::new(compiled, session).map_err(|e| e.to_string())?;
                    *stream = Some((policy.to_string(), edge));
                }
                let Some((_, edge)) = stream.as_mut() else { unreachable!("set above") };
                let mut out = EdgeOutput::default();
                crate::for_each_piece(first_line, events, &mut |piece| match piece {
                    crate::Piece::Text { text, first_line } => {
                        edge.eval_jsonl(session, source, first_line, text, &routing, &mut out)
                    }
                    crate::Piece::NotUtf8 { line, reason } => edge.reject(source, line, &reason, &mut out),
                });
                if end {
                    edge.finish(session, &mut out);
                }
                let counts =
                    serde_json::to_string(edge.counts()).map_err(|e| format!("cannot write the counts: {e}"))?;
                if end {
                    *stream = None;
                }
                Ok(EdgeBatch { forwarded: out.forwarded, alerts: out.alerts, notes: out.notes, counts })
            })
        })?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_carries_over_batches_and_ends_with_end() {
        crate::load(&crate::tests::pack_bytes()).unwrap();
        let policy = serde_json::to_string(&Policy {
            entries: vec![sigil_engine::edge::policy::Entry {
                name: "evidence".into(),
                pos: Default::default(),
                select: sigil_engine::edge::Selector::AnyRule,
                action: sigil_engine::edge::Action::Tag,
            }],
            default: sigil_engine::edge::Action::Drop,
            ..Policy::default()
        })
        .unwrap();
        let first =
            edge_batch(&policy, "in", 1, b"{\"eventName\":\"StopLogging\"}\n{\"x\":1}\n", "auto", false).unwrap();
        assert_eq!(first.forwarded, b"{\"eventName\":\"StopLogging\",\"sigil.rules\":[\"Trail stopped\"]}\n");
        assert_eq!(String::from_utf8(first.alerts).unwrap().lines().count(), 1);
        let last = edge_batch(&policy, "in", 3, b"\xff\n{\"y\":2}\n", "auto", true).unwrap();
        assert_eq!(last.notes, ["sigil: in:3: malformed event: not UTF-8 text (byte 1)"]);
        let counts: serde_json::Value = serde_json::from_str(&last.counts).unwrap();
        assert_eq!(
            (counts["events"].as_u64(), counts["dropped"].as_u64(), counts["rejected"].as_u64()),
            (Some(4), Some(2), Some(1))
        );
        // After the end a new stream starts from zero.
        let again = edge_batch(&policy, "in", 1, b"{\"x\":1}\n", "auto", true).unwrap();
        assert!(again.counts.contains("\"events\":1,"), "{}", again.counts);
        assert!(edge_batch("{}", "in", 1, b"", "auto", false).unwrap_err().starts_with("not a compiled edge policy"));
    }
}
