//! Time to load a compiled pack, for `scripts/bench.sh`: bytes → plan → ready engine, the work
//! `sigil hunt --pack` does before the first event. Reports the median of 21 loads.
//!
//! With an events file, also the time until the first event is evaluated (the first event's
//! route is built lazily, with the matchers it needs).
//!
//! usage: pack_load PACK [EVENTS.jsonl]

use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: pack_load PACK");
    let bytes = std::fs::read(&path).expect("readable pack");
    let (mut decode, mut prepare) = (Vec::new(), Vec::new());
    let mut rules = 0;
    for _ in 0..21 {
        let start = Instant::now();
        let plan = sigil_engine::pack::from_bytes(&bytes).expect("a valid pack");
        let decoded = Instant::now();
        let engine = sigil_engine::Engine::new(plan).expect("a valid plan");
        decode.push((decoded - start).as_secs_f64() * 1000.0);
        prepare.push(decoded.elapsed().as_secs_f64() * 1000.0);
        rules = engine.rules().len();
    }
    decode.sort_by(f64::total_cmp);
    prepare.sort_by(f64::total_cmp);
    if let Some(events) = std::env::args().nth(2) {
        let text = std::fs::read_to_string(&events).expect("readable events");
        let first = sigil_engine::Json::parse(text.lines().next().unwrap_or("{}")).expect("a JSON event");
        let start = Instant::now();
        let plan = sigil_engine::pack::from_bytes(&bytes).expect("a valid pack");
        let engine = sigil_engine::Engine::new(plan).expect("a valid plan");
        let fired = engine.evaluate(&first, &sigil_engine::Routing::Auto).len();
        eprintln!("pack load + first event: {:.1} ms ({fired} alerts)", start.elapsed().as_secs_f64() * 1000.0);
    }
    eprintln!(
        "pack load: {rules} rules, {} bytes: median {:.1} ms (decode {:.1} ms + prepare {:.1} ms)",
        bytes.len(),
        decode[10] + prepare[10],
        decode[10],
        prepare[10]
    );
}
