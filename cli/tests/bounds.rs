//! The input bounds end to end (README, "Limits"): each is hit on purpose; the message names the
//! bound and where it was hit, and every other event, rule and record is still processed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn sigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil")).args(args).output().expect("sigil runs")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes).lines().map(str::to_string).collect()
}

const KEYWORD_RULE: &str = "title: needle
logsource: { product: test }
detection:
  keywords: ['needle']
  condition: keywords
";

#[test]
fn hunt_rejects_an_over_long_line_and_an_over_deep_event_by_line_and_reads_on() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "needle.yml", KEYWORD_RULE);
    let deep = format!(r#"{{"a":{}"needle"{}}}"#, "[".repeat(150), "]".repeat(150));
    let long = format!(r#"{{"a":"needle {}"}}"#, "x".repeat(5000));
    let events =
        write(dir.path(), "events.jsonl", &format!("{{\"a\":\"needle 1\"}}\n{long}\n{deep}\n{{\"a\":\"needle 4\"}}\n"));
    let out = sigil(&[
        "hunt",
        "--format",
        "jsonl",
        "--max-line-bytes",
        "1024",
        "--rules",
        rules.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let shown = events.display().to_string();
    let stderr = lines(&out.stderr);
    let rejected: Vec<&String> = stderr.iter().filter(|l| l.contains("malformed event")).collect();
    assert_eq!(rejected.len(), 2, "{stderr:?}");
    assert_eq!(
        *rejected[0],
        format!(
            "sigil: {shown}:2: malformed event: the line is {} bytes, more than the line limit of 1024 bytes \
             (--max-line-bytes): skipped to the next line",
            long.len()
        )
    );
    assert_eq!(
        *rejected[1],
        format!(
            "sigil: {shown}:3: malformed event: nested deeper than the event depth limit of 100 arrays and \
             objects, at column 105"
        )
    );
    assert_eq!(stderr.last().unwrap(), "events: 4 read, 2 rejected; alerts: 2");
    let fired: Vec<u64> = lines(&out.stdout)
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["source"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(fired, vec![1, 4]);
}

#[test]
fn a_huge_line_on_standard_input_is_skipped_without_being_held() {
    // 64 MiB on one line through a pipe, with a 1 MiB line limit: reported and skipped.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["hunt", "--format", "jsonl", "--max-line-bytes", "1048576", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin.write_all(b"{\"eventName\":\"first\"}\n{\"a\":\"").unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            stdin.write_all(&chunk).unwrap();
        }
        stdin.write_all(b"\"}\n{\"eventName\":\"last\"}\n").unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stderr = lines(&out.stderr);
    assert!(
        stderr.iter().any(|l| l.starts_with("sigil: -:2: malformed event: the line is 67108872 bytes")),
        "{stderr:?}"
    );
    assert_eq!(stderr.last().unwrap(), "events: 3 read, 1 rejected; alerts: 0");
}

#[test]
fn check_rejects_a_rule_whose_regex_passes_the_size_limit_and_loads_the_others() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a_needle.yml", KEYWORD_RULE);
    write(
        dir.path(),
        "b_huge.yml",
        "title: huge\nlogsource: { product: test }\ndetection:\n  sel:\n    CommandLine|re|i: '\\w{2000}\\w{2000}'\n  condition: sel\n",
    );
    let out = sigil(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let huge = dir.path().join("b_huge.yml").display().to_string();
    assert!(
        text.contains(&format!(
            "{huge}:5:24: the compiled regular expression is larger than the regex size limit of 16777216 bytes \
             (REGEX_SIZE_LIMIT)"
        )),
        "{text}"
    );
    assert!(text.contains("checked 2 rules: 1 ok, 1 rejected"), "{text}");
}

const SPRAY_RULES: &str = "title: failed logon
name: failed_logon
logsource: { product: test }
detection:
  sel: { outcome: failure }
  condition: sel
---
title: password spraying
name: spray
correlation:
  type: value_count
  rules: failed_logon
  group-by: src_ip
  timespan: 1h
  condition:
    field: user
    gte: 50
";

/// Failed logins from two addresses, taking turns, each with a user not seen before: 40 events.
fn spray_events() -> String {
    let mut events = String::new();
    for i in 0..20 {
        for ip in ["10.0.0.1", "10.0.0.2"] {
            events.push_str(&format!(
                "{{\"@timestamp\":\"2024-01-01T00:{i:02}:00Z\",\"outcome\":\"failure\",\"src_ip\":\"{ip}\",\"user\":\"u{i}\"}}\n"
            ));
        }
    }
    events
}

#[test]
fn hunt_reports_a_value_count_group_full_of_distinct_values_once_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "spray.yml", SPRAY_RULES);
    let events = write(dir.path(), "events.jsonl", &spray_events());
    let hunt = |limit: &str| {
        sigil(&[
            "hunt",
            "--format",
            "jsonl",
            "--max-distinct-values",
            limit,
            "--rules",
            rules.to_str().unwrap(),
            events.to_str().unwrap(),
        ])
    };
    let out = hunt("5");
    let stderr = lines(&out.stderr);
    let warnings: Vec<&String> = stderr.iter().filter(|l| l.starts_with("sigil: warning:")).collect();
    assert_eq!(warnings.len(), 2, "once per group: {stderr:?}");
    assert_eq!(
        warnings[0],
        "sigil: warning: correlation 'spray' (password spraying): group {\"src_ip\":\"10.0.0.1\"} reached the \
         distinct-value limit of 5 values (--max-distinct-values): new values are not counted while it is full, \
         so its count is at least 5"
    );
    assert!(warnings[1].contains("{\"src_ip\":\"10.0.0.2\"}"), "{warnings:?}");
    assert_eq!(stderr.last().unwrap(), "events: 40 read, 0 rejected; alerts: 0");
    // Under the default limit nothing is reported.
    let out = hunt("10000");
    assert!(!lines(&out.stderr).iter().any(|l| l.contains("warning")), "{:?}", lines(&out.stderr));
}

#[test]
fn hunt_evicts_correlation_groups_past_max_groups_and_says_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "spray.yml", SPRAY_RULES);
    let events = write(dir.path(), "events.jsonl", &spray_events());
    let out = sigil(&["hunt", "--max-groups", "1", "--rules", rules.to_str().unwrap(), events.to_str().unwrap()]);
    let stderr = lines(&out.stderr);
    // Two groups take turns under a cap of one: every event but the first evicts the other.
    assert!(
        stderr.contains(&"sigil: correlation groups: 1 open at the end, 39 evicted by --max-groups".to_string()),
        "{stderr:?}"
    );
    assert_eq!(stderr.last().unwrap(), "events: 40 read, 0 rejected; alerts: 0");
}
