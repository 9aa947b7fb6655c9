//! `sigil coverage`: the ATT&CK v19 table and Navigator layer, over the embedded pack, over small
//! packs written here, and over SigmaHQ's rules (../shared; SKIPPED when absent).

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// ATT&CK Enterprise v19 tactics in matrix order, as SigmaHQ's rules tag them.
const V19_TACTICS: [&str; 15] = [
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "stealth",
    "defense-impairment",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Runs `sigil coverage PATH --navigator LAYER`; the table (stdout) and the layer.
fn coverage(path: &Path) -> (String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let layer_path = dir.path().join("layer.json");
    let out: Output = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["coverage", path.to_str().unwrap(), "--navigator", layer_path.to_str().unwrap()])
        .output()
        .expect("sigil runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let layer = serde_json::from_str(&std::fs::read_to_string(&layer_path).unwrap()).unwrap();
    (String::from_utf8(out.stdout).unwrap(), layer)
}

/// One table row: `{tactic:<25}  {technique:<12}  {count:>5}  {rules}`.
struct Row {
    tactic: String,
    technique: String,
    count: usize,
    rules: String,
}

/// The rows between the header and the summary line.
fn rows(table: &str) -> Vec<Row> {
    let lines: Vec<&str> = table.lines().collect();
    lines[1..lines.len() - 1]
        .iter()
        .map(|l| Row {
            tactic: l[..25].trim_end().to_string(),
            technique: l[27..39].trim_end().to_string(),
            count: l[41..46].trim_start().parse().unwrap_or_else(|e| panic!("{l}: {e}")),
            rules: l[48..].to_string(),
        })
        .collect()
}

/// The layer's (tactic, technique) → (score, comment).
fn layer_cell(layer: &Value, tactic: &str, technique: &str) -> Option<(u64, String)> {
    layer["techniques"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["tactic"] == tactic && e["techniqueID"] == technique)
        .map(|e| (e["score"].as_u64().unwrap(), e["comment"].as_str().unwrap().to_string()))
}

fn write_rule(dir: &Path, file: &str, id_suffix: u32, title: &str, tags: &[&str]) {
    let tags: String = tags.iter().map(|t| format!("  - {t}\n")).collect();
    let text = format!(
        "title: {title}\nid: 5a8e1f7c-2222-4c2d-9b1e-{id_suffix:012}\nstatus: test\nlevel: high\ntags:\n{tags}\
         logsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  selection:\n    eventName: {file}\n  \
         condition: selection\n"
    );
    std::fs::write(dir.join(format!("{file}.yml")), text).unwrap();
}

#[test]
fn coverage_tables_the_embedded_pack_in_attack_v19_and_writes_a_navigator_layer() {
    let (table, layer) = coverage(&repo().join("sigma-rules"));
    assert!(table.starts_with("TACTIC (ATT&CK v19)"), "{table}");
    let rows = rows(&table);
    let trail = rows.iter().find(|r| r.tactic == "defense-impairment" && r.technique == "T1685.002").expect(&table);
    assert!(trail.rules.contains("AWS CloudTrail Logging Stopped"), "{}", trail.rules);
    assert_eq!(layer["versions"]["attack"], "19");
    assert_eq!(layer["domain"], "enterprise-attack");
    let (score, comment) = layer_cell(&layer, "defense-impairment", "T1685.002").unwrap();
    assert_eq!(score as usize, trail.count);
    assert!(comment.contains("AWS CloudTrail Logging Stopped"), "{comment}");
    // The pack is tagged the v19 way: no retired tactic, no revoked Impair Defenses (T1562).
    assert!(rows.iter().all(|r| V19_TACTICS.contains(&r.tactic.as_str())), "{table}");
    assert!(rows.iter().all(|r| !r.technique.starts_with("T1562")), "{table}");
    assert!(table.lines().last().unwrap().contains(" techniques and sub-techniques in "), "{table}");
}

#[test]
fn a_technique_is_listed_only_under_the_tactics_of_the_rules_that_carry_it() {
    let dir = tempfile::tempdir().unwrap();
    write_rule(dir.path(), "StopLogging", 1, "Trail stopped", &["attack.defense-impairment", "attack.t1685.002"]);
    write_rule(dir.path(), "ListBuckets", 2, "Buckets listed", &["attack.discovery"]);
    let (table, layer) = coverage(dir.path());
    let rows = rows(&table);
    assert_eq!(rows.len(), 1, "{table}");
    assert_eq!((rows[0].tactic.as_str(), rows[0].technique.as_str()), ("defense-impairment", "T1685.002"));
    assert_eq!(layer["techniques"].as_array().unwrap().len(), 1, "{layer}");
    assert!(layer_cell(&layer, "discovery", "T1685.002").is_none());
    assert!(table.lines().last().unwrap().contains("; 1 rules without a technique tag"), "{table}");
}

#[test]
fn one_rule_pairing_a_tactic_with_a_technique_does_not_bring_other_rules_of_that_technique() {
    // The pack once listed all 16 cloud-log rules under impact because one of them is also tagged
    // impact; that rule alone pairs impact with the technique.
    let dir = tempfile::tempdir().unwrap();
    write_rule(dir.path(), "StopLogging", 1, "Trail stopped", &["attack.defense-impairment", "attack.t1685.002"]);
    write_rule(dir.path(), "DeleteTrail", 2, "Trail deleted", &["attack.defense-impairment", "attack.t1685.002"]);
    let bucket = ["attack.defense-impairment", "attack.t1685.002", "attack.impact", "attack.t1485"];
    write_rule(dir.path(), "PutBucketLifecycle", 3, "Log bucket emptied", &bucket);
    let (table, layer) = coverage(dir.path());
    let listed: Vec<(String, String, usize)> =
        rows(&table).into_iter().map(|r| (r.tactic, r.technique, r.count)).collect();
    let row = |tactic: &str, technique: &str, count| (tactic.to_string(), technique.to_string(), count);
    assert_eq!(
        listed,
        [
            row("defense-impairment", "T1485", 1),
            row("defense-impairment", "T1685.002", 3),
            row("impact", "T1485", 1),
            row("impact", "T1685.002", 1),
        ],
        "{table}"
    );
    assert_eq!(layer_cell(&layer, "impact", "T1685.002"), Some((1, "Log bucket emptied".into())));
}

#[test]
fn coverage_over_sigmahq_prints_a_row_for_every_current_tactic() {
    let rules = repo().join("../shared/sigma/rules");
    if !rules.is_dir() {
        println!("SKIPPED coverage_over_sigmahq_prints_a_row_for_every_current_tactic: {} is absent", rules.display());
        return;
    }
    let (table, layer) = coverage(&rules);
    let tactics: BTreeSet<String> = rows(&table).into_iter().map(|r| r.tactic).collect();
    for tactic in V19_TACTICS {
        assert!(tactics.contains(tactic), "no row for {tactic}: {tactics:?}");
    }
    // SigmaHQ's rules carry the v19 tags only, so nothing lands under the retired tactic.
    assert!(!tactics.iter().any(|t| t.starts_with("defense-evasion")), "{tactics:?}");
    assert!(
        table.lines().last().unwrap().contains(" in 15 of 15 ATT&CK v19 tactics;"),
        "{}",
        table.lines().last().unwrap()
    );
    assert_eq!(layer["versions"]["attack"], "19");
    let layer_tactics: BTreeSet<&str> =
        layer["techniques"].as_array().unwrap().iter().filter_map(|e| e["tactic"].as_str()).collect();
    assert_eq!(layer_tactics, V19_TACTICS.into_iter().collect());
}
