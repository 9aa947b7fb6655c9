//! Sigma v1 multi-document templates: `action: global | reset | repeat`.
//!
//! pySigma still reads them, and a few SigmaHQ files use them, so a file's documents are
//! merged here before they are read as rules: a `global` document is deep-merged under every
//! following document, `reset` forgets it, and `repeat` reuses the previous rule with changes.
//! Templates are not rules themselves. This module only rearranges YAML nodes.

use crate::diagnostics::{Error, Result};
use crate::yaml::{Kind, Node};

pub fn expand(docs: Vec<Node>) -> Result<Vec<Node>> {
    if !docs.iter().any(|d| d.get("action").is_some()) {
        return Ok(docs);
    }
    let mut template: Option<Node> = None;
    let mut previous: Option<Node> = None;
    let mut out = Vec::new();
    for doc in docs {
        let action = doc.get("action").map(|a| (a.as_str().unwrap_or_default().to_string(), a.pos));
        let body = without_action(doc);
        match action {
            Some((a, _)) if a == "global" => {
                template = Some(match template {
                    Some(t) => merge(t, body),
                    None => body,
                });
            }
            Some((a, _)) if a == "reset" => template = None,
            Some((a, pos)) if a == "repeat" => {
                let base = previous
                    .clone()
                    .ok_or_else(|| Error::new(pos, "'action: repeat' has no previous rule to repeat"))?;
                let rule = merge(base, body);
                previous = Some(rule.clone());
                out.push(rule);
            }
            Some((a, pos)) => {
                return Err(Error::new(pos, format!("unknown 'action: {a}' (Sigma v1 knew global, reset and repeat)")))
            }
            None => {
                let rule = match &template {
                    Some(t) => merge(t.clone(), body),
                    None => body,
                };
                previous = Some(rule.clone());
                out.push(rule);
            }
        }
    }
    Ok(out)
}

fn without_action(mut doc: Node) -> Node {
    if let Kind::Map(entries) = &mut doc.kind {
        entries.retain(|(k, _)| k.as_str() != Some("action"));
    }
    doc
}

/// Deep merge: mappings merge key by key, anything else in `top` replaces `base`.
fn merge(base: Node, top: Node) -> Node {
    match (base.kind, top.kind) {
        (Kind::Map(mut entries), Kind::Map(top_entries)) => {
            for (k, v) in top_entries {
                match entries.iter().position(|(bk, _)| bk.scalar_text() == k.scalar_text()) {
                    Some(i) => {
                        let (bk, bv) = entries.remove(i);
                        entries.insert(i, (bk, merge(bv, v)));
                    }
                    None => entries.push((k, v)),
                }
            }
            Node { pos: top.pos, kind: Kind::Map(entries) }
        }
        (_, kind) => Node { pos: top.pos, kind },
    }
}
