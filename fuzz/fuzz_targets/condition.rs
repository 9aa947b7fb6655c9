#![no_main]
//! `condition`: see sigil_fuzz::targets::condition.
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::condition::run(data));
