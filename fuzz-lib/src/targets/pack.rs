//! Pack bytes (`sigil compile -o PACK`, the Wasm guest's `load`, the gateway's `pack_base64`):
//! `pack::from_bytes` then `Plan::check` must refuse garbage without a panic and without an
//! allocation sized by what the bytes claim (a length prefix of a billion); a plan that passes
//! the check must load into a session and evaluate events, as every loader then does.
//!
//! The allocation bound is checked when [`crate::alloc_probe::Probe`] is the global allocator
//! (the fuzz target and the replay test install it): while reading, no single allocation may
//! exceed [`allowance`] of the input's length, and no more than that may be live at once.

use crate::alloc_probe::measure;
use sigil_engine::{pack, Routing};

/// The most a pack of `len` bytes may allocate while it is read: a fixed floor for small
/// structures, plus, per byte of input, twice the largest plan item (every decoded item costs
/// at least one byte, and a vector growing by doubling holds at most twice what it keeps). That
/// is linear in the bytes given, whatever lengths they claim. (It was 128 bytes per byte until
/// the CI smoke found a 995-byte pack that decodes into 197 KB of items: an estimate, not a bound.)
pub fn allowance(len: usize) -> usize {
    64 * 1024 + 2 * largest_plan_item() * len
}

fn largest_plan_item() -> usize {
    use sigil_engine::plan::{CompiledRule, Correlation, Node, Predicate, Silence};
    use std::mem::size_of;
    [
        size_of::<CompiledRule>(),
        size_of::<Correlation>(),
        size_of::<Silence>(),
        size_of::<Predicate>(),
        size_of::<Node>(),
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
}

pub fn run(data: &[u8]) {
    let (plan, usage) = measure(|| pack::from_bytes(data));
    if let Some(usage) = usage {
        let limit = allowance(data.len());
        assert!(
            usage.largest <= limit && usage.peak <= limit,
            "reading a pack of {} bytes allocated {} bytes at once ({} live at the peak), over the {limit} allowed",
            data.len(),
            usage.largest,
            usage.peak
        );
    }
    let Ok(plan) = plan else { return };
    if plan.check().is_err() {
        return;
    }
    let Ok(mut session) = sigil_engine::session::Session::new(plan, 1_000) else { return };
    let mut out = Vec::new();
    let events = crate::fixtures::SAMPLE_EVENTS.join("\n");
    let _ = session.eval_jsonl("events.jsonl", 1, &events, &Routing::Auto, &mut out);
    let _ = session.finish(&mut out);
}
