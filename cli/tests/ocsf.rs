//! OCSF 1.8.0 output of the `sigil` binary: `normalize --to ocsf` and `hunt --format ocsf`,
//! validated against the OCSF JSON Schemas in `../shared/datasets/ocsf` (offline: each class
//! schema holds its objects under `$defs`). Tests that need the shared data say SKIPPED and
//! return when it is absent.

use flate2::read::GzDecoder;
use serde_json::Value;
use sigil_tests::files_under;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil")).args(args).output().expect("sigil runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// `../shared/datasets` beside the repository (or `$SIGIL_SHARED/datasets`), if present.
fn datasets(test: &str) -> Option<PathBuf> {
    let shared =
        std::env::var_os("SIGIL_SHARED").map(PathBuf::from).unwrap_or_else(|| repo().join("..").join("shared"));
    let dir = shared.join("datasets");
    if dir.join("ocsf").join("json-schema-1.8.0").is_dir() {
        Some(dir)
    } else {
        println!("SKIPPED {test}: {} is absent (set SIGIL_SHARED to its path to run it)", dir.display());
        None
    }
}

/// The OCSF 1.8.0 class schemas, compiled once per class and variant: plain, or with the
/// cloud, datetime and host profiles for an object that names profiles in `metadata.profiles`.
struct Schemas {
    dir: PathBuf,
    validators: BTreeMap<(u64, bool), jsonschema::Validator>,
}

impl Schemas {
    fn new(datasets: &Path) -> Self {
        Schemas { dir: datasets.join("ocsf").join("json-schema-1.8.0"), validators: BTreeMap::new() }
    }

    /// The errors of `obj` against the schema of its `class_uid` (and profiles).
    fn errors(&mut self, obj: &Value) -> Vec<String> {
        let class = obj["class_uid"].as_u64().unwrap_or_else(|| panic!("no class_uid in {obj}"));
        let profiled = obj["metadata"]["profiles"].as_array().is_some_and(|p| !p.is_empty());
        let variant = if profiled { "cloud-datetime-host.schema" } else { "schema" };
        let dir = &self.dir;
        let validator = self.validators.entry((class, profiled)).or_insert_with(|| {
            let path = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    let name = p.file_name().unwrap().to_str().unwrap();
                    name.starts_with(&format!("{class}_"))
                        && name.split_once('.').map(|(_, v)| v) == Some(&format!("{variant}.json"))
                })
                .unwrap_or_else(|| panic!("no {variant} for class {class} in {}", dir.display()));
            let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{}", path.display());
            jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        });
        validator.iter_errors(obj).map(|e| format!("{} at {}", e, e.instance_path())).collect()
    }

    /// Validates every object, panicking with all the errors found; returns the count per class.
    fn validate_all<'a>(&mut self, objects: impl IntoIterator<Item = &'a Value>) -> BTreeMap<u64, usize> {
        let mut counts = BTreeMap::new();
        let mut failures = Vec::new();
        for obj in objects {
            let errors = self.errors(obj);
            if !errors.is_empty() && failures.len() < 10 {
                let text = obj.to_string();
                let head: String = text.chars().take(600).collect();
                let errors: Vec<String> = errors.iter().map(|e| e.chars().take(300).collect()).collect();
                failures.push(format!("{head}…\n  {}", errors.join("\n  ")));
            }
            *counts.entry(obj["class_uid"].as_u64().unwrap()).or_default() += 1;
        }
        assert!(failures.is_empty(), "objects fail their schema (the first 10):\n{}", failures.join("\n"));
        counts
    }
}

/// An OCSF object Sigil made (a passed-through event has no OCSF `metadata.version`).
fn is_mapped(v: &Value) -> bool {
    v["metadata"]["version"] == "1.8.0" && v["raw_data"].is_string() && v["class_uid"].is_u64()
}

/// The `(mapped, passed, rejected)` counts and per-class counts of `normalize`'s summary line.
fn summary(out: &Output) -> (u64, u64, u64, BTreeMap<u64, u64>) {
    let err = stderr(out);
    let line = err.lines().find(|l| l.starts_with("normalized: ")).unwrap_or_else(|| panic!("no summary in {err}"));
    // The number just before `word`.
    let number = |word: &str| -> u64 {
        let head = &line[..line.find(word).unwrap_or_else(|| panic!("{word} in {line}"))];
        head.trim_end().rsplit(' ').next().unwrap().parse().unwrap_or_else(|e| panic!("{word} in {line}: {e}"))
    };
    let mut classes = BTreeMap::new();
    if let (Some(open), Some(close)) = (line.find('('), line.find(')')) {
        for part in line[open + 1..close].split(", ") {
            let (class, n) = part.split_once(": ").unwrap();
            classes.insert(class.parse().unwrap(), n.parse().unwrap());
        }
    }
    (number(" events mapped"), number(" passed through"), number(" rejected"), classes)
}

fn normalize(files: &[PathBuf]) -> Output {
    let mut args = vec!["normalize".to_string(), "--to".into(), "ocsf".into()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    let out = sigil(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

#[test]
fn the_ocsf_examples_raw_events_normalize_to_valid_objects() {
    let Some(datasets) = datasets("the_ocsf_examples_raw_events_normalize_to_valid_objects") else { return };
    let raws = files_under(&datasets.join("ocsf/examples/mappings"), &["raw"]);
    assert!(raws.len() > 10, "raw samples: {raws:?}");
    // The samples of the kinds Sigil maps: CloudTrail records and Okta sign-ins.
    let mut expected = BTreeSet::new();
    for path in &raws {
        let Ok(v) = serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()) else { continue };
        let cloudtrail = v["eventSource"].as_str().is_some_and(|s| s.ends_with(".amazonaws.com"));
        let okta_sign_in = v["eventType"] == "user.session.start" && v["actor"].is_object();
        if cloudtrail || okta_sign_in {
            expected.insert(v.to_string());
        }
    }
    assert!(expected.len() >= 8, "distinct samples of mapped kinds: {}", expected.len());

    let out = normalize(&raws);
    let objects = lines(&out);
    let mapped: Vec<&Value> = objects.iter().filter(|v| is_mapped(v)).collect();
    let counts = Schemas::new(&datasets).validate_all(mapped.iter().copied());
    println!("validated per class: {counts:?}");
    println!("{}", stderr(&out).lines().last().unwrap_or_default());

    // Every sample of a mapped kind was mapped (each object carries its raw event).
    let raw_events: BTreeSet<String> = mapped
        .iter()
        .map(|v| serde_json::from_str::<Value>(v["raw_data"].as_str().unwrap()).unwrap().to_string())
        .collect();
    for e in &expected {
        assert!(raw_events.contains(e), "not mapped: {e}");
    }
    for class in [3001, 3002, 6003] {
        assert!(counts.get(&class).is_some_and(|n| *n > 0), "no {class} object among {counts:?}");
    }
    // The ConsoleLogin samples are logons, the CreateUser ones account creations.
    assert!(mapped.iter().any(|v| v["type_uid"] == 300201 && v["metadata"]["event_code"] == "ConsoleLogin"));
    assert!(mapped.iter().any(|v| v["type_uid"] == 300101 && v["user"]["name"].is_string()));
    assert!(mapped.iter().any(|v| v["type_uid"] == 600302 && v["api"]["operation"] == "DescribeDirectConnectGateways"));
    // The summary counts what was written.
    let (n_mapped, passed, _, per_class) = summary(&out);
    assert_eq!(n_mapped as usize, mapped.len());
    assert_eq!(passed as usize, objects.len() - mapped.len());
    assert_eq!(per_class.values().sum::<u64>(), n_mapped);
    for (class, n) in &counts {
        assert_eq!(per_class.get(class).copied(), Some(*n as u64), "class {class}");
    }
}

/// A Windows event as the OCSF examples write it (`.event`: `Key=Value` header lines, then the
/// rendered message's `Label: value` lines) in the flat layout Sigil reads.
fn flat_windows_event(text: &str) -> Value {
    let mut event = serde_json::Map::new();
    let mut lines = text.lines();
    // `10/08/2020 12:41:47 PM`
    let stamp: Vec<&str> = lines.next().unwrap().split([' ', '/', ':']).collect();
    let hour: u32 = stamp[3].parse::<u32>().unwrap() % 12 + if stamp[6] == "PM" { 12 } else { 0 };
    let time = format!("{}-{}-{}T{hour:02}:{}:{}Z", stamp[2], stamp[0], stamp[1], stamp[4], stamp[5]);
    event.insert("TimeCreated".into(), time.into());
    let mut section = String::new();
    for line in lines {
        if let Some((key, value)) = line.split_once('=').filter(|(k, _)| !k.contains(' ') && !line.starts_with('\t')) {
            let key = match key {
                "EventCode" => "EventID",
                "LogName" => "Channel",
                "ComputerName" => "Computer",
                other => other,
            };
            let value = if key == "EventID" { Value::from(value.parse::<u64>().unwrap()) } else { value.into() };
            event.insert(key.into(), value);
            continue;
        }
        let indented = line.starts_with('\t');
        let Some((label, value)) = line.trim().split_once(':') else { continue };
        let value = value.trim();
        if value.is_empty() && !indented {
            section = label.to_string();
            continue;
        }
        let account = if section.contains("Target") || section == "New Logon" || section.contains("Logon Failed") {
            "Target"
        } else {
            "Subject"
        };
        let field = match label {
            "Security ID" => format!("{account}UserSid"),
            "Account Name" => format!("{account}UserName"),
            "Account Domain" => format!("{account}DomainName"),
            "Logon ID" => format!("{account}LogonId"),
            other => match other {
                "Logon GUID" => "LogonGuid",
                "Logon Type" => "LogonType",
                "Failure Reason" => "FailureReason",
                "Status" => "Status",
                "Sub Status" => "SubStatus",
                "Process ID" | "Caller Process ID" | "Creator Process ID" => "ProcessId",
                "Process Name" | "Caller Process Name" => "ProcessName",
                "Creator Process Name" => "ParentProcessName",
                "New Process ID" => "NewProcessId",
                "New Process Name" => "NewProcessName",
                "Process Command Line" => "CommandLine",
                "Mandatory Label" => "MandatoryLabel",
                "Token Elevation Type" => "TokenElevationType",
                "Workstation Name" => "WorkstationName",
                "Source Network Address" => "IpAddress",
                "Source Port" => "IpPort",
                "Logon Process" => "LogonProcessName",
                "Authentication Package" => "AuthenticationPackageName",
                "Key Length" => "KeyLength",
                _ => continue,
            }
            .to_string(),
        };
        event.insert(field, value.into());
    }
    Value::Object(event)
}

/// Up to `per_kind` lines of each mapped Windows kind from the OTRF sample (flat nxlog and
/// winlogbeat fields), read until there are enough.
fn otrf_windows_lines(datasets: &Path, per_kind: usize) -> Vec<String> {
    let file = std::fs::File::open(datasets.join("windows/otrf-windows-sample.jsonl.gz")).unwrap();
    let kinds = [("Security", 4624), ("Security", 4688), ("Microsoft-Windows-Sysmon/Operational", 1)];
    let mut found: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for line in BufReader::new(GzDecoder::new(file)).lines() {
        let line = line.unwrap();
        if !line.contains("\"EventID\":4624") && !line.contains("\"EventID\":4688") && !line.contains("\"EventID\":1,")
        {
            continue;
        }
        let v: Value = serde_json::from_str(&line).unwrap();
        let Some(k) = kinds.iter().position(|(c, id)| v["Channel"] == *c && v["EventID"] == *id) else { continue };
        let list = found.entry(k).or_default();
        if list.len() < per_kind {
            list.push(line);
        }
        if found.len() == kinds.len() && found.values().all(|l| l.len() == per_kind) {
            break;
        }
    }
    assert_eq!(found.len(), kinds.len(), "each kind is in the sample");
    found.into_values().flatten().collect()
}

#[test]
fn windows_logons_and_process_creations_normalize_to_valid_objects() {
    let Some(datasets) = datasets("windows_logons_and_process_creations_normalize_to_valid_objects") else { return };
    let dir = tempfile::tempdir().unwrap();
    let examples = datasets.join("ocsf/examples/mappings/markdown/Microsoft/Windows Events");
    let mut events: Vec<String> = ["4624/4624_0.event", "4625/4625_0.event", "4688/4688_0.event"]
        .iter()
        .map(|f| flat_windows_event(&std::fs::read_to_string(examples.join(f)).unwrap()).to_string())
        .collect();
    events.extend(otrf_windows_lines(&datasets, 8));
    let input = dir.path().join("windows.jsonl");
    std::fs::write(&input, events.join("\n") + "\n").unwrap();

    let out = normalize(&[input]);
    let objects = lines(&out);
    assert_eq!(objects.len(), events.len());
    assert!(objects.iter().all(is_mapped), "every event is mapped: {}", stderr(&out));
    let counts = Schemas::new(&datasets).validate_all(&objects);
    println!("validated per class: {counts:?}");
    // 4624 ×9 and 4625 ×1 (one each from the examples) are logons; 4688 ×9 and Sysmon 1 ×8 launches.
    assert_eq!(counts, BTreeMap::from([(1007, 17), (3002, 10)]));

    let failed = &objects[1];
    assert_eq!((failed["type_uid"].as_u64(), failed["status_id"].as_u64()), (Some(300201), Some(2)));
    assert_eq!(failed["user"]["name"], "Administrator");
    assert_eq!(failed["status_code"], "0xC000006D");
    assert_eq!(failed["dst_endpoint"]["hostname"], "EC2AMAZ-6KJ2BPP");
    let reg = &objects[2];
    assert_eq!(reg["type_uid"], 100701);
    assert_eq!(reg["process"]["file"]["path"], "C:\\Windows\\System32\\reg.exe");
    assert_eq!(reg["process"]["pid"], 0x1258);
    assert_eq!(reg["process"]["parent_process"]["file"]["name"], "cmd.exe");
    assert_eq!(reg["process"]["integrity"], "High");
    assert_eq!(reg["actor"]["user"]["name"], "Administrator");
    let sysmon = objects.iter().find(|o| o["metadata"]["product"]["name"] == "Sysmon").unwrap();
    assert!(sysmon["process"]["uid"].is_string() && sysmon["process"]["cmd_line"].is_string());
    assert!(sysmon["process"]["file"]["hashes"].as_array().is_some_and(|h| !h.is_empty()));
}

#[test]
fn failed_logons_in_an_evtx_log_normalize_to_valid_failed_authentications() {
    let Some(datasets) = datasets("failed_logons_in_an_evtx_log_normalize_to_valid_failed_authentications") else {
        return;
    };
    let evtx = datasets.join(
        "windows/evtx/TA0006-Credential_Access__T1110.xxx-Brut_force__ID4625-OpenSSH_brutforce_with_valid_users.evtx",
    );
    let out = normalize(&[evtx]);
    let objects = lines(&out);
    let mapped: Vec<&Value> = objects.iter().filter(|v| is_mapped(v)).collect();
    let counts = Schemas::new(&datasets).validate_all(mapped.iter().copied());
    println!("validated per class: {counts:?}");
    let failures: Vec<&&Value> = mapped.iter().filter(|v| v["metadata"]["event_code"] == "4625").collect();
    assert!(failures.len() >= 3, "{counts:?}");
    for f in failures {
        assert_eq!((f["type_uid"].as_u64(), f["status_id"].as_u64()), (Some(300201), Some(2)));
        assert_eq!(f["status_detail"], "Unknown user name or bad password.");
        assert!(f["user"]["name"].is_string());
    }
}

/// Panther's test events for CloudTrail and Okta: real-shaped records of many event names.
#[test]
fn cloudtrail_and_okta_events_of_many_kinds_normalize_to_valid_objects() {
    let Some(datasets) = datasets("cloudtrail_and_okta_events_of_many_kinds_normalize_to_valid_objects") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for name in ["AWS_CloudTrail", "Okta_SystemLog"] {
        let text = std::fs::read_to_string(datasets.join(format!("cloud/panther-tests/{name}.tests.jsonl"))).unwrap();
        let events: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|t| t["event"].to_string())
            .collect();
        let path = dir.path().join(format!("{name}.jsonl"));
        std::fs::write(&path, events.join("\n") + "\n").unwrap();
        inputs.push(path);
    }
    inputs.push(datasets.join("cloud/otrf/aws_ec2_proxy_s3_exfiltration.cloudtrail.jsonl"));
    let out = normalize(&inputs);
    let objects = lines(&out);
    let mapped: Vec<&Value> = objects.iter().filter(|v| is_mapped(v)).collect();
    let counts = Schemas::new(&datasets).validate_all(mapped.iter().copied());
    println!("validated per class: {counts:?}");
    println!("{}", stderr(&out).lines().last().unwrap_or_default());
    for class in [3001, 3002, 6003] {
        assert!(counts.get(&class).is_some_and(|n| *n >= 5), "few {class} objects: {counts:?}");
    }
    // Nearly every CloudTrail record has what API Activity needs: most of the input is mapped.
    assert!(mapped.len() * 10 >= objects.len() * 7, "{} of {} mapped", mapped.len(), objects.len());
}

#[test]
fn events_no_mapping_covers_pass_through_unchanged_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = r#"{"kind":"unknown","when":"2026-11-20T09:00:00Z","nested":{"b":1,"a":[1,2]}}"#;
    // A CloudTrail record without a time cannot be an OCSF object: it is passed through.
    let timeless = r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","userIdentity":{"userName":"x"}}"#;
    let mapped = r#"{"eventTime":"2026-11-20T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","sourceIPAddress":"198.51.100.7","userIdentity":{"type":"IAMUser","userName":"alice","accountId":"111122223333"},"requestID":"r1"}"#;
    let gcp = std::fs::read_to_string(repo().join("examples/gcp-audit.jsonl")).unwrap();
    let gcp = gcp.lines().next().unwrap();
    let text = [unknown, "{not json", timeless, mapped, gcp].join("\n") + "\n";
    let input = dir.path().join("mixed.jsonl");
    std::fs::write(&input, &text).unwrap();

    let out = normalize(std::slice::from_ref(&input));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let written: Vec<&str> = stdout.lines().collect();
    assert_eq!(written.len(), 4, "{stdout}");
    // Byte for byte, in input order.
    assert_eq!(written[0], unknown);
    assert_eq!(written[1], timeless);
    assert_eq!(written[3], gcp);
    let api: Value = serde_json::from_str(written[2]).unwrap();
    assert_eq!((api["class_uid"].as_u64(), api["activity_id"].as_u64()), (Some(6003), Some(2)));
    assert_eq!(serde_json::from_str::<Value>(api["raw_data"].as_str().unwrap()).unwrap().to_string(), {
        serde_json::from_str::<Value>(mapped).unwrap().to_string()
    });
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:2: malformed event", input.display())), "{err}");
    assert!(
        err.lines().any(|l| l == "normalized: 1 events mapped (6003: 1), 3 passed through unmapped, 1 rejected"),
        "{err}"
    );
}

#[test]
fn normalize_knows_only_ocsf() {
    let out = sigil(&["normalize", "--to", "ecs"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("ocsf"), "{}", stderr(&out));
}

fn example_event_files() -> Vec<String> {
    files_under(&repo().join("examples"), &["jsonl"]).iter().map(|p| p.display().to_string()).collect()
}

#[test]
fn hunt_writes_each_alert_as_a_valid_detection_finding() {
    let files = example_event_files();
    let run = |format: &str| {
        let mut args = vec!["hunt", "--format", format];
        args.extend(files.iter().map(String::as_str));
        let out = sigil(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        lines(&out)
    };
    let alerts = run("jsonl");
    let findings = run("ocsf");
    assert_eq!(findings.len(), alerts.len());
    let detections: Vec<_> = alerts.iter().zip(&findings).filter(|(a, _)| a["kind"] == "detection").collect();
    assert_eq!(detections.len(), 15, "the examples fire 15 detection alerts (see examples/README.md)");
    for (alert, finding) in detections {
        assert_eq!(finding["class_uid"], 2004);
        assert_eq!(finding["type_uid"], 200401);
        let info = &finding["finding_info"];
        assert_eq!(info["analytic"]["uid"], alert["rule"]["id"]);
        assert_eq!(info["title"], alert["rule"]["title"]);
        assert_eq!(info["analytic"]["type_id"], 1);
        let source = format!("{}:{}", alert["source"]["file"].as_str().unwrap(), alert["source"]["line"]);
        assert_eq!(info["uid"], format!("{}:{source}", alert["rule"]["id"].as_str().unwrap()));
        let level = alert["rule"]["level"].as_str().unwrap();
        let severity = ["informational", "low", "medium", "high", "critical"].iter().position(|l| *l == level);
        assert_eq!(finding["severity_id"].as_u64(), severity.map(|s| s as u64 + 1), "{level}");
        // The alert's event time, in milliseconds.
        let time = finding["time"].as_i64().unwrap();
        assert!(time > 1_700_000_000_000, "{finding}");
        assert!(alert["timestamp"].as_str().unwrap().starts_with("2026-11-20T"));
        assert_eq!(info["first_seen_time"], time);
        assert_eq!(finding["evidences"][0]["data"], alert["matched"]);
        assert_eq!(serde_json::from_str::<Value>(finding["raw_data"].as_str().unwrap()).unwrap(), alert["event"]);
        assert_eq!(finding["unmapped"]["rule"]["author"], alert["rule"]["author"]);
    }
    assert!(findings.iter().any(|f| f["finding_info"]["attacks"][0]["technique"]["uid"].is_string()));
    let Some(datasets) = datasets("hunt_writes_each_alert_as_a_valid_detection_finding (schema check)") else { return };
    let counts = Schemas::new(&datasets).validate_all(&findings);
    // Every finding is valid, the correlation's included.
    assert_eq!(counts, BTreeMap::from([(2004, findings.len())]));
}

#[test]
fn correlation_alerts_are_detection_findings_too() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("brute.yml");
    std::fs::write(
        &rules,
        "title: failed logon\nname: failed_logon\nlevel: low\nlogsource:\n  product: test\ndetection:\n  sel:\n    outcome: failure\n  condition: sel\n---\ntitle: brute force\nid: 5a8e1f7c-1111-4c2d-9b1e-0000000000bf\nlevel: high\ntags:\n  - attack.credential-access\n  - attack.t1110.001\ncorrelation:\n  type: event_count\n  rules: failed_logon\n  group-by: user\n  timespan: 10m\n  condition:\n    gte: 3\n",
    )
    .unwrap();
    let events: Vec<String> = (0..4)
        .map(|i| format!("{{\"@timestamp\":\"2024-01-01T00:0{i}:00Z\",\"outcome\":\"failure\",\"user\":\"ann\"}}"))
        .collect();
    let input = dir.path().join("events.jsonl");
    std::fs::write(&input, events.join("\n") + "\n").unwrap();
    let out = sigil(&["hunt", "--rules", rules.to_str().unwrap(), "--format", "ocsf", input.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let findings = lines(&out);
    let correlation: Vec<&Value> = findings.iter().filter(|f| f["finding_info"]["title"] == "brute force").collect();
    assert!(!correlation.is_empty(), "{findings:?}");
    let c = correlation[0];
    assert_eq!(c["severity_id"], 4);
    assert_eq!(c["count"], 3);
    assert_eq!(c["time"], 1_704_067_320_000i64, "the window's end: the third event");
    assert_eq!(c["finding_info"]["related_events_count"], 3);
    assert_eq!(c["finding_info"]["related_events"][0]["uid"], format!("{}:1", input.display()));
    assert_eq!(c["finding_info"]["attacks"][0]["sub_technique"]["uid"], "T1110.001");
    assert_eq!(c["finding_info"]["attacks"][0]["tactic"]["uid"], "TA0006");
    let Some(datasets) = datasets("correlation_alerts_are_detection_findings_too (schema check)") else { return };
    Schemas::new(&datasets).validate_all(&findings);
}
