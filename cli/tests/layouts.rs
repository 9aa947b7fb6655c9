//! One rule, every layout: SigmaHQ's process_creation rules raise the same alerts on the same
//! Sysmon process creations whether the events arrive as EVTX files, as evtx_dump JSON, flat
//! (fields at the top level), or normalised to OCSF by `sigil normalize` and hunted with the
//! `ocsf` pipeline. (Flat against ECS with the `ecs` pipeline is `tests/pipelines.rs`.)

use serde_json::Value;
use sigil_engine::{layout, Json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sigil(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_sigil")).args(args).output().expect("sigil runs");
    assert!(out.status.success(), "sigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// (input index, record number, rule id) of every alert; inputs are numbered in `inputs` order.
fn fired(out: &Output, inputs: &[PathBuf]) -> BTreeSet<(usize, u64, String)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let a: Value = serde_json::from_str(l).expect("an alert");
            let file = a["source"]["file"].as_str().unwrap();
            let input = inputs.iter().position(|p| p.to_str() == Some(file)).expect("an input of the hunt");
            (input, a["source"]["line"].as_u64().unwrap(), a["rule"]["id"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Sysmon's `User` (`DOMAIN\user`) and `Hashes` (`SHA1=..,MD5=..`) are split into parts by OCSF:
/// a rule comparing them whole has nothing to compare in an OCSF event. Such rules are left
/// out of the OCSF comparison, and counted.
fn names_split_fields(rule: &str) -> bool {
    rule.lines().any(|l| {
        let key = l.trim_start().trim_start_matches("- ");
        ["User|", "User:", "ParentUser", "Hashes"].iter().any(|f| key.starts_with(f))
    })
}

#[test]
fn process_creation_rules_fire_alike_on_evtx_evtx_dump_flat_and_ocsf() {
    let evtx_dir = shared().join("datasets/windows/evtx");
    let rules = shared().join("sigma/rules/windows/process_creation");
    if !evtx_dir.is_dir() || !rules.is_dir() {
        println!("SKIPPED process_creation_rules_fire_alike_on_evtx_evtx_dump_flat_and_ocsf: ../shared is absent");
        return;
    }
    // The EVTX files with Sysmon process creations (event id 1 in their names).
    let mut files: Vec<PathBuf> = std::fs::read_dir(&evtx_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "evtx"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains("__ID1-"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no Sysmon process creation logs in {}", evtx_dir.display());
    let tmp = tempfile::tempdir().unwrap();
    let rules = rules.to_str().unwrap();
    let rule_texts: BTreeMap<String, String> = std::fs::read_dir(rules)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter_map(|t| Some((t.lines().find_map(|l| l.strip_prefix("id: "))?.trim().to_string(), t)))
        .collect();
    let (mut dumps, mut flats, mut ocsfs) = (Vec::new(), Vec::new(), Vec::new());
    for (i, file) in files.iter().enumerate() {
        let (mut dump, mut flat) = (String::new(), String::new());
        let mut parser = evtx::EvtxParser::from_path(file).unwrap();
        for record in parser.records_json_value() {
            let data = record.unwrap().data;
            dump.push_str(&serde_json::to_string(&data).unwrap());
            dump.push('\n');
            flat.push_str(&serde_json::to_string(&layout::flatten(Json::from_value(&data))).unwrap());
            flat.push('\n');
        }
        let path = |form: &str| tmp.path().join(format!("{i}.{form}.jsonl"));
        std::fs::write(path("dump"), dump).unwrap();
        std::fs::write(path("flat"), flat).unwrap();
        let ocsf = sigil(&["normalize", "--to", "ocsf", path("flat").to_str().unwrap()]);
        std::fs::write(path("ocsf"), &ocsf.stdout).unwrap();
        dumps.push(path("dump"));
        flats.push(path("flat"));
        ocsfs.push(path("ocsf"));
    }
    let hunt = |inputs: &[PathBuf], extra: &[&str]| {
        let mut args = vec!["hunt", "--rules", rules, "--format", "jsonl"];
        args.extend_from_slice(extra);
        args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
        fired(&sigil(&args), inputs)
    };
    let evtx = hunt(&files, &[]);
    assert!(evtx.len() >= 5, "the sample should raise process_creation alerts, got {}", evtx.len());
    assert_eq!(evtx, hunt(&dumps, &[]), "evtx_dump JSON differs from EVTX");
    assert_eq!(evtx, hunt(&flats, &[]), "flat events differ from EVTX");
    let whole = |alerts: &BTreeSet<(usize, u64, String)>| -> BTreeSet<(usize, u64, String)> {
        alerts.iter().filter(|(_, _, rule)| whole_rule(&rule_texts, rule)).cloned().collect()
    };
    let ocsf = hunt(&ocsfs, &["--pipeline", "ocsf"]);
    assert_eq!(whole(&evtx), whole(&ocsf), "OCSF with the ocsf pipeline differs from the flat events");
    let left_out: BTreeSet<&String> =
        evtx.iter().chain(&ocsf).map(|(_, _, r)| r).filter(|r| !whole_rule(&rule_texts, r)).collect();
    println!(
        "{} files: {} alerts alike from EVTX, evtx_dump JSON and flat events; {} alike from OCSF \
         ({} rules comparing User or Hashes whole left out of the OCSF comparison)",
        files.len(),
        evtx.len(),
        whole(&ocsf).len(),
        left_out.len()
    );
}

fn whole_rule(rule_texts: &BTreeMap<String, String>, rule: &str) -> bool {
    rule_texts.get(rule).is_none_or(|t| !names_split_fields(t))
}
