//! Sigil as a proxy-wasm HTTP filter: Sigma rules judged on every request's headers, inside
//! Envoy (or any proxy-wasm host).
//!
//! * [`config`] — the plugin configuration (`mode`, `rules` or `pack_base64`, `categories`);
//! * [`event`] — a request as a Sigma event with the field names of SigmaHQ's `webserver` and
//!   `proxy` rules (`cs-uri-query`, `c-useragent`, ...);
//! * [`gateway`] — rules compiled at configure time, requests evaluated, messages worded;
//! * `host` — the proxy-wasm contexts that connect the three to the proxy.
//!
//! Build it with `scripts/build-gateway.sh` (`target/wasm/sigil_gateway.wasm`); the README's
//! "Gateway filter (Envoy)" shows the Envoy configuration. The first three modules are plain
//! Rust and are unit-tested natively; `tests/envoy.rs` runs the module in a real Envoy.

pub mod config;
pub mod event;
pub mod gateway;
mod host;

pub use config::{Config, Mode, RuleSource};
pub use gateway::Gateway;
