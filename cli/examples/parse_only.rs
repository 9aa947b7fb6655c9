//! The parse-only floor for `scripts/bench.sh`: read JSON Lines and parse every line into a
//! `serde_json::Value`, exactly as `sigil hunt` does before any rule runs, and nothing else.
//!
//! usage: parse_only FILE.jsonl

use std::io::{BufRead, BufReader};
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: parse_only FILE.jsonl");
    let start = Instant::now();
    let reader = BufReader::with_capacity(1 << 16, std::fs::File::open(&path).expect("readable file"));
    let (mut events, mut rejected, mut keys) = (0u64, 0u64, 0usize);
    for line in reader.lines() {
        let line = line.expect("readable line");
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(&line) {
            // Touch the result so the parse cannot be optimised away.
            Ok(v) => {
                events += 1;
                keys += v.as_object().map_or(0, |m| m.len());
            }
            Err(_) => rejected += 1,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "parse-only: {events} events ({rejected} rejected, {keys} keys) in {secs:.3} s: {:.0} events/s",
        events as f64 / secs
    );
}
