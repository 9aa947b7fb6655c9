//! `sigil test PATH...`: every rule file's unit tests, from its sidecar `RULE.tests.yml`.
//!
//! The sidecar (documented in `sigma-rules/README.md`) lists `match` cases, which must raise an
//! alert, and `no_match` cases, which must not. A case is one event (a JSON object) or a
//! sequence of events in time order (for correlation rules); each case runs in a fresh session,
//! with the events routed as `sigil hunt` routes them. A failure says which case, where, and
//! why: the alert it should not have raised, or, for a missed match, whether routing kept the
//! rule away from the event.

use crate::rules;
use crate::TestArgs;
use sigil_compiler::yaml::{self, Kind, Node};
use sigil_engine::route::recognize;
use sigil_engine::session::Session;
use sigil_engine::{Json, Routing};
use std::path::Path;
use std::process::ExitCode;

pub fn run(args: TestArgs) -> Result<ExitCode, String> {
    let options = rules::options(&args.rule_args)?;
    let files = rules::rule_files(&args.paths)?;
    let (mut passed, mut failed, mut rules_tested) = (0u64, 0u64, 0u64);
    for file in &files {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {name}: {e}"))?;
        let out = sigil_compiler::compile_str(&name, &text, &options);
        if let Some(d) = out.diagnostics.first() {
            failed += 1;
            println!("FAIL {name}: the rule is rejected: {d}");
            continue;
        }
        let sidecar = sidecar_of(file);
        let Some(cases) = read_cases(&sidecar, &mut |message| {
            failed += 1;
            println!("FAIL {name}: {message}");
        }) else {
            continue;
        };
        rules_tested += 1;
        for case in &cases {
            match case.run(&out.plan) {
                Ok(()) => passed += 1,
                Err(reason) => {
                    failed += 1;
                    println!(
                        "FAIL {name}: {} case {} ({}:{}): {reason}",
                        case.kind,
                        case.index,
                        sidecar.display(),
                        case.line
                    );
                }
            }
        }
    }
    eprintln!("sigil: {} rule files, {rules_tested} with tests", files.len());
    println!("{passed} passed, {failed} failed");
    Ok(if failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `rules/x.yml` → `rules/x.tests.yml`.
pub fn sidecar_of(rule: &Path) -> std::path::PathBuf {
    let stem = rule.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    rule.with_file_name(format!("{stem}.tests.yml"))
}

struct Case {
    kind: &'static str,
    index: usize,
    line: u32,
    events: Vec<serde_json::Value>,
    expect_alert: bool,
}

/// The cases of a sidecar, or `None` after reporting why there are none to run.
fn read_cases(path: &Path, fail: &mut dyn FnMut(String)) -> Option<Vec<Case>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        fail(format!("no tests: write {} beside the rule (see sigma-rules/README.md)", path.display()));
        return None;
    };
    let doc: Node = match yaml::parse_documents(&text) {
        Ok(mut docs) if docs.len() == 1 => docs.remove(0),
        Ok(docs) => {
            fail(format!("{}: expected one YAML document, found {}", path.display(), docs.len()));
            return None;
        }
        Err(e) => {
            fail(format!("{}:{}:{}: {}", path.display(), e.pos.line, e.pos.col, e.message));
            return None;
        }
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
    if count(true) < 2 || count(false) < 2 {
        fail(format!(
            "{}: {} match and {} no_match cases; every rule needs at least 2 of each",
            path.display(),
            count(true),
            count(false)
        ));
        return None;
    }
    Some(cases)
}

impl Case {
    fn run(&self, plan: &sigil_engine::Plan) -> Result<(), String> {
        let alerts = evaluate(plan, &self.events, &Routing::Auto)?;
        match (self.expect_alert, alerts.first()) {
            (true, Some(_)) | (false, None) => Ok(()),
            (false, Some(alert)) => Err(format!("expected no alert, got {}", describe(alert))),
            (true, None) => Err(self.explain_miss(plan)),
        }
    }

    /// Why a match case raised nothing: routing, or the detection itself.
    fn explain_miss(&self, plan: &sigil_engine::Plan) -> String {
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
fn evaluate(
    plan: &sigil_engine::Plan,
    events: &[serde_json::Value],
    routing: &Routing,
) -> Result<Vec<serde_json::Value>, String> {
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
