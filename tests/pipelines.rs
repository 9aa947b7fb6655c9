//! Processing pipelines (pySigma format), applied at compile time.
//!
//! `pipelines/*.yml` holds the cases: one or more pipelines (YAML text, or built-ins by name), a
//! rule file (detections, filters, correlations), JSON Lines events, and the 1-based lines whose
//! detections must fire (every other line must not), the correlation alerts (line and group), or
//! the error a pipeline or the rule must be rejected with. `pipelines_end_to_end_ecs` runs SigmaHQ's
//! process_creation rules over real Sysmon events twice: as they are, and with `ecs` over the
//! events rewritten to the ECS layout, and requires the same alerts.

use serde_json::{Map, Value};
use sigil_compiler::yaml::{Kind, Node};
use sigil_compiler::{Options, Pipeline, Placeholders};
use sigil_engine::alert::event_time_ms;
use sigil_engine::correlate::{Correlator, EventRef};
use sigil_engine::{Engine, Json, Routing, Scratch};
use sigil_tests::{files_under, list_of, repo_root, shared_dir, str_of, to_json, yaml_file};
use std::collections::BTreeSet;
use std::io::BufRead;
use std::sync::Arc;

fn numbers(case: &Node, key: &str) -> Vec<u64> {
    list_of(case, key)
        .iter()
        .map(|n| match n.kind {
            Kind::Int(i) => i as u64,
            _ => panic!("'{key}' lists line numbers"),
        })
        .collect()
}

fn placeholders(case: &Node) -> Placeholders {
    let mut out = Placeholders::new();
    if let Some(Node { kind: Kind::Map(entries), .. }) = case.get("placeholders") {
        for (k, v) in entries {
            let values = match &v.kind {
                Kind::Seq(items) => items.iter().filter_map(|i| i.scalar_text()).collect(),
                _ => vec![v.scalar_text().unwrap_or_default()],
            };
            out.insert(k.scalar_text().unwrap(), values);
        }
    }
    out
}

/// The case's pipelines, or the pipeline error as `line:col: message`.
fn pipelines(case: &Node, name: &str) -> Result<Vec<Pipeline>, String> {
    let mut texts: Vec<&str> = list_of(case, "pipelines").iter().filter_map(|n| n.as_str()).collect();
    texts.extend(str_of(case, "pipeline"));
    let mut out = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let file = format!("{name} #{}", i + 1);
        let p =
            sigil_compiler::parse_pipeline(&file, text).map_err(|d| format!("{}:{}: {}", d.line, d.col, d.message))?;
        out.push(p);
    }
    for b in list_of(case, "builtins") {
        let b = b.as_str().expect("builtins are names");
        out.push(sigil_compiler::builtin_pipeline(b).unwrap_or_else(|| panic!("no built-in pipeline '{b}'")));
    }
    Ok(out)
}

/// What the events raised: detection lines, and correlation alerts as (line, group).
type Raised = (Vec<u64>, Vec<(u64, Value)>);

fn run(engine: &Engine, events: &str) -> Result<Raised, String> {
    let mut correlator = Correlator::new(engine.plan(), 100_000);
    let mut scratch = Scratch::default();
    let (mut lines, mut correlations) = (Vec::new(), Vec::new());
    let file: Arc<str> = Arc::from("events");
    for (i, line) in events.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let n = i as u64 + 1;
        let event = Json::parse(line.trim()).map_err(|e| format!("event {n}: {e}"))?;
        let mut detections = Vec::new();
        engine.evaluate_text(&mut scratch, &event, line.trim(), &Routing::All, &mut detections);
        let mut feeds = Vec::new();
        for d in &detections {
            correlator.feeds_for_rule(d.rule, &event, &mut feeds);
            if engine.rules()[d.rule].alert && lines.last() != Some(&n) {
                lines.push(n);
            }
        }
        if feeds.is_empty() {
            continue;
        }
        let time = event_time_ms(&event, None).unwrap_or(0);
        for alert in correlator.observe(time, EventRef { file: Arc::clone(&file), line: n }, feeds) {
            if correlator.correlation(alert.correlation).emit {
                correlations.push((n, Value::Object(alert.group.clone())));
            }
        }
    }
    Ok((lines, correlations))
}

/// Runs one case; `Ok(())` when it holds.
fn check(case: &Node, name: &str) -> Result<(), String> {
    let pipeline_error = case.get("pipeline_error");
    let pipelines = match (pipelines(case, name), pipeline_error) {
        (Err(got), Some(want)) => {
            let want = want.as_str().expect("pipeline_error is 'line:col: message part'");
            let (at, part) = want.split_once(' ').unwrap_or((want, ""));
            return if got.starts_with(at) && got.contains(part) {
                Ok(())
            } else {
                Err(format!("pipeline rejected with '{got}', expected '{want}'"))
            };
        }
        (Err(got), None) => return Err(format!("pipeline rejected: {got}")),
        (Ok(_), Some(want)) => return Err(format!("the pipeline was accepted, but must be rejected ({want:?})")),
        (Ok(p), None) => p,
    };
    let rule = str_of(case, "rule").ok_or("the case has no rule")?;
    let options = Options { placeholders: placeholders(case), pipelines, ..Options::default() };
    let out = sigil_compiler::compile_str("rule.yml", rule, &options);
    if let Some(want) = str_of(case, "rule_error") {
        return match out.diagnostics.first() {
            Some(d) if d.to_string().contains(want) => Ok(()),
            Some(d) => Err(format!("rejected with '{d}', expected '{want}'")),
            None => Err(format!("the rule compiled, but must be rejected ({want})")),
        };
    }
    if let Some(d) = out.diagnostics.first() {
        return Err(format!("rule rejected: {d}"));
    }
    let engine = Engine::new(out.plan).map_err(|e| e.to_string())?;
    let (lines, correlations) = run(&engine, str_of(case, "events").unwrap_or_default())?;
    let want = numbers(case, "matches");
    if lines != want {
        return Err(format!("expected detections on lines {want:?}, got {lines:?}"));
    }
    if case.get("correlations").is_some() {
        let want: Vec<(u64, Value)> = list_of(case, "correlations")
            .iter()
            .map(|c| {
                let line = match c.get("line").map(|n| &n.kind) {
                    Some(Kind::Int(i)) => *i as u64,
                    _ => panic!("a correlation expectation has a 'line'"),
                };
                (line, c.get("group").map(to_json).unwrap_or_else(|| Value::Object(Map::new())))
            })
            .collect();
        if correlations != want {
            return Err(format!("expected correlation alerts {want:?}, got {correlations:?}"));
        }
    }
    Ok(())
}

#[test]
fn pipeline_cases() {
    let dir = repo_root().join("tests").join("pipelines");
    let files = files_under(&dir, &["yml"]);
    assert!(!files.is_empty(), "no pipeline cases in {}", dir.display());
    let (mut passed, mut failures) = (0, Vec::new());
    let mut names = BTreeSet::new();
    for file in &files {
        let doc = yaml_file(file);
        for case in list_of(&doc, "cases") {
            let name = str_of(case, "name").expect("every case has a name");
            assert!(names.insert(name.to_string()), "duplicate case name '{name}'");
            let where_ = format!("{} / {name}", file.file_name().unwrap().to_string_lossy());
            match check(case, name) {
                Ok(()) => passed += 1,
                Err(e) => failures.push(format!("{where_}: {e}")),
            }
        }
    }
    println!("pipelines: {passed} cases passed, {} failed", failures.len());
    assert!(failures.is_empty(), "{} pipeline failures:\n{}", failures.len(), failures.join("\n"));
    assert!(passed >= 40, "the suite must hold at least 40 cases, found {passed}");
}

/// Every SigmaHQ rule that compiles without pipelines compiles with each built-in (and with
/// `windows` + `ecs`), and the pipelines change what they claim to.
#[test]
fn sigmahq_rules_compile_with_every_builtin() {
    let Some(shared) = shared_dir("sigmahq_rules_compile_with_every_builtin") else { return };
    let dirs: Vec<_> = sigil_tests::SIGMAHQ_ACTIVE_DIRS.iter().map(|d| shared.join("sigma").join(d)).collect();
    let base = sigil_tests::sigmahq_placeholder_options();
    let plain = sigil_tests::compile_dirs(&dirs, base.clone());
    let builtin = |n: &str| sigil_compiler::builtin_pipeline(n).unwrap();
    for names in [vec!["ecs"], vec!["ocsf"], vec!["windows"], vec!["windows", "ecs"]] {
        let options = Options { pipelines: names.iter().map(|n| builtin(n)).collect(), ..base.clone() };
        let mapped = sigil_tests::compile_dirs(&dirs, options);
        let rejected: Vec<String> = mapped.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(mapped.diagnostics.len(), plain.diagnostics.len(), "{names:?} rejects other rules: {rejected:#?}");
        assert_eq!(mapped.plan.rules.len(), plain.plan.rules.len(), "{names:?}");
        let fields: BTreeSet<String> = mapped
            .plan
            .predicates
            .iter()
            .filter_map(|p| match &p.target {
                sigil_engine::plan::Target::Field(f) => Some(f.clone()),
                _ => None,
            })
            .collect();
        let expect: &[&str] = match names.as_slice() {
            ["ecs"] => &["process.command_line", "process.parent.executable", "winlog.event_data.IntegrityLevel"],
            ["ocsf"] => &["process.cmd_line", "api.operation", "class_uid"],
            ["windows"] => &["Channel"],
            _ => &["winlog.channel", "process.command_line"],
        };
        for f in expect {
            assert!(fields.contains(*f), "{names:?}: no predicate on '{f}'");
        }
        println!("{names:?}: {} rules, {} fields", mapped.plan.rules.len(), fields.len());
    }
    // Every field a Windows rule reads is an ECS name or under winlog.event_data with `ecs`.
    let windows = [shared.join("sigma/rules/windows")];
    let ecs = Options { pipelines: vec![builtin("ecs")], ..base.clone() };
    let plan = sigil_tests::compile_dirs(&windows, ecs).plan;
    let sigma_names: BTreeSet<&str> = plan
        .predicates
        .iter()
        .flat_map(|p| {
            let field = match &p.target {
                sigil_engine::plan::Target::Field(f) => Some(f.as_str()),
                _ => None,
            };
            let other = match &p.test {
                sigil_engine::plan::Test::FieldRef { other, .. } => Some(other.as_str()),
                _ => None,
            };
            field.into_iter().chain(other)
        })
        .filter(|f| !f.contains('.'))
        .collect();
    assert!(sigma_names.is_empty(), "ecs left Sigma field names in Windows rules: {sigma_names:?}");
}

/// Sigma's Sysmon names → where Winlogbeat 7+ puts them in a process creation event (ECS). Written
/// here from ECS and Winlogbeat's Sysmon module, not read from the `ecs` pipeline.
const ECS_PROCESS_CREATION: &[(&str, &str)] = &[
    ("CommandLine", "process.command_line"),
    ("Image", "process.executable"),
    ("ProcessId", "process.pid"),
    ("ProcessGuid", "process.entity_id"),
    ("CurrentDirectory", "process.working_directory"),
    ("OriginalFileName", "process.pe.original_file_name"),
    ("FileVersion", "process.pe.file_version"),
    ("Description", "process.pe.description"),
    ("Product", "process.pe.product"),
    ("Company", "process.pe.company"),
    ("ParentImage", "process.parent.executable"),
    ("ParentCommandLine", "process.parent.command_line"),
    ("ParentProcessId", "process.parent.pid"),
    ("ParentProcessGuid", "process.parent.entity_id"),
    ("User", "user.name"),
    ("EventID", "event.code"),
    ("Channel", "winlog.channel"),
    ("@timestamp", "@timestamp"),
];

fn insert_path(object: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        Some((head, rest)) if head != "@timestamp" => {
            let child = object.entry(head.to_string()).or_insert_with(|| Value::Object(Map::new()));
            insert_path(child.as_object_mut().expect("no ECS path passes through a value"), rest, value);
        }
        _ => {
            object.insert(path.to_string(), value);
        }
    }
}

/// A flat Sysmon event (OTRF's layout) in Winlogbeat's ECS layout: the mapped fields nested,
/// every other one under `winlog.event_data`. Values are unchanged.
fn to_ecs(flat: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (k, v) in flat {
        match ECS_PROCESS_CREATION.iter().find(|(sigma, _)| sigma == k) {
            Some((_, path)) => insert_path(&mut out, path, v.clone()),
            None => {
                let data = out.entry("winlog").or_insert_with(|| Value::Object(Map::new()));
                let data =
                    data.as_object_mut().unwrap().entry("event_data").or_insert_with(|| Value::Object(Map::new()));
                data.as_object_mut().unwrap().insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn fired(engine: &Engine, event: &Value) -> BTreeSet<String> {
    let detections = engine.evaluate(&Json::from_value(event), &Routing::All);
    detections.iter().map(|d| engine.rules()[d.rule].info.id.clone()).collect()
}

#[test]
fn pipelines_end_to_end_ecs() {
    let Some(shared) = shared_dir("pipelines_end_to_end_ecs") else { return };
    let path = shared.join("datasets/windows/otrf-windows-sample.jsonl.gz");
    let rules_dir = shared.join("sigma/rules/windows/process_creation");
    if !path.is_file() || !rules_dir.is_dir() {
        println!("SKIPPED pipelines_end_to_end_ecs: {} or {} is absent", path.display(), rules_dir.display());
        return;
    }
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()));
    let mut events = Vec::new();
    for line in reader.lines() {
        let line = line.unwrap();
        let Ok(Value::Object(e)) = serde_json::from_str::<Value>(&line) else { continue };
        let sysmon = e.get("Channel").and_then(Value::as_str) == Some("Microsoft-Windows-Sysmon/Operational");
        let eid = e.get("EventID").map(|v| v.to_string().trim_matches('"').to_string());
        if sysmon && eid.as_deref() == Some("1") {
            events.push(e);
        }
    }
    assert!(events.len() >= 100, "only {} Sysmon process creation events", events.len());

    let base = sigil_tests::sigmahq_placeholder_options();
    let plain = sigil_tests::compile_dirs(std::slice::from_ref(&rules_dir), base.clone());
    let ecs = Options { pipelines: vec![sigil_compiler::builtin_pipeline("ecs").unwrap()], ..base };
    let mapped = sigil_tests::compile_dirs(std::slice::from_ref(&rules_dir), ecs);
    assert_eq!(plain.plan.rules.len(), mapped.plan.rules.len(), "ecs changed which rules compile");
    assert!(mapped.plan.rules.len() > 1000, "only {} process_creation rules", mapped.plan.rules.len());
    let plain = Engine::new(plain.plan).unwrap();
    let mapped = Engine::new(mapped.plan).unwrap();

    let (mut alerts_flat, mut alerts_ecs, mut events_alerting) = (0, 0, 0);
    let mut differences = Vec::new();
    for flat in &events {
        let ecs_event = to_ecs(flat);
        let want = fired(&plain, &Value::Object(flat.clone()));
        let got = fired(&mapped, &ecs_event);
        alerts_flat += want.len();
        alerts_ecs += got.len();
        events_alerting += usize::from(!want.is_empty());
        if want != got {
            let cmd = flat.get("CommandLine").and_then(Value::as_str).unwrap_or_default();
            differences.push(format!(
                "{cmd}: only flat {:?}, only ECS {:?}",
                want.difference(&got).collect::<Vec<_>>(),
                got.difference(&want).collect::<Vec<_>>()
            ));
        }
    }
    println!(
        "end to end: {} Sysmon process creation events, {} rules; alerts flat {alerts_flat}, ecs {alerts_ecs}, on {events_alerting} events",
        events.len(),
        plain.rules().len()
    );
    assert!(differences.is_empty(), "{} events alert differently:\n{}", differences.len(), differences.join("\n"));
    assert!(alerts_flat >= 10, "too few alerts ({alerts_flat}) to show anything");
}
