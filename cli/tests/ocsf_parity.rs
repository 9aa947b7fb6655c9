//! The same detections on OCSF data: hunting raw CloudTrail and Okta records, and hunting what
//! `sigil normalize --to ocsf` made of them with `--pipeline ocsf`, must give the same (rule,
//! event) pairs, with SigmaHQ's rules for the source and Sigil's pack. The only exception is an
//! event that is not an OCSF event at all (it lacks what every class requires, a time above
//! all): `normalize` passes it through unchanged, and rules written for OCSF names cannot see
//! it. The test lists each such pair with that reason, and fails on any other difference.
//! Tests that need `../shared` say SKIPPED and return when it is absent.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn shared(test: &str) -> Option<PathBuf> {
    let shared =
        std::env::var_os("SIGIL_SHARED").map(PathBuf::from).unwrap_or_else(|| repo().join("..").join("shared"));
    if shared.join("datasets").is_dir() && shared.join("sigma").is_dir() {
        Some(shared)
    } else {
        println!("SKIPPED {test}: {} is absent (set SIGIL_SHARED to its path to run it)", shared.display());
        None
    }
}

fn sigil(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sigil")).args(args).output().expect("sigil runs");
    assert!(out.status.success(), "sigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The events of Panther's test files for `log_type`, one JSON object per line.
fn panther_events(shared: &Path, file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(shared.join("datasets/cloud/panther-tests").join(file)).unwrap();
    text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).map(|t| t["event"].to_string()).collect()
}

/// An alert's identity across the two runs: the rule and the event's line, or for a
/// correlation its group's values (the group's field names are the pipeline's on one side).
fn key(alert: &Value) -> (String, String) {
    let title = alert["rule"]["title"].as_str().unwrap_or_default().to_string();
    match alert["source"]["line"].as_u64() {
        Some(line) => (title, format!("line {line}")),
        None => {
            let mut values: Vec<String> =
                alert["group"].as_object().map(|g| g.values().map(Value::to_string).collect()).unwrap_or_default();
            values.sort();
            (title, format!("group {}", values.join(", ")))
        }
    }
}

fn alerts(out: &str) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for line in out.lines() {
        let alert: Value = serde_json::from_str(line).unwrap();
        *counts.entry(key(&alert)).or_default() += 1;
    }
    counts
}

fn hunt(rules: &str, pipeline: bool, events: &Path) -> BTreeMap<(String, String), usize> {
    let mut args = vec!["hunt", "--format", "jsonl", "--rules", rules];
    if pipeline {
        args.extend(["--pipeline", "ocsf"]);
    }
    args.push(events.to_str().unwrap());
    alerts(&sigil(&args))
}

/// Normalises `events`; the events `normalize` passes through (not OCSF events: they lack what
/// every class requires) are the documented exception, and each alert the rules raise on one
/// of them is listed with that reason. Over every other event, hunting the raw records and the
/// OCSF objects with `--pipeline ocsf` must give the same alerts, correlations included.
/// Returns the number of exceptions.
fn compare(name: &str, events: &[String], rule_sets: &[&Path], min_mapped_percent: usize) -> usize {
    compare_explaining(name, events, rule_sets, min_mapped_percent, &|_, _, _| None)
}

/// Why a difference on one mapped record is a documented exception: given the raw record and
/// the alerts on it raw and on its OCSF object, the reason, or `None` (a failure).
type Explain<'a> = &'a dyn Fn(&Value, usize, usize) -> Option<&'static str>;

/// [`compare`], where `explain` may document a difference on a mapped record.
fn compare_explaining(
    name: &str,
    events: &[String],
    rule_sets: &[&Path],
    min_mapped_percent: usize,
    explain: Explain<'_>,
) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join(format!("{name}.all.jsonl"));
    std::fs::write(&all, events.join("\n") + "\n").unwrap();
    let normalized = sigil(&["normalize", "--to", "ocsf", all.to_str().unwrap()]);
    let is_ocsf = |l: &str| serde_json::from_str::<Value>(l).is_ok_and(|v| v["metadata"]["version"] == "1.8.0");
    let (mut raw, mut ocsf, mut passed, mut mapped_records) = (String::new(), String::new(), Vec::new(), Vec::new());
    for ((n, event), line) in (1u64..).zip(events).zip(normalized.lines()) {
        if is_ocsf(line) {
            mapped_records.push(event.as_str());
            raw.push_str(&format!("{event}\n"));
            ocsf.push_str(&format!("{line}\n"));
        } else {
            passed.push(n);
        }
    }
    let mapped = events.len() - passed.len();
    println!("{name}: {mapped} of {} events mapped to OCSF", events.len());
    assert!(
        mapped * 100 >= events.len() * min_mapped_percent,
        "{name}: {} of {} events not mapped",
        passed.len(),
        events.len()
    );
    let (raw_file, ocsf_file) =
        (dir.path().join(format!("{name}.jsonl")), dir.path().join(format!("{name}.ocsf.jsonl")));
    std::fs::write(&raw_file, raw).unwrap();
    std::fs::write(&ocsf_file, ocsf).unwrap();
    let mut exceptions = 0;
    for rules in rule_sets {
        let rules = rules.to_str().unwrap();
        for ((title, at), n) in hunt(rules, false, &all) {
            let line = at.strip_prefix("line ").and_then(|l| l.parse::<u64>().ok());
            if line.is_some_and(|l| passed.contains(&l)) {
                println!("exception: {name}: {title} on {at} ({n}): not an OCSF event (it lacks what every class requires, a time or an endpoint): passed through unchanged");
                exceptions += n;
            }
        }
        let (on_raw, on_ocsf) = (hunt(rules, false, &raw_file), hunt(rules, true, &ocsf_file));
        let mut differences = Vec::new();
        for pair in on_raw.keys().chain(on_ocsf.keys()) {
            let (r, o) = (on_raw.get(pair).copied().unwrap_or(0), on_ocsf.get(pair).copied().unwrap_or(0));
            if r == o {
                continue;
            }
            let record =
                pair.1.strip_prefix("line ").and_then(|l| l.parse::<usize>().ok()).map(|l| mapped_records[l - 1]);
            match record.and_then(|r| serde_json::from_str::<Value>(r).ok()).and_then(|v| explain(&v, r, o)) {
                Some(reason) => {
                    println!("exception: {name}: {} on {} ({r} raw, {o} OCSF): {reason}", pair.0, pair.1);
                    exceptions += 1;
                }
                None => differences.push(format!("{} on {}: {r} on raw records, {o} on OCSF", pair.0, pair.1)),
            }
        }
        differences.dedup();
        let (r, o) = (on_raw.values().sum::<usize>(), on_ocsf.values().sum::<usize>());
        println!("{name} with {rules}: {r} alerts on the mapped raw records, {o} on their OCSF objects");
        assert!(r > 0, "{name} with {rules}: no alert, nothing was compared");
        assert!(differences.is_empty(), "{name} with {rules}:\n{}", differences.join("\n"));
    }
    exceptions
}

#[test]
fn cloudtrail_rules_fire_on_ocsf_as_on_raw_records() {
    let Some(shared) = shared("cloudtrail_rules_fire_on_ocsf_as_on_raw_records") else { return };
    let mut events = panther_events(&shared, "AWS_CloudTrail.tests.jsonl");
    let otrf =
        std::fs::read_to_string(shared.join("datasets/cloud/otrf/aws_ec2_proxy_s3_exfiltration.cloudtrail.jsonl"));
    events.extend(otrf.unwrap().lines().filter(|l| !l.trim().is_empty()).map(str::to_string));
    let sigmahq = shared.join("sigma/rules/cloud");
    let pack = repo().join("sigma-rules/rules/aws");
    let exceptions = compare("cloudtrail", &events, &[&sigmahq, &pack], 90);
    println!("{} CloudTrail records, {exceptions} documented exceptions", events.len());
    assert!(exceptions <= 5, "{exceptions} exceptions");
}

#[test]
fn okta_rules_fire_on_ocsf_as_on_raw_records() {
    let Some(shared) = shared("okta_rules_fire_on_ocsf_as_on_raw_records") else { return };
    let events = panther_events(&shared, "Okta_SystemLog.tests.jsonl");
    let sigmahq = shared.join("sigma/rules/identity/okta");
    let pack = repo().join("sigma-rules/rules/okta");
    // Two thirds of Panther's Okta tests are fragments without an `eventType`, a time or a client.
    let exceptions = compare("okta", &events, &[&sigmahq, &pack], 20);
    println!("{} Okta records, {exceptions} documented exceptions", events.len());
}

/// The Windows records `normalize` maps (Security 4624, 4625 and 4688, Sysmon 1) of the OTRF
/// sample, with SigmaHQ's process_creation and Security log rules. One difference is documented:
/// a 4688 record names the new process's image `NewProcessName` and its parent's
/// `ParentProcessName`, where Sysmon says `Image` and `ParentImage`; OCSF has one attribute for
/// each (`process.file.path`, `process.parent_process.file.path`), so on OCSF process_creation
/// rules read a 4688's image as they read Sysmon's, and may fire where the raw record has no
/// `Image` to test. The reverse, an alert on the raw record lost on OCSF, is a failure.
#[test]
fn windows_rules_fire_on_ocsf_as_on_raw_records() {
    let Some(shared) = shared("windows_rules_fire_on_ocsf_as_on_raw_records") else { return };
    let gz = std::fs::File::open(shared.join("datasets/windows/otrf-windows-sample.jsonl.gz")).unwrap();
    let mapped = |v: &Value| match (v["Channel"].as_str(), v["EventID"].as_u64()) {
        (Some(c), Some(id)) if c.eq_ignore_ascii_case("security") => matches!(id, 4624 | 4625 | 4688),
        (Some("Microsoft-Windows-Sysmon/Operational"), Some(1)) => true,
        _ => false,
    };
    let mut events: Vec<String> = std::io::BufRead::lines(std::io::BufReader::new(flate2::read::GzDecoder::new(gz)))
        .map_while(Result::ok)
        .filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| mapped(&v)))
        .collect();
    // The EVTX attack samples, as evtx_dump writes their records (`hunt` and `normalize` lay
    // them flat alike): the logons and process creations among them.
    for file in sigil_tests::files_under(&shared.join("datasets/windows/evtx"), &["evtx"]) {
        let Ok(mut parser) = evtx::EvtxParser::from_path(&file) else { continue };
        for record in parser.records_json_value().filter_map(Result::ok) {
            let system = &record.data["Event"]["System"];
            let id = system["EventID"].as_u64().or_else(|| system["EventID"]["#text"].as_u64());
            if mapped(&serde_json::json!({"Channel": system["Channel"], "EventID": id})) {
                events.push(record.data.to_string());
            }
        }
    }
    let windows = shared.join("sigma/rules/windows");
    let (process_creation, security) = (windows.join("process_creation"), windows.join("builtin/security"));
    let audit_image = |record: &Value, raw: usize, ocsf: usize| {
        let system = &record["Event"]["System"];
        let id =
            [&record["EventID"], &system["EventID"], &system["EventID"]["#text"]].into_iter().find_map(Value::as_u64);
        let image = record.get("Image").or_else(|| record["Event"]["EventData"].get("Image"));
        (id == Some(4688) && ocsf > raw && image.is_none()).then_some(
            "a 4688 names its image NewProcessName (and its parent's ParentProcessName); OCSF holds them where \
             process_creation rules read Image and ParentImage",
        )
    };
    let exceptions = compare_explaining("windows", &events, &[&process_creation, &security], 99, &audit_image);
    println!("{} Windows records, {exceptions} documented exceptions", events.len());
}

/// The pipeline maps CloudTrail's and Okta's field names by the normaliser's own tables.
#[test]
fn the_ocsf_pipeline_maps_fields_where_normalize_puts_them() {
    let pipeline = std::fs::read_to_string(repo().join("rule-compiler/pipelines/ocsf.yml")).unwrap();
    for field in sigil_ocsf::cloudtrail::FIELDS.iter().chain(sigil_ocsf::okta::FIELDS) {
        let to = match field.to {
            [one] => one.to_string(),
            many => format!("[{}]", many.join(", ")),
        };
        let line = format!("      {}: {to}\n", field.from);
        assert!(pipeline.contains(&line), "ocsf.yml lacks `{}`", line.trim());
    }
    // Windows: the attributes, then `unmapped` (where a value the attribute holds otherwise
    // stays), and for the Security log's rules the field's own name (records passed through).
    for field in sigil_ocsf::windows::FIELDS {
        let mut to: Vec<String> = field.to.iter().map(|t| t.to_string()).collect();
        to.push(format!("unmapped.{}", field.from));
        let process = format!("      {}: [{}]\n", field.from, to.join(", "));
        to.push(field.from.to_string());
        let security = format!("      {}: [{}]\n", field.from, to.join(", "));
        for line in [process, security] {
            assert!(pipeline.contains(&line), "ocsf.yml lacks `{}`", line.trim());
        }
    }
}

/// A CloudTrail record as AWS's own OCSF mapping writes it (the bloblang of
/// `../shared/datasets/ocsf/examples/mappings/bloblang/AWS/CloudTrail/v1.1.0`, which Security
/// Lake follows): the class by event name, the same attributes in every class, and `unmapped`
/// the record without the fields the mapping lists.
fn security_lake(r: &Value) -> Value {
    security_lake_with(r, SECURITY_LAKE_WITHOUT)
}

/// The fields AWS's mapping takes out of `unmapped` (`root.unmapped = this.without(...)`).
const SECURITY_LAKE_WITHOUT: &[&str] = &[
    "awsRegion",
    "eventName",
    "userIdentity.accountId",
    "userIdentity.accessKeyId",
    "userIdentity.userName",
    "userIdentity.type",
    "userIdentity.principalId",
    "userIdentity.arn",
    "userIdentity.sessionContext.attributes.creationDate",
    "userIdentity.sessionContext.sessionIssuer.arn",
    "userIdentity.invokedBy",
    "userIdentity.webIdFederationData.federatedProvider",
    "userIdentity.identityProvider",
    "requestID",
    "eventSource",
    "apiVersion",
    "errorCode",
    "errorMessage",
    "eventVersion",
    "eventID",
    "eventCategory",
    "additionalEventData.MFAUsed",
    "vpcEndpointId",
    "sourceIPAddress",
    "eventTime",
    "userAgent",
    "userIdentity.sessionContext.sessionIssuer.userName",
];

fn security_lake_with(r: &Value, without: &[&str]) -> Value {
    const AUTHENTICATION: &[&str] = &[
        "ConsoleLogin",
        "ExternalIdPDirectoryLogin",
        "CheckMfa",
        "CredentialChallenge",
        "CredentialVerification",
        "UserAuthentication",
        "AssumeRole",
        "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity",
    ];
    let get = |path: &str| path.split('.').try_fold(r, |v, k| v.get(k)).cloned().unwrap_or(Value::Null);
    let name = r["eventName"].as_str().unwrap_or_default();
    let class = if AUTHENTICATION.contains(&name) { 3002 } else { 6003 };
    let address = get("sourceIPAddress");
    let is_ip = address.as_str().is_some_and(|a| a.parse::<std::net::Ipv4Addr>().is_ok());
    let mut unmapped = r.clone();
    for path in without {
        let (parents, last) = path.rsplit_once('.').map_or((None, *path), |(p, l)| (Some(p), l));
        let parent = match parents {
            Some(p) => p.split('.').try_fold(&mut unmapped, |v, k| v.get_mut(k)),
            None => Some(&mut unmapped),
        };
        if let Some(Value::Object(m)) = parent {
            m.remove(last);
        }
    }
    without_nulls(serde_json::json!({
        "class_uid": class,
        "time": sigil_engine::time::parse_value(&sigil_engine::Json::from_value(&get("eventTime"))).map(|t| t.timestamp_millis()),
        "time_dt": get("eventTime"),
        "metadata": {
            "product": {"name": "CloudTrail", "vendor_name": "AWS", "version": get("eventVersion"),
                        "feature": {"name": get("eventCategory")}},
            "uid": get("eventID"), "log_name": get("eventType"), "log_provider": "CloudTrail",
            "version": "1.1.0", "profiles": ["cloud", "datetime"],
        },
        "cloud": {"provider": "AWS", "region": get("awsRegion")},
        "api": {
            "operation": get("eventName"), "service": {"name": get("eventSource")}, "version": get("apiVersion"),
            "request": {"uid": r.get("requestID").cloned().unwrap_or_else(|| "".into()), "data": get("requestParameters")},
            "response": {"error": get("errorCode"), "message": get("errorMessage"), "data": get("responseElements")},
        },
        "actor": {
            "user": {"type": get("userIdentity.type"), "uid": get("userIdentity.arn"), "uid_alt": get("userIdentity.principalId"),
                     "name": get("userIdentity.userName"), "account": {"uid": get("userIdentity.accountId")},
                     "credential_uid": get("userIdentity.accessKeyId")},
            "invoked_by": get("userIdentity.invokedBy"),
            "session": {"issuer": get("userIdentity.sessionContext.sessionIssuer.arn")},
        },
        "http_request": {"user_agent": get("userAgent")},
        "src_endpoint": if is_ip { serde_json::json!({"ip": address, "uid": get("vpcEndpointId")}) }
                        else { serde_json::json!({"domain": address, "uid": get("vpcEndpointId")}) },
        "unmapped": unmapped,
    }))
}

/// A value without its null members: Security Lake keeps records as Parquet, where an attribute
/// a record lacks is an empty column, read back as absent. (Written as JSON `null` instead,
/// `errorCode|exists: true` would hold on every record: Sigma's `exists` is true of a null.)
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(m) => {
            Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Users' OCSF CloudTrail is mostly Security Lake's: the pack and SigmaHQ's rules fire on it,
/// with `--pipeline ocsf`, as they fire on the raw records.
#[test]
fn rules_fire_on_security_lake_shaped_cloudtrail_as_on_raw_records() {
    let Some(shared) = shared("rules_fire_on_security_lake_shaped_cloudtrail_as_on_raw_records") else { return };
    let mut raw: Vec<Value> = panther_events(&shared, "AWS_CloudTrail.tests.jsonl")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let otrf =
        std::fs::read_to_string(shared.join("datasets/cloud/otrf/aws_ec2_proxy_s3_exfiltration.cloudtrail.jsonl"));
    raw.extend(otrf.unwrap().lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let raw_file = dir.path().join("raw.jsonl");
    let lake_file = dir.path().join("security-lake.jsonl");
    std::fs::write(&raw_file, raw.iter().map(|v| format!("{v}\n")).collect::<String>()).unwrap();
    std::fs::write(&lake_file, raw.iter().map(|v| format!("{}\n", security_lake(v))).collect::<String>()).unwrap();
    for rules in [shared.join("sigma/rules/cloud/aws"), repo().join("sigma-rules/rules/aws")] {
        let rules = rules.to_str().unwrap();
        let on_raw = alerts(&sigil(&["hunt", "--format", "jsonl", "--rules", rules, raw_file.to_str().unwrap()]));
        let on_lake = alerts(&sigil(&[
            "hunt",
            "--format",
            "jsonl",
            "--rules",
            rules,
            "--pipeline",
            "ocsf",
            lake_file.to_str().unwrap(),
        ]));
        println!(
            "{} records with {rules}: {} alerts on raw records, {} on Security Lake-shaped OCSF",
            raw.len(),
            on_raw.values().sum::<usize>(),
            on_lake.values().sum::<usize>()
        );
        assert!(!on_raw.is_empty(), "nothing was compared");
        // AWS's mapping converts some fields and drops the original (`additionalEventData.MFAUsed`
        // becomes the boolean `is_mfa`): renaming fields cannot reach those. The rules that
        // test one are the documented exception.
        let converted: Vec<&str> = SECURITY_LAKE_WITHOUT
            .iter()
            .copied()
            .filter(|f| !sigil_ocsf::cloudtrail::FIELDS.iter().any(|t| t.from == *f))
            .collect();
        let reads_converted = rule_titles_reading(Path::new(rules), &converted);
        let mut missing = Vec::new();
        for (k, n) in &on_raw {
            if on_lake.get(k) == Some(n) {
                continue;
            }
            if reads_converted.contains(&k.0) {
                println!(
                    "exception: {} on {}: the rule tests a field AWS's mapping converts ({converted:?})",
                    k.0, k.1
                );
            } else {
                missing.push((k, n));
            }
        }
        let extra: Vec<_> = on_lake.iter().filter(|(k, _)| !on_raw.contains_key(*k)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "missing on OCSF: {missing:?}\nonly on OCSF: {extra:?}");
    }
}

/// The titles of the rules under `dir` whose text names one of `fields`.
fn rule_titles_reading(dir: &Path, fields: &[&str]) -> Vec<String> {
    let mut titles = Vec::new();
    for path in sigil_tests::files_under(dir, &["yml"]) {
        let text = std::fs::read_to_string(&path).unwrap();
        if fields.iter().any(|f| text.contains(f)) {
            titles.extend(text.lines().filter_map(|l| l.strip_prefix("title:")).map(|t| t.trim().to_string()));
        }
    }
    titles
}
