//! `Compiler::add_files` (files spread over the cores) gives the very plan, diagnostics and counts
//! that `add_file` one file at a time gives: on the embedded pack always, with files that fail
//! mixed in, and on the SigmaHQ corpus in ../shared when it is present.

use sigil_compiler::select::Selection;
use sigil_compiler::{Compiler, Options, Output, RuleFile};
use sigil_engine::pack;

#[path = "support/rule_files.rs"]
mod rule_files;
use rule_files::embedded;

fn one_at_a_time(files: &[RuleFile], options: &Options) -> Output {
    let mut c = Compiler::new(options.clone());
    for f in files {
        match &f.text {
            Ok(text) => c.add_file(&f.name, text),
            Err(reason) => c.add_unreadable(&f.name, reason),
        }
    }
    c.finish()
}

fn all_at_once(files: &[RuleFile], options: &Options) -> Output {
    let mut c = Compiler::new(options.clone());
    c.add_files(files);
    c.finish()
}

fn assert_same(files: &[RuleFile], options: &Options) -> Output {
    let (a, b) = (one_at_a_time(files, options), all_at_once(files, options));
    assert!(pack::to_bytes(&a.plan) == pack::to_bytes(&b.plan), "the packs differ");
    assert_eq!(a.diagnostics, b.diagnostics);
    assert_eq!((a.rules_seen, a.left_out, a.silenced, a.graph), (b.rules_seen, b.left_out, b.silenced, b.graph));
    b
}

#[test]
fn the_embedded_pack_compiles_the_same_in_parallel() {
    let out = assert_same(&embedded(), &Options::default());
    assert!(out.plan.rules.len() > 10 && out.diagnostics.is_empty(), "{:?}", out.diagnostics);
}

#[test]
fn bad_files_among_good_ones_change_nothing_else() {
    let mut files = embedded();
    let bad = |name: &str, text: Result<&str, &str>| RuleFile {
        name: name.to_string(),
        text: text.map(str::to_string).map_err(str::to_string),
    };
    files.insert(1, bad("broken.yml", Ok("title: [unclosed\n")));
    files.insert(3, bad("binary.yml", Err("the rule file is not UTF-8 text")));
    files.insert(
        5,
        bad("nope.yml", Ok("title: t\nlogsource: {product: p}\ndetection: {sel: {a: 1}, condition: nope}\n")),
    );
    let out = assert_same(&files, &Options::default());
    let names: Vec<&str> = out.diagnostics.iter().map(|d| d.file.as_str()).collect();
    assert_eq!(names, ["broken.yml", "binary.yml", "nope.yml"]);
    assert_eq!(out.plan.rules.len(), all_at_once(&embedded(), &Options::default()).plan.rules.len());
}

#[test]
fn a_selection_leaves_out_the_same_rules_in_parallel() {
    let selection = Selection { min_level: Some(3), ..Selection::default() };
    let out = assert_same(&embedded(), &Options { selection, ..Options::default() });
    assert!(out.left_out > 0);
}

#[test]
fn the_sigmahq_corpus_compiles_the_same_in_parallel() {
    let Some(files) = rule_files::sigmahq("rules", "the_sigmahq_corpus_compiles_the_same_in_parallel") else { return };
    let out = assert_same(&files, &Options::default());
    assert!(out.plan.rules.len() > 2000, "{} rules", out.plan.rules.len());
}
