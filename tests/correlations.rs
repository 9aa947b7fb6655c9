//! The correlation suite: every case in `correlations/*.yml` is a set of rule documents
//! (detections and correlations), JSON Lines events in input order, and the exact list of
//! alerts they must raise, in order (with the warnings of groups that reach a bound); or rules
//! that must be rejected. `max_groups` and `max_distinct_values` set the correlator's bounds.

use serde_json::Value;
use sigil_compiler::yaml::{Kind, Node};
use sigil_compiler::Options;
use sigil_engine::alert::event_time_ms;
use sigil_engine::correlate::{Correlator, EventRef, Measure, DEFAULT_MAX_DISTINCT_VALUES};
use sigil_engine::{Engine, Json, Routing, Scratch};
use sigil_tests::{files_under, list_of, repo_root, str_of, to_json, yaml_file};
use std::sync::Arc;

/// One alert as the suite writes it.
#[derive(Debug, PartialEq)]
enum Got {
    Detection { title: String, line: u64 },
    Correlation { title: String, group: Value, measure: Value, events: Vec<u64> },
    Warning(String),
}

/// The correlator's bounds for one case.
#[derive(Clone, Copy)]
struct Bounds {
    max_groups: usize,
    max_distinct_values: usize,
}

impl Bounds {
    fn correlator(self, engine: &Engine) -> Correlator {
        let mut correlator = Correlator::new(engine.plan(), self.max_groups);
        correlator.set_max_distinct_values(self.max_distinct_values);
        correlator
    }
}

/// Runs the events in order; with `split_at`, the correlation state is saved after that many
/// lines, serialized, and restored into a fresh correlator, as `sigil hunt --state` does
/// between two runs.
fn run(rules: &str, events: &str, bounds: Bounds, split_at: Option<usize>) -> Result<Vec<Got>, String> {
    let out = sigil_compiler::compile_str("case.yml", rules, &Options::default());
    if let Some(d) = out.diagnostics.first() {
        return Err(d.to_string());
    }
    let engine = Engine::new(out.plan).map_err(|e| e.to_string())?;
    let mut correlator = bounds.correlator(&engine);
    let mut scratch = Scratch::default();
    let mut got = Vec::new();
    let file: Arc<str> = Arc::from("events");
    let mut last_time = 0;
    for (i, line) in events.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        if split_at == Some(i) {
            let saved = serde_json::to_string(&correlator.save()).map_err(|e| e.to_string())?;
            correlator = bounds.correlator(&engine);
            correlator.restore(serde_json::from_str(&saved).map_err(|e| e.to_string())?)?;
        }
        let event = Json::parse(line.trim()).map_err(|e| format!("event {}: {e}", i + 1))?;
        let mut detections = Vec::new();
        engine.evaluate_text(&mut scratch, &event, line.trim(), &Routing::All, &mut detections);
        let mut feeds = Vec::new();
        for d in &detections {
            correlator.feeds_for_rule(d.rule, &event, &mut feeds);
            let rule = &engine.rules()[d.rule];
            if rule.alert {
                got.push(Got::Detection { title: rule.info.title.clone(), line: i as u64 + 1 });
            }
        }
        if feeds.is_empty() {
            continue;
        }
        let time = event_time_ms(&event, None).unwrap_or(last_time);
        last_time = time;
        for alert in correlator.observe(time, EventRef { file: Arc::clone(&file), line: i as u64 + 1 }, feeds) {
            let corr = correlator.correlation(alert.correlation);
            if corr.emit {
                got.push(Got::Correlation {
                    title: corr.info.title.clone(),
                    group: Value::Object(alert.group.clone()),
                    measure: match alert.measure {
                        Measure::Count(n) => Value::from(n),
                        Measure::Value(v) => Value::from(v),
                    },
                    events: alert.events.iter().map(|e| e.line).collect(),
                });
            }
        }
        got.extend(correlator.take_warnings().into_iter().map(Got::Warning));
    }
    Ok(got)
}

fn expected(case: &Node) -> Vec<Got> {
    list_of(case, "expect")
        .iter()
        .map(|e| {
            if let Some(title) = str_of(e, "detection") {
                let line = match e.get("line").map(|n| &n.kind) {
                    Some(Kind::Int(i)) => *i as u64,
                    _ => panic!("a detection expectation needs 'line'"),
                };
                return Got::Detection { title: title.to_string(), line };
            }
            if let Some(text) = str_of(e, "warning") {
                return Got::Warning(text.to_string());
            }
            let title =
                str_of(e, "correlation").expect("an expectation names a detection or a correlation").to_string();
            let measure = e.get("count").or_else(|| e.get("value")).map(to_json).expect("count or value");
            let measure = match measure {
                Value::Number(n) if e.get("value").is_some() => Value::from(n.as_f64().unwrap()),
                other => other,
            };
            let events = list_of(e, "events")
                .iter()
                .map(|n| match n.kind {
                    Kind::Int(i) => i as u64,
                    _ => panic!("events are line numbers"),
                })
                .collect();
            let group = e.get("group").map(to_json).unwrap_or_else(|| Value::Object(Default::default()));
            Got::Correlation { title, group, measure, events }
        })
        .collect()
}

#[test]
fn correlation_suite() {
    let dir = repo_root().join("tests").join("correlations");
    let files = files_under(&dir, &["yml"]);
    assert!(!files.is_empty(), "no correlation cases in {}", dir.display());
    let (mut passed, mut failures) = (0, Vec::new());
    for file in &files {
        let doc = yaml_file(file);
        for case in list_of(&doc, "cases") {
            let name = str_of(case, "name").expect("every case has a name");
            let where_ = format!("{} / {name}", file.file_name().unwrap().to_string_lossy());
            let rules = str_of(case, "rules").expect("every case has rules");
            let events = str_of(case, "events").unwrap_or_default();
            let number = |key: &str, default: usize| match case.get(key).map(|n| &n.kind) {
                Some(Kind::Int(n)) => *n as usize,
                _ => default,
            };
            let bounds = Bounds {
                max_groups: number("max_groups", 100_000),
                max_distinct_values: number("max_distinct_values", DEFAULT_MAX_DISTINCT_VALUES),
            };
            let split_at = match case.get("split_at").map(|n| &n.kind) {
                Some(Kind::Int(n)) => Some(*n as usize),
                _ => None,
            };
            match (run(rules, events, bounds, split_at), str_of(case, "rejected")) {
                (Err(_), Some(_)) => passed += 1,
                (Ok(_), Some(reason)) => failures.push(format!("{where_}: compiled, but must be rejected ({reason})")),
                (Err(e), None) => failures.push(format!("{where_}: {e}")),
                (Ok(got), None) => {
                    let want = expected(case);
                    if got == want {
                        passed += 1;
                    } else {
                        failures.push(format!("{where_}:\n  expected {want:?}\n  got      {got:?}"));
                    }
                }
            }
        }
    }
    println!("correlations: {passed} cases passed, {} failed", failures.len());
    assert!(failures.is_empty(), "{} correlation failures:\n{}", failures.len(), failures.join("\n"));
}
