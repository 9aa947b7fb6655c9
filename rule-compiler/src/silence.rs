//! Silence documents (Sigil's extension beside Sigma's `correlation:`): a `logsource` and a
//! `silence:` block with `timespan` and optional `group-by`, read into the plan's
//! [`Silence`] rules. The engine watches them only when silence detection is enabled
//! (`sigil edge --silence`); `docs/edge-policy.md` documents the format.
//!
//! ```yaml
//! title: CloudTrail went quiet in an account
//! id: 2d6c1f0e-4a7b-4c1d-9e0f-3b5a6c7d8e9f
//! logsource: {product: aws, service: cloudtrail}
//! silence:
//!     group-by: [recipientAccountId]
//!     timespan: 30m
//! level: high
//! ```
//!
//! This module checks the document's shape with positions; it never evaluates events.

use crate::ast::{logsource, rule_info};
use crate::correlation::timespan;
use crate::diagnostics::{Error, Result};
use crate::yaml::{Kind, Node};
use sigil_engine::plan::Silence;

/// The keys a `silence:` block takes.
const KEYS: &[&str] = &["group-by", "timespan"];

/// Reads a document whose top level has `silence`.
pub fn document(node: &Node) -> Result<Silence> {
    let info = rule_info(node)?;
    if let Some(detection) = node.get("detection") {
        return Err(Error::new(
            detection.pos,
            "a silence rule has no 'detection': it watches every event of its logsource",
        ));
    }
    if node.get("logsource").is_none() {
        return Err(Error::new(
            node.pos,
            "the silence rule has no 'logsource' (it is required: the source that must keep sending events)",
        ));
    }
    let logsource = logsource(node)?;
    if logsource.product.is_none() && logsource.category.is_none() && logsource.service.is_none() {
        return Err(Error::new(
            node.get("logsource").map_or(node.pos, |l| l.pos),
            "the silence rule's 'logsource' sets no product, category or service: name the source to watch",
        ));
    }
    let block = node.get("silence").expect("called for silence documents");
    let Kind::Map(entries) = &block.kind else {
        return Err(Error::new(block.pos, "'silence' must be a mapping with 'timespan' and optionally 'group-by'"));
    };
    for (key, _) in entries {
        let name = key.scalar_text().unwrap_or_default();
        if !KEYS.contains(&name.as_str()) {
            return Err(Error::new(key.pos, format!("unknown key '{name}' in 'silence' (group-by, timespan)")));
        }
    }
    let span = block
        .get("timespan")
        .ok_or_else(|| Error::new(block.pos, "the silence rule has no 'timespan' (it is required, like 30m or 1h)"))?;
    let group_by = match block.get("group-by") {
        None => Vec::new(),
        Some(Node { kind: Kind::Str(s), .. }) => vec![s.clone()],
        Some(Node { kind: Kind::Seq(items), .. }) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(|| Error::new(i.pos, "'group-by' lists field names")))
            .collect::<Result<_>>()?,
        Some(other) => return Err(Error::new(other.pos, "'group-by' must be a field name or a list of them")),
    };
    Ok(Silence { info, logsource, group_by, timespan_ms: timespan(span)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    fn read(text: &str) -> Result<Silence> {
        document(&parse_documents(text).unwrap()[0])
    }

    #[test]
    fn a_silence_document_becomes_a_rule_of_the_plan() {
        let s = read(
            "title: quiet\nlogsource:\n  product: Windows\n  service: sysmon\nsilence:\n  group-by: [Computer]\n  timespan: 15m\n",
        )
        .unwrap();
        assert_eq!(s.logsource.product.as_deref(), Some("windows"));
        assert_eq!(s.group_by, ["Computer"]);
        assert_eq!(s.timespan_ms, 15 * 60_000);
    }

    #[test]
    fn mistakes_are_reported_where_they_stand() {
        let err = read("title: q\nlogsource: {product: aws}\nsilence:\n  timespan: 5m\n  groupby: [x]\n").unwrap_err();
        assert_eq!((err.pos.line, err.pos.col), (5, 3));
        assert!(err.message.contains("unknown key 'groupby'"), "{}", err.message);
        let err = read("title: q\nlogsource: {product: aws}\nsilence:\n  timespan: soon\n").unwrap_err();
        assert_eq!(err.pos.line, 4);
        let err =
            read("title: q\nlogsource: {product: aws}\nsilence:\n  timespan: 9223372036854775807s\n").unwrap_err();
        assert!((err.pos.line, err.message.contains("invalid timespan")) == (4, true), "{}", err.message);
        let err = read("title: q\nlogsource: {}\nsilence: {timespan: 5m}\n").unwrap_err();
        assert!(err.message.contains("sets no product"), "{}", err.message);
        let err = read("title: q\nsilence: {timespan: 5m}\n").unwrap_err();
        assert!(err.message.contains("no 'logsource'"), "{}", err.message);
    }
}
