//! Criterion benchmark of correlation state: 1,000,000 events over 100,000 groups through an
//! event_count and a value_count correlation (a tenth of that in unoptimised test builds).
//! Memory per open group is measured by `cargo run --release -p sigil-cli --example
//! correlation_load`, which counts the live heap.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sigil_engine::correlate::{Correlator, EventRef, Feed};
use sigil_engine::Engine;
use std::sync::Arc;

const RULES: &str = include_str!("../data/correlation-load.yml");

fn correlations(c: &mut Criterion) {
    let scale = if cfg!(debug_assertions) { 10 } else { 1 };
    let (events, groups) = (1_000_000 / scale, 100_000 / scale);
    let out = sigil_compiler::compile_str("load.yml", RULES, &sigil_compiler::Options::default());
    let engine = Engine::new(out.plan).unwrap();
    let inputs: Vec<(i64, serde_json::Value, serde_json::Value)> = (0..events)
        .map(|i| {
            let user = serde_json::Value::String(format!("user{}", i % groups));
            let src = serde_json::Value::String(format!("10.0.{}.{}", (i / 7) % 200, i % 250));
            (i as i64 * 3_600_000 / events as i64, user, src)
        })
        .collect();
    let file: Arc<str> = Arc::from("bench.jsonl");
    let mut group = c.benchmark_group("correlation");
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    for (name, correlation) in [("event_count", 0u32), ("value_count", 1u32)] {
        group.bench_function(format!("{name} {events} events over {groups} groups"), |b| {
            b.iter(|| {
                let mut correlator = Correlator::new(engine.plan(), 1_000_000);
                for (i, (time, user, src)) in inputs.iter().enumerate() {
                    let feed = Feed { correlation, source: 0, group: vec![user.clone()], values: vec![src.clone()] };
                    correlator.observe(*time, EventRef { file: Arc::clone(&file), line: i as u64 + 1 }, vec![feed]);
                }
                correlator.open_groups()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, correlations);
criterion_main!(benches);
