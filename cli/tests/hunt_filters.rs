//! `sigil hunt`'s filters: each rule filter keeps exactly the alerts of a run without it whose
//! rule passes (on the examples), for YAML rules and for a pack; `--from`/`--to` on event time,
//! with events that have no time (left out and counted), relative bounds, and correlations that
//! see only the window.

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn sigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil")).args(args).output().expect("sigil runs")
}

fn ok(args: &[&str]) -> Output {
    let out = sigil(args);
    assert!(out.status.success(), "sigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn examples() -> Vec<String> {
    sigil_tests::example_event_files()
}

fn alerts(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("an alert line")).collect()
}

/// (rule id, kind, timestamp) of every alert.
fn keys(alerts: &[Value]) -> BTreeSet<(String, String, String)> {
    alerts.iter().map(|a| (a["rule"]["id"].to_string(), a["kind"].to_string(), a["timestamp"].to_string())).collect()
}

fn hunt_examples(extra: &[&str]) -> Output {
    let files = examples();
    let mut args = vec!["hunt", "--format", "jsonl"];
    args.extend_from_slice(extra);
    args.extend(files.iter().map(String::as_str));
    ok(&args)
}

const LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

fn level_at_least(rule: &Value, min: &str) -> bool {
    let rank = |l: &str| LEVELS.iter().position(|x| *x == l);
    rule["level"].as_str().and_then(rank).is_some_and(|r| r >= rank(min).unwrap())
}

fn tag_under(rule: &Value, prefix: &str) -> bool {
    rule["tags"].as_array().unwrap().iter().filter_map(Value::as_str).any(|t| {
        let t = t.to_ascii_lowercase();
        t == prefix || t.starts_with(&format!("{prefix}."))
    })
}

#[test]
fn each_rule_filter_keeps_the_alerts_of_the_rules_it_selects() {
    let all = alerts(&hunt_examples(&[]));
    assert_eq!(all.len(), 16, "the examples' documented alerts");
    let some_id = all[0]["rule"]["id"].as_str().unwrap().to_string();
    type Keep = Box<dyn Fn(&Value) -> bool>;
    let id = some_id.clone();
    let cases: Vec<(Vec<&str>, Keep)> = vec![
        (vec!["--min-level", "high"], Box::new(|r| level_at_least(r, "high"))),
        (vec!["--min-level", "MEDIUM"], Box::new(|r| level_at_least(r, "medium"))),
        (vec!["--tag", "attack.defense-impairment"], Box::new(|r| tag_under(r, "attack.defense-impairment"))),
        (vec!["--tag", "ATTACK.T1098"], Box::new(|r| tag_under(r, "attack.t1098"))),
        (vec!["--exclude-tag", "attack.t1685"], Box::new(|r| !tag_under(r, "attack.t1685"))),
        (
            vec!["--status", "stable,Experimental"],
            Box::new(|r| matches!(r["status"].as_str(), Some("stable" | "experimental"))),
        ),
        (
            vec!["--exclude-status", "deprecated,stable"],
            Box::new(|r| !matches!(r["status"].as_str(), Some("deprecated" | "stable"))),
        ),
        (vec!["--rule-id", &some_id], Box::new(move |r| r["id"] == id.as_str())),
    ];
    for (args, keep) in cases {
        let out = hunt_examples(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("sigil: filters left out "), "{args:?}: {stderr}");
        let expected: Vec<Value> = all.iter().filter(|a| keep(&a["rule"])).cloned().collect();
        let got = alerts(&out);
        assert!(!got.is_empty() || expected.is_empty());
        assert_eq!(keys(&got), keys(&expected), "{args:?}");
        assert_eq!(got.len(), expected.len(), "{args:?}");
    }
}

#[test]
fn a_pack_is_filtered_as_its_rules_are() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("rules.pack");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sigma-rules/rules");
    ok(&["compile", rules.to_str().unwrap(), "-o", pack.to_str().unwrap()]);
    let from_yaml = alerts(&hunt_examples(&["--rules", rules.to_str().unwrap(), "--min-level", "high"]));
    let from_pack = hunt_examples(&["--pack", pack.to_str().unwrap(), "--min-level", "high"]);
    assert!(String::from_utf8_lossy(&from_pack.stderr).contains("rules of the pack (they run without alerting)"));
    assert_eq!(keys(&alerts(&from_pack)), keys(&from_yaml));
    assert!(!from_yaml.is_empty());
}

#[test]
fn a_filter_with_a_wrong_value_says_what_it_takes() {
    let out = sigil(&["hunt", "--min-level", "severe", "-"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use one of informational, low, medium, high, critical"));
    let out = sigil(&["hunt", "--status", "retired", "-"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--status: 'retired' is not a Sigma status"));
    let out = sigil(&["hunt", "--rule-id", "no-such-rule", "-"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the filters left out every rule"));
}

const RULES: &str = "\
title: Any marked event
id: 0b6e5d7a-8c33-4f0e-9a0a-3c1d6f7e0001
level: high
logsource: {product: test}
detection: {sel: {marker: x}, condition: sel}
---
title: Three marked events
id: 0b6e5d7a-8c33-4f0e-9a0a-3c1d6f7e0002
level: high
correlation:
  type: event_count
  rules: [0b6e5d7a-8c33-4f0e-9a0a-3c1d6f7e0001]
  group-by: [marker]
  timespan: 1d
  condition: {gte: 3}
generate: true
";

/// Four marked events at 10:00, 11:00 and 12:00, one without a time, and the rules above.
fn timed_case(dir: &Path) -> (PathBuf, PathBuf) {
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let events = dir.join("events.jsonl");
    let mut f = std::fs::File::create(&events).unwrap();
    for time in ["2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z", "2026-11-20T12:00:00Z"] {
        writeln!(f, r#"{{"timestamp": "{time}", "marker": "x"}}"#).unwrap();
    }
    writeln!(f, r#"{{"marker": "x"}}"#).unwrap();
    (rules, events)
}

fn hunt_timed(dir: &Path, extra: &[&str]) -> (Vec<Value>, String) {
    let (rules, events) = timed_case(dir);
    let mut args = vec!["hunt", "--format", "jsonl", "--rules", rules.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(events.to_str().unwrap());
    let out = ok(&args);
    (alerts(&out), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn detections(alerts: &[Value]) -> Vec<&str> {
    alerts.iter().filter(|a| a["kind"] == "detection").map(|a| a["timestamp"].as_str().unwrap_or("none")).collect()
}

#[test]
fn without_a_window_every_event_is_evaluated_and_the_correlation_fires() {
    let dir = tempfile::tempdir().unwrap();
    let (all, stderr) = hunt_timed(dir.path(), &[]);
    assert_eq!(all.iter().filter(|a| a["kind"] == "detection").count(), 4);
    assert_eq!(all.iter().filter(|a| a["kind"] == "correlation").count(), 1);
    assert!(stderr.contains("events: 4 read, 0 rejected; alerts: 5"), "{stderr}");
}

#[test]
fn from_and_to_keep_the_window_and_count_untimed_events_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    let (got, stderr) = hunt_timed(dir.path(), &["--from", "2026-11-20T11:00:00Z", "--to", "2026-11-20T12:00:00Z"]);
    // Both ends are in the window; the event without a time is not.
    assert_eq!(detections(&got), ["2026-11-20T11:00:00.000Z", "2026-11-20T12:00:00.000Z"]);
    // The correlation sees two events of the window: under its threshold of three.
    assert!(got.iter().all(|a| a["kind"] == "detection"));
    assert!(
        stderr.contains("events: 4 read, 0 rejected, 2 outside --from/--to (1 of them without a time); alerts: 2"),
        "{stderr}"
    );
    let (got, _) = hunt_timed(dir.path(), &["--to", "2026-11-20T10:30:00+00:00"]);
    assert_eq!(detections(&got), ["2026-11-20T10:00:00.000Z"]);
}

#[test]
fn a_relative_bound_counts_back_from_the_newest_event() {
    let dir = tempfile::tempdir().unwrap();
    let (got, _) = hunt_timed(dir.path(), &["--from", "1h"]);
    assert_eq!(detections(&got), ["2026-11-20T11:00:00.000Z", "2026-11-20T12:00:00.000Z"]);
    let (got, _) = hunt_timed(dir.path(), &["--to", "90m"]);
    assert_eq!(detections(&got), ["2026-11-20T10:00:00.000Z"]);
}

#[test]
fn a_relative_bound_on_standard_input_is_refused_and_an_empty_window_too() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, events) = timed_case(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["hunt", "--rules", rules.to_str().unwrap(), "--from", "7d", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not standard input"));
    let out = sigil(&[
        "hunt",
        "--rules",
        rules.to_str().unwrap(),
        "--from",
        "2026-11-21T00:00:00Z",
        "--to",
        "2026-11-20T00:00:00Z",
        events.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is after --to"));
    let out = sigil(&["hunt", "--rules", rules.to_str().unwrap(), "--from", "7y", events.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from '7y': give an RFC 3339 time"));
}

#[test]
fn a_correlation_left_out_runs_without_alerting_and_its_rule_still_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let id = "0b6e5d7a-8c33-4f0e-9a0a-3c1d6f7e0001";
    let (got, stderr) = hunt_timed(dir.path(), &["--rule-id", id]);
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|a| a["rule"]["id"] == id));
    assert!(stderr.contains("filters left out 0 rules; 1 more run without alerting"), "{stderr}");
    // And the other way round: the correlation alone reads the rule, which stays quiet.
    let (got, _) = hunt_timed(dir.path(), &["--rule-id", "0b6e5d7a-8c33-4f0e-9a0a-3c1d6f7e0002"]);
    assert_eq!(got.iter().map(|a| a["kind"].as_str().unwrap()).collect::<Vec<_>>(), ["correlation"]);
}
