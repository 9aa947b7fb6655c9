//! `sigil hunt`'s summary (`--summary FILE`) and CSV timeline (`--format csv`): the summary's
//! counts add up to the alert lines of the same run (on the examples, and on the OTRF sample
//! with SigmaHQ's Windows rules), and the CSV round-trips through Python's `csv` module with
//! values that hold commas, quotes and newlines.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn ok(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_sigil")).args(args).output().expect("sigil runs");
    assert!(out.status.success(), "sigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn examples() -> Vec<String> {
    sigil_tests::example_event_files()
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// Runs a hunt with `--summary`; returns the alert lines and the summary.
fn hunt_with_summary(args: &[&str], inputs: &[String]) -> (Vec<Value>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let mut all = vec!["hunt", "--format", "jsonl", "--summary", summary.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend(inputs.iter().map(String::as_str));
    let out = ok(&all);
    let alerts = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (alerts, serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap())
}

/// Every count of the summary against the alert lines it summarises.
fn assert_adds_up(alerts: &[Value], summary: &Value) {
    assert_eq!(summary["alerts"]["total"], alerts.len());
    let mut by_level: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
    for a in alerts {
        *by_level.entry(a["rule"]["level"].as_str().unwrap_or("none").to_string()).or_default() += 1;
        *by_kind.entry(a["kind"].as_str().unwrap().to_string()).or_default() += 1;
        *by_rule.entry(a["rule"]["id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    for (level, count) in summary["alerts"]["by_level"].as_object().unwrap() {
        assert_eq!(count.as_u64().unwrap(), by_level.get(level).copied().unwrap_or(0), "level {level}");
    }
    let levels_total: u64 =
        summary["alerts"]["by_level"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(levels_total, alerts.len() as u64);
    let kinds: BTreeMap<String, u64> = serde_json::from_value(summary["alerts"]["by_kind"].clone()).unwrap();
    assert_eq!(kinds, by_kind);
    assert_eq!(summary["rules"]["distinct"], by_rule.len());
    assert_eq!(summary["rules"]["other_rules"], 0);
    let top = summary["rules"]["top"].as_array().unwrap();
    assert_eq!(top.len(), by_rule.len().min(10));
    for rule in top {
        assert_eq!(rule["count"].as_u64().unwrap(), by_rule[rule["id"].as_str().unwrap()], "{rule}");
    }
    // The top list is the most frequent rules.
    let mut counts: Vec<u64> = by_rule.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top_counts: Vec<u64> = top.iter().map(|r| r["count"].as_u64().unwrap()).collect();
    assert_eq!(top_counts, counts[..top.len()]);
    let times: Vec<&str> = alerts.iter().filter_map(|a| a["timestamp"].as_str()).filter(|t| t.ends_with('Z')).collect();
    assert_eq!(summary["first_alert_time"].as_str(), times.iter().min().copied());
    assert_eq!(summary["last_alert_time"].as_str(), times.iter().max().copied());
    let with_hits: std::collections::BTreeSet<String> =
        alerts.iter().filter(|a| a["kind"] == "detection").map(|a| a["source"].to_string()).collect();
    assert_eq!(summary["events"]["with_hits"], with_hits.len());
}

#[test]
fn the_summary_of_the_examples_adds_up_to_their_alert_lines() {
    let (alerts, summary) = hunt_with_summary(&[], &examples());
    assert_eq!(alerts.len(), 16);
    assert_adds_up(&alerts, &summary);
    assert_eq!(summary["events"]["read"], 62);
    assert_eq!(summary["alerts"]["by_kind"]["correlation"], 1);
    // The attacker's IP and accounts come first among the entities.
    assert_eq!(summary["entities"]["ip"]["top"][0]["value"], "203.0.113.77");
    assert_eq!(summary["entities"]["account"]["top"][0]["value"], "arn:aws:iam::111122223333:user/svc-backup");
    // With a window, the events left out are in the summary too.
    let (alerts, summary) = hunt_with_summary(&["--from", "2026-11-20T09:30:00Z"], &examples());
    assert_adds_up(&alerts, &summary);
    assert!(summary["events"]["outside_window"].as_u64().unwrap() > 0);
}

#[test]
fn the_summary_of_the_otrf_sample_adds_up_to_its_alert_lines() {
    let sample = shared().join("datasets/windows/otrf-windows-sample.jsonl.gz");
    let rules = shared().join("sigma/rules/windows");
    if !sample.exists() || !rules.exists() {
        eprintln!("SKIPPED: {} or {} is absent", sample.display(), rules.display());
        return;
    }
    // The first 25,000 events keep the test to seconds in a debug build.
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("otrf.jsonl");
    let mut reader = std::io::BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(&sample).unwrap()));
    let mut out = std::fs::File::create(&events).unwrap();
    let mut line = String::new();
    for _ in 0..25_000 {
        line.clear();
        if std::io::BufRead::read_line(&mut reader, &mut line).unwrap() == 0 {
            break;
        }
        out.write_all(line.as_bytes()).unwrap();
    }
    let (alerts, summary) = hunt_with_summary(&["--rules", rules.to_str().unwrap()], &[events.display().to_string()]);
    assert!(alerts.len() > 100, "{}", alerts.len());
    assert_adds_up(&alerts, &summary);
    assert!(summary["rules"]["distinct"].as_u64().unwrap() > 10);
    assert!(!summary["entities"]["host"]["top"].as_array().unwrap().is_empty());
    assert!(!summary["entities"]["account"]["top"].as_array().unwrap().is_empty());
}

#[test]
fn the_summary_on_stderr_comes_after_the_count_line() {
    let mut args = vec!["hunt", "--format", "jsonl", "--summary-stderr", "always"];
    let files = examples();
    args.extend(files.iter().map(String::as_str));
    let stderr = String::from_utf8(ok(&args).stderr).unwrap();
    let count = stderr.find("events: 62 read, 0 rejected; alerts: 16").expect("the count line");
    let summary = stderr.find("summary: 16 alerts (high 4, medium 11, low 1) from 15 of 62 events").expect(&stderr);
    assert!(count < summary);
    assert!(stderr.contains("top ips: 203.0.113.77 (15)"));
}

const ODD_RULE: &str = r#"title: 'Odd, "quoted" rule'
id: 7f1c0d5e-2b6a-4c1e-9d3f-5a8b7c6d0001
level: medium
tags: [attack.execution, attack.t1059.001]
logsource: {product: test}
detection:
  sel:
    CommandLine|contains: ','
  condition: sel
"#;

#[test]
fn the_csv_timeline_round_trips_through_python_csv() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED: python3 is absent");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("odd.yml");
    std::fs::write(&rules, ODD_RULE).unwrap();
    let events = dir.path().join("odd, \"events\".jsonl");
    let lines = [
        serde_json::json!({"timestamp": "2026-11-20T10:00:02Z", "CommandLine": "cmd /c \"echo a, b\"\r\nnext line"}),
        serde_json::json!({"CommandLine": "no time, \"at all\""}),
        serde_json::json!({"timestamp": "2026-11-20T10:00:01Z", "CommandLine": "ünïcødé, ☃ \"q\"\nsecond"}),
        serde_json::json!({"timestamp": "2026-11-20T10:00:01Z", "CommandLine": "tie, second in input"}),
    ];
    std::fs::write(&events, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let (rules, events) = (rules.to_str().unwrap(), events.to_str().unwrap());
    let jsonl = ok(&["hunt", "--format", "jsonl", "--rules", rules, events]);
    let alerts: Vec<Value> =
        String::from_utf8_lossy(&jsonl.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(alerts.len(), 4);
    let csv = ok(&["hunt", "--format", "csv", "--rules", rules, events]).stdout;
    assert!(csv.windows(2).any(|w| w == b"\r\n"), "RFC 4180 line ends");

    let script = "import csv, io, json, sys\n\
                  rows = list(csv.reader(io.TextIOWrapper(sys.stdin.buffer, encoding='utf-8', newline='')))\n\
                  json.dump(rows, sys.stdout)\n";
    let mut python =
        Command::new("python3").args(["-c", script]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    python.stdin.take().unwrap().write_all(&csv).unwrap();
    let parsed = python.wait_with_output().unwrap();
    assert!(parsed.status.success());
    let rows: Vec<Vec<String>> = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(rows[0], sigil_report::timeline::COLUMNS);
    // Sorted by time, equal times in input order, the untimed alert last.
    let order = [2usize, 3, 0, 1];
    assert_eq!(rows.len(), 1 + order.len());
    for (row, &i) in rows[1..].iter().zip(&order) {
        let a = &alerts[i];
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let tags: Vec<String> = a["rule"]["tags"].as_array().unwrap().iter().map(text).collect();
        let matched = sigil_report::timeline::compact(a["matched"].as_object().unwrap());
        let expected = [
            text(&a["timestamp"]),
            text(&a["rule"]["level"]),
            text(&a["rule"]["title"]),
            text(&a["rule"]["id"]),
            tags.join(";"),
            text(&a["source"]["file"]),
            text(&a["source"]["line"]),
            matched,
            text(&a["kind"]),
        ];
        assert_eq!(row[..], expected[..], "alert {i}");
        assert!(
            row[7].contains(a["event"]["CommandLine"].as_str().unwrap()),
            "the raw value, newlines and quotes kept"
        );
    }
}

#[test]
fn the_csv_timeline_refuses_past_its_cap_and_writes_nothing() {
    let mut args = vec!["hunt", "--format", "csv", "--max-timeline-rows", "5"];
    let files = examples();
    args.extend(files.iter().map(String::as_str));
    let out = Command::new(env!("CARGO_BIN_EXE_sigil")).args(&args).output().unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("more than 5 alerts: raise --max-timeline-rows"));
    // Within the cap, as many rows as alerts, in time order.
    args[4] = "100";
    let out = ok(&args);
    let text = String::from_utf8(out.stdout).unwrap();
    let times: Vec<&str> = text.split("\r\n").skip(1).filter(|l| !l.is_empty()).map(|l| &l[..24]).collect();
    assert_eq!(times.len(), 16);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}
