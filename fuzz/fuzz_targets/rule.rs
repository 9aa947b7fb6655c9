#![no_main]
//! `rule`: see sigil_fuzz::targets::rule.
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::rule::run(data));
