#![no_main]
//! `verdicts_wasm`: see sigil_fuzz::targets::verdicts_wasm (needs `--features wasm` and the
//! component from scripts/build-wasm.sh).
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::targets::verdicts_wasm::warm(), |data: &[u8]| sigil_fuzz::targets::verdicts_wasm::run(data));
