//! YAML nodes → typed Sigma rule documents (the AST), with positions kept.
//!
//! This stage checks the *shape* of a rule document (required keys, types, allowed values of
//! `status`, `level`, `related.type`, ...). It does not look inside the detection: search
//! identifiers stay YAML nodes until [`crate::lower`] gives them meaning.

use crate::diagnostics::{Error, Pos, Result};
use crate::yaml::{Kind, Node};
use sigil_engine::plan::{LogSource, RuleInfo};

/// What one YAML document of a rule file is.
#[derive(Debug, Clone)]
pub enum Document {
    Detection(DetectionRule),
}

#[derive(Debug, Clone)]
pub struct DetectionRule {
    pub pos: Pos,
    /// Descriptive fields (the `origin` is filled in by the driver).
    pub info: RuleInfo,
    pub logsource: LogSource,
    pub detection: Detection,
}

#[derive(Debug, Clone)]
pub struct Detection {
    pub pos: Pos,
    /// Search identifiers in source order: name, position of the name, definition.
    pub identifiers: Vec<SearchIdentifier>,
    /// One or more condition strings (a list is an OR).
    pub conditions: Vec<Condition>,
    /// Where a Sigma v1 `timeframe` key stands, if the detection has one (rejected when lowering,
    /// after the condition, so that a v1 pipe aggregation gets the more useful message).
    pub timeframe: Option<Pos>,
}

#[derive(Debug, Clone)]
pub struct SearchIdentifier {
    pub name: String,
    pub pos: Pos,
    pub definition: Node,
}

#[derive(Debug, Clone)]
pub struct Condition {
    pub text: String,
    /// Where the first character of `text` stands, when the scalar is on one line.
    pub pos: Pos,
}

const STATUSES: &[&str] = &["stable", "test", "experimental", "deprecated", "unsupported"];
const LEVELS: &[&str] = &["informational", "low", "medium", "high", "critical"];
const RELATION_TYPES: &[&str] = &["derived", "obsolete", "merged", "renamed", "similar"];

/// Reads one YAML document as a Sigma document.
pub fn document(node: &Node) -> Result<Document> {
    let Kind::Map(_) = node.kind else {
        return Err(Error::new(
            node.pos,
            format!("a Sigma rule document must be a mapping, found {}", node.type_name()),
        ));
    };
    if let Some(c) = node.get("correlation") {
        return Err(Error::new(
            c.pos,
            "correlation rules are not supported by this version of Sigil yet; the detection rules in this file still load",
        ));
    }
    if let Some(f) = node.get("filter") {
        return Err(Error::new(
            f.pos,
            "filter documents are not supported by this version of Sigil yet; the detection rules in this file still load",
        ));
    }
    detection_rule(node).map(Document::Detection)
}

fn detection_rule(node: &Node) -> Result<DetectionRule> {
    let title = required_str(node, "title")?;
    if title.chars().count() > 256 {
        return Err(Error::new(node.get("title").unwrap().pos, "'title' is longer than 256 characters"));
    }
    let id = optional_str(node, "id")?;
    if let (Some(id), Some(n)) = (&id, node.get("id")) {
        if !is_uuid(id) {
            return Err(Error::new(n.pos, format!("'id' must be a UUID, found '{id}'")));
        }
    }
    let name = optional_str(node, "name")?;
    let status = one_of(node, "status", STATUSES)?;
    let level = one_of(node, "level", LEVELS)?;
    related(node)?;
    let info = RuleInfo {
        id: id.clone().or_else(|| name.clone()).unwrap_or_default(),
        name,
        title,
        level,
        status,
        author: optional_str(node, "author")?,
        tags: str_list(node, "tags")?,
        description: optional_str(node, "description")?,
        references: str_list(node, "references")?,
        falsepositives: str_list(node, "falsepositives")?,
        origin: String::new(),
    };
    let logsource = logsource(node)?;
    let detection = detection(node)?;
    Ok(DetectionRule { pos: node.pos, info, logsource, detection })
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn required<'a>(node: &'a Node, key: &str) -> Result<&'a Node> {
    node.get(key).ok_or_else(|| Error::new(node.pos, format!("the rule has no '{key}' (it is required)")))
}

fn required_str(node: &Node, key: &str) -> Result<String> {
    let v = required(node, key)?;
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::new(v.pos, format!("'{key}' must be a string, found {}", v.type_name())))
}

/// An optional scalar field, read as text (so `date: 2024-01-01` or a numeric `name` still load).
fn optional_str(node: &Node, key: &str) -> Result<Option<String>> {
    match node.get(key) {
        None => Ok(None),
        Some(Node { kind: Kind::Null, .. }) => Ok(None),
        Some(v) => v
            .scalar_text()
            .map(Some)
            .ok_or_else(|| Error::new(v.pos, format!("'{key}' must be a string, found {}", v.type_name()))),
    }
}

fn one_of(node: &Node, key: &str, allowed: &[&str]) -> Result<Option<String>> {
    let value = optional_str(node, key)?;
    if let Some(v) = &value {
        if !allowed.contains(&v.as_str()) {
            return Err(Error::new(
                node.get(key).unwrap().pos,
                format!("'{key}' must be one of {}, found '{v}'", allowed.join(", ")),
            ));
        }
    }
    Ok(value)
}

/// A list of strings; a single string is accepted as a one-element list.
fn str_list(node: &Node, key: &str) -> Result<Vec<String>> {
    match node.get(key) {
        None => Ok(Vec::new()),
        Some(v) => match &v.kind {
            Kind::Null => Ok(Vec::new()),
            Kind::Seq(items) => items
                .iter()
                .map(|i| {
                    i.scalar_text().ok_or_else(|| {
                        Error::new(i.pos, format!("'{key}' must be a list of strings, found {} in it", i.type_name()))
                    })
                })
                .collect(),
            _ => v
                .scalar_text()
                .map(|s| vec![s])
                .ok_or_else(|| Error::new(v.pos, format!("'{key}' must be a list of strings"))),
        },
    }
}

fn related(node: &Node) -> Result<()> {
    let Some(rel) = node.get("related") else { return Ok(()) };
    let Kind::Seq(items) = &rel.kind else {
        return Err(Error::new(rel.pos, "'related' must be a list of {id, type} mappings"));
    };
    for item in items {
        let ty = item.get("type").ok_or_else(|| Error::new(item.pos, "a 'related' entry needs a 'type'"))?;
        let ty_text = ty.as_str().unwrap_or_default();
        if !RELATION_TYPES.contains(&ty_text) {
            return Err(Error::new(
                ty.pos,
                format!("'related.type' must be one of {}, found '{ty_text}'", RELATION_TYPES.join(", ")),
            ));
        }
        if item.get("id").is_none() {
            return Err(Error::new(item.pos, "a 'related' entry needs an 'id'"));
        }
    }
    Ok(())
}

fn logsource(node: &Node) -> Result<LogSource> {
    let ls = required(node, "logsource")?;
    if !matches!(ls.kind, Kind::Map(_)) {
        return Err(Error::new(ls.pos, format!("'logsource' must be a mapping, found {}", ls.type_name())));
    }
    let field = |k: &str| -> Result<Option<String>> { optional_str(ls, k).map(|v| v.map(|s| s.to_ascii_lowercase())) };
    Ok(LogSource { product: field("product")?, category: field("category")?, service: field("service")? })
}

fn detection(node: &Node) -> Result<Detection> {
    let det = required(node, "detection")?;
    let Kind::Map(entries) = &det.kind else {
        return Err(Error::new(det.pos, format!("'detection' must be a mapping, found {}", det.type_name())));
    };
    let mut identifiers = Vec::new();
    let mut conditions = Vec::new();
    let mut saw_condition = false;
    let mut timeframe = None;
    for (key, value) in entries {
        let name = key.scalar_text().unwrap_or_default();
        match name.as_str() {
            "condition" => {
                saw_condition = true;
                conditions = condition_list(value)?;
            }
            "timeframe" => timeframe = Some(key.pos),
            _ => identifiers.push(SearchIdentifier { name, pos: key.pos, definition: value.clone() }),
        }
    }
    if !saw_condition {
        return Err(Error::new(det.pos, "the detection has no 'condition'"));
    }
    Ok(Detection { pos: det.pos, identifiers, conditions, timeframe })
}

fn condition_list(value: &Node) -> Result<Vec<Condition>> {
    let one = |n: &Node| -> Result<Condition> {
        match &n.kind {
            Kind::Str(s) => Ok(Condition { text: s.clone(), pos: n.pos }),
            _ => Err(Error::new(n.pos, format!("a condition must be a string, found {}", n.type_name()))),
        }
    };
    match &value.kind {
        Kind::Seq(items) if items.is_empty() => Err(Error::new(value.pos, "the condition list is empty")),
        Kind::Seq(items) => items.iter().map(one).collect(),
        _ => Ok(vec![one(value)?]),
    }
}
