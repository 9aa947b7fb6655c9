//! End-to-end tests of `sigil edge` (the real binary): every policy action, deterministic
//! sampling checked against the documented XXH64 rule computed here with another XXH64
//! implementation, correlations fed by sampled-out events, authentication logs refused for
//! sampling, windows that close by event time, counts that add up, zstd, sealing and SIGUSR1.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn sigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil")).args(args).output().expect("sigil runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// A small pack: a detection the correlation reads (so it does not alert alone), the
/// correlation, and a detection that alerts on its own.
const RULES: &str = "title: Connection to port 4444
id: 11111111-2222-4333-8444-555555555501
name: port_4444
status: test
author: Sigil tests
logsource:
    product: windows
    category: network_connection
detection:
    sel:
        DestinationPort: 4444
    condition: sel
level: medium
---
title: Beaconing to port 4444
id: 11111111-2222-4333-8444-555555555502
status: test
author: Sigil tests
correlation:
    type: event_count
    rules: [port_4444]
    group-by: [Computer]
    timespan: 5m
    condition:
        gte: 3
level: high
---
title: Run key written
id: 11111111-2222-4333-8444-555555555503
status: test
author: Sigil tests
logsource:
    product: windows
    category: registry_set
detection:
    sel:
        TargetObject|contains: '\\CurrentVersion\\Run\\'
    condition: sel
level: high
";

const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";

fn at(second: u64) -> String {
    format!("2024-05-01 10:{:02}:{:02}.000", second / 60, second % 60)
}

fn network(second: u64, host: &str, ip: &str, port: u16) -> String {
    json!({"Channel": SYSMON, "EventID": 3, "Computer": host, "UtcTime": at(second),
           "DestinationIp": ip, "DestinationPort": port})
    .to_string()
}

fn registry(second: u64, host: &str, key: &str) -> String {
    json!({"Channel": SYSMON, "EventID": 13, "Computer": host, "UtcTime": at(second), "TargetObject": key}).to_string()
}

fn process(second: u64, host: &str) -> String {
    json!({"Channel": SYSMON, "EventID": 1, "Computer": host, "UtcTime": at(second), "Image": "C:\\x.exe"}).to_string()
}

fn logon(second: u64, user: &str) -> String {
    json!({"Channel": "Security", "EventID": 4624, "Computer": "dc1", "UtcTime": at(second), "TargetUserName": user})
        .to_string()
}

/// The documented sampling rule, computed with twox-hash (not the code under test).
fn kept_by_documented_rule(key: &str, rate: f64, seed: u64) -> bool {
    let h = twox_hash::XxHash64::oneshot(seed, key.as_bytes());
    rate >= 1.0 || h < (rate * 18_446_744_073_709_551_616.0) as u64
}

struct Run {
    out: Output,
    forwarded: Vec<String>,
    alerts: Vec<String>,
    counts: Value,
}

/// Runs `sigil edge` over `events` (a file) with `policy`; alerts and counts to files.
fn edge(dir: &Path, policy: &str, events: &[String], extra: &[&str]) -> Run {
    let policy = write(dir, "policy.yml", policy);
    let rules = write(dir, "rules.yml", RULES);
    let input = write(dir, "events.jsonl", &(events.join("\n") + "\n"));
    let (alerts, counts) = (dir.join("alerts.jsonl"), dir.join("counts.json"));
    let mut args = vec![
        "edge",
        "--policy",
        policy.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--alerts",
        alerts.to_str().unwrap(),
        "--counts",
        counts.to_str().unwrap(),
    ];
    args.extend(extra);
    args.push(input.to_str().unwrap());
    let out = sigil(&args);
    assert!(out.status.success(), "sigil edge failed: {}", text(&out.stderr));
    let forwarded = text(&out.stdout).lines().map(str::to_string).collect();
    let counts = serde_json::from_str(&std::fs::read_to_string(&counts).unwrap()).unwrap();
    Run { out, forwarded, alerts: lines(&alerts), counts }
}

fn n(counts: &Value, key: &str) -> u64 {
    counts[key].as_u64().unwrap_or_else(|| panic!("no count {key} in {counts}"))
}

/// Every event has exactly one outcome, and the output holds what the counts say.
fn assert_counts_add_up(run: &Run) {
    let c = &run.counts;
    let outcomes = ["rejected", "kept", "dropped", "sampled_in", "sampled_out", "aggregated_in", "late", "tagged"];
    assert_eq!(outcomes.iter().map(|k| n(c, k)).sum::<u64>(), n(c, "events"), "{c}");
    let forwarded = ["kept", "sampled_in", "tagged", "late", "aggregated_out"].iter().map(|k| n(c, k)).sum::<u64>();
    assert_eq!(forwarded, run.forwarded.len() as u64, "{c}");
    assert_eq!(n(c, "bytes_out"), run.out.stdout.len() as u64, "{c}");
    assert_eq!(n(c, "alerts"), run.alerts.len() as u64, "{c}");
}

const EVERY_ACTION: &str = "default: keep
entries:
  - name: evidence
    rules: any
    action: tag
  - name: registry noise
    logsource: {category: registry_set}
    action: drop
  - name: network sample
    logsource: {category: network_connection}
    action: sample
    rate: 0.5
    key: DestinationIp
  - name: process counts
    logsource: {product: windows, category: process_creation}
    action: aggregate
    window: 1m
    by: Computer
";

#[test]
fn each_action_does_what_the_policy_says_and_the_counts_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let run_key = r"HKU\S-1-5-21\Software\Microsoft\Windows\CurrentVersion\Run\updater";
    let mut events = vec![
        registry(1, "ws1", run_key),                              // matches a rule: tagged
        registry(2, "ws1", r"HKLM\Software\Other\Key"),           // registry noise: dropped
        r#"{"message": "not a source Sigil knows"}"#.to_string(), // default: kept
    ];
    let ips: Vec<String> = (0..40).map(|i| format!("10.0.0.{i}")).collect();
    events.extend(ips.iter().enumerate().map(|(i, ip)| network(10 + i as u64, "ws1", ip, 443)));
    // Process starts: 3 on ws1 and 2 on ws2 in minute 0, 1 on ws1 in minute 1.
    events.extend([process(5, "ws1"), process(6, "ws2"), process(7, "ws1"), process(8, "ws2"), process(9, "ws1")]);
    events.push(process(70, "ws1"));
    let run = edge(dir.path(), EVERY_ACTION, &events, &[]);

    let tagged: Vec<Value> = run.forwarded.iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect();
    let with_tags: Vec<&Value> = tagged.iter().filter(|e| e.get("sigil.rules").is_some()).collect();
    assert_eq!(with_tags.len(), 1);
    assert_eq!(with_tags[0]["sigil.rules"], json!(["Run key written"]));
    assert!(!run.forwarded.iter().any(|l| l.contains(r"Software\\Other")), "the registry noise is dropped");
    assert!(run.forwarded.contains(&events[2]), "an unselected event is forwarded byte for byte");

    let expected: BTreeSet<&str> =
        ips.iter().map(String::as_str).filter(|ip| kept_by_documented_rule(ip, 0.5, 0)).collect();
    let sampled: BTreeSet<String> =
        tagged.iter().filter_map(|e| e["DestinationIp"].as_str().map(str::to_string)).collect();
    assert_eq!(sampled.iter().map(String::as_str).collect::<BTreeSet<_>>(), expected);
    assert!(!expected.is_empty() && expected.len() < ips.len(), "a rate of 0.5 keeps some and drops some");

    let summaries: Vec<&Value> = tagged.iter().filter(|e| e["kind"] == "sigil.aggregate").collect();
    let per_host: Vec<(String, &str, u64)> = summaries
        .iter()
        .map(|s| {
            (s["group"]["Computer"].to_string(), s["window"]["start"].as_str().unwrap(), s["value"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        per_host,
        [
            ("\"ws1\"".to_string(), "2024-05-01T10:00:00.000Z", 3),
            ("\"ws2\"".to_string(), "2024-05-01T10:00:00.000Z", 2),
            ("\"ws1\"".to_string(), "2024-05-01T10:01:00.000Z", 1)
        ]
    );
    let c = &run.counts;
    assert_eq!((n(c, "tagged"), n(c, "dropped"), n(c, "kept")), (1, 1, 1));
    assert_eq!((n(c, "sampled_in"), n(c, "sampled_out")), (expected.len() as u64, (ips.len() - expected.len()) as u64));
    assert_eq!((n(c, "aggregated_in"), n(c, "aggregated_out")), (6, 3));
    assert_counts_add_up(&run);
    assert!(text(&run.out.stderr).contains("sigil: edge: in 49 (rejected 0)"), "{}", text(&run.out.stderr));
}

#[test]
fn sampling_is_the_documented_hash_whatever_the_run_and_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "entries:\n  - logsource: {category: network_connection}\n    action: sample\n    rate: 0.3\n    seed: 7\n    key: [DestinationIp, DestinationPort]\n";
    let events: Vec<String> =
        (0..300).map(|i| network(i, "ws1", &format!("192.0.2.{}", i % 250), 1000 + (i % 7) as u16)).collect();
    let first = edge(dir.path(), policy, &events, &[]);
    let again = edge(dir.path(), policy, &events, &[]);
    assert_eq!(first.out.stdout, again.out.stdout, "two runs forward the same bytes");
    let reversed: Vec<String> = events.iter().rev().cloned().collect();
    let backwards = edge(dir.path(), policy, &reversed, &[]);

    let key = |line: &str| {
        let e: Value = serde_json::from_str(line).unwrap();
        format!("{}\u{1f}{}", e["DestinationIp"].as_str().unwrap(), e["DestinationPort"])
    };
    let expected: BTreeSet<String> =
        events.iter().map(|l| key(l)).filter(|k| kept_by_documented_rule(k, 0.3, 7)).collect();
    let kept: BTreeSet<String> = first.forwarded.iter().map(|l| key(l)).collect();
    let kept_backwards: BTreeSet<String> = backwards.forwarded.iter().map(|l| key(l)).collect();
    assert_eq!(kept, expected);
    assert_eq!(kept_backwards, expected, "the verdict does not depend on the order of the stream");
    let share = first.forwarded.len() as f64 / events.len() as f64;
    assert!((0.15..0.45).contains(&share), "about 30% kept: {share}");
    assert_counts_add_up(&first);
}

#[test]
fn a_sampled_out_event_still_counts_for_its_correlation() {
    let dir = tempfile::tempdir().unwrap();
    // A rate this small keeps none of these keys (checked below against the documented rule).
    let policy = "entries:\n  - logsource: {category: network_connection}\n    action: sample\n    rate: 0.000001\n    key: DestinationIp\n";
    let events: Vec<String> = (0..3).map(|i| network(i * 30, "ws7", "203.0.113.9", 4444)).collect();
    assert!(!kept_by_documented_rule("203.0.113.9", 0.000001, 0));
    let run = edge(dir.path(), policy, &events, &[]);
    assert!(run.forwarded.is_empty(), "every event was sampled out: {:?}", run.forwarded);
    assert_eq!(n(&run.counts, "sampled_out"), 3);
    assert_eq!(run.alerts.len(), 1, "{:?}", run.alerts);
    let alert: Value = serde_json::from_str(&run.alerts[0]).unwrap();
    assert_eq!(
        (alert["kind"].as_str(), alert["rule"]["title"].as_str()),
        (Some("correlation"), Some("Beaconing to port 4444"))
    );
    assert_eq!(alert["events_total"], 3);

    // The same alerts, byte for byte, as `sigil hunt` over the same events.
    let hunt = sigil(&[
        "hunt",
        "--format",
        "jsonl",
        "--rules",
        dir.path().join("rules.yml").to_str().unwrap(),
        dir.path().join("events.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(text(&hunt.stdout).lines().collect::<Vec<_>>(), run.alerts);
}

#[test]
fn authentication_logs_are_refused_for_sampling_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "rules.yml", RULES);
    let events = write(dir.path(), "events.jsonl", &format!("{}\n{}\n", logon(1, "ann"), logon(2, "bob")));
    for (selection, offending) in [
        ("logsource: {product: windows, service: security}", "product=windows service=security"),
        ("logsource: {product: windows}", "product=windows service=security"),
        ("logsource: {category: authentication}", "category=authentication"),
        ("logsource: {product: okta}", "product=okta service=okta"),
    ] {
        let text_of = |force: &str| {
            format!("entries:\n  - name: sign-ins\n    {selection}\n    action: sample\n    rate: 0.1\n    key: TargetUserName\n{force}")
        };
        let policy = write(dir.path(), "auth.yml", &text_of(""));
        let args = [
            "edge",
            "--policy",
            policy.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            events.to_str().unwrap(),
        ];
        let out = sigil(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{selection}: {err}");
        let at = format!("sigil: policy {}:2:5: entry 'sign-ins' samples", policy.display());
        assert!(err.contains(&at) && err.contains(offending) && err.contains("force: true"), "{selection}: {err}");
        assert!(out.stdout.is_empty());

        write(dir.path(), "auth.yml", &text_of("    force: true\n"));
        let out = sigil(&args);
        assert!(out.status.success(), "{selection}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("samples with force: true"));
    }
    // Network events are not authentication logs: sampling them needs no force.
    let policy = write(dir.path(), "net.yml", "entries:\n  - logsource: {category: network_connection}\n    action: sample\n    rate: 0.1\n    key: DestinationIp\n");
    let out = sigil(&[
        "edge",
        "--policy",
        policy.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn windows_close_by_event_time_not_by_arrival_or_wall_time() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "p.yml",
        "entries:\n  - logsource: {category: process_creation}\n    action: aggregate\n    window: 1s\n    by: Computer\n",
    );
    let rules = write(dir.path(), "rules.yml", RULES);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["edge", "--policy", policy.to_str().unwrap(), "--rules", rules.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Two starts within the first second of event time.
    let p = |ms: u64, host: &str| {
        json!({"Channel": SYSMON, "EventID": 1, "Computer": host, "UtcTime": format!("2024-05-01 10:00:{:02}.{:03}", ms / 1000, ms % 1000)}).to_string()
    };
    writeln!(stdin, "{}\n{}", p(100, "a"), p(600, "a")).unwrap();
    stdin.flush().unwrap();
    // Three seconds of wall time pass: the window is long over by the clock, not by event time.
    assert!(rx.recv_timeout(Duration::from_secs(3)).is_err(), "nothing closes while event time stands still");
    // An event 2 s later in event time closes the window: its summary comes first.
    let later = r#"{"message": "unknown source", "@timestamp": "2024-05-01T10:00:02.500Z"}"#;
    writeln!(stdin, "{later}").unwrap();
    stdin.flush().unwrap();
    let summary: Value = serde_json::from_str(&rx.recv_timeout(Duration::from_secs(20)).unwrap()).unwrap();
    assert_eq!((summary["kind"].as_str(), summary["value"].as_u64()), (Some("sigil.aggregate"), Some(2)));
    assert_eq!(summary["window"]["end"], "2024-05-01T10:00:01.000Z");
    assert_eq!(rx.recv_timeout(Duration::from_secs(20)).unwrap(), later);
    // A late start (its window has closed) is forwarded as it is, not lost.
    writeln!(stdin, "{}", p(900, "b")).unwrap();
    drop(stdin);
    assert_eq!(rx.recv_timeout(Duration::from_secs(20)).unwrap(), p(900, "b"));
    assert!(child.wait().unwrap().success());
}

#[test]
fn zstd_output_decompresses_to_the_plain_output() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<String> =
        (0..500).map(|i| network(i, "ws1", &format!("10.1.{}.{}", i / 250, i % 250), 443)).collect();
    let plain = edge(dir.path(), EVERY_ACTION, &events, &[]);
    let compressed = edge(dir.path(), EVERY_ACTION, &events, &["--compress", "zstd"]);
    assert_eq!(zstd::decode_all(compressed.out.stdout.as_slice()).unwrap(), plain.out.stdout);
    assert!(compressed.out.stdout.len() * 4 < plain.out.stdout.len(), "JSON Lines compress well");
    assert_eq!(compressed.counts, plain.counts);
}

#[test]
fn sealed_outputs_verify() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("edge.key");
    assert!(sigil(&["keygen", "-o", key.to_str().unwrap()]).status.success());
    let events = vec![registry(1, "ws1", r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run\x"), process(2, "ws1")];
    let run = edge(dir.path(), EVERY_ACTION, &events, &["--seal", key.to_str().unwrap()]);
    let forwarded = write(dir.path(), "forwarded.sealed", &text(&run.out.stdout));
    for file in [forwarded, dir.path().join("alerts.jsonl")] {
        let out = sigil(&["verify", file.to_str().unwrap(), "--key", key.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}{}", file.display(), text(&out.stdout), text(&out.stderr));
    }
    assert!(run.forwarded.iter().all(|l| l.starts_with(r#"{"seal":"#)), "{:?}", run.forwarded);
}

#[cfg(unix)]
#[test]
fn sigusr1_prints_the_counts_while_the_stream_runs() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "p.yml", "entries: []\n");
    let rules = write(dir.path(), "rules.yml", RULES);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["edge", "--policy", policy.to_str().unwrap(), "--rules", rules.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    for i in 0..3 {
        writeln!(stdin, "{}", process(i, "ws1")).unwrap();
    }
    stdin.flush().unwrap();
    // Once the third event is out, the listener is up and the snapshot holds all three.
    let mut line = String::new();
    for _ in 0..3 {
        line.clear();
        stdout.read_line(&mut line).unwrap();
    }
    let killed = Command::new("kill").args(["-USR1", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.starts_with("sigil: edge: in 3 ") => break true,
            Ok(l) => seen.push(l),
            Err(_) => break false,
        }
    };
    assert!(found, "no counts on SIGUSR1 while stdin is open: {seen:?}");
    drop(stdin);
    assert!(child.wait().unwrap().success(), "SIGUSR1 does not stop the stream");
}
