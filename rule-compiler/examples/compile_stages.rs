//! Where compiling a rule tree goes: times each stage on one thread, then the whole compile
//! (parallel), then the engine built from the plan. For profiling, not a benchmark:
//! `cargo run --release -p sigil-compiler --example compile_stages -- ../shared/sigma/rules`.

use sigil_compiler::{ast, lower, templates, yaml, Compiler, Options, RuleFile};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
}

fn ms(since: Instant) -> String {
    format!("{:7.1} ms", since.elapsed().as_secs_f64() * 1e3)
}

fn main() {
    let root = std::env::args().nth(1).expect("usage: compile_stages RULE_DIR");
    let t = Instant::now();
    let mut paths = Vec::new();
    yaml_files(Path::new(&root), &mut paths);
    println!("list files     {} ({} files)", ms(t), paths.len());
    let t = Instant::now();
    let texts: Vec<(String, String)> =
        paths.iter().filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(p).ok()?))).collect();
    println!("read files     {}", ms(t));

    let t = Instant::now();
    let parsed: Vec<Vec<yaml::Node>> = texts.iter().filter_map(|(_, s)| yaml::parse_documents(s).ok()).collect();
    println!("yaml           {}", ms(t));
    let t = Instant::now();
    let expanded: Vec<Vec<yaml::Node>> = parsed.into_iter().filter_map(|d| templates::expand(d).ok()).collect();
    println!("templates      {}", ms(t));
    let t = Instant::now();
    let rules: Vec<ast::DetectionRule> = expanded
        .iter()
        .flatten()
        .filter_map(|d| match ast::document(d) {
            Ok(ast::Document::Detection(r)) => Some(*r),
            _ => None,
        })
        .collect();
    println!("ast            {} ({} detection rules)", ms(t), rules.len());
    let t = Instant::now();
    let placeholders = Default::default();
    let lowered: Vec<lower::Lowered> =
        rules.iter().filter_map(|r| lower::lower_detached(r, &placeholders).ok()).collect();
    println!("lower          {}", ms(t));
    let t = Instant::now();
    let mut interner = lower::Interner::default();
    let exprs: Vec<_> = lowered.into_iter().map(|l| interner.add(l)).collect();
    println!("intern         {} ({} predicates)", ms(t), interner.predicates.len());
    let t = Instant::now();
    let (nodes, _, _) = sigil_compiler::graph::build(&exprs);
    println!("graph          {} ({} nodes)", ms(t), nodes.len());

    let files: Vec<RuleFile> = texts.into_iter().map(|(name, text)| RuleFile { name, text: Ok(text) }).collect();
    let t = Instant::now();
    let mut compiler = Compiler::new(Options::default());
    compiler.add_files(&files);
    println!("add_files      {} (all cores)", ms(t));
    let t = Instant::now();
    let out = compiler.finish();
    println!("finish         {} ({} rules)", ms(t), out.plan.rules.len());
    let t = Instant::now();
    let engine = sigil_engine::Engine::new(out.plan);
    println!("engine         {} (ok: {})", ms(t), engine.is_ok());
}
