//! The engine component's `normalize` and `verify` (through the typed host, `sigil_wasm_host`)
//! give what the CLI prints: `sigil normalize --to ocsf` line for line, with the same notes and
//! closing counts, over the examples and the real cloud datasets; `sigil verify --json` finding
//! for finding over the tamper suite's files (`seal_support`, which `seal.rs` checks against
//! its expectations). Needs the engine component (scripts/build-wasm.sh); the datasets test
//! needs ../shared.

mod seal_support;
mod wasm_support;

use serde_json::json;
use sigil_ocsf::Counts;
use sigil_wasm_host::{HostError, Limits, VerifyResult, WasmHunt};
use std::path::{Path, PathBuf};
use wasm_support::{component, component_built, panther_records, repo, sigil};

fn host() -> WasmHunt {
    WasmHunt::new(&component(), Limits::default(), Some(&repo().join("target/wasm/cache"))).expect("the host starts")
}

/// Batches of whole lines of at most `size` bytes (a longer line is a batch of its own), each
/// with the number of its first line.
fn batches(bytes: &[u8], size: usize) -> Vec<(u64, &[u8])> {
    let mut out = Vec::new();
    let (mut start, mut first, mut line) = (0, 1u64, 1u64);
    let mut end = 0;
    for piece in bytes.split_inclusive(|&b| b == b'\n') {
        if end > start && end - start + piece.len() > size {
            out.push((first, &bytes[start..end]));
            (start, first) = (end, line);
        }
        end += piece.len();
        line += 1;
    }
    if end > start {
        out.push((first, &bytes[start..end]));
    }
    out
}

/// `sigil normalize --to ocsf FILE` and the component's `normalize` over the file in batches of
/// `batch` bytes: the same lines, notes and closing counts. Returns the number of lines.
fn same_normalization(host: &mut WasmHunt, file: &Path, batch: usize) -> usize {
    let shown = file.to_str().unwrap();
    let cli = sigil(&["normalize", "--to", "ocsf", shown]);
    let stderr = String::from_utf8(cli.stderr).unwrap();
    let cli_notes: Vec<&str> = stderr.lines().filter(|l| l.contains(": malformed event: ")).collect();
    let cli_summary = stderr.lines().last().unwrap_or_default();

    let bytes = std::fs::read(file).unwrap();
    let (mut lines, mut notes, mut counts) = (Vec::new(), Vec::new(), Counts::default());
    for (first_line, chunk) in batches(&bytes, batch) {
        let out = host.normalize(shown, first_line, chunk).unwrap_or_else(|e| panic!("{shown}:{first_line}: {e}"));
        lines.extend_from_slice(&out.lines);
        notes.extend(out.notes);
        for (class, n) in out.mapped {
            *counts.mapped.entry(class).or_default() += n;
        }
        counts.passed += out.passed;
        counts.rejected += out.rejected;
    }
    let (want, got) = (String::from_utf8(cli.stdout).unwrap(), String::from_utf8(lines).unwrap());
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        assert_eq!(g, w, "{shown}: line {} differs (batches of {batch} bytes)", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count(), "{shown}: line counts differ");
    assert_eq!(got, want, "{shown}: byte for byte");
    assert_eq!(notes, cli_notes, "{shown}: notes");
    assert_eq!(counts.summary(), cli_summary, "{shown}: counts");
    want.lines().count()
}

fn examples() -> Vec<PathBuf> {
    sigil_tests::files_under(&repo().join("examples"), &["jsonl"])
}

#[test]
fn normalize_through_the_component_prints_what_sigil_normalize_prints_for_the_examples() {
    if !component_built("normalize_through_the_component_prints_what_sigil_normalize_prints_for_the_examples") {
        return;
    }
    let mut host = host();
    let tmp = tempfile::tempdir().unwrap();
    // The examples, and a file with what normalisation must reject or pass through as written.
    let story = std::fs::read_to_string(repo().join("examples/cloudtrail.jsonl")).unwrap();
    let first: Vec<&str> = story.lines().take(3).collect();
    let mixed = tmp.path().join("mixed.jsonl");
    let mut bytes = format!("{}\n\n  {}  \r\n{{oops\n[1]\n", first[0], first[1]).into_bytes();
    bytes.extend_from_slice(b"\xff\xfe not text\n{\"message\": \"no mapping\"}\n");
    bytes.extend_from_slice(format!("{{\"Records\": [{}, 7, {{\"x\": 1}}]}}\n", first[2]).as_bytes());
    std::fs::write(&mixed, bytes).unwrap();

    let mut total = 0;
    for file in examples().iter().chain([&mixed]) {
        // Small batches (many calls, line numbers carried) and one batch for the whole file.
        for batch in [700, 1 << 20] {
            total += same_normalization(&mut host, file, batch);
        }
    }
    let mixed_notes = sigil(&["normalize", "--to", "ocsf", mixed.to_str().unwrap()]).stderr;
    assert_eq!(String::from_utf8_lossy(&mixed_notes).matches("malformed event").count(), 4, "the mixed file rejects");
    println!("normalize: {total} lines identical to sigil normalize (examples and a mixed file, two batch sizes)");
}

#[test]
fn normalize_through_the_component_prints_what_sigil_normalize_prints_for_the_cloud_datasets() {
    let test = "normalize_through_the_component_prints_what_sigil_normalize_prints_for_the_cloud_datasets";
    if !component_built(test) {
        return;
    }
    let shared = repo().join("../shared");
    if !shared.is_dir() {
        println!("SKIPPED: {test}: ../shared is absent");
        return;
    }
    let mut inputs = sigil_tests::files_under(&shared.join("datasets/cloud/otrf"), &["jsonl"]);
    let tmp = tempfile::tempdir().unwrap();
    let panther = tmp.path().join("panther-records.jsonl");
    std::fs::write(&panther, panther_records(&shared.join("datasets/cloud/panther-tests"))).unwrap();
    inputs.push(panther);
    let mut host = host();
    let mut total = 0;
    for file in &inputs {
        let lines = same_normalization(&mut host, file, 256 << 10);
        println!("normalize: {}: {lines} lines identical", file.file_name().unwrap().to_string_lossy());
        total += lines;
    }
    assert!(total > 1000, "the cloud datasets hold more than {total} events");
    println!("normalize: {total} lines of the cloud datasets identical to sigil normalize");
}

/// A finding as `sigil verify --json` prints it (the same members in the same order).
fn json_lines(report: &VerifyResult) -> Vec<String> {
    report
        .findings
        .iter()
        .map(|f| {
            json!({"line": f.line, "expected": f.expected, "found": f.found, "kind": f.kind, "message": f.message})
                .to_string()
        })
        .collect()
}

#[test]
fn verify_through_the_component_reports_what_sigil_verify_reports_for_every_tamper_case() {
    if !component_built("verify_through_the_component_reports_what_sigil_verify_reports_for_every_tamper_case") {
        return;
    }
    let (_sealed, cases) = seal_support::all_cases();
    let dir = tempfile::tempdir().unwrap();
    let mut host = host();
    let (mut compared, mut kinds) = (0, std::collections::BTreeSet::new());
    for case in &cases {
        let file = dir.path().join("case.jsonl");
        std::fs::write(&file, &case.bytes).unwrap();
        let cli =
            seal_support::sigil(&["verify", file.to_str().unwrap(), "--key", case.key.to_str().unwrap(), "--json"]);
        let want: Vec<String> = String::from_utf8(cli.stdout).unwrap().lines().map(str::to_string).collect();
        let key = std::fs::read_to_string(&case.key).unwrap();
        let report = host.verify(&case.bytes, &key).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(json_lines(&report), want, "{}", case.name);
        assert_eq!(cli.status.code(), Some(if want.is_empty() { 0 } else { 1 }), "{}", case.name);
        assert_eq!(report.lines, case.bytes.split_inclusive(|&b| b == b'\n').count() as u64, "{}", case.name);
        let stderr = String::from_utf8(cli.stderr).unwrap();
        if want.is_empty() {
            // `verified: N records, N checkpoints, closed cleanly (N lines, key id ID)`
            let said = format!(
                "verified: {} records, {} checkpoints, closed cleanly ({} lines, key id {})",
                report.records, report.checkpoints, report.lines, report.key_id
            );
            assert!(stderr.contains(&said), "{}: {stderr} lacks {said}", case.name);
        } else {
            assert!(!case.name.starts_with("untouched"), "{}: {want:?}", case.name);
        }
        compared += want.len();
        kinds.extend(report.findings.iter().map(|f| f.kind.clone()));
    }
    assert_eq!(cases.len(), 16, "seal.rs's 12 cases, an untouched file without checkpoints, relaid four ways");
    for kind in ["modified", "inserted", "duplicated", "deleted", "reordered", "truncated", "wrong_key"] {
        assert!(kinds.contains(kind), "no case gives {kind}: {kinds:?}");
    }
    println!("verify: {} files, {compared} findings identical to sigil verify --json", cases.len());
}

#[test]
fn a_bad_key_is_an_error_value_without_the_key_and_the_host_goes_on() {
    if !component_built("a_bad_key_is_an_error_value_without_the_key_and_the_host_goes_on") {
        return;
    }
    let mut host = host();
    let secret = "c0ffee".repeat(5); // 15 bytes: too short
    for key in [secret.as_str(), "zq-not-hex-at-all-zq", ""] {
        let err = host.verify(b"{}\n", key).unwrap_err();
        assert!(matches!(err, HostError::Guest(_)), "{err}");
        let shown = err.to_string();
        assert!(shown.starts_with("the key "), "{shown}");
        assert!(key.is_empty() || !shown.contains(&key[..6]), "the key leaked: {shown}");
    }
    let out = host.normalize("x.jsonl", 1, b"{\"message\": \"still here\"}\n").unwrap();
    assert_eq!((out.passed, out.lines), (1, b"{\"message\": \"still here\"}\n".to_vec()));
}
