//! A rule's unit tests, from its sidecar `RULE.tests.yml` (documented in `sigma-rules/README.md`):
//! `match` cases must raise an alert, `no_match` cases must not. A case is one event (a JSON
//! object) or a sequence of events in time order (for correlation rules); each case runs in a
//! fresh [`Session`], with the events routed as `sigil hunt` routes them. A failure says why:
//! the alert it should not have raised, or, for a missed match, whether routing kept the rule
//! away from the event.
//!
//! Architecture invariant: no I/O. The caller reads the sidecar's text and compiles the rule;
//! this crate parses the cases and runs them, so `sigil test`, the playground or a CI bot judge a
//! rule with the same code.

use sigil_compiler::yaml::{self, Kind, Node};
use sigil_engine::route::recognize;
use sigil_engine::session::Session;
use sigil_engine::{Json, Plan, Routing};
use std::fmt;

/// One test case of a sidecar.
pub struct Case {
    /// `match` or `no_match`.
    pub kind: &'static str,
    /// 1-based among the cases of its kind.
    pub index: usize,
    /// Where it starts in the sidecar.
    pub line: u32,
    pub events: Vec<serde_json::Value>,
    pub expect_alert: bool,
}

/// Why a sidecar holds no cases to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarError {
    /// Line and column, when the YAML itself is broken.
    pub at: Option<(u32, u32)>,
    pub message: String,
}

impl fmt::Display for SidecarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, col)) => write!(f, "{line}:{col}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Every rule needs at least this many cases of each kind.
pub const MIN_CASES_OF_EACH_KIND: usize = 2;

/// The cases of a sidecar's text.
pub fn parse_cases(text: &str) -> Result<Vec<Case>, SidecarError> {
    let error = |message: String| SidecarError { at: None, message };
    let doc: Node = match yaml::parse_documents(text) {
        Ok(mut docs) if docs.len() == 1 => docs.remove(0),
        Ok(docs) => return Err(error(format!("expected one YAML document, found {}", docs.len()))),
        Err(e) => return Err(SidecarError { at: Some((e.pos.line, e.pos.col)), message: e.message }),
    };
    let mut cases = Vec::new();
    for (key, expect_alert) in [("match", true), ("no_match", false)] {
        let items = match doc.get(key).map(|n| &n.kind) {
            Some(Kind::Seq(items)) => items.as_slice(),
            _ => &[],
        };
        for (i, item) in items.iter().enumerate() {
            let events = match &item.kind {
                Kind::Seq(seq) => seq.iter().map(Node::to_json).collect(),
                _ => vec![item.to_json()],
            };
            cases.push(Case { kind: key, index: i + 1, line: item.pos.line, events, expect_alert });
        }
    }
    let count = |expect: bool| cases.iter().filter(|c| c.expect_alert == expect).count();
    if count(true) < MIN_CASES_OF_EACH_KIND || count(false) < MIN_CASES_OF_EACH_KIND {
        return Err(error(format!(
            "{} match and {} no_match cases; every rule needs at least {MIN_CASES_OF_EACH_KIND} of each",
            count(true),
            count(false)
        )));
    }
    Ok(cases)
}

impl Case {
    /// Runs the case against a rule's plan: `Err` says why it failed.
    pub fn run(&self, plan: &Plan) -> Result<(), String> {
        let alerts = evaluate(plan, &self.events, &Routing::Auto)?;
        match (self.expect_alert, alerts.first()) {
            (true, Some(_)) | (false, None) => Ok(()),
            (false, Some(alert)) => Err(format!("expected no alert, got {}", describe(alert))),
            (true, None) => Err(self.explain_miss(plan)),
        }
    }

    /// Why a match case raised nothing: routing, or the detection itself.
    fn explain_miss(&self, plan: &Plan) -> String {
        let routed_away = evaluate(plan, &self.events, &Routing::All).is_ok_and(|a| !a.is_empty());
        if !routed_away {
            return "expected an alert, got none (the detection does not match: check field names and values)".into();
        }
        let sources: Vec<String> = self
            .events
            .iter()
            .map(|e| recognize(&sigil_engine::layout::flatten(Json::from_value(e))).to_string())
            .collect();
        let wanted: Vec<String> = plan.rules.iter().map(|r| format!("{:?}", r.logsource)).collect();
        format!(
            "expected an alert, got none: the event was routed as [{}], which the rule's logsource ({}) does not admit; \
             it fires when every rule sees every event",
            sources.join(", "),
            wanted.join(", ")
        )
    }
}

/// The alerts raised over the events, in a fresh session.
fn evaluate(plan: &Plan, events: &[serde_json::Value], routing: &Routing) -> Result<Vec<serde_json::Value>, String> {
    let mut session = Session::new(plan.clone(), 100_000).map_err(|e| e.to_string())?;
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    let mut out = Vec::new();
    let report = session.eval_jsonl("case", 1, &text, routing, &mut out);
    if let Some(note) = report.notes.first() {
        return Err(format!("an event is malformed: {note}"));
    }
    String::from_utf8_lossy(&out).lines().map(|l| serde_json::from_str(l).map_err(|e| e.to_string())).collect()
}

/// An alert in one line: the rule and what matched.
fn describe(alert: &serde_json::Value) -> String {
    let title = alert["rule"]["title"].as_str().unwrap_or("?");
    match alert["matched"].as_object() {
        Some(m) if !m.is_empty() => {
            let fields: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("\"{title}\" (matched {})", fields.join(", "))
        }
        _ => format!("\"{title}\" ({})", alert["kind"].as_str().unwrap_or("alert")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str =
        "title: t\nid: 5d6f1c8e-3a4b-4c2d-9e1f-0a1b2c3d4e5f\nlogsource: {product: aws, service: cloudtrail}\n\
                        detection:\n  sel: {eventName: DeleteTrail}\n  condition: sel\nlevel: high\n";

    fn plan() -> Plan {
        let out = sigil_compiler::compile_str("t.yml", RULE, &sigil_compiler::Options::default());
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        out.plan
    }

    #[test]
    fn match_and_no_match_cases_pass_and_fail_as_the_rule_decides() {
        let cases = parse_cases(
            "match:\n  - {eventSource: cloudtrail.amazonaws.com, eventName: DeleteTrail}\n  - {eventName: DeleteTrail}\n\
             no_match:\n  - {eventName: CreateTrail}\n  - {eventName: DeleteTrail}\n",
        )
        .unwrap();
        let results: Vec<bool> = cases.iter().map(|c| c.run(&plan()).is_ok()).collect();
        assert_eq!(results, [true, true, true, false], "the last no_match case raises an alert");
        assert!(cases[3].run(&plan()).unwrap_err().starts_with("expected no alert, got \"t\""));
        assert_eq!((cases[2].kind, cases[2].index, cases[2].line), ("no_match", 1, 5));
    }

    #[test]
    fn too_few_cases_and_broken_yaml_are_refused_with_where() {
        let few = parse_cases("match:\n  - {a: 1}\nno_match:\n  - {a: 2}\n").err().unwrap();
        assert_eq!(few.to_string(), "1 match and 1 no_match cases; every rule needs at least 2 of each");
        let broken = parse_cases("match: [\n").err().unwrap();
        assert!(broken.at.is_some(), "{broken:?}");
    }
}
