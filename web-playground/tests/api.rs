//! The playground API, natively: evaluate prints what the engine's session (the code path of
//! `sigil hunt`) prints, its summaries describe those lines, explain agrees with evaluate, and
//! compile puts diagnostics where the rule text is broken.

use serde_json::{json, Value};
use sigil_engine::session::Session;
use sigil_engine::Routing;
use sigil_playground::api;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The texts of the pack's AWS rule files.
fn aws_rule_files() -> Vec<String> {
    let dir = repo().join("sigma-rules/rules/aws");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yml") && !p.to_string_lossy().ends_with(".tests.yml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// Every AWS rule of the pack (their correlations too) as one text of YAML documents.
fn aws_rules() -> String {
    aws_rule_files().join("\n---\n")
}

fn cloudtrail() -> String {
    std::fs::read_to_string(repo().join("examples/cloudtrail.jsonl")).unwrap()
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"))
}

/// What the engine's session prints for the text, compiled as `sigil hunt --rules rule.yml` does.
fn session_output(rules: &str, events: &str) -> String {
    let out = sigil_compiler::compile_str("rule.yml", rules, &sigil_compiler::Options::default());
    let mut session = Session::new(out.plan, 100_000).unwrap();
    let mut bytes = Vec::new();
    session.eval_jsonl("events.jsonl", 1, events, &Routing::Auto, &mut bytes);
    String::from_utf8(bytes).unwrap()
}

#[test]
fn evaluate_prints_the_sessions_alerts_and_describes_each_line() {
    let (rules, events) = (aws_rules(), cloudtrail());
    let r = parse(&api::evaluate(&rules, &events, "{}"));
    assert_eq!(r["ok"], true, "{r}");
    let jsonl = r["alerts_jsonl"].as_str().unwrap();
    assert_eq!(jsonl, session_output(&rules, &events));
    let lines: Vec<Value> = jsonl.lines().map(parse).collect();
    let alerts = r["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), lines.len());
    assert!(lines.len() >= 8, "the example's intrusion fires at least 8 alerts: {jsonl}");
    for (alert, line) in alerts.iter().zip(&lines) {
        assert_eq!(alert["rule_id"], line["rule"]["id"]);
        assert_eq!(alert["correlation"], line["kind"] == "correlation");
        if line["kind"] == "detection" {
            assert_eq!(alert["line"], line["source"]["line"]);
            assert_eq!(line["source"]["file"], "events.jsonl");
        }
    }
    assert!(alerts.iter().any(|a| a["correlation"] == true), "the sign-in correlation fires");
    let hits: u64 = r["hits"].as_array().unwrap().iter().map(|h| h["count"].as_u64().unwrap()).sum();
    assert_eq!(hits as usize, lines.len());
    assert_eq!(r["events"]["read"], events.lines().filter(|l| !l.trim().is_empty()).count());
}

#[test]
fn explain_agrees_with_evaluate_on_every_event_and_alerting_rule() {
    let events = cloudtrail();
    // The rule files that fire on the example (each file stands alone, as `sigil test` runs it):
    // every explain call compiles its text, so a short text keeps the test quick.
    let firing: Vec<String> = aws_rule_files()
        .into_iter()
        .filter(|text| !parse(&api::evaluate(text, &events, "{}"))["alerts"].as_array().unwrap().is_empty())
        .collect();
    assert!(firing.len() >= 7, "only {} rule files fire on the example", firing.len());
    let rules = firing.join("\n---\n");
    let r = parse(&api::evaluate(&rules, &events, "{}"));
    let alerts = r["alerts"].as_array().unwrap();
    let compiled = parse(&api::compile(&rules, "{}"));
    let alerting: Vec<&Value> = r["hits"].as_array().unwrap().iter().map(|h| &h["rule_id"]).collect();
    let detections = compiled["rules"].as_array().unwrap().iter().filter(|r| r["kind"] == "detection");
    let detections: Vec<&str> =
        detections.filter(|r| alerting.contains(&&r["id"])).map(|r| r["id"].as_str().unwrap()).collect();
    let mut matched = 0;
    for (i, event) in events.lines().enumerate() {
        for id in &detections {
            let e = parse(&api::explain(&rules, event, id, "{}"));
            assert_eq!(e["ok"], true, "{e}");
            let alerted = alerts.iter().any(|a| a["line"] == i + 1 && a["rule_id"] == *id && a["correlation"] == false);
            assert_eq!(e["matched"], alerted, "rule {id} on line {}: {e}", i + 1);
            assert_eq!(e["condition"]["value"].as_bool().unwrap() && e["routed"] == true, alerted);
            matched += usize::from(alerted);
        }
    }
    assert!(matched >= 7, "only {matched} explanations matched");
    let correlation = alerts.iter().find(|a| a["correlation"] == true).unwrap();
    let line = correlation["line"].as_u64().unwrap() as usize;
    let id = correlation["rule_id"].as_str().unwrap();
    let e = parse(&api::explain(&rules, events.lines().nth(line - 1).unwrap(), id, "{}"));
    assert_eq!(
        (e["ok"].clone(), e["kind"].clone(), e["matched"].clone()),
        (json!(true), json!("correlation"), json!(true))
    );
    assert!(!e["correlation"]["rules"].as_array().unwrap().is_empty(), "{e}");
}

#[test]
fn explain_shows_the_matched_field_and_refuses_what_it_cannot_explain() {
    let rule = "title: stop logging\nid: 0e95725d-7320-415d-80f7-004da920fc11\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  selection:\n    eventName|contains: [StopLogging, DeleteTrail]\n  condition: selection\n";
    let event = r#"{"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging"}"#;
    let e = parse(&api::explain(rule, event, "0e95725d-7320-415d-80f7-004da920fc11", "{}"));
    assert_eq!((e["matched"].clone(), e["condition"]["op"].clone()), (json!(true), json!("selection")));
    let item = &e["selections"][0]["items"][0];
    assert_eq!(item["field"], "eventName");
    assert_eq!(item["modifiers"], json!(["contains"]));
    assert_eq!(item["matched_value"], "StopLogging");
    assert_eq!(item["event_value"], "StopLogging");
    let unknown = parse(&api::explain(rule, event, "nope", "{}"));
    assert_eq!(unknown["ok"], false);
    assert!(unknown["error"].as_str().unwrap().contains("'nope'"));
    let broken = parse(&api::explain(rule, "{oops", "0e95725d-7320-415d-80f7-004da920fc11", "{}"));
    assert!(broken["error"].as_str().unwrap().contains("invalid JSON"), "{broken}");
    let options = parse(&api::explain(rule, event, "x", r#"{"routing": "sideways"}"#));
    assert!(options["error"].as_str().unwrap().starts_with("options.routing"), "{options}");
}

#[test]
fn compile_points_at_the_broken_document_and_lists_the_others() {
    let text = "title: good\nid: 0e95725d-7320-415d-80f7-004da920fc11\nlevel: high\nlogsource: {product: p}\ndetection:\n  sel: {a: 1}\n  condition: sel\n---\ntitle: bad\nlogsource: {product: p}\ndetection:\n  sel:\n    'a|contains|bogus': 1\n  condition: sel\n";
    let r = parse(&api::compile(text, r#"{"file": "mine.yml"}"#));
    assert_eq!(r["ok"], false);
    let d = &r["diagnostics"][0];
    assert_eq!((d["line"].clone(), d["column"].clone(), d["severity"].clone()), (json!(13), json!(17), json!("error")));
    assert!(d["message"].as_str().unwrap().contains("bogus"), "{d}");
    assert_eq!(
        r["rules"],
        json!([{"id": "0e95725d-7320-415d-80f7-004da920fc11", "title": "good", "level": "high", "kind": "detection", "line": 1}])
    );
    let empty = parse(&api::compile("", "{}"));
    assert_eq!((empty["ok"].clone(), empty["diagnostics"][0]["severity"].clone()), (json!(true), json!("warning")));
}

#[test]
fn events_are_read_as_the_cli_reads_a_file() {
    let (rules, events) = (aws_rules(), cloudtrail());
    let as_lines = parse(&api::evaluate(&rules, &events, "{}"));
    // A JSON array, and a pretty-printed CloudTrail file, give the same alerts (positions = lines).
    let values: Vec<Value> = events.lines().map(parse).collect();
    let array = serde_json::to_string_pretty(&values).unwrap();
    let records = serde_json::to_string_pretty(&json!({ "Records": values })).unwrap();
    for text in [array, records] {
        let r = parse(&api::evaluate(&rules, &text, "{}"));
        assert_eq!(r["alerts_jsonl"], as_lines["alerts_jsonl"]);
        assert_eq!(r["alerts"], as_lines["alerts"]);
    }
    let bad = parse(&api::evaluate(&rules, "{\"a\": 1}\n\n  {oops\n[1]\n", "{}"));
    assert_eq!(bad["events"]["read"], 3);
    assert_eq!(bad["events"]["rejected"], 2);
    let errors = bad["events"]["errors"].as_array().unwrap();
    assert_eq!((errors[0]["line"].clone(), errors[0]["column"].clone()), (json!(3), json!(4)));
    assert!(errors[0]["message"].as_str().unwrap().starts_with("invalid JSON"), "{}", errors[0]);
    assert_eq!(errors[1]["message"], "expected a JSON object, found an array");
}

#[test]
fn version_names_the_plan_format() {
    assert_eq!(
        api::version(),
        format!("sigil {} (plan format {})", env!("CARGO_PKG_VERSION"), sigil_engine::PLAN_FORMAT_VERSION)
    );
}

#[test]
fn a_records_line_names_the_record_that_fired_and_explain_takes_it() {
    let rules = aws_rules();
    let events: Vec<Value> = cloudtrail().lines().map(parse).collect();
    let line = serde_json::to_string(&json!({ "Records": events })).unwrap();
    let r = parse(&api::evaluate(&rules, &format!("{{}}\n{line}\n"), "{}"));
    let detections: Vec<&Value> =
        r["alerts"].as_array().unwrap().iter().filter(|a| a["correlation"] == false).collect();
    assert!(!detections.is_empty(), "{r}");
    for alert in &detections {
        assert_eq!(alert["line"], 2);
        let record = alert["record"].as_u64().expect("a Records line names the record");
        let id = alert["rule_id"].as_str().unwrap();
        let options = json!({ "record": record }).to_string();
        assert_eq!(parse(&api::explain(&rules, &line, id, &options))["matched"], true);
        // Another record explains as the alerts say: matched only if the rule fired on it too.
        let other = if record == 1 { 2 } else { 1 };
        let fired_there = detections.iter().any(|a| a["rule_id"] == id && a["record"] == other);
        let options = json!({ "record": other }).to_string();
        assert_eq!(parse(&api::explain(&rules, &line, id, &options))["matched"], fired_there, "rule {id}");
    }
}
