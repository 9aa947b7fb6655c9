//! YAML nodes → typed Sigma rule documents (the AST), with positions kept.
//!
//! This stage checks the *shape* of a rule document (required keys, types, allowed values of
//! `status`, `level`, `related.type`, ...). It does not look inside the detection: search
//! identifiers stay YAML nodes until [`crate::lower`] gives them meaning.

use crate::diagnostics::{Error, Pos, Result};
use crate::yaml::{Kind, Node};
use sigil_engine::plan::{LogSource, RuleInfo, Suppression};

/// What one YAML document of a rule file is.
#[derive(Debug, Clone)]
pub enum Document {
    Detection(Box<DetectionRule>),
    Correlation(Box<crate::correlation::CorrelationDoc>),
    Filter(Box<crate::filter::FilterDoc>),
    /// Sigil's extension: a source that must keep sending events ([`crate::silence`]).
    Silence(Box<sigil_engine::plan::Silence>),
}

#[derive(Debug, Clone)]
pub struct DetectionRule {
    pub pos: Pos,
    /// Descriptive fields (the `origin` is filled in by the driver).
    pub info: RuleInfo,
    /// The remaining fields of the specification, kept for tools that show or lint rules.
    pub metadata: Metadata,
    pub logsource: LogSource,
    /// `logsource.definition`: free text for people, never evaluated.
    pub logsource_definition: Option<String>,
    pub detection: Detection,
}

/// The rule fields that do not change what the rule matches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    pub related: Vec<Related>,
    /// `sigma` unless the rule says otherwise.
    pub taxonomy: String,
    pub license: Option<String>,
    pub date: Option<String>,
    pub modified: Option<String>,
    pub fields: Vec<String>,
    pub scope: Vec<String>,
    /// Keys outside the specification (SigmaHQ uses `regression_tests_path`, `simulation`).
    pub custom_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Related {
    pub id: String,
    pub relation: String,
}

/// The top-level keys the specification defines for a detection rule.
const KNOWN_KEYS: &[&str] = &[
    "title",
    "id",
    "name",
    "related",
    "taxonomy",
    "status",
    "description",
    "license",
    "author",
    "references",
    "date",
    "modified",
    "logsource",
    "detection",
    "fields",
    "falsepositives",
    "level",
    "tags",
    "scope",
    // Sigil's extension (alert suppression); pySigma keeps unknown keys as custom attributes.
    "suppress",
];

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
    if node.get("correlation").is_some() {
        return crate::correlation::document(node).map(|c| Document::Correlation(Box::new(c)));
    }
    if node.get("filter").is_some() {
        return crate::filter::document(node).map(|f| Document::Filter(Box::new(f)));
    }
    if node.get("silence").is_some() {
        return crate::silence::document(node).map(|s| Document::Silence(Box::new(s)));
    }
    detection_rule(node).map(|r| Document::Detection(Box::new(r)))
}

/// The descriptive fields every rule document (detection or correlation) shares.
pub fn rule_info(node: &Node) -> Result<RuleInfo> {
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
    Ok(RuleInfo {
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
        suppress: node.get("suppress").map(suppression).transpose()?,
    })
}

/// `suppress: {group-by: [fields], timespan: 1h}`: Sigil's alert suppression (docs in the
/// README's alert format section). Other Sigma tools ignore an unknown top-level key.
fn suppression(node: &Node) -> Result<Suppression> {
    let Kind::Map(entries) = &node.kind else {
        return Err(Error::new(
            node.pos,
            format!(
                "'suppress' must be a mapping like {{group-by: [field], timespan: 1h}}, found {}",
                node.type_name()
            ),
        ));
    };
    for (k, _) in entries {
        let key = k.scalar_text().unwrap_or_default();
        if key != "group-by" && key != "timespan" {
            return Err(Error::new(k.pos, format!("unknown key '{key}' in 'suppress' (allowed: group-by, timespan)")));
        }
    }
    let timespan = node
        .get("timespan")
        .ok_or_else(|| Error::new(node.pos, "'suppress' needs a 'timespan' (the window, like 1h)"))?;
    let group_by = match node.get("group-by") {
        None => Vec::new(),
        Some(Node { kind: Kind::Str(s), .. }) => vec![s.clone()],
        Some(g @ Node { kind: Kind::Seq(items), .. }) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::new(g.pos, "'group-by' in 'suppress' must be a list of field names"))?,
        Some(g) => return Err(Error::new(g.pos, "'group-by' in 'suppress' must be a list of field names")),
    };
    Ok(Suppression { group_by, timespan_ms: crate::correlation::timespan(timespan)? })
}

fn detection_rule(node: &Node) -> Result<DetectionRule> {
    let info = rule_info(node)?;
    let related = related(node)?;
    let metadata = Metadata {
        related,
        taxonomy: optional_str(node, "taxonomy")?.unwrap_or_else(|| "sigma".into()),
        license: optional_str(node, "license")?,
        date: optional_str(node, "date")?,
        modified: optional_str(node, "modified")?,
        fields: str_list(node, "fields")?,
        scope: str_list(node, "scope")?,
        custom_keys: match &node.kind {
            Kind::Map(entries) => entries
                .iter()
                .filter_map(|(k, _)| k.scalar_text())
                .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
                .collect(),
            _ => Vec::new(),
        },
    };
    let logsource = logsource(node)?;
    let logsource_definition = node.get("logsource").and_then(|ls| ls.get("definition")).and_then(|d| d.scalar_text());
    let detection = detection(node)?;
    Ok(DetectionRule { pos: node.pos, info, metadata, logsource, logsource_definition, detection })
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

fn related(node: &Node) -> Result<Vec<Related>> {
    let Some(rel) = node.get("related") else { return Ok(Vec::new()) };
    let Kind::Seq(items) = &rel.kind else {
        return Err(Error::new(rel.pos, "'related' must be a list of {id, type} mappings"));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let ty = item.get("type").ok_or_else(|| Error::new(item.pos, "a 'related' entry needs a 'type'"))?;
        let ty_text = ty.as_str().unwrap_or_default();
        if !RELATION_TYPES.contains(&ty_text) {
            return Err(Error::new(
                ty.pos,
                format!("'related.type' must be one of {}, found '{ty_text}'", RELATION_TYPES.join(", ")),
            ));
        }
        let id = item
            .get("id")
            .and_then(|i| i.scalar_text())
            .ok_or_else(|| Error::new(item.pos, "a 'related' entry needs an 'id'"))?;
        out.push(Related { id, relation: ty_text.to_string() });
    }
    Ok(out)
}

pub fn logsource(node: &Node) -> Result<LogSource> {
    let ls = required(node, "logsource")?;
    if !matches!(ls.kind, Kind::Map(_)) {
        return Err(Error::new(ls.pos, format!("'logsource' must be a mapping, found {}", ls.type_name())));
    }
    let field = |k: &str| -> Result<Option<String>> { optional_str(ls, k).map(|v| v.map(|s| s.to_ascii_lowercase())) };
    Ok(LogSource { product: field("product")?, category: field("category")?, service: field("service")? })
}

fn detection(node: &Node) -> Result<Detection> {
    detection_block(required(node, "detection")?, "detection", &[])
}

/// A mapping of search identifiers and a `condition` (a rule's `detection`, a filter's
/// `filter`), minus the keys in `skip`.
pub fn detection_block(det: &Node, what: &str, skip: &[&str]) -> Result<Detection> {
    let Kind::Map(entries) = &det.kind else {
        return Err(Error::new(det.pos, format!("'{what}' must be a mapping, found {}", det.type_name())));
    };
    let mut identifiers = Vec::new();
    let mut conditions = Vec::new();
    let mut saw_condition = false;
    let mut timeframe = None;
    for (key, value) in entries {
        let name = key.scalar_text().unwrap_or_default();
        match name.as_str() {
            _ if skip.contains(&name.as_str()) => {}
            "condition" => {
                saw_condition = true;
                conditions = condition_list(value)?;
            }
            "timeframe" => timeframe = Some(key.pos),
            _ => identifiers.push(SearchIdentifier { name, pos: key.pos, definition: value.clone() }),
        }
    }
    if !saw_condition {
        return Err(Error::new(det.pos, format!("the {what} has no 'condition'")));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;

    #[test]
    fn every_specified_field_is_read() {
        let text = "title: T\nid: 0e95725d-7320-415d-80f7-004da920fc11\nname: t_rule\nrelated:\n  - id: 1e95725d-7320-415d-80f7-004da920fc11\n    type: derived\ntaxonomy: sigma\nstatus: test\ndescription: D\nlicense: MIT\nauthor: A, B\nreferences: [https://example.com]\ndate: 2024-01-02\nmodified: 2024-02-03\nlogsource: {product: AWS, service: cloudtrail, definition: text}\ndetection: {sel: {a: 1}, condition: sel}\nfields: [a]\nfalsepositives: [none]\nlevel: high\ntags: [attack.t1]\nscope: [server]\nregression_tests_path: x\n";
        let doc = &parse_documents(text).unwrap()[0];
        let Ok(Document::Detection(rule)) = document(doc) else { panic!("a detection rule") };
        assert_eq!(rule.info.id, "0e95725d-7320-415d-80f7-004da920fc11");
        assert_eq!(rule.info.name.as_deref(), Some("t_rule"));
        assert_eq!(rule.info.author.as_deref(), Some("A, B"));
        assert_eq!(rule.logsource.product.as_deref(), Some("aws"));
        assert_eq!(rule.logsource_definition.as_deref(), Some("text"));
        assert_eq!(
            rule.metadata.related,
            vec![Related { id: "1e95725d-7320-415d-80f7-004da920fc11".into(), relation: "derived".into() }]
        );
        assert_eq!(rule.metadata.date.as_deref(), Some("2024-01-02"));
        assert_eq!(rule.metadata.license.as_deref(), Some("MIT"));
        assert_eq!(rule.metadata.fields, vec!["a"]);
        assert_eq!(rule.metadata.scope, vec!["server"]);
        assert_eq!(rule.metadata.custom_keys, vec!["regression_tests_path"]);
    }

    #[test]
    fn shape_errors_name_the_key() {
        let bad_level = parse_documents("title: T\nlevel: severe\nlogsource: {}\ndetection: {condition: x}\n").unwrap();
        let e = document(&bad_level[0]).unwrap_err();
        assert_eq!(e.pos.line, 2);
        assert!(e.message.contains("'level' must be one of"));
    }
}
