#![no_main]
//! `verdicts`: see sigil_fuzz::targets::verdicts.
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::verdicts::run(data));
