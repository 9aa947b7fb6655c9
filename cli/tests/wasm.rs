//! `--runtime wasm` prints what `--runtime native` prints: the same alert lines, in the same
//! order, over the SigmaHQ rules and real Windows and cloud logs. Needs the engine component
//! (scripts/build-wasm.sh, which scripts/test.sh runs first) and ../shared.

mod wasm_support;

use std::path::{Path, PathBuf};
use std::process::Output;
use wasm_support::{compile_all_sigmahq, component_built, panther_records, repo, sigil};

fn ready(test: &str) -> Option<PathBuf> {
    let shared = repo().join("../shared");
    if !component_built(test) {
        return None;
    }
    if !shared.is_dir() {
        println!("SKIPPED {test}: ../shared is absent");
        return None;
    }
    Some(shared)
}

/// The hunt's summary line (`events: N read, N rejected; alerts: N`).
fn summary(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines().find(|l| l.starts_with("events: ")).unwrap_or_default().to_string()
}

/// Runs both runtimes on the same pack and inputs and compares their output byte for byte.
fn same_alerts(pack: &Path, inputs: &[PathBuf]) -> (usize, String) {
    let mut args = vec!["hunt", "--pack", pack.to_str().unwrap(), "--format", "jsonl"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    let native = sigil(&args);
    args.extend(["--runtime", "wasm"]);
    let wasm = sigil(&args);
    assert_eq!(summary(&native), summary(&wasm));
    let (a, b) = (String::from_utf8_lossy(&native.stdout), String::from_utf8_lossy(&wasm.stdout));
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        assert_eq!(x, y, "alert {} differs", i + 1);
    }
    assert_eq!(a.lines().count(), b.lines().count(), "alert counts differ");
    (a.lines().count(), summary(&native))
}

#[test]
fn windows_sample_with_every_sigmahq_rule_gives_the_same_alerts() {
    let Some(shared) = ready("windows_sample_with_every_sigmahq_rule_gives_the_same_alerts") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let pack = tmp.path().join("all.pack");
    compile_all_sigmahq(&shared.join("sigma"), &pack);
    let sample = shared.join("datasets/windows/otrf-windows-sample.jsonl.gz");
    let (alerts, summary) = same_alerts(&pack, &[sample]);
    assert!(alerts > 1000, "the sample raises more alerts than {alerts}");
    println!("otrf Windows sample, all SigmaHQ rules: {summary}; identical from both runtimes");
}

#[test]
fn cloud_samples_give_the_same_alerts() {
    let Some(shared) = ready("cloud_samples_give_the_same_alerts") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let pack = tmp.path().join("cloud.pack");
    let rules = shared.join("sigma/rules/cloud");
    sigil(&["compile", "-o", pack.to_str().unwrap(), rules.to_str().unwrap()]);
    let mut inputs = sigil_tests::files_under(&shared.join("datasets/cloud/otrf"), &["jsonl"]);
    // Panther's tests wrap each record in `{"event": ...}`: unwrap them into plain records.
    let panther = tmp.path().join("panther-records.jsonl");
    std::fs::write(&panther, panther_records(&shared.join("datasets/cloud/panther-tests"))).unwrap();
    inputs.push(panther);
    let (alerts, summary) = same_alerts(&pack, &inputs);
    assert!(alerts > 100, "the cloud samples raise more alerts than {alerts}");
    println!("cloud samples, SigmaHQ cloud rules: {summary}; identical from both runtimes");
}

/// `--state` carries correlation windows across runs in both runtimes, in the same file format:
/// a sign-in failure in one run and the success in the next complete the pack's correlation,
/// whichever runtime saved the state and whichever reads it.
#[test]
fn correlation_state_carries_over_between_runs_and_runtimes() {
    if !component_built("correlation_state_carries_over_between_runs_and_runtimes") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let story = std::fs::read_to_string(repo().join("examples/cloudtrail.jsonl")).unwrap();
    let lines: Vec<&str> = story.lines().collect();
    // Line 11 is the failed console sign-in, line 12 the success after it.
    let (first, second) = (tmp.path().join("first.jsonl"), tmp.path().join("second.jsonl"));
    std::fs::write(&first, lines[..11].join("\n") + "\n").unwrap();
    std::fs::write(&second, lines[11..].join("\n") + "\n").unwrap();
    let run = |state: &Path, input: &Path, runtime: &str| {
        let out = sigil(&[
            "hunt",
            "--state",
            state.to_str().unwrap(),
            "--runtime",
            runtime,
            "--format",
            "jsonl",
            input.to_str().unwrap(),
        ]);
        String::from_utf8(out.stdout).unwrap()
    };
    let correlations = |alerts: &str| alerts.lines().filter(|l| l.contains(r#""kind":"correlation""#)).count();

    let (native_state, wasm_state) = (tmp.path().join("native.state"), tmp.path().join("wasm.state"));
    assert_eq!(run(&native_state, &first, "native"), run(&wasm_state, &first, "wasm"));
    let saved = std::fs::read_to_string(&native_state).unwrap();
    assert_eq!(saved, std::fs::read_to_string(&wasm_state).unwrap(), "both runtimes save the same state");
    assert!(saved.contains("first.jsonl"), "the failed sign-in is in an open window: {saved}");
    let crossed = tmp.path().join("crossed.state");
    std::fs::copy(&native_state, &crossed).unwrap();

    let native = run(&native_state, &second, "native");
    assert_eq!(correlations(&native), 1, "the correlation completes across the runs: {native}");
    assert_eq!(native, run(&wasm_state, &second, "wasm"));
    assert_eq!(native, run(&crossed, &second, "wasm"), "a state saved natively restores into the Wasm engine");

    // Without the first run's state, the second run alone completes nothing.
    let fresh = tmp.path().join("fresh.state");
    assert_eq!(correlations(&run(&fresh, &second, "wasm")), 0);
}
