#![no_main]
//! `event`: see sigil_fuzz::targets::event.
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::event::run(data));
