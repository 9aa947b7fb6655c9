//! One module per fuzz target: each owns one parser (or one property) and nothing else.

pub mod condition;
pub mod edge_policy;
pub mod event;
pub mod evtx;
pub mod http;
pub mod modifiers;
pub mod ocsf;
pub mod pack;
pub mod pipeline;
pub mod rule;
pub mod seal_verify;
pub mod state;
pub mod verdicts;
#[cfg(feature = "wasm")]
pub mod verdicts_wasm;
