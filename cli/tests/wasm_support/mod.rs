//! What the tests of `--runtime wasm` share (`wasm.rs`, `edge_wasm.rs`): the repository, the
//! engine component scripts/build-wasm.sh writes, `sigil` run against it, and the pack of every
//! SigmaHQ rule.

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
