//! Times the engine's prefilter inside WebAssembly: the `sigil-prefilter-check` module's `bench`
//! export under wasmtime (Cranelift), the simd128 Teddy against the aho-corasick automaton the
//! guest searched with before. Usage (after scripts/build-wasm.sh):
//! `cargo run --release -p sigil-wasm-host --example prefilter_bench [ROUNDS]`.

use std::path::PathBuf;
use std::time::Instant;
use wasmtime::{Config, Engine, Instance, Module, Store};

fn main() -> Result<(), String> {
    let rounds: u32 = std::env::args().nth(1).map_or(Ok(200), |r| r.parse()).map_err(|e| format!("ROUNDS: {e}"))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("wasm/sigil_prefilter_check.wasm");
    for epochs in [false, true] {
        let mut config = Config::new();
        config.epoch_interruption(epochs);
        let engine = Engine::new(&config).map_err(|e| e.to_string())?;
        let module = Module::from_file(&engine, &path)
            .map_err(|e| format!("{}: {e} (build it with scripts/build-wasm.sh)", path.display()))?;
        let mut store = Store::new(&engine, ());
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = Instance::new(&mut store, &module, &[]).map_err(|e| e.to_string())?;
        let bench = instance.get_typed_func::<(u32, u32), u64>(&mut store, "bench").map_err(|e| e.to_string())?;
        for (mode, name) in [(0, "prefilter (simd128 Teddy)"), (1, "aho-corasick automaton")] {
            bench.call(&mut store, (mode, 2)).map_err(|e| e.to_string())?;
            let start = Instant::now();
            bench.call(&mut store, (mode, rounds)).map_err(|e| e.to_string())?;
            let per_value = start.elapsed().as_nanos() as f64 / (f64::from(rounds) * 512.0);
            println!("epoch interruption {epochs:5}: {name:28} {per_value:8.1} ns per value");
        }
    }
    Ok(())
}
