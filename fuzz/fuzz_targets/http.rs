#![no_main]
//! `http`: see sigil_fuzz::targets::http.
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::http::run(data));
