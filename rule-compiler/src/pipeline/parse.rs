//! Pipeline YAML → [`Pipeline`], every key checked and every error positioned.
//!
//! Key names follow pySigma's `ProcessingPipeline.from_dict` and `ProcessingItem.from_dict`. Keys
//! pySigma knows but Sigil does not implement (condition expressions, detection item conditions,
//! query post-processing) are refused with a message saying so, rather than silently ignored.

use super::{FieldCondition, Item, Pipeline, RuleCondition, Transformation};
use crate::diagnostics::{Diagnostic, Error, Pos, Result};
use crate::modifiers;
use crate::yaml::{self, Kind, Node};

const SUPPORTED: &str = "field_name_mapping, field_name_prefix_mapping, field_name_prefix, add_condition, value_placeholders, drop_detection_item";

/// pySigma transformation types Sigil does not implement (for a more helpful message).
const PYSIGMA_ONLY: &[&str] = &[
    "field_name_transform",
    "hashes_fields",
    "field_name_suffix",
    "wildcard_placeholders",
    "query_expression_placeholders",
    "change_logsource",
    "add_field",
    "remove_field",
    "set_field",
    "replace_string",
    "map_string",
    "set_state",
    "regex",
    "set_value",
    "convert_type",
    "rule_failure",
    "detection_item_failure",
    "strict_field_mapping_failure",
    "set_custom_attribute",
    "nest",
    "case",
];

/// Keys every transformation entry may have.
const COMMON_KEYS: &[&str] = &[
    "id",
    "type",
    "rule_conditions",
    "rule_cond_op",
    "rule_cond_not",
    "field_name_conditions",
    "field_name_cond_op",
    "field_name_cond_not",
];

/// pySigma keys Sigil refuses, with the reason.
const UNSUPPORTED_KEYS: &[(&str, &str)] = &[
    ("rule_cond_expr", "condition expressions are not supported: list the rule_conditions and use rule_cond_op"),
    (
        "field_name_cond_expr",
        "condition expressions are not supported: list the field_name_conditions and use field_name_cond_op",
    ),
    ("detection_item_conditions", "detection item conditions are not supported (only field name conditions)"),
    ("detection_item_cond_op", "detection item conditions are not supported (only field name conditions)"),
    ("detection_item_cond_not", "detection item conditions are not supported (only field name conditions)"),
    ("detection_item_cond_expr", "detection item conditions are not supported (only field name conditions)"),
];

/// Reads one pipeline file. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Pipeline, Diagnostic> {
    let diag = |e: Error| Diagnostic {
        file: file.to_string(),
        line: e.pos.line,
        col: e.pos.col,
        message: e.message,
        rule: None,
    };
    let docs = yaml::parse_documents(text).map_err(diag)?;
    let doc = match docs.as_slice() {
        [doc] => doc,
        [] => return Err(diag(Error::new(Pos { line: 1, col: 1 }, "the pipeline file is empty"))),
        [_, second, ..] => {
            return Err(diag(Error::new(second.pos, "a pipeline file holds one YAML document, found several")))
        }
    };
    pipeline(file, doc).map_err(diag)
}

fn pipeline(file: &str, doc: &Node) -> Result<Pipeline> {
    let entries = map_entries(doc, "a pipeline")?;
    let mut out =
        Pipeline { name: file.to_string(), file: file.to_string(), priority: 0, vars: Vec::new(), items: Vec::new() };
    for (k, v) in entries {
        match key_text(k).as_str() {
            "name" => out.name = string(v, "name")?,
            "priority" => match v.kind {
                Kind::Int(i) => out.priority = i,
                _ => {
                    return Err(Error::new(
                        v.pos,
                        format!("'priority' must be a whole number, found {}", v.type_name()),
                    ))
                }
            },
            "vars" => out.vars = vars(v)?,
            "transformations" => {
                let Kind::Seq(items) = &v.kind else {
                    return Err(Error::new(v.pos, "'transformations' must be a list of transformations"));
                };
                out.items = items.iter().map(item).collect::<Result<_>>()?;
            }
            "allowed_backends" => {}
            key @ ("postprocessing" | "finalizers") => {
                if !matches!(&v.kind, Kind::Null) && !matches!(&v.kind, Kind::Seq(s) if s.is_empty()) {
                    return Err(Error::new(
                        k.pos,
                        format!("'{key}' works on the queries a pySigma backend writes; Sigil writes none, so it is not supported"),
                    ));
                }
            }
            other => {
                return Err(Error::new(
                    k.pos,
                    format!(
                        "unknown key '{other}' in a pipeline (name, priority, vars, transformations, allowed_backends)"
                    ),
                ))
            }
        }
    }
    Ok(out)
}

fn vars(node: &Node) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    for (k, v) in map_entries(node, "'vars'")? {
        let name = key_text(k);
        let values = match &v.kind {
            Kind::Seq(items) => items.iter().map(|i| var_value(i, &name)).collect::<Result<_>>()?,
            _ => vec![var_value(v, &name)?],
        };
        out.push((name, values));
    }
    Ok(out)
}

fn var_value(node: &Node, name: &str) -> Result<String> {
    match &node.kind {
        Kind::Str(_) | Kind::Int(_) | Kind::Float(_) => Ok(node.scalar_text().unwrap_or_default()),
        _ => Err(Error::new(
            node.pos,
            format!("the values of '{name}' must be strings or numbers, found {}", node.type_name()),
        )),
    }
}

fn item(node: &Node) -> Result<Item> {
    let entries = map_entries(node, "a transformation")?;
    let type_node = node
        .get("type")
        .ok_or_else(|| Error::new(start(node), format!("the transformation has no 'type' ({SUPPORTED})")))?;
    let type_name = type_node.as_str().ok_or_else(|| {
        Error::new(type_node.pos, format!("'type' must be a string, found {}", type_node.type_name()))
    })?;
    let own_keys: &[&str] = match type_name {
        "field_name_mapping" | "field_name_prefix_mapping" => &["mapping"],
        "field_name_prefix" => &["prefix", "keep_original"],
        "add_condition" => &["conditions", "name", "negated", "template"],
        "value_placeholders" => &["include", "exclude"],
        "drop_detection_item" => &[],
        other if PYSIGMA_ONLY.contains(&other) => {
            return Err(Error::new(
                type_node.pos,
                format!("the pySigma transformation '{other}' is not supported by Sigil (supported: {SUPPORTED})"),
            ))
        }
        other => {
            return Err(Error::new(
                type_node.pos,
                format!("unknown transformation type '{other}' (supported: {SUPPORTED})"),
            ))
        }
    };
    for (k, _) in entries {
        let key = key_text(k);
        if let Some((_, why)) = UNSUPPORTED_KEYS.iter().find(|(u, _)| *u == key) {
            return Err(Error::new(k.pos, format!("'{key}': {why}")));
        }
        if !COMMON_KEYS.contains(&key.as_str()) && !own_keys.contains(&key.as_str()) {
            let mut allowed: Vec<&str> = own_keys.to_vec();
            allowed.extend(COMMON_KEYS);
            return Err(Error::new(
                k.pos,
                format!("unknown key '{key}' in a {type_name} transformation (allowed: {})", allowed.join(", ")),
            ));
        }
    }
    let required = |key: &str| {
        node.get(key).ok_or_else(|| Error::new(start(node), format!("the {type_name} transformation needs '{key}'")))
    };
    let transformation = match type_name {
        "field_name_mapping" => {
            Transformation::FieldNameMapping(mapping(required("mapping")?, false)?.into_iter().collect())
        }
        "field_name_prefix_mapping" => Transformation::FieldNamePrefixMapping(mapping(required("mapping")?, true)?),
        "field_name_prefix" => {
            let prefix = string(required("prefix")?, "prefix")?;
            Transformation::FieldNamePrefix { prefix, keep_original: flag(node, "keep_original")? }
        }
        "add_condition" => add_condition(node, required("conditions")?)?,
        "value_placeholders" => {
            let include = node.get("include").map(|n| string_list(n, "include")).transpose()?;
            let exclude = node.get("exclude").map(|n| string_list(n, "exclude")).transpose()?;
            if include.is_some() && exclude.is_some() {
                return Err(Error::new(start(node), "'include' and 'exclude' exclude each other: use one of them"));
            }
            Transformation::ValuePlaceholders { include, exclude }
        }
        _ => Transformation::DropDetectionItem,
    };
    let rule_conditions = match node.get("rule_conditions") {
        None => Vec::new(),
        Some(n) => conditions(n, "rule_conditions")?.into_iter().map(rule_condition).collect::<Result<_>>()?,
    };
    let field_conditions = match node.get("field_name_conditions") {
        None => Vec::new(),
        Some(n) => conditions(n, "field_name_conditions")?.into_iter().map(field_condition).collect::<Result<_>>()?,
    };
    Ok(Item {
        id: node
            .get("id")
            .map(|n| n.scalar_text().ok_or_else(|| Error::new(n.pos, "'id' must be a string")))
            .transpose()?,
        pos: start(node),
        transformation,
        rule_conditions,
        rule_cond_any: op(node, "rule_cond_op")?,
        rule_cond_not: flag(node, "rule_cond_not")?,
        field_conditions,
        field_cond_any: op(node, "field_name_cond_op")?,
        field_cond_not: flag(node, "field_name_cond_not")?,
    })
}

/// A `mapping`: names (or, `prefixes`, prefixes, which may map to the empty prefix) → targets, in
/// file order.
fn mapping(node: &Node, prefixes: bool) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    for (k, v) in map_entries(node, "'mapping'")? {
        let targets = match &v.kind {
            Kind::Seq(items) if items.is_empty() => {
                return Err(Error::new(v.pos, "an empty list of target fields (the detection items would vanish)"))
            }
            Kind::Seq(_) => string_list(v, "a mapping's targets")?,
            _ => vec![string(v, "a mapping's target")?],
        };
        if let Some(t) = targets.iter().find(|t| (t.is_empty() && !prefixes) || t.contains('|')) {
            return Err(Error::new(v.pos, format!("'{t}' is not a field name")));
        }
        out.push((key_text(k), targets));
    }
    Ok(out)
}

fn add_condition(node: &Node, conditions: &Node) -> Result<Transformation> {
    let entries = map_entries(conditions, "'conditions'")?;
    if entries.is_empty() {
        return Err(Error::new(conditions.pos, "'conditions' is empty: give at least one field: value"));
    }
    // Checked now, so that a bad condition is reported in the pipeline, not in every rule.
    for (k, v) in entries {
        let key = modifiers::parse_key(&key_text(k), k.pos)?;
        if !key.modifiers.iter().any(|m| m.0 == modifiers::Modifier::Expand) {
            modifiers::entry(&key, k.pos, v, &Default::default())?;
        }
    }
    let name = node.get("name").map(|n| string(n, "name")).transpose()?;
    if let (Some(name), Some(n)) = (&name, node.get("name")) {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if name.is_empty() || !name.chars().all(word) {
            return Err(Error::new(
                n.pos,
                format!("'{name}' cannot be a search identifier: use letters, digits, '_' and '-'"),
            ));
        }
    }
    if flag(node, "template")? {
        return Err(Error::new(
            node.get("template").unwrap().pos,
            "'template: true' (logsource placeholders in values) is not supported",
        ));
    }
    Ok(Transformation::AddCondition { name, conditions: conditions.clone(), negated: flag(node, "negated")? })
}

/// The entries of a `*_conditions` list (pySigma's mapping form needs condition expressions).
fn conditions<'a>(node: &'a Node, key: &str) -> Result<Vec<&'a Node>> {
    match &node.kind {
        Kind::Seq(items) => Ok(items.iter().collect()),
        Kind::Map(_) => Err(Error::new(node.pos, format!("'{key}' must be a list (the mapping form goes with condition expressions, which Sigil does not support)"))),
        _ => Err(Error::new(node.pos, format!("'{key}' must be a list of conditions"))),
    }
}

fn condition_type<'a>(node: &'a Node, what: &str) -> Result<&'a str> {
    map_entries(node, what)?;
    let t = node.get("type").ok_or_else(|| Error::new(start(node), format!("the {what} has no 'type'")))?;
    t.as_str().ok_or_else(|| Error::new(t.pos, format!("'type' must be a string, found {}", t.type_name())))
}

fn rule_condition(node: &Node) -> Result<RuleCondition> {
    let ty = condition_type(node, "rule condition")?;
    if ty != "logsource" {
        let pos = node.get("type").unwrap().pos;
        return Err(Error::new(pos, format!("rule condition type '{ty}' is not supported (supported: logsource)")));
    }
    let mut out = RuleCondition::default();
    for (k, v) in map_entries(node, "rule condition")? {
        let slot = match key_text(k).as_str() {
            "type" => continue,
            "product" => &mut out.product,
            "category" => &mut out.category,
            "service" => &mut out.service,
            other => {
                return Err(Error::new(
                    k.pos,
                    format!("unknown key '{other}' in a logsource condition (product, category, service)"),
                ))
            }
        };
        *slot = Some(string(v, "a logsource condition value")?.to_ascii_lowercase());
    }
    Ok(out)
}

fn field_condition(node: &Node) -> Result<FieldCondition> {
    let ty = condition_type(node, "field name condition")?;
    let allowed: &[&str] = match ty {
        "include_fields" | "exclude_fields" => &["type", "fields", "mode"],
        "processing_item_applied" => &["type", "processing_item_id"],
        other => {
            let pos = node.get("type").unwrap().pos;
            return Err(Error::new(
                pos,
                format!("field name condition type '{other}' is not supported (supported: include_fields, exclude_fields, processing_item_applied)"),
            ));
        }
    };
    for (k, _) in map_entries(node, "field name condition")? {
        let key = key_text(k);
        if !allowed.contains(&key.as_str()) {
            return Err(Error::new(
                k.pos,
                format!("unknown key '{key}' in a {ty} condition (allowed: {})", allowed.join(", ")),
            ));
        }
    }
    if ty == "processing_item_applied" {
        let id = node
            .get("processing_item_id")
            .ok_or_else(|| Error::new(start(node), "the condition needs 'processing_item_id'"))?;
        return Ok(FieldCondition::ItemApplied(string(id, "processing_item_id")?));
    }
    let fields_node =
        node.get("fields").ok_or_else(|| Error::new(start(node), format!("the {ty} condition needs 'fields'")))?;
    let fields = string_list(fields_node, "fields")?;
    let patterns = match node.get("mode") {
        None => None,
        Some(m) => match m.as_str() {
            Some("plain") => None,
            Some("re") => {
                let mut out = Vec::with_capacity(fields.len());
                for f in &fields {
                    let re =
                        sigil_engine::matcher::build_regex(&format!("^(?:{f})"), false, false, false).map_err(|e| {
                            Error::new(fields_node.pos, format!("'{f}' is not a valid regular expression ({e})"))
                        })?;
                    out.push(re);
                }
                Some(out)
            }
            _ => return Err(Error::new(m.pos, "'mode' must be plain or re")),
        },
    };
    Ok(FieldCondition::Fields { exclude: ty == "exclude_fields", fields, patterns })
}

fn op(node: &Node, key: &str) -> Result<bool> {
    match node.get(key) {
        None => Ok(false),
        Some(v) => match v.as_str() {
            Some("and") => Ok(false),
            Some("or") => Ok(true),
            _ => Err(Error::new(v.pos, format!("'{key}' must be and or or"))),
        },
    }
}

fn flag(node: &Node, key: &str) -> Result<bool> {
    match node.get(key) {
        None => Ok(false),
        Some(Node { kind: Kind::Bool(b), .. }) => Ok(*b),
        Some(v) => Err(Error::new(v.pos, format!("'{key}' must be true or false, found {}", v.type_name()))),
    }
}

fn map_entries<'a>(node: &'a Node, what: &str) -> Result<&'a [(Node, Node)]> {
    match &node.kind {
        Kind::Map(entries) => Ok(entries),
        _ => Err(Error::new(node.pos, format!("{what} must be a mapping, found {}", node.type_name()))),
    }
}

/// Where a mapping begins, for errors about the mapping as a whole: its first key (the YAML layer
/// places a block mapping where its first ':' is).
fn start(node: &Node) -> Pos {
    match &node.kind {
        Kind::Map(entries) if !entries.is_empty() => entries[0].0.pos,
        _ => node.pos,
    }
}

fn key_text(k: &Node) -> String {
    k.scalar_text().unwrap_or_default()
}

fn string(node: &Node, what: &str) -> Result<String> {
    node.as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::new(node.pos, format!("{what} must be a string, found {}", node.type_name())))
}

/// A list of strings; one string is a list of one.
fn string_list(node: &Node, what: &str) -> Result<Vec<String>> {
    match &node.kind {
        Kind::Seq(items) => items.iter().map(|i| string(i, &format!("each of {what}"))).collect(),
        _ => Ok(vec![string(node, what)?]),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn error(text: &str) -> (u32, u32, String) {
        let d = parse("p.yml", text).unwrap_err();
        (d.line, d.col, d.message)
    }

    #[test]
    fn every_builtin_parses() {
        for (name, _) in super::super::BUILTIN {
            assert!(super::super::builtin(name).is_some_and(|p| !p.items.is_empty()), "{name}");
        }
    }

    #[test]
    fn errors_point_at_the_key_or_value() {
        let (line, col, msg) =
            error("name: x\ntransformations:\n  - type: field_name_mapping\n    mapping: {a: b}\n    colour: red\n");
        assert_eq!((line, col), (5, 5), "{msg}");
        assert!(msg.contains("unknown key 'colour'"), "{msg}");
        let (line, col, msg) = error("transformations:\n  - type: field_name_suffix\n    suffix: x\n");
        assert_eq!((line, col), (2, 11), "{msg}");
        assert!(msg.contains("not supported by Sigil"), "{msg}");
        let (line, col, msg) = error("transformations:\n  - type: drop_detection_item\n    rule_conditions:\n      - type: tag\n        tag: x\n");
        assert_eq!((line, col), (4, 15), "{msg}");
        assert!(msg.contains("'tag' is not supported"), "{msg}");
        let (line, _, msg) = error("transformations:\n  - type: add_condition\n    conditions:\n      'a|nope': 1\n");
        assert_eq!(line, 4, "{msg}");
        assert!(msg.contains("unknown modifier"), "{msg}");
        let (_, _, msg) = error("colour: red\n");
        assert!(msg.contains("unknown key 'colour' in a pipeline"), "{msg}");
    }
}
