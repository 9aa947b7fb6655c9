//! The playground's API as plain Rust: strings in, one JSON string out, never a panic on any
//! input (errors are values in the JSON). `lib.rs` exports these unchanged to JavaScript; the
//! native tests call them directly. The shapes are the page's contract (web-playground/www).

use crate::options::{self, EVENTS_FILE, MAX_GROUPS};
use crate::rules::{self, Diagnostic, RuleSummary};
use crate::{hunt, ocsf, why};
use serde::Serialize;
use sigil_engine::PLAN_FORMAT_VERSION;

/// `sigil 0.1.0 (plan format 4)`.
pub fn version() -> String {
    format!("sigil {} (plan format {PLAN_FORMAT_VERSION})", env!("CARGO_PKG_VERSION"))
}

#[derive(Serialize)]
struct CompileResponse {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    rules: Vec<RuleSummary>,
    diagnostics: Vec<Diagnostic>,
}

/// Compiles the rule text: the rules loaded and the diagnostics of those that were not.
pub fn compile(rules_yaml: &str, options_json: &str) -> String {
    let options = match options::parse(options_json) {
        Ok(o) => o,
        Err(e) => return to_json(&CompileResponse { ok: false, error: Some(e), rules: vec![], diagnostics: vec![] }),
    };
    let compiled = rules::compile(rules_yaml, &options);
    to_json(&CompileResponse {
        ok: !has_errors(&compiled.diagnostics),
        error: None,
        rules: compiled.rules,
        diagnostics: compiled.diagnostics,
    })
}

#[derive(Serialize, Default)]
struct EvaluateResponse {
    /// No rule rejected and the events were evaluated.
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    diagnostics: Vec<Diagnostic>,
    alerts_jsonl: String,
    alerts: Vec<hunt::AlertSummary>,
    hits: Vec<Hits>,
    events: EventCounts,
}

#[derive(Serialize)]
struct Hits {
    rule_id: String,
    title: String,
    count: u64,
}

#[derive(Serialize, Default)]
struct EventCounts {
    read: u64,
    rejected: u64,
    errors: Vec<hunt::EventError>,
}

/// Runs the events through the compiled rules as `sigil hunt --rules rule.yml events.jsonl
/// --format jsonl` does; `alerts_jsonl` is the CLI's output, byte for byte.
pub fn evaluate(rules_yaml: &str, events_jsonl: &str, options_json: &str) -> String {
    let options = match options::parse(options_json) {
        Ok(o) => o,
        Err(e) => return to_json(&EvaluateResponse { error: Some(e), ..Default::default() }),
    };
    let compiled = rules::compile(rules_yaml, &options);
    let mut response = EvaluateResponse { diagnostics: compiled.diagnostics, ..Default::default() };
    let plan = compiled.output.plan;
    if plan.rules.is_empty() {
        response.error = Some("no rule could be loaded: nothing to evaluate with (see the diagnostics)".into());
        return to_json(&response);
    }
    // Every rule whose matches are alerts, detections then correlations, as the page lists them.
    let mut hits: Vec<Hits> = plan
        .rules
        .iter()
        .filter(|r| r.alert)
        .map(|r| &r.info)
        .chain(plan.correlations.iter().filter(|c| c.emit).map(|c| &c.info))
        .map(|info| Hits { rule_id: info.id.clone(), title: info.title.clone(), count: 0 })
        .collect();
    let outcome = match hunt::run(plan, events_jsonl, &options.routing, EVENTS_FILE, MAX_GROUPS) {
        Ok(outcome) => outcome,
        Err(e) => {
            response.error = Some(e);
            return to_json(&response);
        }
    };
    for alert in &outcome.alerts {
        if let Some(h) = hits.iter_mut().find(|h| h.rule_id == alert.rule_id && h.title == alert.title) {
            h.count += 1;
        }
    }
    response.ok = !has_errors(&response.diagnostics);
    response.alerts_jsonl = String::from_utf8_lossy(&outcome.alerts_jsonl).into_owned();
    response.alerts = outcome.alerts;
    response.hits = hits;
    response.events = EventCounts { read: outcome.read, rejected: outcome.rejected, errors: outcome.errors };
    to_json(&response)
}

/// Why rule `rule_id` (its id, or its title when it has none) does or does not fire on the event.
pub fn explain(rules_yaml: &str, event_json: &str, rule_id: &str, options_json: &str) -> String {
    match options::parse(options_json) {
        Ok(options) => to_json(&why::explain(rules_yaml, event_json, rule_id, &options)),
        Err(e) => to_json(&serde_json::json!({ "ok": false, "error": e, "rule_id": rule_id })),
    }
}

/// The event on one JSON Lines line as OCSF, as `sigil normalize --to ocsf` writes it (for a
/// `{"Records": [...]}` line, record `options.record`): the OCSF object, or why there is none.
pub fn normalize(event_json: &str, options_json: &str) -> String {
    match options::parse(options_json) {
        Ok(options) => to_json(&ocsf::normalize(event_json, options.record)),
        Err(e) => to_json(&serde_json::json!({ "ok": false, "error": e })),
    }
}

/// Alert lines (`evaluate`'s `alerts_jsonl`) as OCSF Detection Findings: `findings_jsonl` is
/// what `sigil hunt --format ocsf` prints for the same rules and events, byte for byte.
pub fn findings(alerts_jsonl: &str) -> String {
    to_json(&ocsf::findings(alerts_jsonl))
}

fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.severity == "error")
}

fn to_json(value: &impl Serialize) -> String {
    // Only a map with non-string keys could fail to serialize; none of these responses has one.
    serde_json::to_string(value)
        .unwrap_or_else(|e| serde_json::json!({ "ok": false, "error": format!("internal error: {e}") }).to_string())
}
