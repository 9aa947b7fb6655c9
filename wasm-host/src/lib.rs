//! Placeholder for the Wasm guest module and the wasmtime host (issue 6).
//!
//! Nothing lives here yet on purpose: the engine crate already builds for
//! `wasm32-unknown-unknown` (CI checks it), and the host API will be designed with its limits
//! (fuel, epoch deadlines, memory caps) from the start.
