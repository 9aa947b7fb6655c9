//! Replays, on stable Rust, what the fuzzers found and kept through the very functions the fuzz
//! targets call: every file of `fuzz/regressions/TARGET` (each once a crash, timeout or OOM,
//! since fixed), `fuzz/seeds/TARGET` and a sample of `fuzz/corpus/TARGET` (committed,
//! minimised; all of it with `SIGIL_FUZZ_REPLAY_ALL=1`); then,
//! when `../shared` is present, a bounded sample of the seeds scripts/fuzz-seed.py made from it
//! (`fuzz/shared-seeds`, uncommitted), else it prints SKIPPED. A panic names the target and file.

use sigil_fuzz::{Target, TARGETS};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// The pack target checks what reading a pack allocates, through this counting allocator.
#[global_allocator]
static ALLOC: sigil_fuzz::alloc_probe::Probe = sigil_fuzz::alloc_probe::Probe;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// How many files of each committed corpus the stable test replays: a debug build runs a
/// target's input ten to a hundred times slower than the fuzzer, and the test must take seconds.
/// The nightly smoke (scripts/fuzz-smoke.sh) runs every corpus file, as libFuzzer does at start.
/// `SIGIL_FUZZ_REPLAY_ALL=1` replays them all here too.
fn corpus_sample() -> usize {
    if std::env::var_os("SIGIL_FUZZ_REPLAY_ALL").is_some() {
        usize::MAX
    } else {
        60
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Whether a target can run here: the Wasm one needs the component scripts/build-wasm.sh makes.
fn runnable(target: &Target) -> bool {
    #[cfg(feature = "wasm")]
    if target.name == "verdicts_wasm" && !sigil_fuzz::targets::verdicts_wasm::component_path().is_file() {
        println!("SKIPPED: verdicts_wasm: no component (run scripts/build-wasm.sh)");
        return false;
    }
    // Compiling the component (once, then cached) is not an input's time.
    #[cfg(feature = "wasm")]
    if target.name == "verdicts_wasm" {
        sigil_fuzz::targets::verdicts_wasm::warm();
    }
    let _ = target;
    true
}

/// Runs every file of `dir` through `target`; a file that panics fails with its path. Each
/// input must finish within `slow` (the fuzzers' -timeout=1, with room for a debug build).
fn replay(target: &Target, dir: &Path, limit: usize, slow: Duration) -> usize {
    let mut ran = 0;
    let all = files(dir);
    // Spread over the folder (sorted by name, a hash): the same sample on every run.
    let step = all.len().div_ceil(limit.max(1)).max(1);
    for file in all.into_iter().step_by(step) {
        // A running campaign may replace corpus files as it reduces them.
        let Ok(data) = std::fs::read(&file) else { continue };
        let started = Instant::now();
        if std::panic::catch_unwind(|| (target.run)(&data)).is_err() {
            panic!(
                "{}: {} panicked (replay with `cargo +nightly fuzz run {} {}`)",
                target.name,
                file.display(),
                target.name,
                file.display()
            );
        }
        let took = started.elapsed();
        assert!(took < slow, "{}: {} took {took:?}, over {slow:?}", target.name, file.display());
        ran += 1;
    }
    ran
}

#[test]
fn every_target_has_a_fuzz_binary_and_seeds() {
    for target in TARGETS {
        let binary = fuzz_dir().join("fuzz_targets").join(format!("{}.rs", target.name));
        assert!(binary.is_file(), "{} has no fuzz/fuzz_targets/{}.rs", target.name, target.name);
        let seeds = files(&fuzz_dir().join("seeds").join(target.name));
        assert!(!seeds.is_empty(), "{} has no hand-written seeds in fuzz/seeds/{}", target.name, target.name);
    }
}

#[test]
fn regressions_and_committed_corpora_replay_cleanly() {
    let mut ran = 0;
    for target in TARGETS.iter().filter(|t| runnable(t)) {
        let started = Instant::now();
        let before = ran;
        for kind in ["regressions", "seeds"] {
            ran += replay(target, &fuzz_dir().join(kind).join(target.name), usize::MAX, Duration::from_secs(20));
        }
        ran += replay(target, &fuzz_dir().join("corpus").join(target.name), corpus_sample(), Duration::from_secs(20));
        println!("{}: {} inputs in {:.1?}", target.name, ran - before, started.elapsed());
    }
    println!("replayed {ran} committed inputs");
    assert!(ran >= TARGETS.len(), "only {ran} inputs replayed");
}

#[test]
fn a_sample_of_the_shared_seeds_replays_cleanly() {
    let shared = fuzz_dir().join("shared-seeds");
    if sigil_fuzz::fixtures::shared_dir().is_none() || !shared.is_dir() {
        println!("SKIPPED: no ../shared or no fuzz/shared-seeds (run scripts/fuzz-seed.py)");
        return;
    }
    let mut ran = 0;
    for target in TARGETS.iter().filter(|t| runnable(t)) {
        ran += replay(target, &shared.join(target.name), 12, Duration::from_secs(20));
    }
    println!("replayed {ran} shared seeds");
}

/// The allocation check of the `pack` target is live here (the probe is this test's global
/// allocator), and a pack whose length prefixes claim a billion items allocates next to nothing.
#[test]
fn a_pack_claiming_a_billion_items_allocates_little() {
    let mut bytes = b"SIGILPK\0".to_vec();
    bytes.extend_from_slice(&sigil_engine::PLAN_FORMAT_VERSION.to_le_bytes());
    bytes.push(sigil_engine::PLAN_FORMAT_VERSION as u8); // format_version, a postcard varint
    bytes.extend_from_slice(&[0x80, 0x94, 0xeb, 0xdc, 0x03]); // predicates: 1,000,000,000 of them
    bytes.extend_from_slice(&[0; 8]);
    let (plan, usage) = sigil_fuzz::alloc_probe::measure(|| sigil_engine::pack::from_bytes(&bytes));
    assert!(plan.is_err());
    let usage = usage.expect("the counting allocator is installed");
    println!("a pack claiming 1e9 predicates: largest allocation {} B, peak {} B", usage.largest, usage.peak);
    assert!(usage.largest <= sigil_fuzz::targets::pack::allowance(bytes.len()));
    sigil_fuzz::targets::pack::run(&bytes);
}
