//! Windows event logs: every `.evtx` file of ../shared is read record by record, and its events
//! raise the same alerts whether Sigil reads the EVTX file itself or the JSON evtx_dump writes
//! for it (the same `evtx` library, one record's JSON per line). Defender's EventData names
//! with spaces (`Threat Name`) reach SigmaHQ's rules, which write them without (`ThreatName`).

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

/// `bytes` with the UTF-16LE text of each `(from, to)` swapped wherever it occurs. Each `to` is as
/// long as its `from`, so every record keeps its size and layout.
fn with_text_swapped(mut bytes: Vec<u8>, swaps: &[(&str, &str)]) -> Vec<u8> {
    let utf16 = |s: &str| s.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
    for (from, to) in swaps {
        let (from, to) = (utf16(from), utf16(to));
        assert_eq!(from.len(), to.len(), "a swap must keep the length");
        let mut at = 0;
        while let Some(i) = bytes[at..].windows(from.len()).position(|w| w == from) {
            bytes[at + i..at + i + to.len()].copy_from_slice(&to);
            at += i + to.len();
        }
    }
    bytes
}

/// `value` with the same swaps made in every string it holds.
fn swapped_in(value: &Value, swaps: &[(&str, &str)]) -> Value {
    match value {
        Value::String(s) => Value::String(swaps.iter().fold(s.clone(), |s, (from, to)| s.replace(from, to))),
        Value::Array(items) => Value::Array(items.iter().map(|v| swapped_in(v, swaps)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), swapped_in(v, swaps))).collect()),
        other => other.clone(),
    }
}

fn records_of(file: &Path) -> Vec<Value> {
    let mut parser = evtx::EvtxParser::from_path(file).expect("an EVTX file");
    parser.records_json_value().map(|r| r.expect("a readable record").data).collect()
}

/// Defender writes EventData names with spaces (`Source Name`, `Threat Name`); SigmaHQ's rules
/// name them without. SigmaHQ's one `windefend` rule on `ThreatName` (RedSun, an emerging threat)
/// wants a 1119 from Real-Time Protection with an EICAR threat name on a RedSun staging path,
/// while the sample holds 1116s that caught Mimikatz. So a copy of the sample has those values
/// swapped, in the records' own bytes, for text of the same length (this sample stores even
/// `EventID` as text): the rule fires on the records it now describes, read from the EVTX file
/// and from evtx_dump's JSON of it alike. (The reader, like evtx_dump by default, checks no
/// CRC, which the swap leaves stale.)
#[test]
fn defender_names_with_spaces_reach_sigmahq_rules() {
    let Some(dir) = evtx_dir("defender_names_with_spaces_reach_sigmahq_rules") else { return };
    let sample = dir.join("Antivirus__ID1116-1117-Defender_threat_detected.evtx");
    let rule = dir.join(
        "../../../sigma/rules-emerging-threats/2026/Exploits/RedSun/\
         win_defender_exploit_redsun_tiering_engine_detected_as_eicar.yml",
    );
    if !rule.is_file() {
        println!("SKIPPED defender_names_with_spaces_reach_sigmahq_rules: {} is absent", rule.display());
        return;
    }
    let swaps = [
        ("1116", "1119"),
        ("HackTool:Win32/Mimikatz.D", "Virus:DOS/EICAR_Test_File"),
        (r"file:_C:\Users\admmig\Documents\mimikatz.exe", r"file:_C:\Temp\RS-12\TieringEngineService.exe"),
    ];
    let work = tempfile::tempdir().unwrap();
    let evtx_file = work.path().join("redsun.evtx");
    std::fs::write(&evtx_file, with_text_swapped(std::fs::read(&sample).unwrap(), &swaps)).unwrap();
    // The swaps changed those values and nothing else.
    let (before, after) = (records_of(&sample), records_of(&evtx_file));
    assert_eq!(before.iter().map(|r| swapped_in(r, &swaps)).collect::<Vec<_>>(), after);
    assert_eq!(after[1]["Event"]["EventData"]["Threat Name"], "Virus:DOS/EICAR_Test_File");
    assert_eq!(after[1]["Event"]["EventData"]["Source Name"], "Real-Time Protection");

    // Records 1 and 3 are 1119s too, but of mimidrv.sys and a Win64 threat name; 5 stayed a 1117.
    let redsun = "a7c3e5f2-8b1d-4e9a-b6c2-3d7f5e8a9b4c";
    let fired = fired_from_evtx_and_its_json(&rule, &evtx_file);
    assert_eq!(fired, [2, 4, 6].map(|record| (record, redsun.to_string())));
}

/// The same, unaltered: a Defender 5007 writes `New Value`, which SigmaHQ's exclusion rule reads
/// as `NewValue`.
#[test]
fn defender_new_value_reaches_the_exclusion_rule() {
    let Some(dir) = evtx_dir("defender_new_value_reaches_the_exclusion_rule") else { return };
    let sample = dir.join(
        "TA0005-Defense_Evasion__T1562.001-Impair_Defenses-Disable_or_Modify_tool__ID5007-\
         Defender_threat_exclusion_(native).evtx",
    );
    let rule =
        dir.join("../../../sigma/rules/windows/builtin/windefend/win_defender_config_change_exclusion_added.yml");
    let exclusion_added = "1321dc4e-a1fe-481d-a016-52c45f0c8b4f";
    let fired = fired_from_evtx_and_its_json(&rule, &sample);
    assert_eq!(fired, [2, 3, 4].map(|record| (record, exclusion_added.to_string())));
}

/// (record, rule id) of each alert `rule` raises on an EVTX file, after checking that evtx_dump's
/// JSON of the file raises the same alerts.
fn fired_from_evtx_and_its_json(rule: &Path, evtx_file: &Path) -> Vec<(u64, String)> {
    let work = tempfile::tempdir().unwrap();
    let json_file = work.path().join("records.jsonl");
    std::fs::write(&json_file, as_evtx_dump_json(evtx_file)).unwrap();
    let hunt = |input: &Path| {
        let out = sigil(&["hunt", "--rules", rule.to_str().unwrap(), "--format", "jsonl", input.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        comparable(&out)
    };
    let from_evtx = hunt(evtx_file);
    assert_eq!(from_evtx, hunt(&json_file), "EVTX and its JSON raise different alerts");
    from_evtx
        .iter()
        .map(|a| (a["source"]["line"].as_u64().unwrap(), a["rule"]["id"].as_str().unwrap().to_string()))
        .collect()
}
