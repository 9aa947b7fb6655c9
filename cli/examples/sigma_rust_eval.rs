//! The `sigma-rust` crate on the same rules and events, for `scripts/bench.sh`: load every rule
//! it can parse, evaluate every loaded rule on every event (it has no logsource routing), and
//! report events per second and matches per rule id.
//!
//! usage: sigma_rust_eval EVENTS.jsonl MATCHES_OUT.tsv RULE_DIR...

use std::io::{BufRead, BufReader, Write};
use std::time::Instant;

fn rule_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rule_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (events_path, matches_path) = (&args[1], &args[2]);
    let mut files = Vec::new();
    for dir in &args[3..] {
        rule_files(std::path::Path::new(dir), &mut files);
    }
    let load_start = Instant::now();
    let (mut rules, mut failed) = (Vec::new(), 0);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        match sigma_rust::rule_from_yaml(&text) {
            Ok(rule) => rules.push(rule),
            Err(_) => failed += 1,
        }
    }
    let load_secs = load_start.elapsed().as_secs_f64();
    let start = Instant::now();
    let reader = BufReader::new(std::fs::File::open(events_path).expect("events file"));
    let (mut events, mut matches) = (0u64, 0u64);
    let mut per_rule = std::collections::BTreeMap::<String, u64>::new();
    for line in reader.lines() {
        let line = line.expect("line");
        let Ok(event) = sigma_rust::event_from_json(&line) else { continue };
        events += 1;
        for rule in &rules {
            if rule.is_match(&event) {
                matches += 1;
                *per_rule.entry(rule.id.clone().unwrap_or_default()).or_default() += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mut out = std::fs::File::create(matches_path).expect("matches file");
    for (id, n) in &per_rule {
        writeln!(out, "{id}\t{n}").expect("write");
    }
    eprintln!(
        "sigma-rust: {} rules loaded ({failed} not parsed) in {load_secs:.2} s; {events} events, {matches} matches in {secs:.2} s: {:.0} events/s",
        rules.len(),
        events as f64 / secs
    );
}
