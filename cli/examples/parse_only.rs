//! The parse-only floor for `scripts/bench.sh`: read JSON Lines and parse every line, and
//! nothing else. By default into a `serde_json::Value` (what any serde_json user pays: the
//! floor of the target); with `--document`, into the borrowed [`sigil_engine::Json`]
//! document that `sigil hunt` builds before any rule runs.
//!
//! usage: parse_only [--document] FILE.jsonl

use std::io::{BufRead, BufReader};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let document = args.iter().any(|a| a == "--document");
    let path = args.iter().find(|a| !a.starts_with("--")).expect("usage: parse_only [--document] FILE.jsonl");
    let start = Instant::now();
    let reader = BufReader::with_capacity(1 << 16, std::fs::File::open(path).expect("readable file"));
    let (mut events, mut rejected, mut keys) = (0u64, 0u64, 0usize);
    for line in reader.lines() {
        let line = line.expect("readable line");
        if line.trim().is_empty() {
            continue;
        }
        // Touch the result so the parse cannot be optimised away.
        let parsed = if document {
            sigil_engine::Json::parse(line.trim()).map(|d| d.as_object().map_or(0, |m| m.len()))
        } else {
            serde_json::from_str::<serde_json::Value>(&line).map(|v| v.as_object().map_or(0, |m| m.len()))
        };
        match parsed {
            Ok(n) => {
                events += 1;
                keys += n;
            }
            Err(_) => rejected += 1,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "parse-only ({}): {events} events ({rejected} rejected, {keys} keys) in {secs:.3} s: {:.0} events/s",
        if document { "sigil document" } else { "serde_json::Value" },
        events as f64 / secs
    );
}
