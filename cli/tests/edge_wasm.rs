//! `sigil edge --runtime wasm` writes what `--runtime native` writes, byte for byte (forwarded
//! stream, alerts, counts), and over the OTRF Windows sample with every SigmaHQ rule the
//! example policy reduces the stream without changing a single alert of `sigil hunt`. Needs
//! the engine component (scripts/build-wasm.sh, which scripts/test.sh runs first) and, for the
//! sample, ../shared; each test says SKIPPED without what it needs.

use serde_json::json;
mod wasm_support;

use std::path::Path;
use wasm_support::{compile_all_sigmahq, component_built, repo, sigil};

/// What one `sigil edge` run wrote.
#[derive(Debug, PartialEq)]
struct Written {
    forwarded: Vec<u8>,
    alerts: Vec<u8>,
    counts: serde_json::Value,
}

fn edge(dir: &Path, runtime: &str, rules: &[&str], policy: &Path, inputs: &[&Path], extra: &[&str]) -> Written {
    let alerts = dir.join(format!("alerts-{runtime}.jsonl"));
    let counts = dir.join(format!("counts-{runtime}.json"));
    let mut args = vec!["edge", "--runtime", runtime, "--policy", policy.to_str().unwrap()];
    args.extend(rules);
    args.extend(["--alerts", alerts.to_str().unwrap(), "--counts", counts.to_str().unwrap()]);
    args.extend(extra);
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    let out = sigil(&args);
    Written {
        forwarded: out.stdout,
        alerts: std::fs::read(&alerts).unwrap(),
        counts: serde_json::from_str(&std::fs::read_to_string(&counts).unwrap()).unwrap(),
    }
}

const RULES: &str = "title: Connection to port 4444
id: 11111111-2222-4333-8444-555555555601
name: port_4444
status: test
author: Sigil tests
logsource: {product: windows, category: network_connection}
detection:
    sel:
        DestinationPort: 4444
    condition: sel
level: medium
---
title: Beaconing to port 4444
id: 11111111-2222-4333-8444-555555555602
status: test
author: Sigil tests
correlation:
    type: event_count
    rules: [port_4444]
    group-by: [Computer]
    timespan: 5m
    condition: {gte: 3}
level: high
---
title: Sysmon went quiet
id: 11111111-2222-4333-8444-555555555603
status: test
author: Sigil tests
logsource: {product: windows, service: sysmon}
silence: {group-by: [Computer], timespan: 10m}
level: high
";

const POLICY: &str = "entries:
  - {name: evidence, rules: any, action: tag}
  - {name: noise, logsource: {category: process_access}, action: drop}
  - {name: net, logsource: {category: network_connection}, action: sample, rate: 0.4, key: DestinationIp}
  - {name: reg, logsource: {category: registry_event}, action: aggregate, window: 1m, by: Computer, measure: distinct, field: TargetObject}
  - {name: trail, logsource: {product: aws}, action: aggregate, window: 10m, by: eventName}
";

#[test]
fn native_and_wasm_edge_write_the_same_bytes() {
    if !component_built("native_and_wasm_edge_write_the_same_bytes") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let policy = dir.path().join("policy.yml");
    std::fs::write(&policy, POLICY).unwrap();
    let sysmon = "Microsoft-Windows-Sysmon/Operational";
    let mut lines = Vec::new();
    for minute in 0..30u64 {
        let at = |s: u64| format!("2024-05-01 10:{minute:02}:{s:02}.000");
        for (host, alive) in [("ws1", true), ("ws2", minute < 4)] {
            if !alive {
                continue;
            }
            lines.push(json!({"Channel": sysmon, "EventID": 10, "Computer": host, "UtcTime": at(1)}).to_string());
            lines.push(json!({"Channel": sysmon, "EventID": 3, "Computer": host, "UtcTime": at(2),
                "DestinationIp": format!("198.51.100.{}", minute * 3 % 200), "DestinationPort": if minute % 9 < 3 { 4444 } else { 443 }}).to_string());
            lines.push(
                json!({"Channel": sysmon, "EventID": 13, "Computer": host, "UtcTime": at(3),
                "TargetObject": format!("HKLM\\Software\\k{}", minute % 4)})
                .to_string(),
            );
        }
    }
    lines.push("{not json".to_string());
    lines.push(String::new());
    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(&mixed, lines.join("\n") + "\n").unwrap();
    // A CloudTrail file of several records per line, and the examples' cloud stories.
    let records = dir.path().join("records.jsonl");
    let cloudtrail = std::fs::read_to_string(repo().join("examples/cloudtrail.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = cloudtrail.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let grouped: Vec<String> = events.chunks(5).map(|c| json!({"Records": c}).to_string()).collect();
    std::fs::write(&records, grouped.join("\n") + "\n").unwrap();
    let okta = repo().join("examples/okta.jsonl");

    let inputs = [mixed.as_path(), records.as_path(), okta.as_path()];
    let pack_rules = repo().join("sigma-rules/rules");
    let rules_arg = ["--rules", rules.to_str().unwrap(), "--rules", pack_rules.to_str().unwrap()];
    let native = edge(dir.path(), "native", &rules_arg, &policy, &inputs, &["--silence"]);
    let wasm = edge(dir.path(), "wasm", &rules_arg, &policy, &inputs, &["--silence"]);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    // Every kind of output is there to compare.
    for needle in ["\"sigil.rules\"", "\"sigil.aggregate\"", "\"DestinationPort\":443"] {
        assert!(text(&native.forwarded).contains(needle), "{needle}");
    }
    for kind in ["\"kind\":\"silence\"", "\"kind\":\"correlation\"", "\"kind\":\"detection\""] {
        assert!(text(&native.alerts).contains(kind), "{kind}");
    }
    assert_eq!(native.counts["rejected"], 1);
    assert_eq!(text(&native.forwarded), text(&wasm.forwarded));
    assert_eq!(text(&native.alerts), text(&wasm.alerts));
    assert_eq!(native.counts, wasm.counts);
}

#[test]
fn the_example_policy_over_the_otrf_sample_keeps_every_alert_of_hunt() {
    let test = "the_example_policy_over_the_otrf_sample_keeps_every_alert_of_hunt";
    let shared = repo().join("../shared");
    let sample = shared.join("datasets/windows/otrf-windows-sample.jsonl.gz");
    if !sample.is_file() {
        println!("SKIPPED {test}: {} is absent", sample.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("all.pack");
    compile_all_sigmahq(&shared.join("sigma"), &pack);

    let hunt = sigil(&["hunt", "--pack", pack.to_str().unwrap(), "--format", "jsonl", sample.to_str().unwrap()]);
    let policy = repo().join("examples/edge-policy.yml");
    let pack_arg = ["--pack", pack.to_str().unwrap()];
    let native = edge(dir.path(), "native", &pack_arg, &policy, &[sample.as_path()], &[]);
    assert!(hunt.stdout.len() > 100_000, "the sample raises alerts");
    assert_eq!(native.alerts, hunt.stdout, "edge raises exactly hunt's alerts, in the same order");
    let c = &native.counts;
    let (bytes_in, bytes_out) = (c["bytes_in"].as_u64().unwrap(), c["bytes_out"].as_u64().unwrap());
    assert!(bytes_out * 2 < bytes_in, "the example policy halves the stream at least: {c}");
    println!(
        "otrf Windows sample, example policy, all SigmaHQ rules: {bytes_in} bytes in, {bytes_out} bytes out ({:.1}%); {} alerts, as hunt; counts {c}",
        bytes_out as f64 * 100.0 / bytes_in as f64,
        String::from_utf8_lossy(&hunt.stdout).lines().count()
    );
    if component_built(test) {
        let wasm = edge(dir.path(), "wasm", &pack_arg, &policy, &[sample.as_path()], &[]);
        assert!(native == wasm, "the Wasm engine forwards and alerts exactly as the native one");
        println!("otrf Windows sample: identical output from both runtimes");
    }
}
