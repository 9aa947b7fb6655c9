//! Windows event logs: every `.evtx` file of ../shared is read record by record, and its events
//! raise the same alerts whether Sigil reads the EVTX file itself or the JSON evtx_dump writes
//! for it (the same `evtx` library, one record's JSON per line).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil")).args(args).output().expect("sigil runs")
}

fn evtx_dir(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/windows/evtx");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("SKIPPED {test}: {} is absent", dir.display());
        None
    }
}

fn evtx_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "evtx"))
        .collect();
    files.sort();
    files
}

/// `events: N read, M rejected` from a hunt's summary line.
fn counts(out: &Output) -> (u64, u64) {
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().find(|l| l.starts_with("events: ")).unwrap_or_else(|| panic!("no summary in {err}"));
    let numbers: Vec<u64> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|t| t.parse().ok()).collect();
    (numbers[0], numbers[1])
}

#[test]
fn every_evtx_file_is_read_without_errors() {
    let Some(dir) = evtx_dir("every_evtx_file_is_read_without_errors") else { return };
    let files = evtx_files(&dir);
    assert!(files.len() > 200, "expected the whole EVTX sample, found {} files", files.len());
    let mut total = 0;
    for file in &files {
        // The embedded pack: reading is what is tested here, and it loads in milliseconds.
        let out = sigil(&["hunt", "--format", "jsonl", file.to_str().unwrap()]);
        let (read, rejected) = counts(&out);
        let name = file.file_name().unwrap().to_string_lossy();
        assert_eq!(rejected, 0, "{name}: {rejected} records could not be read");
        assert!(read > 0, "{name}: no record read");
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        println!("{read:>5}  {name}");
        total += read;
    }
    println!("{total} records in {} files", files.len());
}

/// Each record of an EVTX file as one line of evtx_dump's JSON output.
fn as_evtx_dump_json(file: &Path) -> String {
    let mut parser = evtx::EvtxParser::from_path(file).expect("an EVTX file");
    let mut text = String::new();
    for record in parser.records_json_value() {
        text.push_str(&serde_json::to_string(&record.expect("a readable record").data).unwrap());
        text.push('\n');
    }
    text
}

/// Alerts without where they came from (the file differs; the record number does not).
fn comparable(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut alert: Value = serde_json::from_str(l).expect("an alert line");
            alert["source"]["file"] = Value::Null;
            alert
        })
        .collect()
}

#[test]
fn evtx_and_evtx_dump_json_raise_the_same_alerts() {
    let Some(dir) = evtx_dir("evtx_and_evtx_dump_json_raise_the_same_alerts") else { return };
    let rules = dir.join("../../../sigma/rules");
    let files = evtx_files(&dir);
    let json_dir = tempfile::tempdir().unwrap();
    let mut json_files = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let path = json_dir.path().join(format!("{i:03}.jsonl"));
        std::fs::write(&path, as_evtx_dump_json(file)).unwrap();
        json_files.push(path);
    }
    let hunt = |inputs: &[PathBuf]| {
        let mut args = vec!["hunt", "--rules", rules.to_str().unwrap(), "--format", "jsonl"];
        args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
        sigil(&args)
    };
    let (from_evtx, from_json) = (hunt(&files), hunt(&json_files));
    assert_eq!(counts(&from_evtx), counts(&from_json));
    let (a, b) = (comparable(&from_evtx), comparable(&from_json));
    assert!(a.len() > 100, "the sample should raise alerts, got {}", a.len());
    assert_eq!(a.len(), b.len(), "alert counts differ");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    let rules_fired: std::collections::BTreeSet<&str> = a.iter().filter_map(|x| x["rule"]["id"].as_str()).collect();
    println!(
        "{} records, {} alerts from {} rules, identical from EVTX and from JSON",
        counts(&from_evtx).0,
        a.len(),
        rules_fired.len()
    );
}
