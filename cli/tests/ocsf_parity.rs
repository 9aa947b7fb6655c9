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

/// Runs both hunts over `events` with each rule set; returns the pairs found on raw records
/// only whose event `normalize` passed through, after failing on any other difference.
fn compare(name: &str, events: &[String], rule_sets: &[&Path], min_mapped_percent: usize) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join(format!("{name}.jsonl"));
    std::fs::write(&raw, events.join("\n") + "\n").unwrap();
    let normalized = dir.path().join(format!("{name}.ocsf.jsonl"));
    std::fs::write(&normalized, sigil(&["normalize", "--to", "ocsf", raw.to_str().unwrap()])).unwrap();
    // Lines that are not OCSF objects: events normalize passed through unchanged.
    let text = std::fs::read_to_string(&normalized).unwrap();
    let passed: Vec<u64> = (1..)
        .zip(text.lines())
        .filter(|(_, l)| serde_json::from_str::<Value>(l).ok().is_none_or(|v| v["metadata"]["version"] != "1.8.0"))
        .map(|(n, _)| n)
        .collect();
    let mapped = events.len() - passed.len();
    println!("{name}: {mapped} of {} events mapped to OCSF", events.len());
    assert!(
        mapped * 100 >= events.len() * min_mapped_percent,
        "{name}: {} of {} events not mapped",
        passed.len(),
        events.len()
    );
    let mut exceptions = 0;
    for rules in rule_sets {
        let rules = rules.to_str().unwrap();
        let on_raw = alerts(&sigil(&["hunt", "--format", "jsonl", "--rules", rules, raw.to_str().unwrap()]));
        let on_ocsf = alerts(&sigil(&[
            "hunt",
            "--format",
            "jsonl",
            "--rules",
            rules,
            "--pipeline",
            "ocsf",
            normalized.to_str().unwrap(),
        ]));
        let total: usize = on_raw.values().sum();
        let mut differences = Vec::new();
        for (pair, n) in &on_raw {
            let found = on_ocsf.get(pair).copied().unwrap_or(0);
            if found == *n {
                continue;
            }
            let passed_through =
                pair.1.strip_prefix("line ").and_then(|l| l.parse().ok()).is_some_and(|l| passed.contains(&l));
            if passed_through && found == 0 {
                println!(
                    "exception: {name}: {} on {}: not an OCSF event (it lacks what every class requires, a time or an endpoint): passed through unchanged",
                    pair.0, pair.1
                );
                exceptions += 1;
            } else {
                differences.push(format!("{} on {}: {n} on raw records, {found} on OCSF", pair.0, pair.1));
            }
        }
        for (pair, n) in &on_ocsf {
            if !on_raw.contains_key(pair) {
                differences.push(format!("{} on {}: 0 on raw records, {n} on OCSF", pair.0, pair.1));
            }
        }
        println!("{name} with {rules}: {total} alerts on raw records, {} on OCSF", on_ocsf.values().sum::<usize>());
        assert!(total > 0 && !on_ocsf.is_empty(), "{name} with {rules}: no alert, nothing was compared");
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
    let sigmahq = shared.join("sigma/rules/cloud/aws");
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
    // Two thirds of Panther's Okta tests are fragments without an `eventType` or a time.
    let exceptions = compare("okta", &events, &[&sigmahq, &pack], 30);
    println!("{} Okta records, {exceptions} documented exceptions", events.len());
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
}

/// A CloudTrail record as AWS's own OCSF mapping writes it (the bloblang of
/// `../shared/datasets/ocsf/examples/mappings/bloblang/AWS/CloudTrail/v1.1.0`, which Security
/// Lake follows): the class by event name, the same attributes in every class, and `unmapped`
/// the record without the fields the mapping lists.
fn security_lake(r: &Value) -> Value {
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
    const WITHOUT: &[&str] = &[
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
    let get = |path: &str| path.split('.').try_fold(r, |v, k| v.get(k)).cloned().unwrap_or(Value::Null);
    let name = r["eventName"].as_str().unwrap_or_default();
    let class = if AUTHENTICATION.contains(&name) { 3002 } else { 6003 };
    let address = get("sourceIPAddress");
    let is_ip = address.as_str().is_some_and(|a| a.parse::<std::net::Ipv4Addr>().is_ok());
    let mut unmapped = r.clone();
    for path in WITHOUT {
        let (parents, last) = path.rsplit_once('.').map_or((None, *path), |(p, l)| (Some(p), l));
        let parent = match parents {
            Some(p) => p.split('.').try_fold(&mut unmapped, |v, k| v.get_mut(k)),
            None => Some(&mut unmapped),
        };
        if let Some(Value::Object(m)) = parent {
            m.remove(last);
        }
    }
    serde_json::json!({
        "class_uid": class,
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
    })
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
        let missing: Vec<_> = on_raw.iter().filter(|(k, n)| on_lake.get(*k) != Some(n)).collect();
        let extra: Vec<_> = on_lake.iter().filter(|(k, _)| !on_raw.contains_key(*k)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "missing on OCSF: {missing:?}\nonly on OCSF: {extra:?}");
    }
}
