//! The browser playground's engine: Sigil's real compiler and engine in the page, behind six
//! wasm-bindgen functions that take strings and return one JSON string each (the shapes are in
//! [`api`]). This file is only the JavaScript boundary; the logic lives in plain modules that are
//! tested natively (`cargo test -p sigil-playground`):
//!
//! * [`api`] — `version`, `compile`, `evaluate`, `explain`, `normalize`, `findings` as Rust
//!   functions returning JSON;
//! * [`options`] — the page's `options_json`;
//! * [`rules`] — compiling the rule text, diagnostics with ranges, the rule list;
//! * [`hunt`] — events through the engine's session, as `sigil hunt` runs them;
//! * [`why`] — one rule explained on one event;
//! * [`ocsf`] — an event and alerts as OCSF, by the `sigil-ocsf` crate.
//!
//! Build: `scripts/build-playground-wasm.sh` (wasm-bindgen `--target web` into
//! `web-playground/www/pkg`, then `wasm-opt -Oz`).

pub mod api;
pub mod hunt;
pub mod ocsf;
pub mod options;
pub mod rules;
pub mod why;

use wasm_bindgen::prelude::wasm_bindgen;

/// Runs once when the module is instantiated: a panic (a bug: every error is returned as JSON)
/// then reaches the browser console with its message instead of a bare `unreachable` trap.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// `sigil 0.1.0 (plan format N)`.
#[wasm_bindgen]
pub fn version() -> String {
    api::version()
}

/// `{"ok", "rules": [...], "diagnostics": [...]}` for the rule text (YAML, several documents).
#[wasm_bindgen]
pub fn compile(rules_yaml: &str, options_json: &str) -> String {
    api::compile(rules_yaml, options_json)
}

/// Alerts for the events (JSON Lines), exactly as `sigil hunt --rules rule.yml events.jsonl` prints them.
#[wasm_bindgen]
pub fn evaluate(rules_yaml: &str, events_jsonl: &str, options_json: &str) -> String {
    api::evaluate(rules_yaml, events_jsonl, options_json)
}

/// Why the rule with id `rule_id` fires or not on one event (one JSON object).
#[wasm_bindgen]
pub fn explain(rules_yaml: &str, event_json: &str, rule_id: &str, options_json: &str) -> String {
    api::explain(rules_yaml, event_json, rule_id, options_json)
}

/// The event on one line as OCSF (`sigil normalize --to ocsf`), or why no mapping applies.
#[wasm_bindgen]
pub fn normalize(event_json: &str, options_json: &str) -> String {
    api::normalize(event_json, options_json)
}

/// `evaluate`'s `alerts_jsonl` as OCSF Detection Findings (`sigil hunt --format ocsf`).
#[wasm_bindgen]
pub fn findings(alerts_jsonl: &str) -> String {
    api::findings(alerts_jsonl)
}
