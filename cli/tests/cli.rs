//! End-to-end tests of the `sigil` binary: real files in, alerts and diagnostics out.

use serde_json::Value;
use sigil_tests::STOP_LOGGING_RULE;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn sigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil")).args(args).output().expect("sigil runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn alerts(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn hunt_on_the_embedded_pack_and_examples_points_at_each_evidence_line() {
    let examples = repo().join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let args: Vec<String> = ["hunt", "--format", "jsonl"]
        .iter()
        .map(|s| s.to_string())
        .chain(files.iter().map(|p| p.display().to_string()))
        .collect();
    let out = sigil(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts = alerts(&out);
    assert!(alerts.len() >= 8, "the examples fire the pack: {} alerts", alerts.len());
    // The one correlation of the story (a failed console sign-in, then a successful one) points
    // at both events; every detection points at its line.
    let correlations: Vec<_> = alerts.iter().filter(|a| a["kind"] == "correlation").collect();
    assert_eq!(correlations.len(), 1, "{correlations:?}");
    assert_eq!(correlations[0]["events"].as_array().map(Vec::len), Some(2), "{}", correlations[0]);
    for a in alerts.iter().filter(|a| a["kind"] != "correlation") {
        assert_eq!(a["kind"], "detection");
        for key in ["id", "title", "level", "status", "author", "tags"] {
            assert!(!a["rule"][key].is_null(), "rule.{key} in {a}");
        }
        // The alert's line holds exactly the event it carries.
        let file = a["source"]["file"].as_str().unwrap();
        let line = a["source"]["line"].as_u64().unwrap() as usize;
        let text = std::fs::read_to_string(file).unwrap();
        let original: Value = serde_json::from_str(text.lines().nth(line - 1).unwrap()).unwrap();
        assert_eq!(original, a["event"]);
    }
    // The trail being stopped in the CloudTrail example is caught.
    assert!(alerts.iter().any(|a| a["event"]["eventName"] == "StopLogging"
        && a["rule"]["tags"].as_array().unwrap().iter().any(|t| t == "attack.t1685.002")));
    let err = stderr(&out);
    let total_lines: usize = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().lines().filter(|l| !l.trim().is_empty()).count())
        .sum();
    assert!(err.contains(&format!("events: {total_lines} read, 0 rejected; alerts: {}", alerts.len())), "{err}");
}

#[test]
fn malformed_events_are_counted_and_reported_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "r.yml", STOP_LOGGING_RULE);
    let events = write(
        dir.path(),
        "e.jsonl",
        "{\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventName\":\"StopLogging\"}\n{not json\n42\n\n{\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventName\":\"stoplogging\"}\n",
    );
    let out = sigil(&["hunt", "--rules", rules.to_str().unwrap(), "--format", "jsonl", events.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let lines: Vec<u64> = alerts(&out).iter().map(|a| a["source"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![1, 5]);
    assert!(err.contains(&format!("{}:2: malformed event", events.display())), "{err}");
    assert!(err.contains(&format!("{}:3: malformed event", events.display())), "{err}");
    assert!(err.contains("events: 4 read, 2 rejected; alerts: 2"), "{err}");
}

#[test]
fn arrays_records_gzip_and_stdin_are_read_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "r.yml", STOP_LOGGING_RULE);
    let hit = r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging"}"#;
    let miss = r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"StartLogging"}"#;
    let array = write(dir.path(), "a.json", &format!("[\n  {miss},\n  {hit}\n]\n"));
    let records = write(dir.path(), "r.json", &format!("{{\"Records\": [{hit}, {miss}, {hit}]}}"));
    let gz_path = dir.path().join("r.json.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&gz_path).unwrap(), flate2::Compression::fast());
    gz.write_all(std::fs::read(&records).unwrap().as_slice()).unwrap();
    gz.finish().unwrap();
    for (file, expected) in [(&array, vec![2]), (&records, vec![1, 3]), (&gz_path, vec![1, 3])] {
        let out = sigil(&["hunt", "--rules", rules.to_str().unwrap(), "--format", "jsonl", file.to_str().unwrap()]);
        let lines: Vec<u64> = alerts(&out).iter().map(|a| a["source"]["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, expected, "{}: {}", file.display(), stderr(&out));
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["hunt", "--rules", rules.to_str().unwrap(), "--format", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{miss}\n{hit}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let a = alerts(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["source"]["file"], "-");
    assert_eq!(a[0]["source"]["line"], 2);
}

#[test]
fn declared_logsource_routes_events_to_matching_rules_only() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "r.yml", STOP_LOGGING_RULE);
    let events =
        write(dir.path(), "e.jsonl", "{\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventName\":\"StopLogging\"}\n");
    let run = |ls: &str| {
        alerts(&sigil(&[
            "hunt",
            "--rules",
            rules.to_str().unwrap(),
            "--logsource",
            ls,
            "--format",
            "jsonl",
            events.to_str().unwrap(),
        ]))
        .len()
    };
    assert_eq!(run("product=aws,service=cloudtrail"), 1);
    assert_eq!(run("product=azure"), 0);
    assert_eq!(run("product=aws"), 0, "the rule needs service cloudtrail, which was not declared");
    let out =
        sigil(&["hunt", "--rules", rules.to_str().unwrap(), "--logsource", "vendor=aws", events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--logsource: a logsource has product, category and service"));
}

#[test]
fn check_reports_file_line_column_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.yml", STOP_LOGGING_RULE);
    write(dir.path(), "bad.yml", &STOP_LOGGING_RULE.replace("eventName: StopLogging", "eventName|nosuch: StopLogging"));
    write(
        dir.path(),
        "pipe.yml",
        &STOP_LOGGING_RULE.replace("condition: selection", "condition: selection | count() by x > 5"),
    );
    let out = sigil(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let bad = dir.path().join("bad.yml");
    assert!(text.contains(&format!("{}:14:15: unknown modifier 'nosuch'", bad.display())), "{text}");
    let pipe = dir.path().join("pipe.yml");
    assert!(text.contains(&format!("{}:15:24: the pipe syntax", pipe.display())), "{text}");
    assert!(text.trim_end().ends_with("checked 3 rules: 1 ok, 2 rejected"), "{text}");

    let out = sigil(&["check", "--format", "json", dir.path().to_str().unwrap()]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["checked"].as_u64(), report["ok"].as_u64(), report["rejected"].as_u64()),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!(report["errors"][0]["line"], 14);

    let out = sigil(&["check", dir.path().join("good.yml").to_str().unwrap()]);
    assert!(out.status.success());
}

#[test]
fn one_bad_rule_never_stops_the_others_in_hunt() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    write(&rules, "good.yml", STOP_LOGGING_RULE);
    write(&rules, "broken.yml", "title: [unclosed\n");
    let events =
        write(dir.path(), "e.jsonl", "{\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventName\":\"StopLogging\"}\n");
    let out = sigil(&["hunt", "--rules", rules.to_str().unwrap(), "--format", "jsonl", events.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(alerts(&out).len(), 1);
    let err = stderr(&out);
    assert!(err.contains("broken.yml:"), "{err}");
    assert!(err.contains("rules: 1 loaded, 1 rejected"), "{err}");
}

#[test]
fn placeholders_come_from_the_command_line_or_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let rule = STOP_LOGGING_RULE.replace("eventName: StopLogging", "userIdentity.userName|expand: '%admins%'");
    let rules = write(dir.path(), "r.yml", &rule);
    let events = write(
        dir.path(),
        "e.jsonl",
        "{\"eventSource\":\"cloudtrail.amazonaws.com\",\"userIdentity\":{\"userName\":\"bob\"}}\n{\"eventSource\":\"cloudtrail.amazonaws.com\",\"userIdentity\":{\"userName\":\"eve\"}}\n",
    );
    let out = sigil(&["check", rules.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("the placeholder '%admins%' has no value"));
    let out = sigil(&[
        "hunt",
        "--rules",
        rules.to_str().unwrap(),
        "--placeholder",
        "admins=alice,bob",
        "--format",
        "jsonl",
        events.to_str().unwrap(),
    ]);
    let lines: Vec<u64> = alerts(&out).iter().map(|a| a["source"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![1]);
    let file = write(dir.path(), "p.yml", "admins: [eve]\n");
    let out = sigil(&[
        "hunt",
        "--rules",
        rules.to_str().unwrap(),
        "--placeholder-file",
        file.to_str().unwrap(),
        "--format",
        "jsonl",
        events.to_str().unwrap(),
    ]);
    let lines: Vec<u64> = alerts(&out).iter().map(|a| a["source"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![2]);
}

#[test]
fn a_compiled_pack_hunts_like_its_rules_and_other_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rules = repo().join("sigma-rules/rules");
    let pack = dir.path().join("cloud.pack");
    let events: Vec<String> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .map(|p| p.display().to_string())
        .collect();
    let out = sigil(&["compile", rules.to_str().unwrap(), "-o", pack.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("rules (0 rejected)"), "{}", stderr(&out));
    let hunt = |source: &[&str]| {
        let mut args = vec!["hunt", "--format", "jsonl"];
        args.extend_from_slice(source);
        args.extend(events.iter().map(String::as_str));
        let out = sigil(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        out.stdout
    };
    let from_yaml = hunt(&["--rules", rules.to_str().unwrap()]);
    let from_pack = hunt(&["--pack", pack.to_str().unwrap()]);
    assert!(!from_yaml.is_empty());
    assert_eq!(from_yaml, from_pack);

    // A pack from another plan format is refused with what to do about it.
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[8] = bytes[8].wrapping_add(1);
    let other = dir.path().join("other.pack");
    std::fs::write(&other, bytes).unwrap();
    let out = sigil(&["hunt", "--pack", other.to_str().unwrap(), events[0].as_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("compile the rules again with this version"), "{}", stderr(&out));
}

#[test]
fn output_order_does_not_depend_on_the_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "r.yml", STOP_LOGGING_RULE);
    let mut text = String::new();
    for i in 0..5000 {
        let name = if i % 7 == 0 { "StopLogging" } else { "DescribeTrails" };
        text.push_str(&format!(
            "{{\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventName\":\"{name}\",\"n\":{i}}}\n"
        ));
        if i % 997 == 0 {
            text.push_str("{broken\n");
        }
    }
    let events = write(dir.path(), "e.jsonl", &text);
    let run = |threads: &str| {
        sigil(&[
            "hunt",
            // The second run would say it hit the compiled-rule cache; only the order is compared.
            "--no-cache",
            "--rules",
            rules.to_str().unwrap(),
            "--threads",
            threads,
            "--format",
            "jsonl",
            events.to_str().unwrap(),
        ])
    };
    let one = run("1");
    let four = run("4");
    assert_eq!(one.stdout, four.stdout);
    assert_eq!(stderr(&one), stderr(&four), "diagnostics come in input order too");
    let lines: Vec<u64> = alerts(&one).iter().map(|a| a["source"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines.len(), 715);
    assert!(lines.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn windows_events_are_routed_to_the_rules_of_their_channel() {
    let dir = tempfile::tempdir().unwrap();
    let rule = |category: &str| {
        format!(
            "title: {category} rule\nid: 5a8e1f7c-1111-4c2d-9b1e-{:012}\nauthor: t\nlogsource:\n  product: windows\n  category: {category}\ndetection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel\n",
            category.len()
        )
    };
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    write(&rules, "pc.yml", &rule("process_creation"));
    write(&rules, "il.yml", &rule("image_load"));
    let events = write(
        dir.path(),
        "e.jsonl",
        concat!(
            "{\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"EventID\":1,\"Image\":\"C:\\\\Windows\\\\cmd.exe\"}\n",
            "{\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"EventID\":7,\"Image\":\"C:\\\\Windows\\\\cmd.exe\"}\n",
            "{\"Image\":\"C:\\\\Windows\\\\cmd.exe\"}\n"
        ),
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["hunt", "--rules", rules.to_str().unwrap(), "--format", "jsonl"];
        args.extend_from_slice(extra);
        args.push(events.to_str().unwrap());
        let mut got: Vec<(u64, String)> = alerts(&sigil(&args))
            .iter()
            .map(|a| (a["source"]["line"].as_u64().unwrap(), a["rule"]["title"].as_str().unwrap().to_string()))
            .collect();
        got.sort();
        got
    };
    let pc = "process_creation rule".to_string();
    let il = "image_load rule".to_string();
    // Recognised sources go to their own rules; an unrecognised event sees every rule.
    assert_eq!(run(&[]), vec![(1, pc.clone()), (2, il.clone()), (3, il.clone()), (3, pc.clone())]);
    assert_eq!(run(&["--logsource", "all"]).len(), 6);
}

#[test]
fn alerts_stream_while_standard_input_is_still_open() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "r.yml", STOP_LOGGING_RULE);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["hunt", "--rules", rules.to_str().unwrap(), "--format", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    stdin.write_all(b"{\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventName\":\"DescribeTrails\"}\n").unwrap();
    stdin.write_all(b"{\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventName\":\"StopLogging\"}\n").unwrap();
    stdin.flush().unwrap();
    // The alert arrives while stdin is still open.
    let first = rx.recv_timeout(std::time::Duration::from_secs(20)).expect("an alert before stdin closes");
    let alert: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(alert["source"]["line"], 2);
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_hunt_split_over_two_inputs_with_state_alerts_like_one_hunt() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(
        dir.path(),
        "brute.yml",
        "title: failed logon\nname: failed_logon\nlogsource:\n  product: test\ndetection:\n  sel:\n    outcome: failure\n  condition: sel\n---\ntitle: brute force\nid: 5a8e1f7c-1111-4c2d-9b1e-0000000000bf\ncorrelation:\n  type: value_count\n  rules: failed_logon\n  group-by: user\n  timespan: 10m\n  condition:\n    field: src\n    gte: 3\n",
    );
    let mut lines = Vec::new();
    for i in 0..40 {
        let user = ["ann", "bob", "eve"][i % 3];
        lines.push(format!(
            "{{\"@timestamp\":\"2024-01-01T00:{:02}:{:02}Z\",\"outcome\":\"failure\",\"user\":\"{user}\",\"src\":\"10.0.0.{}\"}}",
            i / 6,
            (i * 7) % 60,
            i % 5
        ));
    }
    let all = write(dir.path(), "all.jsonl", &(lines.join("\n") + "\n"));
    let first = write(dir.path(), "first.jsonl", &(lines[..17].join("\n") + "\n"));
    let second = write(dir.path(), "second.jsonl", &(lines[17..].join("\n") + "\n"));
    let state = dir.path().join("state.json");
    let key = |a: &Value| (a["rule"]["id"].clone(), a["group"].clone(), a["count"].clone(), a["window"].clone());
    let hunt = |extra: &[&str], file: &Path| {
        let mut args = vec!["hunt", "--rules", rules.to_str().unwrap(), "--format", "jsonl"];
        args.extend_from_slice(extra);
        args.push(file.to_str().unwrap());
        let out = sigil(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        alerts(&out).iter().map(key).collect::<Vec<_>>()
    };
    let whole = hunt(&[], &all);
    assert!(whole.len() >= 3, "the case must fire several times: {whole:?}");
    let mut split = hunt(&["--state", state.to_str().unwrap()], &first);
    split.extend(hunt(&["--state", state.to_str().unwrap()], &second));
    assert_eq!(whole, split);
}

#[test]
fn lookup_tables_join_fields_that_rules_and_alerts_use() {
    let dir = tempfile::tempdir().unwrap();
    let rule = write(
        dir.path(),
        "finance.yml",
        "title: Finance staff created an access key
id: 5a8e1f7c-1111-4c2d-9b1e-000000000042
logsource: { product: aws, service: cloudtrail }
detection:
  selection:
    eventName: CreateAccessKey
    hr.department: finance
  condition: selection
level: medium
",
    );
    let table = write(
        dir.path(),
        "users.csv",
        "userIdentity.userName,department,manager\nalice,Finance,bob\ncarol,Research,dave\n",
    );
    let events = write(
        dir.path(),
        "events.jsonl",
        concat!(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","eventTime":"2026-01-01T00:00:00Z","userIdentity":{"userName":"ALICE"}}"#,
            "\n",
            r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","eventTime":"2026-01-01T00:01:00Z","userIdentity":{"userName":"carol"}}"#,
            "\n",
            r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","eventTime":"2026-01-01T00:02:00Z","userIdentity":{"userName":"eve"}}"#,
            "\n",
        ),
    );
    let lookup = format!("hr={}", table.display());
    let args = ["hunt", "--rules", rule.to_str().unwrap(), "--lookup", &lookup, "--format", "jsonl"];
    let out = sigil(&[&args[..], &[events.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("lookup 'hr': 2 rows joined on userIdentity.userName"), "{}", stderr(&out));
    let got = alerts(&out);
    assert_eq!(got.len(), 1, "only alice is in finance: {got:?}");
    assert_eq!(got[0]["source"]["line"], 1);
    assert_eq!(got[0]["matched"]["hr.department"], "Finance");
    assert_eq!(got[0]["event"]["hr"]["manager"], "bob");
    // Without the table the field is absent and nothing fires.
    let out = sigil(&["hunt", "--rules", rule.to_str().unwrap(), "--format", "jsonl", events.to_str().unwrap()]);
    assert!(alerts(&out).is_empty());
    // A row of the wrong width is an error naming the table and its line.
    let bad = write(dir.path(), "bad.csv", "userIdentity.userName,department\nalice,Finance\ncarol\n");
    let lookup = format!("hr={}", bad.display());
    let out = sigil(&["hunt", "--rules", rule.to_str().unwrap(), "--lookup", &lookup, events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.csv:3: a row of 1 fields, but the header has 2"), "{}", stderr(&out));
}

#[test]
fn sigil_test_runs_each_rules_sidecar_and_explains_failures() {
    // The embedded pack's own tests pass.
    let out = sigil(&["test", repo().join("sigma-rules").to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}{}", stderr(&out));
    let last = stdout.lines().last().unwrap_or_default().to_string();
    assert!(last.ends_with(" passed, 0 failed"), "{stdout}");
    // A rule with a wrong expectation, a case routing keeps away, and too few cases elsewhere.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "stop.yml", STOP_LOGGING_RULE);
    let stop = r#"{"eventVersion":"1.08","eventTime":"2026-01-01T00:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","requestParameters":{"name":"t"}}"#;
    let describe = r#"{"eventVersion":"1.08","eventTime":"2026-01-01T00:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"DescribeTrails","awsRegion":"us-east-1"}"#;
    let windows =
        r#"{"Channel":"Security","EventID":4688,"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging"}"#;
    let sidecar = format!("match:\n  - {stop}\n  - {windows}\nno_match:\n  - {describe}\n  - {stop}\n");
    write(dir.path(), "stop.tests.yml", &sidecar);
    write(
        dir.path(),
        "lonely.yml",
        &STOP_LOGGING_RULE.replace("5a8e1f7c-1111-4c2d-9b1e-000000000001", "5a8e1f7c-1111-4c2d-9b1e-000000000002"),
    );
    let out = sigil(&["test", dir.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("lonely.yml: no tests: write"), "{stdout}");
    assert!(stdout.contains("stop.yml: match case 2 (") && stdout.contains("routed as [product=windows"), "{stdout}");
    assert!(
        stdout.contains("stop.yml: no_match case 2 (") && stdout.contains("expected no alert, got \"Trail stopped\""),
        "{stdout}"
    );
    assert!(stdout.lines().last().unwrap().ends_with("2 passed, 3 failed"), "{stdout}");
}
