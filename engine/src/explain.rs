//! Explanations: why one detection rule does or does not fire on one event, in the terms the rule
//! was written in (its condition, its search identifiers, their `field|modifier: values` items),
//! and what a correlation rule counts.
//!
//! The compiler merges rules into one simplified graph, which keeps no selection names; so the
//! compiler also describes each detection rule as an [`Outline`] (`sigil_compiler::outline`), and
//! this module evaluates that outline against an event with the engine's own field access
//! ([`crate::event`]) and matchers ([`crate::matcher`]), computing every node (no short cut), so
//! the explanation shows each value and can never disagree with a verdict of the engine.
//! Explaining is not on the hot path: it prepares its matchers afresh for every call. This module
//! never decides routing (the caller knows whether the rule's logsource admits the event) and
//! never reads correlation state (a correlation's verdict depends on earlier events).

use crate::eval::{Engine, Routing};
use crate::event::{self, Found};
use crate::json::Json;
use crate::matcher::{Matcher, PrepareError};
use crate::plan::{Comparison, CorrelationKind, CorrelationSource, Target, Test};
use serde::Serialize;

/// A detection rule's condition as written: what [`explain`] evaluates.
#[derive(Debug, Clone, PartialEq)]
pub struct Outline {
    pub condition: CondNode,
    /// The search identifiers the condition refers to (by index), filters' ones included.
    pub selections: Vec<Selection>,
}

/// A node of a rule's condition.
#[derive(Debug, Clone, PartialEq)]
pub struct CondNode {
    /// The node's part of the condition, as the rule says it (or as rendered from it).
    pub text: String,
    pub op: CondOp,
    pub children: Vec<CondNode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CondOp {
    And,
    Or,
    Not,
    /// A search identifier: an index into [`Outline::selections`]. No children.
    Selection(usize),
    /// `1 of pattern` / `1 of them`: children are the identifiers chosen.
    OneOf,
    /// `all of pattern` / `all of them`.
    AllOf,
    /// A filter document ANDed into the rule: one child, the filter's condition.
    Filter,
}

/// One search identifier: alternatives ORed, the items of each alternative ANDed. A mapping is
/// one alternative; a list has one per element (a mapping, or a keyword).
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub name: String,
    pub alternatives: Vec<Vec<Item>>,
}

/// One `field|modifiers: values` entry of a search identifier, or one keyword.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub target: Target,
    /// As written in the key (`contains`, `all`, ...).
    pub modifiers: Vec<String>,
    /// The values as written, one per element of `tests`.
    pub values: Vec<String>,
    /// Per value, its variants (windash, base64offset, placeholders give several): any may hold.
    pub tests: Vec<Vec<Test>>,
    /// `|all`: every value must hold, not just one.
    pub all: bool,
    /// `|neq`: the item holds when the values do not.
    pub negate: bool,
}

/// Why a detection rule does or does not fire on an event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Explanation {
    /// The condition's value (routing aside).
    pub matched: bool,
    pub condition: NodeResult,
    pub selections: Vec<SelectionResult>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeResult {
    pub text: String,
    /// `and`, `or`, `not`, `selection`, `keywords`, `one_of`, `all_of`, `filter`.
    pub op: &'static str,
    pub value: bool,
    /// For `selection` and `keywords`: the identifier's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<String>,
    pub children: Vec<NodeResult>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SelectionResult {
    pub name: String,
    pub value: bool,
    pub items: Vec<ItemResult>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ItemResult {
    /// `None` for a keyword (searched in every string of the event).
    pub field: Option<String>,
    pub modifiers: Vec<String>,
    pub values: Vec<String>,
    /// Whether each value held on its own (before `all` and `neq` combine them).
    pub value_matches: Vec<bool>,
    pub value: bool,
    /// Which alternative of the selection the item belongs to (its items are ANDed).
    pub alternative: usize,
    /// The first value (as written) that held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_value: Option<String>,
    /// The event's text that it held on, and where that text is in the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Evaluates a detection rule's outline on an event (as the engine sees it: laid flat by
/// [`crate::layout`]). Fails only on a test the engine could not prepare either.
pub fn explain(outline: &Outline, event: &Json<'_>) -> Result<Explanation, PrepareError> {
    let selections = outline.selections.iter().map(|s| explain_selection(s, event)).collect::<Result<Vec<_>, _>>()?;
    let condition = explain_node(&outline.condition, outline, &selections);
    Ok(Explanation { matched: condition.value, condition, selections })
}

fn explain_node(node: &CondNode, outline: &Outline, selections: &[SelectionResult]) -> NodeResult {
    let children: Vec<NodeResult> = node.children.iter().map(|c| explain_node(c, outline, selections)).collect();
    let all = || children.iter().all(|c| c.value);
    let any = || children.iter().any(|c| c.value);
    let (op, value, selection) = match node.op {
        CondOp::And => ("and", all(), None),
        CondOp::AllOf => ("all_of", all(), None),
        CondOp::Or => ("or", any(), None),
        CondOp::OneOf => ("one_of", any(), None),
        CondOp::Not => ("not", !all(), None),
        CondOp::Filter => ("filter", all(), None),
        // An index outside the outline (a hand-made outline) names nothing and holds nothing.
        CondOp::Selection(i) => match (outline.selections.get(i), selections.get(i)) {
            (Some(s), Some(result)) => {
                let op = if is_keywords(s) { "keywords" } else { "selection" };
                (op, result.value, Some(result.name.clone()))
            }
            _ => ("selection", false, None),
        },
    };
    NodeResult { text: node.text.clone(), op, value, selection, children }
}

fn is_keywords(s: &Selection) -> bool {
    s.alternatives.iter().flatten().all(|i| i.target == Target::Keywords)
}

fn explain_selection(selection: &Selection, event: &Json<'_>) -> Result<SelectionResult, PrepareError> {
    let mut items = Vec::new();
    let mut value = false;
    for (alternative, alt_items) in selection.alternatives.iter().enumerate() {
        let mut alt_value = true;
        for item in alt_items {
            let result = explain_item(item, alternative, event)?;
            alt_value &= result.value;
            items.push(result);
        }
        value |= alt_value;
    }
    Ok(SelectionResult { name: selection.name.clone(), value, items })
}

fn explain_item(item: &Item, alternative: usize, event: &Json<'_>) -> Result<ItemResult, PrepareError> {
    if let Target::Field(fields) = &item.target {
        if fields.contains(crate::plan::ANY_OF) {
            return explain_any_of(item, fields, alternative, event);
        }
    }
    let found = match &item.target {
        Target::Field(name) => Some(event::lookup(event, name)),
        Target::Keywords => None,
    };
    let mut value_matches = Vec::with_capacity(item.tests.len());
    let mut evidence: Option<(usize, Evidence)> = None;
    for (i, variants) in item.tests.iter().enumerate() {
        let mut held = false;
        for test in variants {
            let matcher = Matcher::prepare(test)?;
            // The verdict is the engine's own computation (eval.rs `compute`), nothing else.
            let holds = match &found {
                Some(found) => matcher.test_field(event, found),
                None => matcher.test_keywords(event),
            };
            if holds && evidence.is_none() {
                evidence = Some((i, locate(&matcher, &item.target, found.as_ref(), event)));
            }
            held |= holds;
        }
        value_matches.push(held);
    }
    let combined = if item.all { value_matches.iter().all(|m| *m) } else { value_matches.iter().any(|m| *m) };
    let (matched_value, event_value, path) = match evidence {
        Some((i, ev)) => (item.values.get(i).cloned(), ev.text, ev.path),
        None => (None, None, None),
    };
    Ok(ItemResult {
        field: match &item.target {
            Target::Field(name) => Some(name.clone()),
            Target::Keywords => None,
        },
        modifiers: item.modifiers.clone(),
        values: item.values.clone(),
        value_matches,
        value: combined != item.negate,
        alternative,
        matched_value,
        event_value,
        path,
    })
}

/// An item over several fields (see [`crate::plan::ANY_OF`]), as lowering compiles it: any field
/// holding it, or for a test of absence, every field; reported as the field that decided.
fn explain_any_of(item: &Item, fields: &str, alternative: usize, event: &Json<'_>) -> Result<ItemResult, PrepareError> {
    let absence = item.tests.iter().flatten().all(|t| matches!(t, Test::Null | Test::Exists(false)));
    let mut results = Vec::new();
    for field in fields.split(crate::plan::ANY_OF) {
        results.push(explain_item(
            &Item { target: Target::Field(field.to_string()), ..item.clone() },
            alternative,
            event,
        )?);
    }
    let value = if absence { results.iter().all(|r| r.value) } else { results.iter().any(|r| r.value) };
    let decisive = results.iter().position(|r| r.value != absence).unwrap_or(0);
    let mut result = results.swap_remove(decisive);
    result.value = value;
    Ok(result)
}

#[derive(Default)]
struct Evidence {
    text: Option<String>,
    path: Option<String>,
}

/// Where in the event a test that holds found what it needs.
fn locate(matcher: &Matcher, target: &Target, found: Option<&Found<'_, '_>>, event: &Json<'_>) -> Evidence {
    match (target, found) {
        (Target::Field(name), Some(found)) => {
            let value = match matcher {
                Matcher::Exists(true) => found.first(),
                _ => matcher.matching_leaf(event, found),
            };
            match value {
                Some(v) => Evidence { text: Some(text_of(v)), path: Some(name.clone()) },
                None => Evidence::default(),
            }
        }
        _ => {
            let mut hit = None;
            strings_with_paths(event, &mut String::new(), &mut |path, s| {
                if matcher.keyword_matches(s) {
                    hit = Some(Evidence { text: Some(s.to_string()), path: Some(path.to_string()) });
                    return true;
                }
                false
            });
            hit.unwrap_or_default()
        }
    }
}

/// Visits every string of the event (the keyword haystack of [`event::any_string`]) with its path
/// (`a.b[2].c`) until `f` returns true.
fn strings_with_paths(value: &Json<'_>, path: &mut String, f: &mut dyn FnMut(&str, &str) -> bool) -> bool {
    let base = path.len();
    let found = match value {
        Json::String(s) => f(path, s),
        Json::Array(items) => items.iter().enumerate().any(|(i, v)| {
            path.truncate(base);
            path.push_str(&format!("[{i}]"));
            strings_with_paths(v, path, f)
        }),
        Json::Object(map) => map.iter().any(|(k, v)| {
            path.truncate(base);
            if base > 0 {
                path.push('.');
            }
            path.push_str(k);
            strings_with_paths(v, path, f)
        }),
        _ => false,
    };
    path.truncate(base);
    found
}

/// A value as the event holds it: strings as they are, anything else as JSON.
fn text_of(v: &Json<'_>) -> String {
    match v {
        Json::String(s) => s.to_string(),
        other => other.to_value().to_string(),
    }
}

/// What a correlation rule counts, and what this event brings to it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CorrelationExplanation {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// For `value_percentile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percentile: Option<u8>,
    pub group_by: Vec<String>,
    /// The window, written as Sigma writes timespans (`5m`), and in milliseconds.
    pub timespan: String,
    pub timespan_ms: i64,
    /// All must hold, e.g. `gte 10`.
    pub condition: Vec<ConditionPart>,
    pub value_fields: Vec<String>,
    pub rules: Vec<CorrelatedRule>,
    /// Whether a detection rule it reads fires on this event, so that the event counts (or,
    /// for a chain, whether one of the rules it reads directly does).
    pub counted: bool,
    /// For a counted event: the group it falls in (each group-by name and the event's value).
    pub group: Vec<GroupValue>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConditionPart {
    pub op: &'static str,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CorrelatedRule {
    pub id: String,
    pub title: String,
    /// `detection` or `correlation` (a chain).
    pub kind: &'static str,
    /// For a detection rule: whether it fires on this event (with the given routing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<bool>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupValue {
    pub name: String,
    pub field: String,
    pub value: Option<String>,
}

/// Describes correlation `index` of the engine's plan, with the detection rules it reads
/// evaluated on `event` by the engine itself.
pub fn explain_correlation(
    engine: &Engine,
    index: usize,
    event: &Json<'_>,
    routing: &Routing,
) -> Option<CorrelationExplanation> {
    let plan = engine.plan();
    let corr = plan.correlations.get(index)?;
    let fired: Vec<usize> = engine.evaluate(event, routing).into_iter().map(|d| d.rule).collect();
    let mut first_counted_source = None;
    let rules = corr
        .sources
        .iter()
        .enumerate()
        .map(|(position, source)| match source {
            CorrelationSource::Rule(r) => {
                let rule = &plan.rules[*r as usize];
                let matched = fired.contains(&(*r as usize));
                if matched && first_counted_source.is_none() {
                    first_counted_source = Some(position);
                }
                CorrelatedRule {
                    id: rule.info.id.clone(),
                    title: rule.info.title.clone(),
                    kind: "detection",
                    matched: Some(matched),
                }
            }
            CorrelationSource::Correlation(c) => {
                let other = &plan.correlations[*c as usize];
                CorrelatedRule {
                    id: other.info.id.clone(),
                    title: other.info.title.clone(),
                    kind: "correlation",
                    matched: None,
                }
            }
        })
        .collect();
    let group = match first_counted_source {
        Some(position) => corr
            .group_by
            .iter()
            .map(|key| {
                let field = key.fields.get(position).cloned().unwrap_or_default();
                let value = event::lookup(event, &field).first().filter(|v| !v.is_null()).map(text_of);
                GroupValue { name: key.name.clone(), field, value }
            })
            .collect(),
        None => Vec::new(),
    };
    let (kind, percentile) = match corr.kind {
        CorrelationKind::EventCount => ("event_count", None),
        CorrelationKind::ValueCount => ("value_count", None),
        CorrelationKind::Temporal => ("temporal", None),
        CorrelationKind::TemporalOrdered => ("temporal_ordered", None),
        CorrelationKind::ValueSum => ("value_sum", None),
        CorrelationKind::ValueAvg => ("value_avg", None),
        CorrelationKind::ValuePercentile(p) => ("value_percentile", Some(p)),
    };
    Some(CorrelationExplanation {
        kind,
        percentile,
        group_by: corr.group_by.iter().map(|k| k.name.clone()).collect(),
        timespan: timespan_text(corr.timespan_ms),
        timespan_ms: corr.timespan_ms,
        condition: corr
            .condition
            .iter()
            .map(|(op, value)| ConditionPart { op: comparison_name(*op), value: *value })
            .collect(),
        value_fields: corr.value_fields.clone(),
        rules,
        counted: first_counted_source.is_some(),
        group,
    })
}

fn comparison_name(op: Comparison) -> &'static str {
    match op {
        Comparison::Gt => "gt",
        Comparison::Gte => "gte",
        Comparison::Lt => "lt",
        Comparison::Lte => "lte",
        Comparison::Eq => "eq",
        Comparison::Neq => "neq",
    }
}

/// `300000` → `5m`: the largest Sigma unit that divides the span.
fn timespan_text(ms: i64) -> String {
    const UNITS: [(i64, &str); 5] = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms")];
    UNITS
        .iter()
        .find(|(size, _)| ms != 0 && ms % size == 0)
        .map_or_else(|| format!("{ms}ms"), |(size, unit)| format!("{}{unit}", ms / size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{StrPattern, Token};

    fn contains(field: &str, values: &[&str], all: bool) -> Item {
        Item {
            target: Target::Field(field.into()),
            modifiers: if all { vec!["contains".into(), "all".into()] } else { vec!["contains".into()] },
            values: values.iter().map(|v| v.to_string()).collect(),
            tests: values
                .iter()
                .map(|v| {
                    let tokens = vec![Token::AnyString, Token::Lit(v.to_string()), Token::AnyString];
                    vec![Test::Str(StrPattern { tokens, cased: false })]
                })
                .collect(),
            all,
            negate: false,
        }
    }

    fn outline(items: Vec<Item>) -> Outline {
        Outline {
            condition: CondNode { text: "sel".into(), op: CondOp::Selection(0), children: vec![] },
            selections: vec![Selection { name: "sel".into(), alternatives: vec![items] }],
        }
    }

    #[test]
    fn evidence_names_the_value_and_the_event_text() {
        let value = serde_json::json!({"cmd": ["x", "run MIMIKATZ now"]});
        let event = Json::from_value(&value);
        let e = explain(&outline(vec![contains("cmd", &["nope", "mimikatz"], false)]), &event).unwrap();
        assert!(e.matched);
        let item = &e.selections[0].items[0];
        assert_eq!(item.value_matches, vec![false, true]);
        assert_eq!(item.matched_value.as_deref(), Some("mimikatz"));
        assert_eq!(item.event_value.as_deref(), Some("run MIMIKATZ now"));
        assert_eq!(item.path.as_deref(), Some("cmd"));
    }

    #[test]
    fn all_needs_every_value_and_keywords_report_their_path() {
        let value = serde_json::json!({"a": {"b": [1, "xyz"]}});
        let event = Json::from_value(&value);
        let e = explain(&outline(vec![contains("a.b", &["x", "q"], true)]), &event).unwrap();
        assert!(!e.matched);
        assert_eq!(e.selections[0].items[0].value_matches, vec![true, false]);
        let mut kw = contains("", &["YZ"], false);
        kw.target = Target::Keywords;
        let e = explain(&outline(vec![kw]), &event).unwrap();
        assert!(e.matched);
        assert_eq!(e.condition.op, "keywords");
        assert_eq!(e.selections[0].items[0].path.as_deref(), Some("a.b[1]"));
    }

    #[test]
    fn timespans_read_as_sigma_writes_them() {
        assert_eq!(timespan_text(300_000), "5m");
        assert_eq!(timespan_text(86_400_000), "1d");
        assert_eq!(timespan_text(1500), "1500ms");
    }
}
