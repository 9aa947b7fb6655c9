//! What the tests of `--runtime wasm` and of the engine component share (`wasm.rs`,
//! `edge_wasm.rs`, `wasm_library.rs`): the repository, the engine component scripts/build-wasm.sh
//! writes, `sigil` run against it, the pack of every SigmaHQ rule, and Panther's cloud records.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn component() -> PathBuf {
    repo().join("target/wasm/sigil_engine.component.wasm")
}

/// Runs `sigil` with the built component and its cache; the run must succeed.
pub fn sigil(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(args)
        .env("SIGIL_WASM_COMPONENT", component())
        .env("SIGIL_WASM_CACHE", repo().join("target/wasm/cache"))
        .output()
        .expect("sigil runs");
    assert!(out.status.success(), "sigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Whether the component is built; says SKIPPED for `test` when it is not.
pub fn component_built(test: &str) -> bool {
    let built = component().is_file();
    if !built {
        println!("SKIPPED {test}: {} is not built (scripts/build-wasm.sh)", component().display());
    }
    built
}

#[allow(dead_code)] // not every test crate that includes this module compiles SigmaHQ
/// Compiles every active SigmaHQ rule under `sigma` (with the placeholder values the corpus
/// test uses) into `pack`.
pub fn compile_all_sigmahq(sigma: &Path, pack: &Path) {
    let mut args = vec!["compile".to_string(), "-o".into(), pack.display().to_string()];
    for dir in ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder", "rules-compliance"] {
        args.push(sigma.join(dir).display().to_string());
    }
    args.push("--placeholder-file".into());
    args.push(repo().join("tests/data/sigmahq-placeholders.yml").display().to_string());
    sigil(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

/// The records of Panther's tests under `dir` (`../shared/datasets/cloud/panther-tests`) as JSON
/// Lines: each test wraps its record in `{"event": ...}`. Tests that are not JSON (other log
/// formats) or whose event is not an object hold no record.
#[allow(dead_code)] // not every test crate that includes this module reads them
pub fn panther_records(dir: &Path) -> String {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let mut records = String::new();
    for path in paths {
        let text = std::fs::read_to_string(path).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(test) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            if let Some(event) = test.get("event").filter(|e| e.is_object()) {
                records.push_str(&event.to_string());
                records.push('\n');
            }
        }
    }
    records
}
