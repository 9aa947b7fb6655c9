//! The engine's prefilter as wasm32 builds it (the simd128 Teddy, which native tests never run)
//! checked against aho-corasick inside WebAssembly: the `sigil-prefilter-check` module's
//! `check` export (and `check_cases`, its mixed-case search against brute force) over
//! thousands of seeded random cases, under wasmtime. Needs the module
//! (scripts/build-wasm.sh builds it into target/wasm).

use std::path::PathBuf;
use wasmtime::{Engine, Instance, Module, Store};

/// The module scripts/build-wasm.sh writes, in `CARGO_TARGET_DIR` or the workspace's target.
pub fn check_module() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("wasm/sigil_prefilter_check.wasm")
}

#[test]
fn simd128_teddy_agrees_with_aho_corasick_inside_wasm() {
    let path = check_module();
    if !path.is_file() {
        println!(
            "SKIPPED simd128_teddy_agrees_with_aho_corasick_inside_wasm: {} is not built (scripts/build-wasm.sh)",
            path.display()
        );
        return;
    }
    let engine = Engine::default();
    let module = Module::from_file(&engine, &path).expect("the check module compiles");
    assert_eq!(module.imports().count(), 0, "the check module imports nothing");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instantiated");
    let check = instance.get_typed_func::<(u64, u32), u32>(&mut store, "check").expect("exports check");
    for seed in [1, 20, 0x5eed] {
        let mismatches = check.call(&mut store, (seed, 3000)).expect("no trap");
        assert_eq!(mismatches, 0, "seed {seed}: the wasm prefilter disagrees with aho-corasick");
    }
    let check_cases =
        instance.get_typed_func::<(u64, u32), u32>(&mut store, "check_cases").expect("exports check_cases");
    for seed in [2, 21] {
        let mismatches = check_cases.call(&mut store, (seed, 3000)).expect("no trap");
        assert_eq!(mismatches, 0, "seed {seed}: the wasm mixed-case search disagrees with brute force");
    }
    // The two modes of the bench search the same values: their checksums agree.
    let bench = instance.get_typed_func::<(u32, u32), u64>(&mut store, "bench").expect("exports bench");
    let teddy = bench.call(&mut store, (0, 1)).expect("no trap");
    assert_eq!(teddy, bench.call(&mut store, (1, 1)).expect("no trap"));
    assert_ne!(teddy, 0);
}
