#![no_main]
//! `modifiers`: see sigil_fuzz::targets::modifiers.
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::modifiers::run(data));
