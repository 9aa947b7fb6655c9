//! The playground API, natively: evaluate prints what the engine's session (the code path of
//! `sigil hunt`) prints, its summaries describe those lines, explain agrees with evaluate, and
//! compile puts diagnostics where the rule text is broken, and the OCSF views are what
//! `sigil_ocsf` gives for the same alerts and events.

use serde_json::{json, Value};
use sigil_engine::alert::event_time_ms;
use sigil_engine::correlate::{Correlator, EventRef, Readers};
use sigil_engine::edge::select;
use sigil_engine::session::{self, Session};
use sigil_engine::silence::SilenceWatch;
use sigil_engine::{Engine, EventSource, Routing, Scratch};
use sigil_playground::api;
use std::path::PathBuf;
use std::sync::Arc;

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

/// A hunt run from the engine's parts as `sigil hunt` runs them (silences the event's time
/// reveals, detections, then the correlations they complete), each alert written twice from the
/// one alert value: as the JSON Lines alert and as the finding `sigil_ocsf` makes of it (what
/// `--format jsonl` and `--format ocsf` print). Returns (alerts, findings).
fn hunt_both_ways(rules: &str, events: &str, silence: bool) -> (String, String) {
    let plan = sigil_compiler::compile_str("rule.yml", rules, &sigil_compiler::Options::default()).plan;
    let engine = Engine::new(plan).unwrap();
    let readers = Readers::new(engine.plan());
    let mut correlator = Correlator::new(engine.plan(), 100_000);
    let mut suppressor = sigil_engine::suppress::Suppressor::new(100_000);
    let mut watch = silence.then(|| SilenceWatch::new(engine.plan().silences.clone(), 100_000));
    let (mut scratch, mut detections, mut last_time) = (Scratch::default(), Vec::new(), 0);
    let (mut alerts, mut findings) = (Vec::new(), Vec::new());
    let file: Arc<str> = Arc::from("events.jsonl");
    for (i, line) in events.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        session::events_in_line(line, &mut |position, event| {
            let (doc, _) = event.expect("the test's events are JSON objects");
            let at = position.unwrap_or(i as u64 + 1);
            let evidence = EventRef { file: Arc::clone(&file), line: at };
            if let Some(watch) = &mut watch {
                let source = select::event_source(&doc, &Routing::Auto);
                watch.observe(&doc, &source, event_time_ms(&doc, None), &evidence, &mut |a| {
                    session::json_line(&mut alerts, a);
                    session::json_line(&mut findings, &sigil_ocsf::silence_finding(a));
                });
            }
            detections.clear();
            engine.evaluate_with(&mut scratch, &doc, &Routing::Auto, &mut detections);
            let source = EventSource { file: file.to_string(), line: at };
            let mut feeds = Vec::new();
            let event_time = event_time_ms(&doc, None);
            let plan = engine.plan();
            session::write_detections(&engine, &readers, &detections, &doc, &source, None, &mut feeds, &mut |a| {
                let mut closed = Vec::new();
                let emit = session::admit_detection(plan, &mut suppressor, a, event_time, &mut closed);
                for c in &closed {
                    session::json_line(&mut alerts, &c.alert(plan));
                    session::json_line(&mut findings, &sigil_ocsf::suppression_finding(&c.alert(plan)));
                }
                if emit {
                    session::json_line(&mut alerts, a);
                    session::json_line(&mut findings, &sigil_ocsf::detection_finding(a));
                }
            });
            if !feeds.is_empty() {
                let time = event_time.unwrap_or(last_time);
                last_time = time;
                session::observe(&mut correlator, &mut suppressor, plan, time, evidence, feeds, &mut |a| match a {
                    session::Emitted::Correlation(a) => {
                        session::json_line(&mut alerts, a);
                        session::json_line(&mut findings, &sigil_ocsf::correlation_finding(a));
                    }
                    session::Emitted::Suppression(a) => {
                        session::json_line(&mut alerts, a);
                        session::json_line(&mut findings, &sigil_ocsf::suppression_finding(a));
                    }
                });
            }
        });
    }
    (String::from_utf8(alerts).unwrap(), String::from_utf8(findings).unwrap())
}

#[test]
fn findings_are_what_sigil_ocsf_makes_of_each_alert() {
    let (rules, events) = (aws_rules(), cloudtrail());
    let evaluated = parse(&api::evaluate(&rules, &events, "{}"));
    let alerts_jsonl = evaluated["alerts_jsonl"].as_str().unwrap();
    let (alerts, expected) = hunt_both_ways(&rules, &events, false);
    assert_eq!(alerts_jsonl, alerts, "the reference hunt raises the page's alerts");
    let f = parse(&api::findings(alerts_jsonl));
    assert_eq!((f["ok"].clone(), f["errors"].clone()), (json!(true), json!([])), "{f}");
    assert_eq!(f["findings_jsonl"], expected.as_str(), "the findings, byte for byte");
    let lines: Vec<&str> = expected.lines().collect();
    assert_eq!(lines.len(), alerts.lines().count());
    assert!(alerts.contains(r#""kind":"correlation""#), "a correlation's finding is compared too");
    let pretty = f["findings"].as_array().unwrap();
    assert_eq!(pretty.len(), lines.len());
    for (shown, line) in pretty.iter().zip(&lines) {
        let finding = parse(line);
        assert_eq!(parse(shown.as_str().unwrap()), finding);
        assert_eq!(finding["class_uid"], 2004);
    }
}

#[test]
fn a_silence_alert_becomes_sigil_ocsfs_finding_too() {
    let rules = std::fs::read_to_string(repo().join("examples/silence-rules.yml")).unwrap();
    let ct = |time: &str, account: &str| {
        json!({"eventVersion": "1.09", "eventTime": time, "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "recipientAccountId": account}).to_string()
    };
    let events = [
        ct("2026-11-20T09:00:00Z", "111"),
        ct("2026-11-20T09:01:00Z", "222"),
        ct("2026-11-20T09:20:00Z", "222"),
        ct("2026-11-20T09:45:00Z", "222"),
    ]
    .join("\n");
    let (alerts, expected) = hunt_both_ways(&rules, &events, true);
    assert!(alerts.contains(r#""kind":"silence""#), "account 111 went silent: {alerts}");
    let f = parse(&api::findings(&alerts));
    assert_eq!(f["ok"], true, "{f}");
    assert_eq!(f["findings_jsonl"], expected.as_str());
}

#[test]
fn normalize_writes_each_event_as_sigil_normalize_does() {
    let events = cloudtrail();
    let mut classes = Vec::new();
    for line in events.lines() {
        let n = parse(&api::normalize(line, "{}"));
        assert_eq!(n["ok"], true, "{n}");
        let (mut out, mut counts) = (Vec::new(), sigil_ocsf::Counts::default());
        sigil_ocsf::normalize_jsonl(line, 1, &mut out, &mut counts, &mut |_, r| panic!("rejected: {r}"));
        assert_eq!(format!("{}\n", n["line"].as_str().unwrap()), String::from_utf8(out).unwrap());
        assert_eq!(n["mapped"], counts.passed == 0);
        if n["mapped"] == true {
            let object = parse(n["line"].as_str().unwrap());
            assert_eq!(parse(n["pretty"].as_str().unwrap()), object);
            assert_eq!(n["class_uid"], object["class_uid"]);
            assert_eq!(n["class_name"], object["class_name"]);
            classes.push(n["class_uid"].as_u64().unwrap());
        } else {
            assert_eq!(n["reason"], "no OCSF mapping for this event: it would pass through unchanged");
            assert_eq!(n["line"], line.trim());
        }
    }
    assert!(
        classes.contains(&6003) && classes.contains(&3002),
        "CloudTrail maps to API Activity and Authentication: {classes:?}"
    );
    // A Records line: the record asked for, as `sigil normalize` writes it.
    let values: Vec<Value> = events.lines().map(parse).collect();
    let records = serde_json::to_string(&json!({ "Records": values })).unwrap();
    let (mut out, mut counts) = (Vec::new(), sigil_ocsf::Counts::default());
    sigil_ocsf::normalize_jsonl(&records, 1, &mut out, &mut counts, &mut |_, r| panic!("rejected: {r}"));
    let written: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
    for (record, expected) in [1usize, 7, values.len()].into_iter().map(|r| (r, written[r - 1])) {
        let n = parse(&api::normalize(&records, &json!({ "record": record }).to_string()));
        assert_eq!((n["record"].clone(), n["records"].clone()), (json!(record), json!(values.len())));
        assert_eq!(n["line"], expected);
    }
    let okta = std::fs::read_to_string(repo().join("examples/okta.jsonl")).unwrap();
    let n = parse(&api::normalize(okta.lines().next().unwrap(), ""));
    assert_eq!(n["mapped"], true, "{n}");
    let bad = parse(&api::normalize("{oops", "{}"));
    assert!(bad["error"].as_str().unwrap().starts_with("invalid JSON"), "{bad}");
}
