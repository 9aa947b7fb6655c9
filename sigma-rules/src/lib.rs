//! Sigil's own rule pack, embedded: the default rules of `sigil hunt` when no `--rules` is given.
//!
//! The rules live as plain Sigma files under `sigma-rules/rules/`, with their test events under
//! `sigma-rules/tests/` (one file per rule: `match` and `no_match` events). This crate only
//! embeds the files; compiling them is the compiler's job.

include!(concat!(env!("OUT_DIR"), "/rule_files.rs"));

/// The name under which embedded rules are reported in diagnostics and alerts.
pub const EMBEDDED_PREFIX: &str = "<embedded>/sigma-rules/";
