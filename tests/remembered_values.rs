//! A long value seen again is not searched again: what a scan marked for it is remembered per
//! thread and replayed (`engine/src/index/memo.rs`). Replaying must decide exactly what a fresh
//! search decides: for the same value in the same field, never for a neighbour's value, another
//! field's, or another engine's rules sharing the thread's scratch.

use sigil_compiler::Options;
use sigil_engine::{Detection, Engine, Json, Routing, Scratch};
use sigil_tests::{compile, compile_dirs, shared_dir};
use std::io::{BufRead, BufReader};

const RULES: &str = r#"
title: starts
logsource: { product: test }
detection:
    selection:
        CallTrace|startswith: 'c:\windows\system32\ntdll.dll+'
    condition: selection
---
title: ends
logsource: { product: test }
detection:
    selection:
        CallTrace|endswith: '|unknown(00000000)'
    condition: selection
---
title: contains
logsource: { product: test }
detection:
    selection:
        Other|contains: 'dbghelp.dll'
    condition: selection
"#;

/// Evaluates `lines` in order with one scratch (remembering) and each with a fresh scratch
/// (searching), and checks both give the same detections; returns them.
fn both_ways(engine: &Engine, scratch: &mut Scratch, lines: &[String]) -> Vec<Vec<Detection>> {
    let mut all = Vec::new();
    for line in lines {
        let doc = Json::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let mut remembered = Vec::new();
        engine.evaluate_text(scratch, &doc, line, &Routing::Auto, &mut remembered);
        let mut fresh = Vec::new();
        engine.evaluate_text(&mut Scratch::default(), &doc, line, &Routing::Auto, &mut fresh);
        assert_eq!(remembered, fresh, "{}", &line[..line.len().min(200)]);
        all.push(fresh);
    }
    all
}

fn rules_fired(detections: &[Detection], engine: &Engine) -> Vec<String> {
    detections.iter().map(|d| engine.plan().rules[d.rule].info.title.clone()).collect()
}

#[test]
fn a_repeated_long_value_decides_as_a_fresh_search_does() {
    let (out, engine) = compile("remembered.yml", RULES, &Options::default());
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let engine = engine.expect("the rules compile");
    let frames =
        "C:\\\\Windows\\\\SYSTEM32\\\\ntdll.dll+9d4c4|C:\\\\Windows\\\\System32\\\\KERNELBASE.dll+2bdc6".repeat(3);
    let event = |field: &str, trace: &str| format!(r#"{{"product": "test", "{field}": "{trace}"}}"#);
    let lines: Vec<String> = vec![
        event("CallTrace", &format!("{frames}|UNKNOWN(00000000)")),
        event("CallTrace", &format!("{frames}|UNKNOWN(00000000)")),
        // The same length, one byte apart at the end: it must not take the first one's answer.
        event("CallTrace", &format!("{frames}|UNKNOWN(00000001)")),
        // The same value in a field another rule reads: another scan, its own answer.
        event("Other", &format!("{frames}|UNKNOWN(00000000)")),
        event("Other", &format!("{frames}|dbghelp.dll")),
        event("CallTrace", &format!("{frames}|UNKNOWN(00000000)")),
    ];
    assert!(lines[0].len() > 128, "long enough to be remembered");
    let mut scratch = Scratch::default();
    for pass in 0..2 {
        let got = both_ways(&engine, &mut scratch, &lines);
        let titles: Vec<Vec<String>> = got.iter().map(|d| rules_fired(d, &engine)).collect();
        assert_eq!(
            titles,
            [
                vec!["starts", "ends"],
                vec!["starts", "ends"],
                vec!["starts"],
                vec![],
                vec!["contains"],
                vec!["starts", "ends"]
            ],
            "pass {pass}"
        );
    }
}

#[test]
fn two_engines_sharing_a_scratch_keep_their_own_answers() {
    let (_, first) = compile("remembered.yml", RULES, &Options::default());
    let other = RULES.replace("dbghelp.dll", "kernelbase.dll").replace("|unknown(00000000)", "(00000000)");
    let (_, second) = compile("other.yml", &other, &Options::default());
    let (first, second) = (first.expect("compiles"), second.expect("compiles"));
    let trace = "C:\\\\Windows\\\\System32\\\\KERNELBASE.dll+2bdc6|".repeat(4) + "UNKNOWN(00000000)";
    let lines = vec![format!(r#"{{"product": "test", "Other": "{trace}", "CallTrace": "{trace}"}}"#)];
    let mut scratch = Scratch::default();
    for _ in 0..2 {
        let a = both_ways(&first, &mut scratch, &lines);
        let b = both_ways(&second, &mut scratch, &lines);
        assert_eq!(rules_fired(&a[0], &first), ["ends"]);
        assert_eq!(rules_fired(&b[0], &second), ["ends", "contains"]);
    }
}

#[test]
fn sigmahq_windows_rules_over_otrf_decide_the_same_remembering_or_not() {
    let Some(shared) = shared_dir("sigmahq_windows_rules_over_otrf_decide_the_same_remembering_or_not") else {
        return;
    };
    let sample = shared.join("datasets/windows/otrf-windows-sample.jsonl.gz");
    let file = std::fs::File::open(&sample).unwrap_or_else(|e| panic!("{}: {e}", sample.display()));
    let lines: Vec<String> =
        BufReader::new(flate2::read::GzDecoder::new(file)).lines().map_while(Result::ok).take(6_000).collect();
    let engine = Engine::new(compile_dirs(&[shared.join("sigma/rules/windows")], Options::default()).plan).unwrap();
    let mut scratch = Scratch::default();
    let fired: usize = both_ways(&engine, &mut scratch, &lines).iter().map(Vec::len).sum();
    println!("{} events, {fired} detections, the same both ways", lines.len());
    assert!(fired > 0, "nothing fired: the comparison says nothing");
}
