//! Correlation rules (Sigma v2.1 meta rules): their documents read and checked, then resolved
//! against the pack's rules into the plan's [`Correlation`]s.
//!
//! Reading checks the shape of one document (type, rules, group-by, timespan, condition, field,
//! aliases, generate) with positions. Resolution happens once every file is in: references by
//! id or name, chains between correlations (ordered with petgraph, cycles rejected), and which
//! detection rules stop alerting on their own (`generate`). This module never evaluates events.

use crate::ast::rule_info;
use crate::diagnostics::{Error, Pos, Result};
use crate::yaml::{Kind, Node};
use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;
use sigil_engine::plan::{
    Comparison, CompiledRule, Correlation, CorrelationKind, CorrelationSource, GroupKey, LogSource, RuleInfo,
};
use std::collections::HashMap;

/// A correlation document as written.
#[derive(Debug, Clone)]
pub struct CorrelationDoc {
    pub info: RuleInfo,
    pub kind: CorrelationKind,
    pub rules: Vec<(String, Pos)>,
    pub group_by: Vec<String>,
    /// alias → (rule reference → field in that rule's events)
    pub aliases: Vec<(String, HashMap<String, String>)>,
    pub timespan_ms: i64,
    pub condition: Vec<(Comparison, f64)>,
    pub value_fields: Vec<String>,
    pub generate: bool,
    pub pos: Pos,
}

/// Reads a document whose top level has `correlation`.
pub fn document(node: &Node) -> Result<CorrelationDoc> {
    let info = rule_info(node)?;
    let corr = node.get("correlation").expect("called for correlation documents");
    if !matches!(corr.kind, Kind::Map(_)) {
        return Err(Error::new(corr.pos, "'correlation' must be a mapping"));
    }
    let type_node =
        corr.get("type").ok_or_else(|| Error::new(corr.pos, "the correlation has no 'type' (it is required)"))?;
    let type_name = type_node.as_str().unwrap_or_default();
    let kind = match type_name {
        "event_count" => CorrelationKind::EventCount,
        "value_count" => CorrelationKind::ValueCount,
        "temporal" => CorrelationKind::Temporal,
        "temporal_ordered" => CorrelationKind::TemporalOrdered,
        "value_sum" => CorrelationKind::ValueSum,
        "value_avg" => CorrelationKind::ValueAvg,
        "value_percentile" => CorrelationKind::ValuePercentile(50),
        "value_median" => CorrelationKind::ValuePercentile(50),
        other => return Err(Error::new(
            type_node.pos,
            format!("unknown correlation type '{other}' (event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile, value_median)"),
        )),
    };
    let rules_node =
        corr.get("rules").ok_or_else(|| Error::new(corr.pos, "the correlation has no 'rules' (it is required)"))?;
    let rules = string_list(rules_node, "rules")?;
    if rules.is_empty() {
        return Err(Error::new(rules_node.pos, "'rules' must name at least one rule"));
    }
    let group_by = match corr.get("group-by") {
        Some(g) => string_list(g, "group-by")?.into_iter().map(|(s, _)| s).collect(),
        None => Vec::new(),
    };
    if let (Some(suppress), Some(node)) = (&info.suppress, node.get("suppress")) {
        if let Some(f) = suppress.group_by.iter().find(|f| !group_by.contains(f)) {
            return Err(Error::new(
                node.pos,
                format!("'suppress' groups a correlation by its own 'group-by' names; '{f}' is not one of them"),
            ));
        }
    }
    let timespan_node = corr
        .get("timespan")
        .ok_or_else(|| Error::new(corr.pos, "the correlation has no 'timespan' (it is required, like 5m or 1h)"))?;
    let timespan_ms = timespan(timespan_node)?;
    let aliases = match corr.get("aliases") {
        None => Vec::new(),
        Some(a) => aliases(a)?,
    };
    let (condition, value_fields, percentile) = match corr.get("condition") {
        Some(c) => condition(c)?,
        None => (Vec::new(), Vec::new(), None),
    };
    let kind = match (kind, percentile) {
        (CorrelationKind::ValuePercentile(_), Some(p)) if type_name == "value_percentile" => {
            CorrelationKind::ValuePercentile(p)
        }
        (k, _) => k,
    };
    let condition = match (kind, condition.is_empty()) {
        // Temporal types default to "all the rules fired".
        (CorrelationKind::Temporal | CorrelationKind::TemporalOrdered, true) => {
            vec![(Comparison::Gte, rules.len() as f64)]
        }
        (_, true) => {
            return Err(Error::new(
                corr.pos,
                format!("a {type_name} correlation needs a 'condition' such as 'gte: 10'"),
            ))
        }
        (_, false) => condition,
    };
    let needs_field = matches!(
        kind,
        CorrelationKind::ValueCount
            | CorrelationKind::ValueSum
            | CorrelationKind::ValueAvg
            | CorrelationKind::ValuePercentile(_)
    );
    if needs_field && value_fields.is_empty() {
        return Err(Error::new(
            corr.get("condition").map_or(corr.pos, |c| c.pos),
            format!("a {type_name} correlation needs 'field' in its condition: the field whose values it uses"),
        ));
    }
    if !needs_field && !value_fields.is_empty() {
        return Err(Error::new(
            corr.get("condition").map_or(corr.pos, |c| c.pos),
            format!("'field' has no meaning for a {type_name} correlation"),
        ));
    }
    let generate = match node.get("generate") {
        None => false,
        Some(Node { kind: Kind::Bool(b), .. }) => *b,
        Some(g) => return Err(Error::new(g.pos, "'generate' must be true or false")),
    };
    Ok(CorrelationDoc {
        info,
        kind,
        rules,
        group_by,
        aliases,
        timespan_ms,
        condition,
        value_fields,
        generate,
        pos: node.pos,
    })
}

fn string_list(node: &Node, key: &str) -> Result<Vec<(String, Pos)>> {
    match &node.kind {
        Kind::Str(s) => Ok(vec![(s.clone(), node.pos)]),
        Kind::Seq(items) => items
            .iter()
            .map(|i| {
                i.scalar_text()
                    .map(|s| (s, i.pos))
                    .ok_or_else(|| Error::new(i.pos, format!("'{key}' must be a list of strings")))
            })
            .collect(),
        _ => Err(Error::new(node.pos, format!("'{key}' must be a string or a list of strings"))),
    }
}

/// `<int><unit>`, unit one of s m h d w.
pub(crate) fn timespan(node: &Node) -> Result<i64> {
    let text = node.scalar_text().unwrap_or_default();
    let bad = || {
        Error::new(
            node.pos,
            format!("invalid timespan '{text}': write a whole number and a unit, s, m, h, d or w (like 30s, 5m, 1h)"),
        )
    };
    let unit = text.chars().last().ok_or_else(bad)?;
    let number: i64 = text[..text.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return Err(bad()),
    };
    if number <= 0 {
        return Err(bad());
    }
    // A span past i64 milliseconds would wrap (to zero or below, in a release build).
    number.checked_mul(seconds * 1000).ok_or_else(bad)
}

type ConditionParts = (Vec<(Comparison, f64)>, Vec<String>, Option<u8>);

fn condition(node: &Node) -> Result<ConditionParts> {
    let Kind::Map(entries) = &node.kind else {
        return Err(Error::new(node.pos, "the correlation 'condition' must be a mapping such as {gte: 10}"));
    };
    let (mut ops, mut fields, mut percentile) = (Vec::new(), Vec::new(), None);
    for (k, v) in entries {
        let key = k.scalar_text().unwrap_or_default();
        let number = || match v.kind {
            Kind::Int(i) => Ok(i as f64),
            Kind::Float(f) => Ok(f),
            _ => Err(Error::new(v.pos, format!("'{key}' takes a number"))),
        };
        match key.as_str() {
            "gt" => ops.push((Comparison::Gt, number()?)),
            "gte" => ops.push((Comparison::Gte, number()?)),
            "lt" => ops.push((Comparison::Lt, number()?)),
            "lte" => ops.push((Comparison::Lte, number()?)),
            "eq" => ops.push((Comparison::Eq, number()?)),
            "neq" => ops.push((Comparison::Neq, number()?)),
            "field" => fields = string_list(v, "field")?.into_iter().map(|(s, _)| s).collect(),
            "percentile" => match v.kind {
                Kind::Int(p) if (1..=100).contains(&p) => percentile = Some(p as u8),
                _ => return Err(Error::new(v.pos, "'percentile' takes a whole number from 1 to 100")),
            },
            other => {
                return Err(Error::new(
                    k.pos,
                    format!("unknown condition key '{other}' (gt, gte, lt, lte, eq, neq, field, percentile)"),
                ))
            }
        }
    }
    if ops.is_empty() {
        return Err(Error::new(node.pos, "the condition compares nothing: add gt, gte, lt, lte, eq or neq"));
    }
    Ok((ops, fields, percentile))
}

fn aliases(node: &Node) -> Result<Vec<(String, HashMap<String, String>)>> {
    let Kind::Map(entries) = &node.kind else {
        return Err(Error::new(node.pos, "'aliases' must map each alias to {rule: field}"));
    };
    let mut out = Vec::new();
    for (alias, mapping) in entries {
        let Kind::Map(pairs) = &mapping.kind else {
            return Err(Error::new(mapping.pos, "an alias must map rule names to field names"));
        };
        let mut per_rule = HashMap::new();
        for (rule, field) in pairs {
            let field = field
                .scalar_text()
                .ok_or_else(|| Error::new(field.pos, "an alias must map rule names to field names"))?;
            per_rule.insert(rule.scalar_text().unwrap_or_default(), field);
        }
        out.push((alias.scalar_text().unwrap_or_default(), per_rule));
    }
    Ok(out)
}

/// A correlation document with the file it came from.
#[derive(Debug, Clone)]
pub struct Pending {
    pub file: String,
    pub doc: CorrelationDoc,
}

/// How a field name of a rule's events is spelled after the processing pipelines, given the
/// rule's logsource (the identity without pipelines).
pub type FieldMap<'a> = &'a dyn Fn(&LogSource, &str) -> String;

/// Resolves correlations against the compiled rules. Returns the correlations in chain order,
/// and the rejected ones as (file, error). Sets `alert` on rules a correlation consumes.
///
/// Field names go through `map_field` (the pipelines' field name mapping and prefixes) as they do
/// in the rules: a `group-by` field (or an alias's field) with the logsource of each detection
/// rule it is read from, and the condition's `field` with the logsource of the first detection
/// rule the correlation reads. Fields read from chained correlations stay as written.
pub fn resolve(
    pending: Vec<Pending>,
    rules: &mut [CompiledRule],
    map_field: FieldMap<'_>,
) -> (Vec<Correlation>, Vec<(String, Error)>) {
    let mut errors = Vec::new();
    let mut by_ref: HashMap<&str, usize> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        by_ref.entry(r.info.id.as_str()).or_insert(i);
        if let Some(n) = &r.info.name {
            by_ref.entry(n.as_str()).or_insert(i);
        }
    }
    let mut corr_ref: HashMap<String, usize> = HashMap::new();
    for (i, p) in pending.iter().enumerate() {
        corr_ref.entry(p.doc.info.id.clone()).or_insert(i);
        if let Some(n) = &p.doc.info.name {
            corr_ref.entry(n.clone()).or_insert(i);
        }
    }
    // Chains: an edge from each correlation to the correlations it reads.
    let mut graph = DiGraph::<usize, ()>::new();
    let nodes: Vec<_> = (0..pending.len()).map(|i| graph.add_node(i)).collect();
    let mut ok = vec![true; pending.len()];
    for (i, p) in pending.iter().enumerate() {
        for (name, pos) in &p.doc.rules {
            match (corr_ref.get(name.as_str()), by_ref.get(name.as_str())) {
                (Some(&j), _) if j != i => {
                    graph.add_edge(nodes[j], nodes[i], ());
                }
                (Some(_), _) => {
                    errors.push((
                        p.file.clone(),
                        Error::new(*pos, format!("the correlation refers to itself ('{name}')")),
                    ));
                    ok[i] = false;
                }
                (None, Some(_)) => {}
                (None, None) => {
                    errors.push((
                        p.file.clone(),
                        Error::new(*pos, format!("'{name}' is not the id or name of any loaded rule or correlation")),
                    ));
                    ok[i] = false;
                }
            }
        }
    }
    // Correlations on a cycle are rejected; the others still load.
    for scc in tarjan_scc(&graph) {
        let cyclic = scc.len() > 1;
        for n in scc.iter().filter(|_| cyclic) {
            let i = graph[*n];
            ok[i] = false;
            errors.push((
                pending[i].file.clone(),
                Error::new(
                    pending[i].doc.pos,
                    "the correlations form a cycle through this one: a chain must end in detection rules",
                ),
            ));
        }
    }
    // File order, each correlation after the ones it reads, so that independent correlations
    // alert in the order they were written.
    let order = stable_order(&graph, &nodes, &ok);
    // A correlation whose input was rejected is rejected too.
    let mut position: HashMap<usize, u32> = HashMap::new();
    let mut out: Vec<Correlation> = Vec::new();
    // For each built correlation, the document it came from.
    let mut built_from: Vec<usize> = Vec::new();
    let mut generate: HashMap<usize, bool> = HashMap::new();
    for i in order {
        let p = &pending[i];
        if !ok[i] {
            continue;
        }
        let mut sources = Vec::new();
        let mut refs = Vec::new();
        // Per reference: the logsource of the detection rule it names (none for a correlation).
        let mut ref_logsources: Vec<Option<LogSource>> = Vec::new();
        let mut broken = false;
        for (name, pos) in &p.doc.rules {
            if let Some(&j) = corr_ref.get(name.as_str()) {
                match position.get(&j) {
                    Some(&k) => sources.push(CorrelationSource::Correlation(k)),
                    None => {
                        errors.push((
                            p.file.clone(),
                            Error::new(*pos, format!("'{name}' was rejected, so this chain cannot run")),
                        ));
                        broken = true;
                    }
                }
                ref_logsources.push(None);
            } else {
                let r = by_ref[name.as_str()];
                let entry = generate.entry(r).or_insert(false);
                *entry |= p.doc.generate;
                sources.push(CorrelationSource::Rule(r as u32));
                ref_logsources.push(Some(rules[r].logsource.clone()));
            }
            refs.push(name.clone());
        }
        if broken {
            continue;
        }
        let group_by = p
            .doc
            .group_by
            .iter()
            .map(|g| {
                let alias = p.doc.aliases.iter().find(|(a, _)| a == g).map(|(_, m)| m);
                let fields = refs
                    .iter()
                    .zip(&ref_logsources)
                    .map(|(r, ls)| {
                        let field = alias.and_then(|m| m.get(r)).unwrap_or(g);
                        ls.as_ref().map_or_else(|| field.clone(), |ls| map_field(ls, field))
                    })
                    .collect();
                GroupKey { name: g.clone(), fields }
            })
            .collect();
        let value_fields = match ref_logsources.iter().flatten().next() {
            Some(ls) => p.doc.value_fields.iter().map(|f| map_field(ls, f)).collect(),
            None => p.doc.value_fields.clone(),
        };
        position.insert(i, out.len() as u32);
        built_from.push(i);
        out.push(Correlation {
            info: p.doc.info.clone(),
            kind: p.doc.kind,
            sources,
            group_by,
            timespan_ms: p.doc.timespan_ms,
            condition: p.doc.condition.clone(),
            value_fields,
            emit: true,
        });
    }
    for (r, gen) in generate {
        rules[r].alert = gen;
    }
    // Likewise inside a chain: a correlation that feeds others emits its own alerts only when
    // one of its readers says `generate: true`.
    let mut feeds: HashMap<u32, bool> = HashMap::new();
    for (corr, &doc) in out.iter().zip(&built_from) {
        let gen = pending[doc].doc.generate;
        for s in &corr.sources {
            if let CorrelationSource::Correlation(k) = s {
                *feeds.entry(*k).or_insert(false) |= gen;
            }
        }
    }
    for (k, gen) in feeds {
        out[k as usize].emit = gen;
    }
    (out, errors)
}

/// A topological order of the acceptable nodes that keeps their own order wherever the edges
/// allow (Kahn's algorithm, always taking the first ready node). Rejected nodes are left out and
/// do not hold back the nodes that read them (those are rejected later, for a missing input).
fn stable_order(graph: &DiGraph<usize, ()>, nodes: &[petgraph::graph::NodeIndex], ok: &[bool]) -> Vec<usize> {
    let mut waiting: Vec<usize> = nodes
        .iter()
        .map(|n| graph.neighbors_directed(*n, petgraph::Direction::Incoming).filter(|m| ok[graph[*m]]).count())
        .collect();
    let mut done: Vec<bool> = ok.iter().map(|o| !o).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(next) = (0..nodes.len()).find(|&i| !done[i] && waiting[i] == 0) {
        done[next] = true;
        order.push(graph[nodes[next]]);
        for m in graph.neighbors_directed(nodes[next], petgraph::Direction::Outgoing) {
            waiting[m.index()] -= 1;
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use crate::{compile_str, Options};

    const BASE: &str =
        "title: base\nname: base\nlogsource:\n  product: test\ndetection:\n  sel:\n    a: 1\n  condition: sel\n";

    fn corr(name: &str, reads: &str) -> String {
        format!("---\ntitle: {name}\nname: {name}\ncorrelation:\n  type: event_count\n  rules: [{reads}]\n  timespan: 1m\n  condition:\n    gte: 2\n")
    }

    #[test]
    fn a_cycle_rejects_its_members_and_the_others_still_load() {
        let text = format!("{BASE}{}{}{}{}", corr("a", "b"), corr("b", "a"), corr("c", "base"), corr("d", "a"));
        let out = compile_str("cycle.yml", &text, &Options::default());
        let messages: Vec<&str> = out.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages.iter().filter(|m| m.contains("cycle")).count(), 2, "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("'a' was rejected")), "{messages:?}");
        let names: Vec<_> = out.plan.correlations.iter().map(|c| c.info.title.as_str()).collect();
        assert_eq!(names, vec!["c"]);
    }

    #[test]
    fn timespans() {
        for (text, ok) in [
            ("30s", true),
            ("5m", true),
            ("2h", true),
            ("1d", true),
            ("1w", true),
            ("1H", false),
            ("1.5h", false),
            ("10", false),
            ("0m", false),
            ("5y", false),
        ] {
            let rules = format!("{BASE}---\ntitle: c\ncorrelation:\n  type: event_count\n  rules: base\n  timespan: {text}\n  condition:\n    gte: 2\n");
            let out = compile_str("t.yml", &rules, &Options::default());
            assert_eq!(out.diagnostics.is_empty(), ok, "{text}: {:?}", out.diagnostics);
            if !ok {
                assert!(out.diagnostics[0].message.contains("invalid timespan"), "{text}");
                assert_eq!(out.diagnostics[0].line, 14, "{text}: the timespan's line");
            }
        }
    }
}
