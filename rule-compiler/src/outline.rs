//! Outlines: each detection rule's condition as written (selection names, `1 of` patterns, each
//! `field|modifiers: values` item with its tests), for explanations
//! ([`sigil_engine::explain`]).
//!
//! The plan merges every rule into one simplified graph and keeps no names, so explaining a rule
//! needs this second description. It is built from the same typed rule the compiler lowers (after
//! the same pipelines), with the same key parser and modifier chain ([`crate::modifiers`]) and
//! the same `1 of` selection ([`crate::lower::of_selects`]); [`file`] accepts exactly the rules
//! the compiler accepts, so its outlines line up with the plan's rules. This module never builds
//! plan predicates or graph nodes, and never evaluates anything.

use crate::ast::{self, DetectionRule};
use crate::condition::{self, Cond, OfTarget};
use crate::diagnostics::{Error, Pos, Result};
use crate::modifiers::{self, Placeholders};
use crate::yaml::{Kind, Node};
use crate::{filter, lower, pipeline, templates, yaml, Options};
use sigil_engine::explain::{CondNode, CondOp, Item, Outline, Selection};
use sigil_engine::plan::{LogSource, RuleInfo};

/// One accepted detection rule of a file, with its outline.
#[derive(Debug, Clone)]
pub struct RuleOutline {
    pub info: RuleInfo,
    /// Where the rule's document starts.
    pub pos: Pos,
    pub outline: Outline,
}

/// The outlines of the detection rules the compiler accepts from one rule file, in the order
/// they appear in the plan of `compile_str(name, text, options)`, with the file's filters ANDed
/// in as the compiler does.
pub fn file(name: &str, text: &str, options: &Options) -> Vec<RuleOutline> {
    let chain = pipeline::Chain::new(&options.pipelines);
    let mut placeholders = options.placeholders.clone();
    placeholders.extend(chain.placeholders());
    let Ok(docs) = yaml::parse_documents(text).and_then(templates::expand) else { return Vec::new() };
    let mut rules: Vec<(RuleOutline, LogSource)> = Vec::new();
    let mut filters: Vec<(filter::FilterDoc, Outline)> = Vec::new();
    // A rule is kept when lowering accepts it, so that acceptance is the compiler's own.
    let accepted = |rule: &mut DetectionRule| -> Option<Outline> {
        chain.apply(rule).ok()?;
        lower::lower(rule, &placeholders, &mut lower::Interner::default()).ok()?;
        self::rule(rule, &placeholders).ok()
    };
    for doc in &docs {
        match ast::document(doc) {
            Ok(ast::Document::Detection(mut rule)) => {
                if let Some(outline) = accepted(&mut rule) {
                    let mut info = rule.info.clone();
                    info.origin = name.to_string();
                    rules.push((RuleOutline { info, pos: rule.pos, outline }, rule.logsource.clone()));
                }
            }
            Ok(ast::Document::Filter(mut doc)) => {
                if let Some(outline) = accepted(&mut doc.as_rule) {
                    filters.push((*doc, outline));
                }
            }
            _ => {}
        }
    }
    rules
        .into_iter()
        .map(|(mut rule, logsource)| {
            let applying: Vec<&(filter::FilterDoc, Outline)> =
                filters.iter().filter(|(f, _)| filter::applies(f, &rule.info, &logsource)).collect();
            if !applying.is_empty() {
                rule.outline = with_filters(rule.outline, &applying);
            }
            rule
        })
        .collect()
}

/// `(rule condition) and (filter condition)...`, the filters' selections renamed `title/name`.
fn with_filters(rule: Outline, filters: &[&(filter::FilterDoc, Outline)]) -> Outline {
    let Outline { condition, mut selections } = rule;
    let mut children = vec![condition];
    for (doc, outline) in filters {
        let offset = selections.len();
        selections.extend(
            outline
                .selections
                .iter()
                .map(|s| Selection { name: format!("{}/{}", doc.title, s.name), alternatives: s.alternatives.clone() }),
        );
        let mut filter_condition = outline.condition.clone();
        shift_selections(&mut filter_condition, offset);
        children.push(CondNode {
            text: format!("filter '{}'", doc.title),
            op: CondOp::Filter,
            children: vec![filter_condition],
        });
    }
    let text = children.iter().map(|c| wrapped(c, CondOp::And)).collect::<Vec<_>>().join(" and ");
    Outline { condition: CondNode { text, op: CondOp::And, children }, selections }
}

fn shift_selections(node: &mut CondNode, offset: usize) {
    if let CondOp::Selection(i) = &mut node.op {
        *i += offset;
    }
    node.children.iter_mut().for_each(|c| shift_selections(c, offset));
}

/// The outline of one typed rule (after its pipelines). Fails where lowering fails.
pub fn rule(rule: &DetectionRule, placeholders: &Placeholders) -> Result<Outline> {
    let mut selections = Vec::with_capacity(rule.detection.identifiers.len());
    for ident in &rule.detection.identifiers {
        selections
            .push(Selection { name: ident.name.clone(), alternatives: alternatives(&ident.definition, placeholders)? });
    }
    let names: Vec<&str> = selections.iter().map(|s| s.name.as_str()).collect();
    let mut conditions = Vec::with_capacity(rule.detection.conditions.len());
    for c in &rule.detection.conditions {
        let parsed = condition::parse(&c.text).map_err(|e| Error::new(c.pos.shifted(e.offset), e.message))?;
        conditions.push(node(&parsed, &names).map_err(|message| Error::new(c.pos, message))?);
    }
    let condition = if conditions.len() == 1 {
        conditions.pop().expect("one condition")
    } else {
        let text = conditions.iter().map(|c| wrapped(c, CondOp::Or)).collect::<Vec<_>>().join(" or ");
        CondNode { text, op: CondOp::Or, children: conditions }
    };
    Ok(Outline { condition, selections })
}

/// A search identifier's definition as alternatives of ANDed items, as [`crate::lower`] reads
/// it: a mapping is one alternative, a list one per element, a scalar one keyword.
fn alternatives(definition: &Node, placeholders: &Placeholders) -> Result<Vec<Vec<Item>>> {
    match &definition.kind {
        Kind::Map(_) => Ok(vec![mapping(definition, placeholders)?]),
        Kind::Seq(elements) => elements
            .iter()
            .map(|e| match e.kind {
                Kind::Map(_) => mapping(e, placeholders),
                Kind::Seq(_) => Err(Error::new(e.pos, "a list inside a search identifier's list is not Sigma")),
                _ => Ok(vec![keyword(e, placeholders)?]),
            })
            .collect(),
        _ => Ok(vec![vec![keyword(definition, placeholders)?]]),
    }
}

fn mapping(node: &Node, placeholders: &Placeholders) -> Result<Vec<Item>> {
    let Kind::Map(entries) = &node.kind else { return Ok(Vec::new()) };
    entries
        .iter()
        .map(|(k, v)| {
            let key = modifiers::parse_key(&k.scalar_text().unwrap_or_default(), k.pos)?;
            let entry = modifiers::entry(&key, k.pos, v, placeholders)?;
            let names = key.modifiers.iter().map(|(_, name, _)| name.clone()).collect();
            Ok(item(entry, names, v))
        })
        .collect()
}

fn keyword(node: &Node, placeholders: &Placeholders) -> Result<Item> {
    let key = modifiers::Key { field: String::new(), modifiers: Vec::new() };
    Ok(item(modifiers::entry(&key, node.pos, node, placeholders)?, Vec::new(), node))
}

fn item(entry: modifiers::Entry, modifiers: Vec<String>, written: &Node) -> Item {
    let mut values: Vec<String> = match &written.kind {
        Kind::Seq(items) => items.iter().map(|i| i.scalar_text().unwrap_or_default()).collect(),
        _ => vec![written.scalar_text().unwrap_or_default()],
    };
    // An empty list stands for one test (the field is null): show it as written.
    if values.len() != entry.values.len() {
        values = vec!["[]".to_string(); entry.values.len()];
    }
    Item { target: entry.target, modifiers, values, tests: entry.values, all: entry.all, negate: entry.negate }
}

/// A parsed condition as outline nodes over the named selections.
fn node(cond: &Cond, names: &[&str]) -> std::result::Result<CondNode, String> {
    let selection = |name: &str| -> std::result::Result<CondNode, String> {
        let i = names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| format!("'{name}' is not a search identifier of this rule"))?;
        Ok(CondNode { text: name.to_string(), op: CondOp::Selection(i), children: Vec::new() })
    };
    Ok(match cond {
        Cond::Ident { name, .. } => selection(name)?,
        Cond::Not(inner) => {
            let child = node(inner, names)?;
            CondNode { text: format!("not {}", wrapped(&child, CondOp::Not)), op: CondOp::Not, children: vec![child] }
        }
        Cond::And(items) | Cond::Or(items) => {
            let op = if matches!(cond, Cond::And(_)) { CondOp::And } else { CondOp::Or };
            let children = items.iter().map(|c| node(c, names)).collect::<std::result::Result<Vec<_>, _>>()?;
            let joiner = if op == CondOp::And { " and " } else { " or " };
            let text = children.iter().map(|c| wrapped(c, op)).collect::<Vec<_>>().join(joiner);
            CondNode { text, op, children }
        }
        Cond::Of { all, target, .. } => {
            let children = names
                .iter()
                .filter(|n| lower::of_selects(target, n))
                .map(|n| selection(n))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let what = match target {
                OfTarget::Them => "them",
                OfTarget::Pattern(p) => p.as_str(),
            };
            let (quantifier, op) = if *all { ("all", CondOp::AllOf) } else { ("1", CondOp::OneOf) };
            CondNode { text: format!("{quantifier} of {what}"), op, children }
        }
    })
}

/// A child's text inside its parent's, in parentheses where precedence needs them.
fn wrapped(child: &CondNode, parent: CondOp) -> String {
    let needs = match child.op {
        CondOp::Or => parent != CondOp::Or,
        CondOp::And => parent == CondOp::Not,
        _ => false,
    };
    if needs {
        format!("({})", child.text)
    } else {
        child.text.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_engine::plan::Target;

    fn outline_of(detection: &str) -> Outline {
        let text = format!("title: t\nlogsource: {{product: p}}\ndetection:\n{detection}");
        let mut out = file("r.yml", &text, &Options::default());
        assert_eq!(out.len(), 1, "{text}");
        out.pop().unwrap().outline
    }

    #[test]
    fn condition_text_and_selections_keep_the_rules_names() {
        let o = outline_of(
            "  sel_a: {x: 1}\n  sel_b: [{y|contains: [a, b]}, kw]\n  filter: {z: null}\n  condition: 1 of sel_* and not (filter or sel_a)\n",
        );
        assert_eq!(o.condition.text, "1 of sel_* and not (filter or sel_a)");
        assert_eq!(o.condition.op, CondOp::And);
        let one_of = &o.condition.children[0];
        assert_eq!(one_of.op, CondOp::OneOf);
        assert_eq!(one_of.children.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), vec!["sel_a", "sel_b"]);
        let sel_b = &o.selections[1];
        assert_eq!(sel_b.alternatives.len(), 2);
        assert_eq!(sel_b.alternatives[0][0].modifiers, vec!["contains"]);
        assert_eq!(sel_b.alternatives[0][0].values, vec!["a", "b"]);
        assert_eq!(sel_b.alternatives[1][0].target, Target::Keywords);
    }

    #[test]
    fn rejected_rules_have_no_outline_and_filters_are_anded() {
        let text = "title: bad\nlogsource: {product: p}\ndetection: {sel: {a: 1}, condition: nope}\n---\ntitle: good\nid: 0e95725d-7320-415d-80f7-004da920fc11\nlogsource: {product: p}\ndetection: {sel: {a: 1}, condition: sel}\n---\ntitle: quiet\nlogsource: {product: p}\nfilter:\n  rules: [0e95725d-7320-415d-80f7-004da920fc11]\n  sel: {b: 2}\n  condition: not sel\n";
        let out = file("r.yml", text, &Options::default());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].info.title, "good");
        assert_eq!(out[0].pos.line, 5);
        let c = &out[0].outline.condition;
        assert_eq!(c.text, "sel and filter 'quiet'");
        assert_eq!(c.children[1].children[0].text, "not sel");
        assert_eq!(out[0].outline.selections[1].name, "quiet/sel");
    }
}
