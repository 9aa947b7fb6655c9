//! The page's "why did this fire": one event and one rule of the compiled text, explained by
//! [`sigil_engine::explain`] over the compiler's outline of the rule, plus whether routing lets
//! the rule see the event at all. This module only finds the rule and the event; the truth of
//! every node comes from the engine's explain module.

use crate::options::Options;
use crate::rules;
use serde::Serialize;
use sigil_compiler::outline;
use sigil_engine::explain::{self, CorrelationExplanation, NodeResult, SelectionResult};
use sigil_engine::plan::LogSource;
use sigil_engine::session::events_in_line;
use sigil_engine::{route, Engine, Json, Plan, Routing};

#[derive(Debug, Serialize)]
pub struct Response {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub rule_id: String,
    pub title: String,
    /// `detection` or `correlation` (empty when the rule was not found).
    pub kind: &'static str,
    /// Detection: the rule fires on the event (its condition holds and routing admits the event).
    /// Correlation: the event counts towards it (a rule it reads fires).
    pub matched: bool,
    /// Whether the routing of the options lets the rule see this event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<NodeResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selections: Option<Vec<SelectionResult>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation: Option<CorrelationExplanation>,
}

impl Response {
    fn failed(rule_id: &str, error: String) -> Response {
        Response {
            ok: false,
            error: Some(error),
            rule_id: rule_id.to_string(),
            title: String::new(),
            kind: "",
            matched: false,
            routed: None,
            condition: None,
            selections: None,
            correlation: None,
        }
    }
}

pub fn explain(rules_yaml: &str, event_json: &str, rule_id: &str, options: &Options) -> Response {
    let compiled = rules::compile(rules_yaml, options);
    let plan = compiled.output.plan;
    let Some(event_text) = Some(event_json.trim()).filter(|t| !t.is_empty()) else {
        return Response::failed(rule_id, "no event: give one JSON object (a line of the events)".into());
    };
    let mut events = Vec::new();
    events_in_line(event_text, &mut |position, event| events.push((position, event)));
    let chosen = events.into_iter().find(|(position, _)| position.is_none_or(|p| p == options.record));
    let event = match chosen {
        Some((_, Ok((event, _)))) => event,
        Some((_, Err(reason))) => return Response::failed(rule_id, format!("the event is not readable: {reason}")),
        None => {
            return Response::failed(rule_id, format!("the event has no record {} in its Records list", options.record))
        }
    };
    if let Some(i) = find(plan.rules.iter().map(|r| (&r.info.id, &r.info.title)), rule_id) {
        return detection(rules_yaml, &plan, i, &event, options);
    }
    if let Some(i) = find(plan.correlations.iter().map(|c| (&c.info.id, &c.info.title)), rule_id) {
        return correlation(plan, i, &event, options);
    }
    let known: Vec<&str> = compiled.rules.iter().map(|r| r.id.as_str()).filter(|id| !id.is_empty()).collect();
    Response::failed(
        rule_id,
        format!(
            "no loaded rule has the id '{rule_id}' (loaded: {})",
            if known.is_empty() { "none".into() } else { known.join(", ") }
        ),
    )
}

/// The rule whose id (or, for rules without one, title) is `wanted`.
fn find<'a>(mut rules: impl Iterator<Item = (&'a String, &'a String)>, wanted: &str) -> Option<usize> {
    rules.position(|(id, title)| id == wanted || (id.is_empty() && title == wanted))
}

fn detection(rules_yaml: &str, plan: &Plan, index: usize, event: &Json<'_>, options: &Options) -> Response {
    let rule = &plan.rules[index];
    let outlines = outline::file(&options.file, rules_yaml, &rules::compiler_options(options));
    // The outlines list exactly the rules the compiler loaded, in plan order.
    let outline = outlines.get(index).filter(|o| o.info.id == rule.info.id && o.info.title == rule.info.title);
    let Some(outline) = outline else {
        return Response::failed(
            &rule.info.id,
            "internal error: the rule's outline does not line up with the plan".into(),
        );
    };
    let explanation = match explain::explain(&outline.outline, event) {
        Ok(e) => e,
        Err(e) => return Response::failed(&rule.info.id, format!("the rule cannot be evaluated: {}", e.0)),
    };
    let routed = routes(&options.routing, event, &rule.logsource);
    Response {
        ok: true,
        error: None,
        rule_id: rule.info.id.clone(),
        title: rule.info.title.clone(),
        kind: "detection",
        matched: explanation.matched && routed,
        routed: Some(routed),
        condition: Some(explanation.condition),
        selections: Some(explanation.selections),
        correlation: None,
    }
}

/// Whether the engine evaluates a rule of this logsource on the event (eval.rs routes the same way).
fn routes(routing: &Routing, event: &Json<'_>, logsource: &LogSource) -> bool {
    match routing {
        Routing::All => true,
        Routing::Declared(declared) => declared.admits(logsource),
        Routing::Auto => route::recognize(event).admits(logsource),
    }
}

fn correlation(plan: Plan, index: usize, event: &Json<'_>, options: &Options) -> Response {
    let info = plan.correlations[index].info.clone();
    let engine = match Engine::new(plan) {
        Ok(engine) => engine,
        Err(e) => return Response::failed(&info.id, e.to_string()),
    };
    let Some(explanation) = explain::explain_correlation(&engine, index, event, &options.routing) else {
        return Response::failed(&info.id, "internal error: the correlation is missing from the plan".into());
    };
    Response {
        ok: true,
        error: None,
        rule_id: info.id,
        title: info.title,
        kind: "correlation",
        matched: explanation.counted,
        routed: None,
        condition: None,
        selections: None,
        correlation: Some(explanation),
    }
}
