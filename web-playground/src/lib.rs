//! Placeholder for the browser playground's wasm-bindgen bindings (issue 7).
