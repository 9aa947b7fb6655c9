#![no_main]
//! `pipeline`: see sigil_fuzz::targets::pipeline.
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::pipeline::run(data));
