#![no_main]
//! `pack`: see sigil_fuzz::targets::pack. The counting allocator lets it check what reading a
//! pack allocates.

#[global_allocator]
static ALLOC: sigil_fuzz::alloc_probe::Probe = sigil_fuzz::alloc_probe::Probe;

libfuzzer_sys::fuzz_target!(init: sigil_fuzz::fixtures::warm(), |data: &[u8]| sigil_fuzz::targets::pack::run(data));
