#![no_main]
//! `ocsf`: see sigil_fuzz::targets::ocsf.
libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::ocsf::run(data));
