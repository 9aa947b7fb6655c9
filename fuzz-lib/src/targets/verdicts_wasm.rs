//! Differential, across runtimes: a generated rule and events ([`crate::gen::Case`]), checked
//! as in [`super::verdicts`] (engine = explain), then run through the Wasm guest
//! (`scripts/build-wasm.sh`'s component) by the host API `sigil hunt --runtime wasm` uses. The
//! guest's alert lines must be byte for byte the native session's.
//!
//! The host (wasmtime, the component compiled or taken from the CLI's cache) is made once per
//! process; each run loads the
//! rule as a pack, which gives it a fresh instance.

use crate::gen::Case;
use arbitrary::{Arbitrary, Unstructured};
use sigil_compiler::compile_str;
use sigil_engine::{pack, session::Session, Routing};
use sigil_wasm_host::{Limits, WasmHunt};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The component `scripts/build-wasm.sh` writes (`SIGIL_WASM_COMPONENT` overrides).
pub fn component_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SIGIL_WASM_COMPONENT") {
        return PathBuf::from(p);
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    target.join("wasm/sigil_engine.component.wasm")
}

fn host() -> &'static Mutex<WasmHunt> {
    static HOST: OnceLock<Mutex<WasmHunt>> = OnceLock::new();
    HOST.get_or_init(|| {
        let path = component_path();
        let limits = Limits { memory_bytes: 256 << 20, deadline: Duration::from_secs(10) };
        // The CLI's cache: compiling the component takes most of a minute in a debug build.
        let cache = sigil_wasm_host::default_cache_dir();
        let hunt = WasmHunt::new(&path, limits, cache.as_deref()).unwrap_or_else(|e| {
            panic!("{e}: build the component with scripts/build-wasm.sh (or set SIGIL_WASM_COMPONENT)")
        });
        Mutex::new(hunt)
    })
}

/// Starts the host (compiles or loads the component) before the first input.
pub fn warm() {
    let _ = host();
}

pub fn run(data: &[u8]) {
    let Ok(case) = Case::arbitrary_take_rest(Unstructured::new(data)) else { return };
    if super::verdicts::check(&case).is_none() {
        return;
    }
    let plan = compile_str("generated.yml", &case.rule, &super::verdicts::options()).plan;
    let bytes = pack::to_bytes(&plan);
    let events = case.events.join("\n");
    let mut native = Vec::new();
    let mut session = Session::new(plan, 1_000).expect("a compiled plan loads");
    session.eval_jsonl("events.jsonl", 1, &events, &Routing::All, &mut native);
    let mut host = host().lock().unwrap_or_else(|p| p.into_inner());
    host.load_pack(&bytes).expect("the guest loads a pack the compiler wrote");
    let guest = host.eval_batch("events.jsonl", 1, events.as_bytes(), "all").expect("the guest evaluates the batch");
    assert!(
        guest.alerts == native,
        "the Wasm guest's alerts differ from the native session's\nrule:\n{}\nevents:\n{events}\nnative:\n{}\nguest:\n{}",
        case.rule,
        String::from_utf8_lossy(&native),
        String::from_utf8_lossy(&guest.alerts)
    );
}
