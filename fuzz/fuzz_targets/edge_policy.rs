#![no_main]
//! `edge_policy`: see sigil_fuzz::targets::edge_policy.
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::edge_policy::run(data));
