//! Criterion benchmark of compiling rule files to a plan (`add_files` + `finish`, the files
//! already in memory): the embedded pack always, and SigmaHQ's `rules/windows` from ../shared
//! when it is present, each on all cores and on one file at a time (`add_file`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sigil_compiler::{Compiler, Options, RuleFile};
use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for p in entries.flatten().map(|e| e.path()) {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml") {
            out.push(p);
        }
    }
}

fn sigmahq_windows() -> Option<Vec<RuleFile>> {
    let shared = std::env::var_os("SIGIL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    let dir = shared.join("sigma/rules/windows");
    if !dir.is_dir() {
        println!("SKIPPED the rules/windows benchmark: {} is absent", dir.display());
        return None;
    }
    let mut paths = Vec::new();
    yaml_files(&dir, &mut paths);
    paths.sort();
    let read =
        |p: &PathBuf| Some(RuleFile { name: p.display().to_string(), text: Ok(std::fs::read_to_string(p).ok()?) });
    Some(paths.iter().filter_map(read).collect())
}

fn compile(c: &mut Criterion) {
    let embedded: Vec<RuleFile> = sigil_pack::RULE_FILES
        .iter()
        .map(|(name, text)| RuleFile { name: name.to_string(), text: Ok(text.to_string()) })
        .collect();
    let mut sets = vec![("embedded pack", embedded)];
    sets.extend(sigmahq_windows().map(|files| ("SigmaHQ rules/windows", files)));
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
