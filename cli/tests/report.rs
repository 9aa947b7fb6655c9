//! `sigil report`: alerts from a real `sigil hunt` (the examples with the embedded pack) read from
//! a file or standard input, written as one HTML file; lines that are not alerts, alerts over
//! `--max-alerts` and lines over `--max-line-bytes` reported on stderr and in the page.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn sigil(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sigil runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().expect("sigil ends")
}

/// The alert lines `sigil hunt` prints for the CloudTrail example with the embedded pack.
fn hunt_alerts() -> Vec<String> {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/cloudtrail.jsonl");
    let out = sigil(&["hunt", example, "--format", "jsonl"], b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    assert!(lines.len() >= 3, "the example raises alerts: {lines:?}");
    lines
}

/// The JSON the page reads.
fn payload(html: &str) -> Value {
    let start = html.find(r#"id="report-data">"#).expect("the data element") + r#"id="report-data">"#.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).expect("the payload is JSON")
}

#[test]
fn a_report_from_standard_input_counts_what_it_left_out_and_skipped() {
    let alerts = hunt_alerts();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let input = format!("{}\nthis is not an alert\n{}\n", alerts[0], alerts[1..].join("\n"));
    let out = sigil(
        &["report", "-", "-o", html.to_str().unwrap(), "--max-alerts", "2", "--title", "Case 42"],
        input.as_bytes(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("-:2: not an alert"), "{stderr}");
    let left_out = alerts.len() - 2;
    assert!(stderr.contains(&format!("{left_out} alerts left out of the report: it embeds at most 2")), "{stderr}");
    assert!(stderr.contains("2 alerts embedded"), "{stderr}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<title>Case 42</title>"));
    let data = payload(&page);
    assert_eq!(data["meta"]["left_out"], left_out);
    assert_eq!(data["meta"]["malformed_listed"][0]["line"], 2);
    // What is embedded is the hunt's alert, as it printed it.
    let first: Value = serde_json::from_str(&alerts[0]).unwrap();
    let embedded: Vec<&Value> = data["alerts"].as_array().unwrap().iter().map(|a| &a["a"]).collect();
    assert!(embedded.contains(&&first), "the first alert is embedded");
}

#[test]
fn an_over_long_line_is_skipped_and_reported_with_its_line() {
    let alerts = hunt_alerts();
    let dir = tempfile::tempdir().unwrap();
    let (input, html) = (dir.path().join("alerts.jsonl"), dir.path().join("report.html"));
    let long = format!("{{\"pad\": \"{}\"}}", "x".repeat(5000));
    std::fs::write(&input, format!("{}\n{long}\n{}\n", alerts[0], alerts[1])).unwrap();
    let out =
        sigil(&["report", input.to_str().unwrap(), "-o", html.to_str().unwrap(), "--max-line-bytes", "4096"], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("alerts.jsonl:2: the line is 5011 bytes"), "{stderr}");
    assert_eq!(payload(&std::fs::read_to_string(&html).unwrap())["meta"]["embedded"], 2);
}

#[test]
fn an_unwritable_output_is_an_error_that_names_it() {
    let out = sigil(&["report", "-", "-o", "/nonexistent-dir/report.html"], b"");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot write /nonexistent-dir/report.html"), "{stderr}");
}

#[test]
fn hunt_report_holds_exactly_the_alerts_hunt_printed() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/cloudtrail.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("hunt.html");
    let out = sigil(&["hunt", example, "--threads", "2", "--report", html.to_str().unwrap()], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let plain = sigil(&["hunt", example, "--threads", "2", "--format", "jsonl"], b"");
    assert_eq!(printed, String::from_utf8(plain.stdout).unwrap(), "--report changes nothing on stdout");
    let lines: Vec<&str> = printed.lines().collect();
    assert!(stderr.contains(&format!("{} alerts embedded, 0 left out, 0 malformed lines", lines.len())), "{stderr}");
    let data = payload(&std::fs::read_to_string(&html).unwrap());
    let mut embedded: Vec<String> = data["alerts"].as_array().unwrap().iter().map(|a| a["a"].to_string()).collect();
    let mut expected: Vec<String> =
        lines.iter().map(|l| serde_json::from_str::<Value>(l).unwrap().to_string()).collect();
    embedded.sort();
    expected.sort();
    assert_eq!(embedded, expected);
}

#[test]
fn hunt_report_refuses_what_gives_no_alert_lines() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/cloudtrail.jsonl");
    let out = sigil(&["hunt", example, "--format", "table", "--report", "/tmp/never.html"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--report collects JSON Lines alerts: use --format jsonl"));
}
