//! Alert suppression (`suppress:` in a rule) over the OTRF Windows sample, whose biggest burst
//! is Sysmon process access (event 10). The rules in `suppression/rules.yml` come in twins: the
//! same detection (and the same burst correlation) with and without `suppress:`, so the twin's
//! alerts are the matches the suppressed rule must account for. Tests that need `../shared`
//! print SKIPPED and return when it is absent.

mod wasm_support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wasm_support::{component_built, repo, sigil};

const SUPPRESSED: &str = "a22c58d3-dea3-4199-b485-36689e8eea5c";
const EVERY: &str = "a0cdee56-1cbe-4e5f-b041-4790a39ac043";
const SUPPRESSED_BURST: &str = "b9c2f85a-0df8-4cbb-9413-c3709ae2d017";
const EVERY_BURST: &str = "ad417dee-82d8-45fe-8f27-59eb7f70b5cf";
const HOUR_MS: i64 = 3_600_000;

fn rules() -> PathBuf {
    repo().join("cli/tests/suppression/rules.yml")
}

fn sample(test: &str) -> Option<PathBuf> {
    let sample = repo().join("../shared/datasets/windows/otrf-windows-sample.jsonl.gz");
    if !sample.is_file() {
        println!("SKIPPED {test}: ../shared (the OTRF Windows sample) is absent");
        return None;
    }
    Some(sample)
}

/// `hunt --format FORMAT` with the test rules; stdout, after checking the run succeeded.
fn hunt(format: &str, extra: &[&str], inputs: &[&Path]) -> String {
    let rules = rules();
    let mut args = vec!["hunt", "--rules", rules.to_str().unwrap(), "--format", format];
    args.extend(extra);
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    let out = sigil(&args);
    assert!(out.status.success(), "sigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn parse(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ms(v: &Value) -> i64 {
    sigil_engine::time::parse_str(v.as_str().unwrap()).unwrap().timestamp_millis()
}

/// The group an alert stands for: its `suppression.group`, or for the twins the same fields.
fn group_of(alert: &Value) -> String {
    let group = match alert["kind"].as_str() {
        Some("suppression") => &alert["group"],
        _ if !alert["suppression"].is_null() => &alert["suppression"]["group"],
        Some("correlation") => &alert["group"],
        _ => {
            let event = &alert["event"];
            return serde_json::json!({"Hostname": event["Hostname"], "SourceImage": event["SourceImage"]}).to_string();
        }
    };
    let object = group.as_object().unwrap();
    serde_json::json!({"Hostname": object["Hostname"], "SourceImage": object["SourceImage"]}).to_string()
}

/// Per group: (alerts written, matches suppressed) of `rule`, and the twin's alerts.
fn accounting(alerts: &[Value], rule: &str, twin: &str) -> BTreeMap<String, (u64, u64, u64)> {
    let mut groups: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for a in alerts {
        let entry = groups.entry(group_of(a)).or_default();
        match (a["kind"].as_str().unwrap(), a["rule"]["id"].as_str().unwrap()) {
            ("suppression", id) if id == rule => entry.1 += a["suppressed"].as_u64().unwrap(),
            (_, id) if id == rule => entry.0 += 1,
            (_, id) if id == twin => entry.2 += 1,
            _ => {}
        }
    }
    groups
}

#[test]
fn every_match_is_written_or_counted_in_windows_of_event_time() {
    let Some(sample) = sample("every_match_is_written_or_counted_in_windows_of_event_time") else { return };
    let one = hunt("jsonl", &["--threads", "1"], &[&sample]);
    let two = hunt("jsonl", &["--threads", "2"], &[&sample]);
    assert!(one == two, "suppression must not depend on the threads that evaluated the events");
    let alerts = parse(&one);
    for (rule, twin) in [(SUPPRESSED, EVERY), (SUPPRESSED_BURST, EVERY_BURST)] {
        let groups = accounting(&alerts, rule, twin);
        let (written, suppressed, matches) = groups.values().fold((0, 0, 0), |t, g| (t.0 + g.0, t.1 + g.1, t.2 + g.2));
        println!("{rule}: {matches} matches in {} groups: {written} written, {suppressed} suppressed", groups.len());
        assert!(suppressed > written, "the sample's bursts suppress most matches");
        for (group, (w, s, m)) in &groups {
            assert_eq!(w + s, *m, "{rule}, group {group}: written plus suppressed must be the matches");
        }
    }
    // Windows are an hour of event time from the alert that opened them: a group's written
    // alerts are at least an hour apart, and each summary spans exactly its window.
    let mut opened: BTreeMap<String, i64> = BTreeMap::new();
    for a in alerts.iter().filter(|a| a["rule"]["id"] == SUPPRESSED) {
        if a["kind"] == "suppression" {
            assert_eq!(ms(&a["window"]["end"]) - ms(&a["window"]["start"]), HOUR_MS);
            assert!(ms(&a["last"]) < ms(&a["window"]["end"]));
            assert_eq!(a["matches"].as_u64().unwrap(), a["suppressed"].as_u64().unwrap() + 1);
            continue;
        }
        // An event without a readable time takes the newest time seen: nothing to check.
        if !a["timestamp"].is_string() {
            continue;
        }
        let (group, time) = (group_of(a), ms(&a["timestamp"]));
        if let Some(previous) = opened.insert(group.clone(), time) {
            assert!(time >= previous + HOUR_MS, "{group}: a new window opened before the last one ended");
        }
    }
}

#[test]
fn a_hunt_split_with_state_gives_the_alerts_of_one_hunt() {
    let Some(sample) = sample("a_hunt_split_with_state_gives_the_alerts_of_one_hunt") else { return };
    let dir = tempfile::tempdir().unwrap();
    let text = {
        use std::io::Read;
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&sample).unwrap()).read_to_string(&mut text).unwrap();
        text
    };
    let lines: Vec<&str> = text.lines().collect();
    let (first, second) = (dir.path().join("first.jsonl"), dir.path().join("second.jsonl"));
    let half = lines.len() / 2;
    std::fs::write(&first, lines[..half].join("\n") + "\n").unwrap();
    std::fs::write(&second, lines[half..].join("\n") + "\n").unwrap();
    let (whole_state, split_state) = (dir.path().join("whole.state"), dir.path().join("split.state"));
    let state = |p: &Path| ["--state".to_string(), p.to_str().unwrap().to_string()];
    let whole_args = state(&whole_state);
    let whole = hunt("jsonl", &[&whole_args[0], &whole_args[1]], &[&first, &second]);
    let split_args = state(&split_state);
    let split = hunt("jsonl", &[&split_args[0], &split_args[1]], &[&first])
        + &hunt("jsonl", &[&split_args[0], &split_args[1]], &[&second]);
    assert!(whole.lines().count() > 1000);
    assert!(whole == split, "a hunt split in two with --state must print what one hunt prints");
    // The suppression windows left open are the same (the correlation windows name their
    // inputs by position in the run's own list of files, which differs).
    let saved = |p: &Path| serde_json::from_str::<Value>(&std::fs::read_to_string(p).unwrap()).unwrap();
    let (a, b) = (saved(&whole_state)["suppression"].clone(), saved(&split_state)["suppression"].clone());
    assert!(a == b, "a split hunt must leave the same suppression windows open");
    assert!(!a["windows"].as_array().unwrap().is_empty(), "windows still open carry over");
}

#[test]
fn ocsf_findings_carry_the_count() {
    let Some(sample) = sample("ocsf_findings_carry_the_count") else { return };
    let jsonl = parse(&hunt("jsonl", &[], &[&sample]));
    let ocsf = parse(&hunt("ocsf", &[], &[&sample]));
    let summaries: Vec<&Value> = jsonl.iter().filter(|a| a["kind"] == "suppression").collect();
    let findings: Vec<&Value> = ocsf.iter().filter(|f| f["unmapped"]["kind"] == "suppression").collect();
    assert_eq!(summaries.len(), findings.len());
    assert!(!findings.is_empty());
    for (summary, finding) in summaries.iter().zip(&findings) {
        assert_eq!(finding["count"], summary["matches"], "a finding counts every match of its window");
        assert_eq!(finding["unmapped"]["suppressed"], summary["suppressed"]);
        assert_eq!(finding["class_uid"], 2004);
    }
    // The alert that opened a window says so in its finding too.
    let opened = ocsf.iter().find(|f| !f["unmapped"]["suppression"].is_null()).expect("an opening alert");
    assert!(opened["unmapped"]["suppression"]["group"].is_object());
}

#[test]
fn native_and_wasm_print_the_same_bytes() {
    let test = "native_and_wasm_print_the_same_bytes";
    let Some(sample) = sample(test) else { return };
    if !component_built(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("rules.pack");
    let out = sigil(&["compile", rules().to_str().unwrap(), "-o", pack.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let args = ["hunt", "--pack", pack.to_str().unwrap(), "--format", "jsonl", sample.to_str().unwrap()];
    let native = sigil(&args);
    let wasm = sigil(&[&args[..], &["--runtime", "wasm"]].concat());
    assert!(native.status.success() && wasm.status.success(), "{}", String::from_utf8_lossy(&wasm.stderr));
    let (a, b) = (String::from_utf8_lossy(&native.stdout), String::from_utf8_lossy(&wasm.stdout));
    assert!(a.contains("\"kind\":\"suppression\""));
    assert!(a == b, "native and Wasm differ: {} and {} lines", a.lines().count(), b.lines().count());
}
