//! The prefilter natively: aho-corasick's packed Teddy (what `Prefilter` is natively), the
//! generic Teddy on the portable (array) vector (the algorithm wasm32 runs on simd128, without
//! SIMD: a correctness baseline, not a contender) and the automaton without a prefilter, over
//! event-like values with 20 Sigma needles. The simd128 Teddy itself is timed inside wasmtime by
//! `cargo run --release -p sigil-wasm-host --example prefilter_bench`.

use aho_corasick::AhoCorasick;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sigil_engine::prefilter::cases::{event_values, SIGMA_NEEDLES};
use sigil_engine::prefilter::teddy::Teddy;
use sigil_engine::prefilter::vector::Portable;
use sigil_engine::prefilter::Prefilter;
use std::hint::black_box;

fn prefilter(c: &mut Criterion) {
    let needles: Vec<String> = SIGMA_NEEDLES[..20].iter().map(|n| n.to_string()).collect();
    let values = event_values();
    let bytes: usize = values.iter().map(Vec::len).sum();
    let packed = Prefilter::new(&needles).expect("builds natively");
    let portable = Teddy::<Portable>::new(&needles).expect("builds");
    let automaton = AhoCorasick::new(&needles).expect("builds");
    let mut group = c.benchmark_group("prefilter");
    group.throughput(Throughput::Bytes(bytes as u64));
    let mut run = |name: &str, find: &dyn Fn(&[u8]) -> Option<usize>| {
        group.bench_function(name, |b| {
            b.iter(|| values.iter().filter_map(|v| find(black_box(v))).count());
        });
    };
    run("packed (native Prefilter)", &|v| packed.find(v));
    run("generic Teddy, portable vector", &|v| portable.find(v));
    run("aho-corasick automaton", &|v| automaton.find(v).map(|m| m.start()));
    group.finish();
}

criterion_group!(benches, prefilter);
criterion_main!(benches);
