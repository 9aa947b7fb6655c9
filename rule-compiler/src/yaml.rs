//! YAML text → a tree of [`Node`]s that remember their line and column.
//!
//! This is the only module that touches a YAML library. It uses `yaml-rust2`'s event parser,
//! not `serde_yaml`, because Sigil must point at the offending key of a rejected rule and
//! `serde_yaml` keeps no positions for values. Plain scalars are resolved with the YAML 1.2
//! core schema (`null`, booleans, integers, floats; dates stay strings), as `serde_yaml` would.
//! It never interprets Sigma: that starts in [`crate::ast`].

use crate::diagnostics::{Error, Pos};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts; for a quoted scalar, its first character inside the quotes.
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in source order; keys are scalars.
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value under a string key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name of the node's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// A scalar as the text it was written as (for keys and messages).
    pub fn scalar_text(&self) -> Option<String> {
        Some(match &self.kind {
            Kind::Null => "null".into(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => f.to_string(),
            Kind::Str(s) => s.clone(),
            _ => return None,
        })
    }
}

/// Parses every document of a YAML stream. Empty documents are skipped.
impl Node {
    /// The node as JSON, for YAML that holds JSON-shaped data (test events): keys become strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::Float(f) => Value::from(*f),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => {
                Value::Object(entries.iter().map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json())).collect())
            }
        }
    }
}

pub fn parse_documents(text: &str) -> Result<Vec<Node>, Error> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        return Err(Error::new(pos_of(e.marker()), format!("invalid YAML: {}", e.info())));
    }
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.documents.into_iter().filter(|d| d.kind != Kind::Null).collect())
}

fn pos_of(m: &Marker) -> Pos {
    Pos { line: m.line() as u32, col: m.col() as u32 + 1 }
}

#[derive(Default)]
struct Builder {
    documents: Vec<Node>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    error: Option<Error>,
}

enum Frame {
    Seq { pos: Pos, anchor: usize, items: Vec<Node> },
    Map { pos: Pos, anchor: usize, entries: Vec<(Node, Node)>, key: Option<Node> },
}

impl Builder {
    fn fail(&mut self, pos: Pos, message: String) {
        if self.error.is_none() {
            self.error = Some(Error { pos, message });
        }
    }

    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    if matches!(node.kind, Kind::Seq(_) | Kind::Map(_)) {
                        let pos = node.pos;
                        self.fail(pos, "a mapping key must be a plain value, not a list or mapping".into());
                        return;
                    }
                    let text = node.scalar_text();
                    if entries.iter().any(|(k, _)| k.scalar_text() == text) {
                        let pos = node.pos;
                        let name = text.unwrap_or_default();
                        self.fail(pos, format!("duplicate key '{name}' in the same mapping"));
                        return;
                    }
                    *key = Some(node);
                }
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = pos_of(&mark);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                // Point inside quotes, so that an offset into the text lands on its column.
                let quoted = matches!(style, TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted);
                let pos = if quoted { pos.shifted(1) } else { pos };
                let forced_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let kind =
                    if style == TScalarStyle::Plain && !forced_str { resolve_plain(text) } else { Kind::Str(text) };
                self.push_value(Node { pos, kind }, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq { pos, anchor, items: Vec::new() }),
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map { pos, anchor, entries: Vec::new(), key: None })
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => {
                    self.push_value(Node { pos, kind: Kind::Seq(items) }, anchor)
                }
                Some(Frame::Map { pos, anchor, entries, .. }) => {
                    self.push_value(Node { pos, kind: Kind::Map(entries) }, anchor)
                }
                None => {}
            },
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => self.push_value(Node { pos, kind: node.kind }, 0),
                None => self.fail(pos, "alias to an unknown anchor".into()),
            },
            Event::DocumentEnd => {
                // A document that held only `---` produced nothing; keep indices honest.
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::Nothing => {}
        }
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(text: String) -> Kind {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "true" | "True" | "TRUE" => return Kind::Bool(true),
        "false" | "False" | "FALSE" => return Kind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Kind::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Kind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Kind::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Kind::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Kind::Int(i);
        }
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(&text);
    // A leading zero (`00000429`) marks an identifier, not a number: PyYAML, which pySigma and
    // most rule authors use, reads it as a string too.
    let leading_zero = digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.");
    if leading_zero && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Kind::Str(text);
    }
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Kind::Int(i);
        }
    }
    if is_core_float(digits) {
        if let Ok(f) = text.parse::<f64>() {
            return Kind::Float(f);
        }
    }
    Kind::Str(text)
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, sign already stripped.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (!int.is_empty() || !frac.is_empty())
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok && (mantissa.contains('.') || exponent.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let docs = parse_documents("title: x\ndetection:\n  sel:\n    a: 1\n").unwrap();
        let sel = docs[0].get("detection").unwrap().get("sel").unwrap();
        let (key, value) = match &sel.kind {
            Kind::Map(e) => (&e[0].0, &e[0].1),
            _ => panic!(),
        };
        assert_eq!(key.pos, Pos { line: 4, col: 5 });
        assert_eq!(value.kind, Kind::Int(1));
    }

    #[test]
    fn core_schema() {
        let docs = parse_documents("a: [1, '1', 1.5, yes, true, ~, 2024-01-01, 0x10, '', -3, 00429]").unwrap();
        let Kind::Seq(items) = &docs[0].get("a").unwrap().kind else { panic!() };
        let kinds: Vec<_> = items.iter().map(|n| n.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                Kind::Int(1),
                Kind::Str("1".into()),
                Kind::Float(1.5),
                Kind::Str("yes".into()),
                Kind::Bool(true),
                Kind::Null,
                Kind::Str("2024-01-01".into()),
                Kind::Int(16),
                Kind::Str(String::new()),
                Kind::Int(-3),
                Kind::Str("00429".into()),
            ]
        );
    }

    #[test]
    fn multi_document_and_errors() {
        assert_eq!(parse_documents("a: 1\n---\nb: 2\n---\n").unwrap().len(), 2);
        let err = parse_documents("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.pos.line, 2);
        assert!(parse_documents("a: [1, 2\n").is_err());
    }
}
