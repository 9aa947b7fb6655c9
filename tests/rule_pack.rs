//! Sigil's own rule pack (`sigma-rules/`) is what the binary embeds. (Each rule's unit tests run
//! through `sigil test sigma-rules/`, in `cli/tests/cli.rs` and in scripts/test.sh.)

use sigil_compiler::Options;
use sigil_tests::{files_under, repo_root};

#[test]
fn the_embedded_pack_is_the_rules_directory() {
    let on_disk = files_under(&repo_root().join("sigma-rules/rules"), &["yml", "yaml"])
        .iter()
        .filter(|p| !p.to_string_lossy().ends_with(".tests.yml"))
        .count();
    assert_eq!(sigil_pack::RULE_FILES.len(), on_disk);
    let mut c = sigil_compiler::Compiler::new(Options::default());
    for (path, text) in sigil_pack::RULE_FILES {
        c.add_file(path, text);
    }
    let out = c.finish();
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let mut ids: Vec<_> = out.plan.rules.iter().map(|r| r.info.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), out.plan.rules.len(), "rule ids are unique");
    assert!(out.plan.rules.iter().all(|r| r.info.author.is_some() && !r.info.tags.is_empty()));
}
