//! Criterion benchmark of compiling rule files to a plan (`add_files` + `finish`, the files
//! already in memory): the embedded pack always, and SigmaHQ's `rules/windows` from ../shared
//! when it is present, each on all cores and on one file at a time (`add_file`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sigil_compiler::{Compiler, Options};

#[path = "../tests/support/rule_files.rs"]
mod rule_files;

fn compile(c: &mut Criterion) {
    let mut sets = vec![("embedded pack", rule_files::embedded())];
    sets.extend(
        rule_files::sigmahq("rules/windows", "the rules/windows benchmark")
            .map(|files| ("SigmaHQ rules/windows", files)),
    );
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    for (name, files) in &sets {
        group.throughput(Throughput::Elements(files.len() as u64));
        group.bench_function(format!("{name}, {} files, all cores", files.len()), |b| {
            b.iter(|| {
                let mut compiler = Compiler::new(Options::default());
                compiler.add_files(files);
                compiler.finish().plan.rules.len()
            })
        });
        group.bench_function(format!("{name}, {} files, one at a time", files.len()), |b| {
            b.iter(|| {
                let mut compiler = Compiler::new(Options::default());
                for f in files {
                    compiler.add_file(&f.name, f.text.as_deref().unwrap_or_default());
                }
                compiler.finish().plan.rules.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, compile);
criterion_main!(benches);
