//! Silence rules end to end (`sigil edge --silence`, `sigil hunt --silence`): a host whose
//! Sysmon goes quiet raises one alert per silence episode at the right event time, a host that
//! keeps speaking raises none, and without `--silence` (or the policy's `silence: true`) nothing
//! is watched. `hunt` writes the bytes `edge` writes, whatever its number of threads.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RULES: &str = "title: Sysmon went quiet on a host
id: 11111111-2222-4333-8444-555555555510
status: test
author: Sigil tests
tags:
    - attack.defense-evasion
    - attack.t1562.002
logsource:
    product: windows
    service: sysmon
silence:
    group-by: [Computer]
    timespan: 10m
level: high
---
title: Mimikatz started
id: 11111111-2222-4333-8444-555555555511
status: test
author: Sigil tests
logsource:
    product: windows
    category: process_creation
detection:
    sel:
        Image|endswith: '\\mimikatz.exe'
    condition: sel
level: high
";

fn sigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil")).args(args).output().expect("sigil runs")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn sysmon(minute: u64, host: &str) -> String {
    json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Computer": host,
           "UtcTime": format!("2024-05-01 10:{minute:02}:00.000"), "Image": "C:\\Windows\\notepad.exe"})
    .to_string()
}

/// Host `a` speaks at minutes 0-3 and again at 20; host `b` every minute from 0 to 40.
fn events() -> Vec<String> {
    let mut out = Vec::new();
    for minute in 0..=40 {
        if minute <= 3 || minute == 20 {
            out.push(sysmon(minute, "a"));
        }
        out.push(sysmon(minute, "b"));
    }
    out
}

/// Runs `sigil edge` with `policy` and `extra` arguments; returns the alerts and stderr.
fn edge(dir: &Path, policy: &str, extra: &[&str]) -> (Vec<Value>, String) {
    let rules = write(dir, "rules.yml", RULES);
    let policy = write(dir, "policy.yml", policy);
    let input = write(dir, "events.jsonl", &(events().join("\n") + "\n"));
    let alerts = dir.join("alerts.jsonl");
    let mut args = vec![
        "edge",
        "--policy",
        policy.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--alerts",
        alerts.to_str().unwrap(),
    ];
    args.extend(extra);
    args.push(input.to_str().unwrap());
    let out = sigil(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let alerts = std::fs::read_to_string(alerts).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (alerts, err)
}

#[test]
fn a_host_that_goes_quiet_alerts_once_per_episode_at_the_right_event_time() {
    let dir = tempfile::tempdir().unwrap();
    let (alerts, err) = edge(dir.path(), "entries: []\n", &["--silence"]);
    assert!(err.contains("watching 1 silence rules"), "{err}");
    let summary: Vec<(&str, &str, &str)> = alerts
        .iter()
        .map(|a| {
            (
                a["group"]["Computer"].as_str().unwrap(),
                a["window"]["start"].as_str().unwrap(),
                a["timestamp"].as_str().unwrap(),
            )
        })
        .collect();
    // Quiet after 10:03 → alert at 10:13; speaks at 10:20 (re-armed) → quiet again, alert at 10:30.
    // Host b never stops: no alert for it.
    assert_eq!(
        summary,
        [
            ("a", "2024-05-01T10:03:00.000Z", "2024-05-01T10:13:00.000Z"),
            ("a", "2024-05-01T10:20:00.000Z", "2024-05-01T10:30:00.000Z")
        ]
    );
    let first = &alerts[0];
    assert_eq!(first["kind"], "silence");
    assert_eq!(first["rule"]["id"], "11111111-2222-4333-8444-555555555510");
    assert_eq!(first["rule"]["tags"], json!(["attack.defense-evasion", "attack.t1562.002"]));
    assert_eq!((first["count"].as_u64(), first["events_total"].as_u64()), (Some(0), Some(0)));
    // a's event at 10:03 is line 7 (a and b alternate from minute 0).
    assert_eq!(first["last_event"]["line"], 7);
}

#[test]
fn the_policy_can_enable_silence_too() {
    let dir = tempfile::tempdir().unwrap();
    let (alerts, _) = edge(dir.path(), "silence: true\nentries: []\n", &[]);
    assert_eq!(alerts.len(), 2);
}

#[test]
fn silence_rules_are_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let (alerts, err) = edge(dir.path(), "entries: []\n", &[]);
    assert!(alerts.is_empty(), "{alerts:?}");
    assert!(err.contains("1 silence rules ignored: enable them with --silence"), "{err}");
    // `hunt` compiles the silence document without complaint and watches nothing.
    let rules = dir.path().join("rules.yml");
    let out = sigil(&[
        "hunt",
        "--format",
        "jsonl",
        "--rules",
        rules.to_str().unwrap(),
        dir.path().join("events.jsonl").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rules: 1 loaded, 0 rejected"));
}

/// A longer stream, over several of `hunt`'s batches: host `b` speaks every 2 seconds from
/// 10:00 to 10:40 and runs mimikatz at 10:13:00 and 10:30:00; host `a` speaks at 10:00-10:03
/// and 10:20 (on the minute). Returns the lines and the line of a's event at 10:03.
fn long_stream() -> (Vec<String>, u64) {
    let mut lines = Vec::new();
    let mut a_at_three = 0;
    for second in (0..=40 * 60).step_by(2) {
        let (minute, second_of_minute) = (second / 60, second % 60);
        let time = format!("2024-05-01 10:{minute:02}:{second_of_minute:02}.000");
        if second_of_minute == 0 && (minute <= 3 || minute == 20) {
            let mut event: Value = serde_json::from_str(&sysmon(minute, "a")).unwrap();
            event["UtcTime"] = json!(time);
            lines.push(event.to_string());
            if minute == 3 {
                a_at_three = lines.len() as u64;
            }
        }
        let mut event: Value = serde_json::from_str(&sysmon(minute, "b")).unwrap();
        event["UtcTime"] = json!(time);
        if second_of_minute == 0 && (minute == 13 || minute == 30) {
            event["Image"] = json!("C:\\Temp\\mimikatz.exe");
        }
        lines.push(event.to_string());
    }
    (lines, a_at_three)
}

/// `sigil hunt --format FORMAT` over `events` with `extra` arguments: stdout and stderr.
fn hunt(rules: &Path, events: &Path, format: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["hunt", "--format", format, "--rules", rules.to_str().unwrap()];
    args.extend(extra);
    args.push(events.to_str().unwrap());
    let out = sigil(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    (String::from_utf8(out.stdout).unwrap(), err)
}

#[test]
fn hunt_with_silence_writes_the_alerts_edge_writes_before_the_detections_that_reveal_them() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "rules.yml", RULES);
    let (lines, a_at_three) = long_stream();
    assert!(lines.len() > 2 * 512, "the stream spans several of hunt's batches");
    let events = write(dir.path(), "long.jsonl", &(lines.join("\n") + "\n"));
    let (out, err) = hunt(&rules, &events, "jsonl", &["--silence", "--threads", "1"]);
    assert!(err.contains("watching 1 silence rules"), "{err}");
    let alerts: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary: Vec<(&str, &str)> =
        alerts.iter().map(|a| (a["kind"].as_str().unwrap(), a["timestamp"].as_str().unwrap())).collect();
    // a is quiet after 10:03: b's event at 10:13:00 reveals it (before its own detection); a
    // speaks at 10:20, is quiet again, and b's event at 10:30:00 reveals the second episode.
    assert_eq!(
        summary,
        [
            ("silence", "2024-05-01T10:13:00.000Z"),
            ("detection", "2024-05-01T10:13:00.000Z"),
            ("silence", "2024-05-01T10:30:00.000Z"),
            ("detection", "2024-05-01T10:30:00.000Z"),
        ]
    );
    assert_eq!(alerts[0]["group"], json!({"Computer": "a"}));
    assert_eq!(alerts[0]["window"]["start"], "2024-05-01T10:03:00.000Z");
    assert_eq!(alerts[0]["last_event"], json!({"file": events.to_str().unwrap(), "line": a_at_three}));

    // `sigil edge --silence` with a policy that keeps everything writes the same bytes.
    let policy = write(dir.path(), "keep.yml", "entries: []\n");
    let edge_alerts = dir.path().join("edge-alerts.jsonl");
    let edge = sigil(&[
        "edge",
        "--silence",
        "--policy",
        policy.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--alerts",
        edge_alerts.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert!(edge.status.success(), "{}", String::from_utf8_lossy(&edge.stderr));
    assert_eq!(out, std::fs::read_to_string(&edge_alerts).unwrap());

    // The order does not depend on the number of threads.
    for threads in ["2", "4"] {
        let (threaded, _) = hunt(&rules, &events, "jsonl", &["--silence", "--threads", threads]);
        assert_eq!(threaded, out, "--threads {threads}");
    }
}

#[test]
fn hunt_without_silence_watches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "rules.yml", RULES);
    let events = write(dir.path(), "long.jsonl", &(long_stream().0.join("\n") + "\n"));
    let (out, err) = hunt(&rules, &events, "jsonl", &[]);
    assert!(err.contains("1 silence rules ignored: enable them with --silence"), "{err}");
    let kinds: Vec<Value> = out.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["kind"].clone()).collect();
    assert_eq!(kinds, ["detection", "detection"], "two detections, no silence: {out}");
}

#[test]
fn hunt_prints_silences_as_table_rows_and_ocsf_findings() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "rules.yml", RULES);
    let (lines, a_at_three) = long_stream();
    let events = write(dir.path(), "long.jsonl", &(lines.join("\n") + "\n"));

    let (table, _) = hunt(&rules, &events, "table", &["--silence"]);
    let rows: Vec<&str> = table.lines().filter(|l| l.contains("Sysmon went quiet")).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].starts_with("2024-05-01T10:13:00.000Z"), "{}", rows[0]);
    assert!(rows[0].contains(&format!(":{a_at_three} ")) && rows[0].ends_with("silent Computer=a"), "{}", rows[0]);

    let (ocsf, _) = hunt(&rules, &events, "ocsf", &["--silence"]);
    let findings: Vec<Value> = ocsf.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let silences: Vec<&Value> = findings.iter().filter(|f| f["unmapped"]["kind"] == "silence").collect();
    assert_eq!(silences.len(), 2, "{ocsf}");
    let first = silences[0];
    // 2024-05-01T10:13:00Z and 10:03:00Z in milliseconds.
    assert_eq!(first["class_uid"], 2004);
    assert_eq!(first["time"], 1_714_558_380_000_i64);
    assert_eq!(first["finding_info"]["first_seen_time"], 1_714_557_780_000_i64);
    assert_eq!(first["count"], 0);
    assert_eq!(first["evidences"][0]["data"]["group"], json!({"Computer": "a"}));
    let related = format!("{}:{a_at_three}", events.to_str().unwrap());
    assert_eq!(first["finding_info"]["related_events"][0]["uid"], related.as_str());
    // Each silence comes just before the detection whose event revealed it.
    let kinds: Vec<bool> = findings.iter().map(|f| f["unmapped"]["kind"] == "silence").collect();
    assert_eq!(kinds, [true, false, true, false]);
}

#[test]
fn hunt_refuses_silence_with_the_wasm_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "rules.yml", RULES);
    let events = write(dir.path(), "events.jsonl", &(events().join("\n") + "\n"));
    let out = sigil(&[
        "hunt",
        "--silence",
        "--runtime",
        "wasm",
        "--rules",
        rules.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--silence is not available with --runtime wasm yet: use --runtime native"), "{err}");
}
