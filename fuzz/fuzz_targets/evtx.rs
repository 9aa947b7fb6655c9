#![no_main]
//! `evtx`: see sigil_fuzz::targets::evtx.
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::evtx::run(data));
