//! Criterion benchmark: Sigil's per-event cost against the parse-only floor, in the same run.
//!
//! Events: the first 5,000 of ../shared's OTRF Windows sample (the examples/ events when
//! ../shared is absent). Rules: every active SigmaHQ rule (the embedded pack when absent).
//! Every benchmark reports throughput in events; Sigil's target is at least half the floor's
//! (`parse-only`: serde_json's Value). `parse-only-sigil-document` is the parse Sigil does.
//! `sigil-evaluate-only` is the scan alone, on events parsed beforehand.
//! `scripts/bench.sh` measures whole runs (all events, all cores, other engines).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sigil_compiler::{Compiler, Options};
use sigil_engine::{Engine, Json, Routing, Scratch};
use sigil_tests::{compile_dirs, files_under, repo_root, sigmahq_placeholder_options, SIGMAHQ_ACTIVE_DIRS};
use std::hint::black_box;
use std::io::{BufRead, BufReader};

const EVENTS: usize = 5_000;

fn events() -> Vec<String> {
    let sample = repo_root().join("../shared/datasets/windows/otrf-windows-sample.jsonl.gz");
    if let Ok(file) = std::fs::File::open(&sample) {
        let reader = BufReader::new(flate2::read::GzDecoder::new(file));
        return reader.lines().map_while(Result::ok).take(EVENTS).collect();
    }
    println!("note: {} is absent: benchmarking on examples/", sample.display());
    files_under(&repo_root().join("examples"), &["jsonl"])
        .iter()
        .flat_map(|f| std::fs::read_to_string(f).unwrap().lines().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

fn engine() -> Engine {
    let sigma = repo_root().join("../shared/sigma");
    let plan = if sigma.is_dir() {
        let dirs: Vec<_> = SIGMAHQ_ACTIVE_DIRS.iter().map(|d| sigma.join(d)).collect();
        compile_dirs(&dirs, sigmahq_placeholder_options()).plan
    } else {
        let mut compiler = Compiler::new(Options::default());
        for (path, text) in sigil_pack::RULE_FILES {
            compiler.add_file(path, text);
        }
        compiler.finish().plan
    };
    Engine::new(plan).unwrap()
}

fn throughput(c: &mut Criterion) {
    let lines = events();
    let engine = engine();
    let mut group = c.benchmark_group("windows-sample");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(10);
    group.bench_function("parse-only", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(serde_json::from_str::<serde_json::Value>(line).unwrap());
            }
        })
    });
    group.bench_function("parse-only-sigil-document", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(Json::parse(line).unwrap());
            }
        })
    });
    group.bench_function("sigil-parse-and-evaluate", |b| {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        b.iter(|| {
            for line in &lines {
                let event = Json::parse(line).unwrap();
                out.clear();
                engine.evaluate_text(&mut scratch, &event, line, &Routing::Auto, &mut out);
                black_box(out.len());
            }
        })
    });
    // The scan alone: the same events parsed once, outside the timed loop.
    let docs: Vec<Json<'_>> = lines.iter().map(|l| Json::parse(l).unwrap()).collect();
    group.bench_function("sigil-evaluate-only", |b| {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        b.iter(|| {
            for (doc, line) in docs.iter().zip(&lines) {
                out.clear();
                engine.evaluate_text(&mut scratch, doc, line, &Routing::Auto, &mut out);
                black_box(out.len());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
