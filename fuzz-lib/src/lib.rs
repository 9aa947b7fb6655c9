//! The bodies of Sigil's fuzz targets. Each target is a plain `fn(&[u8])` here; the cargo-fuzz
//! package in `fuzz/` wraps each in one `fuzz_target!` line, and `tests/replay.rs` runs the
//! committed regressions and corpora through the same functions on stable Rust, so a crash the
//! fuzzer found stays fixed without a nightly toolchain.
//!
//! A target panics (or aborts) only on a bug: a panic inside the code under test, or a property
//! the target checks (a plan that passes `Plan::check` must evaluate; the explanation and the
//! Wasm guest must agree with the engine). Invalid input is the normal case and returns quietly.
//! This crate reads no files except the optional SigmaHQ rules of [`fixtures`].

pub mod alloc_probe;
pub mod fixtures;
pub mod gen;
pub mod targets;

/// A fuzz target: its name (the file `fuzz/fuzz_targets/NAME.rs`, the folders
/// `fuzz/{seeds,corpus,regressions}/NAME`) and its body.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, in the order campaigns run them.
pub const TARGETS: &[Target] = &[
    Target { name: "rule", run: targets::rule::run },
    Target { name: "condition", run: targets::condition::run },
    Target { name: "modifiers", run: targets::modifiers::run },
    Target { name: "pipeline", run: targets::pipeline::run },
    Target { name: "edge_policy", run: targets::edge_policy::run },
    Target { name: "event", run: targets::event::run },
    Target { name: "evtx", run: targets::evtx::run },
    Target { name: "pack", run: targets::pack::run },
    Target { name: "state", run: targets::state::run },
    Target { name: "seal_verify", run: targets::seal_verify::run },
    Target { name: "ocsf", run: targets::ocsf::run },
    Target { name: "http", run: targets::http::run },
    Target { name: "verdicts", run: targets::verdicts::run },
    #[cfg(feature = "wasm")]
    Target { name: "verdicts_wasm", run: targets::verdicts_wasm::run },
];

/// The input as text, or `None` when it is not UTF-8 (every text format Sigil reads takes
/// UTF-8 only, and its callers refuse anything else before parsing).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
