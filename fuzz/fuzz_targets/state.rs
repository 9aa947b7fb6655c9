#![no_main]
//! `state`: see sigil_fuzz::targets::state.
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::state::run(data));
