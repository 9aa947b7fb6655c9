//! `sigil search` end to end: a query matches the lines a one-rule `hunt` matches on real cloud
//! logs from ../shared, `--count-by` agrees with a count done here, every `--format` reads
//! back, and a refused query names its column on stderr and exits non-zero.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil")).args(args).output().expect("sigil runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"))).collect()
}

/// The OTRF CloudTrail sample (S3 exfiltration through an EC2 proxy), when ../shared is here.
fn otrf_cloudtrail(test: &str) -> Option<PathBuf> {
    let shared = sigil_tests::shared_dir(test)?;
    let path = shared.join("datasets/cloud/otrf/aws_ec2_proxy_s3_exfiltration.cloudtrail.jsonl");
    if !path.is_file() {
        println!("SKIPPED {test}: {} is absent", path.display());
        return None;
    }
    Some(path)
}

/// The `event` objects of Panther's CloudTrail rule tests, one per line, in a temporary file.
fn panther_cloudtrail(test: &str, dir: &Path) -> Option<PathBuf> {
    let shared = sigil_tests::shared_dir(test)?;
    let source = shared.join("datasets/cloud/panther-tests/AWS_CloudTrail.tests.jsonl");
    let Ok(text) = std::fs::read_to_string(&source) else {
        println!("SKIPPED {test}: {} is absent", source.display());
        return None;
    };
    let mut events = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        events.push_str(&case["event"].to_string());
        events.push('\n');
    }
    let path = dir.join("panther_cloudtrail.jsonl");
    std::fs::write(&path, events).unwrap();
    Some(path)
}

/// The (file, line) of every event `search` printed.
fn searched(query: &str, events: &Path) -> BTreeSet<(String, u64)> {
    let out = sigil(&["search", "--format", "jsonl", query, events.to_str().unwrap()]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "search `{query}` failed: {}", stderr(&out));
    json_lines(&out)
        .iter()
        .map(|l| (l["source"]["file"].as_str().unwrap().to_string(), l["source"]["line"].as_u64().unwrap()))
        .collect()
}

/// The (file, line) of every alert of a one-rule `hunt` with this detection.
fn hunted(detection: &str, events: &Path, dir: &Path) -> BTreeSet<(String, u64)> {
    let rule = format!(
        "title: the same question as a rule\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n{}",
        detection.lines().map(|l| format!("  {l}\n")).collect::<String>()
    );
    let path = dir.join("rule.yml");
    std::fs::write(&path, rule).unwrap();
    let out = sigil(&["hunt", "--format", "jsonl", "--rules", path.to_str().unwrap(), events.to_str().unwrap()]);
    assert!(out.status.success(), "hunt failed: {}", stderr(&out));
    json_lines(&out)
        .iter()
        .map(|a| (a["source"]["file"].as_str().unwrap().to_string(), a["source"]["line"].as_u64().unwrap()))
        .collect()
}

/// Each query beside the detection a rule author would write for it (by hand, not by the
/// query renderer), and whether it must match anything in the OTRF sample.
const OTRF_PAIRS: &[(&str, &str)] = &[
    ("eventSource=s3.amazonaws.com", "sel:\n  eventSource: s3.amazonaws.com\ncondition: sel"),
    (
        "eventName|startswith=List userIdentity.type=AssumedRole",
        "sel:\n  eventName|startswith: List\n  userIdentity.type: AssumedRole\ncondition: sel",
    ),
    (
        "(eventName=GetObject,ListBuckets or userAgent|contains=Boto3) and not readOnly=false",
        "a:\n  eventName: [GetObject, ListBuckets]\nb:\n  userAgent|contains: Boto3\nc:\n  readOnly: false\ncondition: (a or b) and not c",
    ),
    ("mordors3stack", "keywords:\n  - mordors3stack\ncondition: keywords"),
    (
        r"/^arn:aws:sts::\d+:assumed-role/ sourceIPAddress|cidr=1.2.3.0/24",
        "re:\n  '|re': '^arn:aws:sts::\\d+:assumed-role'\nip:\n  sourceIPAddress|cidr: 1.2.3.0/24\ncondition: re and ip",
    ),
];

#[test]
fn search_matches_what_a_one_rule_hunt_matches_on_otrf_cloudtrail() {
    let Some(events) = otrf_cloudtrail("search_matches_what_a_one_rule_hunt_matches_on_otrf_cloudtrail") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (query, detection) in OTRF_PAIRS {
        let by_search = searched(query, &events);
        assert!(!by_search.is_empty(), "`{query}` matches nothing in the sample: not a useful comparison");
        assert_eq!(by_search, hunted(detection, &events, dir.path()), "`{query}`");
    }
}

#[test]
fn search_matches_what_a_one_rule_hunt_matches_on_panther_cloudtrail() {
    let dir = tempfile::tempdir().unwrap();
    let Some(events) =
        panther_cloudtrail("search_matches_what_a_one_rule_hunt_matches_on_panther_cloudtrail", dir.path())
    else {
        return;
    };
    let pairs = [
        (
            "userIdentity.type=Root eventName=ConsoleLogin",
            "sel:\n  userIdentity.type: Root\n  eventName: ConsoleLogin\ncondition: sel",
        ),
        (
            "errorCode|exists=true not errorCode=AccessDenied",
            "e:\n  errorCode|exists: true\nd:\n  errorCode: AccessDenied\ncondition: e and not d",
        ),
        (
            "eventName|contains=Delete or eventName|endswith=Policy",
            "a:\n  eventName|contains: Delete\nb:\n  eventName|endswith: Policy\ncondition: a or b",
        ),
        (
            "/(?i)^stop/ eventSource=cloudtrail.amazonaws.com",
            "re:\n  '|re': '(?i)^stop'\ns:\n  eventSource: cloudtrail.amazonaws.com\ncondition: re and s",
        ),
    ];
    for (query, detection) in pairs {
        let by_search = searched(query, &events);
        assert!(!by_search.is_empty(), "`{query}` matches nothing in the Panther events");
        assert_eq!(by_search, hunted(detection, &events, dir.path()), "`{query}`");
    }
}

#[test]
fn count_by_on_otrf_cloudtrail_agrees_with_a_count_done_here() {
    let Some(events) = otrf_cloudtrail("count_by_on_otrf_cloudtrail_agrees_with_a_count_done_here") else { return };
    let text = std::fs::read_to_string(&events).unwrap();
    let records: Vec<Value> =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    for (query, keep) in [
        ("eventSource=s3.amazonaws.com", (|e: &Value| e["eventSource"] == "s3.amazonaws.com") as fn(&Value) -> bool),
        ("eventID=*", |e: &Value| e.get("eventID").is_some_and(Value::is_string)),
    ] {
        let mut expected: BTreeMap<Option<String>, u64> = BTreeMap::new();
        for e in records.iter().filter(|e| keep(e)) {
            *expected.entry(e["eventName"].as_str().map(str::to_string)).or_default() += 1;
        }
        let out = sigil(&["search", "--format", "jsonl", "--count-by", "eventName", query, events.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let rows = json_lines(&out);
        let got: BTreeMap<Option<String>, u64> = rows
            .iter()
            .map(|r| {
                assert_eq!(r["field"], "eventName");
                (r["value"].as_str().map(str::to_string), r["count"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(got, expected, "`{query}`");
        let counts: Vec<u64> = rows.iter().map(|r| r["count"].as_u64().unwrap()).collect();
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "most frequent first: {counts:?}");
        let total: u64 = counts.iter().sum();
        assert!(
            stderr(&out).contains(&format!("matched: {total}")),
            "the counts add up to the matched events: {}",
            stderr(&out)
        );
    }
    // An absent field counts as (none) in the table.
    let out = sigil(&[
        "search",
        "--format",
        "table",
        "--count-by",
        "errorCode",
        "eventSource=s3.amazonaws.com",
        events.to_str().unwrap(),
    ]);
    let table = stdout(&out);
    assert!(table.lines().any(|l| l.trim_start().ends_with("(none)")), "{table}");
}

/// A small file written here, for what does not need ../shared: the formats and the errors.
const EVENTS: &str = concat!(
    r#"{"eventTime":"2024-05-01T10:00:00Z","eventName":"CreateAccessKey","userIdentity":{"type":"Root"},"note":"a, \"quoted\"\nvalue"}"#,
    "\n",
    r#"{"eventTime":"2024-05-01T10:05:00Z","eventName":"ListBuckets","userIdentity":{"type":"IAMUser"}}"#,
    "\n",
    r#"{"eventTime":"2024-05-01T10:06:00Z","eventName":"CreateAccessKey","userIdentity":{"type":"IAMUser"}}"#,
    "\n"
);

/// The event's time as the output writes it: RFC 3339 UTC with milliseconds.
fn rfc3339(event: &Value) -> String {
    event["eventTime"].as_str().unwrap().replace('Z', ".000Z")
}

#[test]
fn every_format_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, EVENTS).unwrap();
    let path = file.to_str().unwrap();
    let originals: Vec<Value> = EVENTS.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let query = "eventName=CreateAccessKey";

    let out = sigil(&["search", "--format", "jsonl", query, path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    for (line, n) in lines.iter().zip([1, 3]) {
        assert_eq!(line["source"]["file"], path);
        assert_eq!(line["source"]["line"], n);
        assert_eq!(line["event"], originals[n - 1]);
        assert_eq!(line["time"], rfc3339(&originals[n - 1]));
    }

    let out = sigil(&["search", "--format", "csv", query, path]);
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    assert_eq!(reader.headers().unwrap(), vec!["file", "line", "time", "event"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert!(out.stdout.windows(2).any(|w| w == b"\r\n"), "RFC 4180 lines end in CRLF");
    for (row, n) in rows.iter().zip([1usize, 3]) {
        assert_eq!((&row[0], &row[1], &row[2]), (path, n.to_string().as_str(), rfc3339(&originals[n - 1]).as_str()));
        assert_eq!(
            serde_json::from_str::<Value>(&row[3]).unwrap(),
            originals[n - 1],
            "commas, quotes and newlines survive"
        );
    }

    let out = sigil(&["search", "--format", "table", query, path]);
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("TIME") && lines[0].contains("SOURCE") && lines[0].ends_with("EVENT"), "{table}");
    assert!(lines[1].starts_with("2024-05-01T10:00:00.000Z") && lines[1].contains(":1 "), "{table}");

    let out = sigil(&["search", "--format", "csv", "--count-by", "userIdentity.type", "eventTime=*", path]);
    assert_eq!(stdout(&out), "userIdentity.type,count\r\nIAMUser,2\r\nRoot,1\r\n");
}

#[test]
fn a_refused_query_names_its_column_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, EVENTS).unwrap();
    let path = file.to_str().unwrap();
    for (query, column, says) in [
        ("x CommandLine|contain=foo", 15, "unknown modifier 'contain'"),
        ("a=1 sourceIPAddress|cidr=10.0.0.1/8", 26, "host bits"),
        ("eventName=A or (b", 16, "never closed"),
    ] {
        let out = sigil(&["search", query, path]);
        assert_eq!(out.status.code(), Some(2), "`{query}`");
        let err = stderr(&out);
        assert!(err.contains(&format!("column {column}: ")) && err.contains(says), "`{query}`: {err}");
        let caret = format!("  | {}^", " ".repeat(column - 1));
        assert!(err.lines().any(|l| l == caret), "`{query}`: no caret under column {column}: {err}");
        assert!(out.stdout.is_empty());
    }
    // No match is not an error, but says so (as grep does): exit 1.
    let out = sigil(&["search", "eventName=Nothing", path]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("matched: 0"));
}

#[test]
fn a_declared_logsource_lets_pipelines_for_that_source_map_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ecs.jsonl");
    std::fs::write(&file, "{\"process\":{\"command_line\":\"cmd /c whoami\"}}\n{\"CommandLine\":\"cmd /c whoami\"}\n")
        .unwrap();
    let path = file.to_str().unwrap();
    let lines = |extra: &[&str]| -> Vec<u64> {
        let mut args = vec!["search", "--format", "jsonl", "--pipeline", "ecs"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["CommandLine|contains=whoami", path]);
        json_lines(&sigil(&args)).iter().map(|l| l["source"]["line"].as_u64().unwrap()).collect()
    };
    // The ecs pipeline maps Windows process_creation fields: with that source declared, the
    // query's CommandLine is ECS's process.command_line; without it, the field stays as written.
    assert_eq!(lines(&["--logsource", "product=windows,category=process_creation"]), vec![1]);
    assert_eq!(lines(&[]), vec![2]);
}

#[test]
fn from_and_to_keep_the_window_and_count_the_rest_untimed_included() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trail.jsonl");
    let events = [
        r#"{"eventTime":"2026-11-20T10:00:00Z","eventName":"DeleteTrail"}"#,
        r#"{"eventTime":"2026-11-20T11:00:00Z","eventName":"DeleteTrail"}"#,
        r#"{"eventTime":"2026-11-20T12:00:00Z","eventName":"DeleteTrail"}"#,
        r#"{"eventName":"DeleteTrail"}"#,
        r#"{"eventTime":"2026-11-20T11:30:00Z","eventName":"StopLogging"}"#,
    ];
    std::fs::write(&file, events.join("\n") + "\n").unwrap();
    let path = file.to_str().unwrap();
    let run = |window: &[&str]| {
        let mut args = vec!["search", "--format", "jsonl"];
        args.extend_from_slice(window);
        args.extend_from_slice(&["eventName=DeleteTrail", path]);
        let out = sigil(&args);
        let lines: Vec<u64> = json_lines(&out).iter().map(|l| l["source"]["line"].as_u64().unwrap()).collect();
        (lines, stderr(&out))
    };
    let (all, _) = run(&[]);
    assert_eq!(all, vec![1, 2, 3, 4]);
    // Both ends included; the untimed event is outside any window, and counted.
    let (inside, err) = run(&["--from", "2026-11-20T11:00:00Z", "--to", "2026-11-20T12:00:00Z"]);
    assert_eq!(inside, vec![2, 3]);
    assert!(err.contains("5 read, 0 rejected, 2 outside --from/--to (1 of them without a time); matched: 2"), "{err}");
    // Relative to the newest event (12:00): the last 90 minutes.
    let (recent, _) = run(&["--from", "90m"]);
    assert_eq!(recent, vec![2, 3]);
}
