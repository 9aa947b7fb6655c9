//! Shared helpers for Sigil's cross-crate tests: reading test data written as YAML, and
//! compiling and running rules in-process.
//!
//! The tests themselves are data: `conformance/*.yml` (the Sigma semantics suite),
//! `../sigma-rules/tests/*.yml` (the rule pack's own events), and the SigmaHQ corpus in
//! `../shared` when it is present.

use serde_json::Value;
use sigil_compiler::yaml::{Kind, Node};
use sigil_compiler::{Compiler, Options, Output};
use sigil_engine::Engine;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A CloudTrail rule (ATT&CK T1562.008, a trail stopped) for the CLI's end-to-end tests: it fires
/// on `{"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging"}`.
pub const STOP_LOGGING_RULE: &str = "title: Trail stopped
id: 5a8e1f7c-1111-4c2d-9b1e-000000000001
author: Sigil tests
level: high
status: test
tags:
  - attack.t1562.008
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventSource: cloudtrail.amazonaws.com
    eventName: StopLogging
  condition: selection
";

/// `../shared` beside the repository, if this machine has it; otherwise prints why the caller
/// skips.
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir =
        std::env::var_os("SIGIL_SHARED").map(PathBuf::from).unwrap_or_else(|| repo_root().join("..").join("shared"));
    if dir.join("sigma").is_dir() {
        Some(dir)
    } else {
        println!("SKIPPED {test}: {} is absent (set SIGIL_SHARED to its path to run it)", dir.display());
        None
    }
}

/// The files with one of `extensions` under `dir`, recursively, sorted.
pub fn files_under(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|x| x.to_str()).is_some_and(|x| extensions.contains(&x)) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The sample event files in `examples/` (`*.jsonl`), sorted: what the README's main command reads.
pub fn example_event_files() -> Vec<String> {
    files_under(&repo_root().join("examples"), &["jsonl"]).iter().map(|p| p.display().to_string()).collect()
}

/// Reads a YAML data file into nodes (the compiler's own YAML reader).
pub fn yaml_file(path: &Path) -> Node {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut docs = sigil_compiler::yaml::parse_documents(&text)
        .unwrap_or_else(|e| panic!("{}:{}:{}: {}", path.display(), e.pos.line, e.pos.col, e.message));
    assert_eq!(docs.len(), 1, "{}: expected one YAML document", path.display());
    docs.remove(0)
}

pub fn str_of<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.get(key).and_then(|n| n.as_str())
}

pub fn list_of<'a>(node: &'a Node, key: &str) -> &'a [Node] {
    match node.get(key).map(|n| &n.kind) {
        Some(Kind::Seq(items)) => items,
        _ => &[],
    }
}

/// A YAML node holding JSON-shaped data, as a JSON value.
pub fn to_json(node: &Node) -> Value {
    node.to_json()
}

/// Compiles one rule text and prepares an engine for it.
pub fn compile(name: &str, text: &str, options: &Options) -> (Output, Option<Engine>) {
    let out = sigil_compiler::compile_str(name, text, options);
    let engine =
        if out.diagnostics.is_empty() { Some(Engine::new(out.plan.clone()).expect("plan prepares")) } else { None };
    (out, engine)
}

/// A data case's `matches:` list (1-based event lines).
pub fn expected_matches(case: &Node, where_: &str) -> Vec<u64> {
    list_of(case, "matches")
        .iter()
        .map(|n| match n.kind {
            Kind::Int(i) => i as u64,
            _ => panic!("{where_}: matches must be numbers"),
        })
        .collect()
}

/// The 1-based lines of a data case's `events:` (JSON Lines, blank lines skipped) that fire.
pub fn matched_lines(engine: &Engine, case: &Node, where_: &str) -> Vec<u64> {
    let events = str_of(case, "events").unwrap_or_default();
    let mut got = Vec::new();
    for (i, line) in events.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let event: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{where_}: event {}: {e}", i + 1));
        if fires(engine, &event) {
            got.push(i as u64 + 1);
        }
    }
    got
}

/// Whether any rule of the engine fires on the event. Both ways in are taken, and must agree:
/// a document alone, and a document with the JSON text it was parsed from (whose keyword
/// searches first look at the text as a whole).
pub fn fires(engine: &Engine, event: &Value) -> bool {
    use sigil_engine::{Json, Routing, Scratch};
    let by_document = engine.evaluate(&Json::from_value(event), &Routing::All);
    let text = serde_json::to_string(event).expect("a Value serializes");
    let document = Json::parse(&text).expect("serde_json's output parses");
    let mut by_text = Vec::new();
    engine.evaluate_text(&mut Scratch::default(), &document, &text, &Routing::All, &mut by_text);
    assert_eq!(by_document, by_text, "evaluating {text} with and without its text disagrees");
    !by_document.is_empty()
}

/// The folders of ../shared/sigma that hold SigmaHQ's active rules.
pub const SIGMAHQ_ACTIVE_DIRS: [&str; 5] =
    ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder", "rules-compliance"];

/// Compiles every rule file under the folders into one plan.
pub fn compile_dirs(dirs: &[PathBuf], options: Options) -> Output {
    let mut c = Compiler::new(options);
    for dir in dirs {
        for f in files_under(dir, &["yml", "yaml"]) {
            let text = std::fs::read_to_string(&f).unwrap();
            c.add_file(&f.display().to_string(), &text);
        }
    }
    c.finish()
}

/// Values for the placeholders of SigmaHQ's `|expand` rules (`data/sigmahq-placeholders.yml`).
pub fn sigmahq_placeholder_options() -> Options {
    let path = repo_root().join("tests/data/sigmahq-placeholders.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let placeholders = sigil_compiler::parse_placeholder_file(&path.display().to_string(), &text).unwrap();
    Options { placeholders, ..Options::default() }
}
