//! Applying a [`Chain`] to a typed rule: its search identifiers (still YAML nodes) are rewritten
//! before lowering, so the rest of the compiler sees an ordinary rule with other field names, more
//! search identifiers or fewer detection items.
//!
//! A search identifier is a mapping (its entries ANDed), a list (its items ORed: mappings or
//! keywords) or a keyword. A field mapped to several fields turns an entry into alternatives:
//! `{CommandLine: x, User: y}` with `CommandLine: [a, b]` becomes `[{a: x, User: y}, {b: x, User: y}]`,
//! which is pySigma's "any of the fields" without a new rule construct.

use super::{private_name, Chain, FieldCondition, Item, RuleCondition, Transformation};
use crate::ast::{DetectionRule, SearchIdentifier};
use crate::condition;
use crate::diagnostics::{Error, Pos, Result};
use crate::modifiers::ANY_OF;
use crate::yaml::{Kind, Node};
use sigil_engine::plan::LogSource;
use std::collections::{HashMap, HashSet};

/// For each field name, the ids of the transformations that produced it (pySigma's
/// `field_name_applied_ids`), for `processing_item_applied` conditions. Kept per rule.
type Applied = HashMap<String, HashSet<String>>;

impl Chain {
    /// Rewrites a rule (or a filter's selections) with every transformation whose rule conditions
    /// hold for its logsource. An error rejects the rule.
    pub fn apply(&self, rule: &mut DetectionRule) -> Result<()> {
        let mut applied = Applied::new();
        for (pipeline, item) in &self.items {
            if !item.applies_to(&rule.logsource) {
                continue;
            }
            match &item.transformation {
                Transformation::FieldNameMapping(_)
                | Transformation::FieldNamePrefixMapping(_)
                | Transformation::FieldNamePrefix { .. } => {
                    let fields = std::mem::take(&mut rule.metadata.fields);
                    rule.metadata.fields = fields
                        .into_iter()
                        .flat_map(|f| item.apply_field_name(&f, &mut applied).unwrap_or_else(|| vec![f]))
                        .collect();
                    let mut visitor = FieldNames { item, applied: &mut applied };
                    rewrite_identifiers(rule, &mut visitor, pipeline, item)?;
                }
                Transformation::DropDetectionItem => {
                    rewrite_identifiers(rule, &mut DropItems { item, applied: &applied }, pipeline, item)?;
                }
                Transformation::ValuePlaceholders { include, exclude } => {
                    let handled = |name: &str| {
                        self.vars.contains_key(name)
                            && include.as_ref().is_none_or(|i| i.iter().any(|n| n == name))
                            && exclude.as_ref().is_none_or(|e| !e.iter().any(|n| n == name))
                    };
                    let mut visitor = PlaceholderValues { item, applied: &applied, handled: &handled };
                    rewrite_identifiers(rule, &mut visitor, pipeline, item)?;
                }
                Transformation::AddCondition { name, conditions, negated } => {
                    add_condition(rule, name.as_deref(), conditions, *negated, item.pos, pipeline)?;
                }
            }
        }
        Ok(())
    }

    /// A field name as the field-name transformations for rules of `logsource` rewrite it: how
    /// correlations name fields of the events of the rules they read. A field mapped to several
    /// becomes the first of them (a correlation reads one field per rule).
    pub fn map_field(&self, logsource: &LogSource, field: &str) -> String {
        let mut applied = Applied::new();
        let mut name = field.to_string();
        for (_, item) in &self.items {
            if item.applies_to(logsource) {
                if let Some(mut targets) = item.apply_field_name(&name, &mut applied) {
                    name = targets.swap_remove(0);
                }
            }
        }
        name
    }
}

impl RuleCondition {
    fn matches(&self, ls: &LogSource) -> bool {
        let ok = |c: &Option<String>, r: &Option<String>| c.is_none() || c == r;
        ok(&self.product, &ls.product) && ok(&self.category, &ls.category) && ok(&self.service, &ls.service)
    }
}

impl Item {
    /// The rule conditions (none: always).
    fn applies_to(&self, ls: &LogSource) -> bool {
        if self.rule_conditions.is_empty() {
            return true;
        }
        let mut each = self.rule_conditions.iter().map(|c| c.matches(ls));
        let result = if self.rule_cond_any { each.any(|b| b) } else { each.all(|b| b) };
        result != self.rule_cond_not
    }

    /// The field name conditions for a field (`None`: a keyword).
    fn field_matches(&self, field: Option<&str>, applied: &Applied) -> bool {
        let one = |c: &FieldCondition| match c {
            FieldCondition::Fields { exclude, fields, patterns } => {
                let listed = match (field, patterns) {
                    (None, _) => false,
                    (Some(f), None) => fields.iter().any(|x| x == f),
                    (Some(f), Some(res)) => res.iter().any(|re| re.is_match(f)),
                };
                listed != *exclude
            }
            FieldCondition::ItemApplied(id) => field.and_then(|f| applied.get(f)).is_some_and(|ids| ids.contains(id)),
        };
        let mut each = self.field_conditions.iter().map(one);
        let result = if self.field_cond_any { each.any(|b| b) } else { each.all(|b| b) };
        result != self.field_cond_not
    }

    /// What a field-name transformation makes of a field name, or `None` when it leaves it
    /// (pySigma's `_apply_field_name`). Records the change for `processing_item_applied`.
    fn apply_field_name(&self, field: &str, applied: &mut Applied) -> Option<Vec<String>> {
        let result = match &self.transformation {
            Transformation::FieldNameMapping(mapping) => mapping.get(field)?.clone(),
            Transformation::FieldNamePrefixMapping(mapping) => {
                let (from, to) = mapping.iter().find(|(from, _)| field.starts_with(from.as_str()))?;
                to.iter().map(|t| format!("{t}{}", &field[from.len()..])).collect()
            }
            Transformation::FieldNamePrefix { prefix, keep_original: false } => vec![format!("{prefix}{field}")],
            Transformation::FieldNamePrefix { prefix, keep_original: true } => {
                vec![format!("{prefix}{field}"), field.to_string()]
            }
            _ => return None,
        };
        if !self.field_matches(Some(field), applied) {
            return None;
        }
        if result.len() != 1 || result[0] != field {
            let mut ids = applied.remove(field).unwrap_or_default();
            ids.extend(self.id.clone());
            for target in &result {
                applied.insert(target.clone(), ids.clone());
            }
        }
        Some(result)
    }
}

/// What becomes of one `key: value` entry of a search identifier.
enum Action {
    Keep,
    /// The entry rewritten (a field mapped to several fields stays one entry: see
    /// `modifiers::ANY_OF`).
    Replace((Node, Node)),
    Drop,
}

trait Visitor {
    fn entry(&mut self, key: &Node, value: &Node) -> Result<Action>;
    /// Whether a keyword (a value without a field) stays.
    fn keep_keyword(&mut self, _keyword: &Node) -> bool {
        true
    }
}

/// `field|mod|mod` → the field (`None` for a keyword entry such as `'|all'`) and `|mod|mod`.
fn split_key(key: &Node) -> (Option<String>, String) {
    let text = key.scalar_text().unwrap_or_default();
    let (field, rest) = match text.find('|') {
        Some(i) => (text[..i].trim().to_string(), text[i..].to_string()),
        None => (text.trim().to_string(), String::new()),
    };
    ((!field.is_empty()).then_some(field), rest)
}

fn has_modifier(rest: &str, name: &str) -> bool {
    rest.split('|').any(|m| m == name)
}

fn rewrite_identifiers(rule: &mut DetectionRule, v: &mut dyn Visitor, pipeline: &str, item: &Item) -> Result<()> {
    for ident in &mut rule.detection.identifiers {
        match rewrite(&ident.definition, v)? {
            Some(node) => ident.definition = node,
            None => {
                return Err(Error::new(
                    ident.pos,
                    format!(
                        "the {} transformation of the pipeline '{pipeline}' (its line {}) removes every detection item of '{}' (or of one of its alternatives), which would leave nothing to match",
                        item.transformation.type_name(),
                        item.pos.line,
                        ident.name
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// A search identifier's definition rewritten; `None` when it (or one of its mappings) lost
/// every item.
fn rewrite(node: &Node, v: &mut dyn Visitor) -> Result<Option<Node>> {
    let pos = node.pos;
    Ok(match &node.kind {
        Kind::Map(entries) => {
            let rewritten = rewrite_map(entries, v)?;
            if rewritten.is_empty() && !entries.is_empty() {
                None
            } else {
                Some(Node { pos, kind: Kind::Map(rewritten) })
            }
        }
        Kind::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match &item.kind {
                    Kind::Map(_) => match rewrite(item, v)? {
                        None => return Ok(None),
                        Some(map) => out.push(map),
                    },
                    // Not Sigma: left for lowering to report.
                    Kind::Seq(_) => out.push(item.clone()),
                    _ => {
                        if v.keep_keyword(item) {
                            out.push(item.clone())
                        }
                    }
                }
            }
            if out.is_empty() && !items.is_empty() {
                None
            } else {
                Some(Node { pos, kind: Kind::Seq(out) })
            }
        }
        Kind::Null => Some(node.clone()),
        _ => v.keep_keyword(node).then(|| node.clone()),
    })
}

/// A mapping's entries rewritten.
fn rewrite_map(entries: &[(Node, Node)], v: &mut dyn Visitor) -> Result<Vec<(Node, Node)>> {
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        match v.entry(key, value)? {
            Action::Keep => out.push((key.clone(), value.clone())),
            Action::Replace(entry) => out.push(entry),
            Action::Drop => {}
        }
    }
    Ok(out)
}

/// `field_name_mapping`, `field_name_prefix_mapping` and `field_name_prefix`: entry keys, and the
/// values of `|fieldref`.
struct FieldNames<'a> {
    item: &'a Item,
    applied: &'a mut Applied,
}

impl Visitor for FieldNames<'_> {
    fn entry(&mut self, key: &Node, value: &Node) -> Result<Action> {
        let (field, rest) = split_key(key);
        let Some(field) = field else { return Ok(Action::Keep) };
        let mut value = value.clone();
        let mut changed = false;
        if has_modifier(&rest, "fieldref") {
            let one = |n: &Node, applied: &mut Applied| -> Vec<Node> {
                match n.as_str().and_then(|s| self.item.apply_field_name(s, applied)) {
                    Some(targets) => targets.into_iter().map(|t| Node { pos: n.pos, kind: Kind::Str(t) }).collect(),
                    None => vec![n.clone()],
                }
            };
            let mapped: Vec<Node> = match &value.kind {
                Kind::Seq(items) => items.iter().flat_map(|i| one(i, self.applied)).collect(),
                _ => one(&value, self.applied),
            };
            let new = match (&value.kind, mapped.len()) {
                (Kind::Seq(_), _) | (_, 2..) => Node { pos: value.pos, kind: Kind::Seq(mapped) },
                _ => mapped.into_iter().next().unwrap(),
            };
            changed = new != value;
            value = new;
        }
        // A field mapped to several fields stays one item over all of them (see
        // `modifiers::ANY_OF`), each of them mapped on by later transformations.
        let mut targets: Vec<String> = Vec::new();
        let mut mapped = false;
        for part in field.split(ANY_OF) {
            match self.item.apply_field_name(part, self.applied) {
                Some(to) => {
                    mapped = true;
                    targets.extend(to);
                }
                None => targets.push(part.to_string()),
            }
        }
        if !mapped {
            return Ok(if changed { Action::Replace((key.clone(), value)) } else { Action::Keep });
        }
        let mut seen = HashSet::new();
        targets.retain(|t| seen.insert(t.clone()));
        let joined = targets.join(&ANY_OF.to_string());
        Ok(Action::Replace((Node { pos: key.pos, kind: Kind::Str(format!("{joined}{rest}")) }, value)))
    }
}

/// `drop_detection_item`: the items whose field passes the field name conditions.
struct DropItems<'a> {
    item: &'a Item,
    applied: &'a Applied,
}

impl Visitor for DropItems<'_> {
    fn entry(&mut self, key: &Node, _value: &Node) -> Result<Action> {
        let (field, _) = split_key(key);
        let drop = match field {
            Some(fields) => fields.split(ANY_OF).any(|f| self.item.field_matches(Some(f), self.applied)),
            None => self.item.field_matches(None, self.applied),
        };
        Ok(if drop { Action::Drop } else { Action::Keep })
    }

    fn keep_keyword(&mut self, _keyword: &Node) -> bool {
        !self.item.field_matches(None, self.applied)
    }
}

/// `value_placeholders`: in `|expand` values, the placeholders the pipelines' `vars` define are
/// renamed to their private names, whose values the compiler holds (see [`Chain::placeholders`]).
/// Placeholders without a variable stay, for `--placeholder` values.
struct PlaceholderValues<'a> {
    item: &'a Item,
    applied: &'a Applied,
    handled: &'a dyn Fn(&str) -> bool,
}

impl Visitor for PlaceholderValues<'_> {
    fn entry(&mut self, key: &Node, value: &Node) -> Result<Action> {
        let (field, rest) = split_key(key);
        if !has_modifier(&rest, "expand") || !self.item.field_matches(field.as_deref(), self.applied) {
            return Ok(Action::Keep);
        }
        let rename = |n: &Node| match &n.kind {
            Kind::Str(s) => rename_placeholders(s, self.handled).map(|s| Node { pos: n.pos, kind: Kind::Str(s) }),
            _ => None,
        };
        let new = match &value.kind {
            Kind::Seq(items) if items.iter().any(|i| rename(i).is_some()) => Node {
                pos: value.pos,
                kind: Kind::Seq(items.iter().map(|i| rename(i).unwrap_or_else(|| i.clone())).collect()),
            },
            _ => match rename(value) {
                Some(n) => n,
                None => return Ok(Action::Keep),
            },
        };
        Ok(Action::Replace((key.clone(), new)))
    }
}

/// `%name%` → `%<private name>%` for the handled names, reading the string exactly as
/// [`crate::value::parse_sigma_string`] does under `expand` (so `\%` stays a literal `%`).
fn rename_placeholders(s: &str, handled: &dyn Fn(&str) -> bool) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 16);
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && matches!(chars.get(i + 1), Some('*' | '?' | '\\' | '%')) {
            out.push(c);
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '%' {
            if let Some(len) = chars[i + 1..].iter().position(|&c| c == '%').filter(|&len| len > 0) {
                let name: String = chars[i + 1..i + 1 + len].iter().collect();
                out.push('%');
                if handled(&name) {
                    out.push_str(&private_name(&name));
                    changed = true;
                } else {
                    out.push_str(&name);
                }
                out.push('%');
                i += len + 2;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    changed.then_some(out)
}

/// `add_condition`: a search identifier of the pipeline's conditions, ANDed with each of the
/// rule's conditions as pySigma does (`name and (condition)`; `negated`: `not name`). The
/// condition text becomes `(condition) and name`, its position moved one column left so that
/// errors inside it still point at the rule's own text. A condition that does not parse is left
/// alone for lowering to report.
fn add_condition(
    rule: &mut DetectionRule,
    name: Option<&str>,
    conditions: &Node,
    negated: bool,
    pos: Pos,
    pipeline: &str,
) -> Result<()> {
    let taken = |n: &str| rule.detection.identifiers.iter().any(|i| i.name == n);
    let name = match name {
        Some(n) if taken(n) => {
            return Err(Error::new(
                rule.detection.pos,
                format!("the pipeline '{pipeline}' adds the search identifier '{n}', which the rule already has"),
            ))
        }
        Some(n) => n.to_string(),
        None => (0..).map(|i| format!("_cond_{i}")).find(|n| !taken(n)).unwrap(),
    };
    rule.detection.identifiers.push(SearchIdentifier { name: name.clone(), pos, definition: conditions.clone() });
    let not = if negated { "not " } else { "" };
    for c in &mut rule.detection.conditions {
        if condition::parse(&c.text).is_ok() {
            c.text = format!("({}) and {not}{name}", c.text);
            c.pos = Pos { line: c.pos.line, col: c.pos.col.saturating_sub(1) };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::rename_placeholders;

    #[test]
    fn placeholders_are_renamed_as_the_value_parser_reads_them() {
        let handled = |n: &str| n == "a";
        let private = super::private_name("a");
        assert_eq!(rename_placeholders("x%a%y", &handled), Some(format!("x%{private}%y")));
        assert_eq!(rename_placeholders("%b%", &handled), None);
        assert_eq!(rename_placeholders(r"\%a%", &handled), None, "an escaped % opens no placeholder");
        assert_eq!(rename_placeholders("%%a%", &handled), Some(format!("%%{private}%")));
        assert_eq!(rename_placeholders("50%", &handled), None);
    }
}
