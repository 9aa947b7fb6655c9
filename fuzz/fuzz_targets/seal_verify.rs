#![no_main]
//! `seal_verify`: see sigil_fuzz::targets::seal_verify.
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::seal_verify::run(data));
