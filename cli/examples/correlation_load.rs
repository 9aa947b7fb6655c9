//! Correlation state under load, for issue 4's benchmark: 1,000,000 events over 100,000 groups
//! through an event_count and a value_count correlation, fed straight into the `Correlator`.
//! Reports events/s and the live heap per open group (a counting allocator measures it).
//!
//! usage: correlation_load [EVENTS] [GROUPS]

use sigil_engine::correlate::{Correlator, EventRef, Feed};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const RULES: &str = include_str!("../../tests/data/correlation-load.yml");

fn main() {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().map_or(1_000_000, |a| a.parse().expect("a number of events"));
    let groups: u64 = args.next().map_or(100_000, |a| a.parse().expect("a number of groups"));
    let out = sigil_compiler::compile_str("load.yml", RULES, &sigil_compiler::Options::default());
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let engine = sigil_engine::Engine::new(out.plan).expect("plan");
    // Dense: every event of the run inside one window (each group holds ~events/groups entries).
    // Sparse: the same events spread over ten windows (each group holds ~1/10 of them at a time).
    for (name, only, spread) in [
        ("event_count, dense", 0u32, 1i64),
        ("value_count, dense", 1u32, 1i64),
        ("event_count, sparse", 0u32, 10i64),
        ("value_count, sparse", 1u32, 10i64),
    ] {
        let mut correlator = Correlator::new(engine.plan(), 1_000_000);
        let file: Arc<str> = Arc::from("load.jsonl");
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let start = Instant::now();
        for i in 0..events {
            let user = serde_json::Value::String(format!("user{}", i % groups));
            let src = serde_json::Value::String(format!("10.0.{}.{}", (i / 7) % 200, i % 250));
            // The run spans `spread` one-hour windows.
            let time = (i as i64) * 3_600_000 * spread / events as i64;
            let feed = Feed { correlation: only, source: 0, group: vec![user], values: vec![src] };
            correlator.observe(time, EventRef { file: Arc::clone(&file), line: i + 1 }, vec![feed]);
        }
        let secs = start.elapsed().as_secs_f64();
        let live = LIVE.load(Ordering::Relaxed) - before;
        let open = correlator.open_groups();
        eprintln!(
            "{name}: {events} events over {groups} groups in {secs:.2} s: {:.0} events/s; {open} open groups, ~{} events each in the window, {} bytes live ({} per open group), peak {} bytes",
            events as f64 / secs,
            events / groups / spread as u64,
            live,
            live / open.max(1),
            PEAK.load(Ordering::Relaxed) - before
        );
    }
}
