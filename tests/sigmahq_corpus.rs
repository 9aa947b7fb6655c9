//! The SigmaHQ corpus in ../shared/sigma: every active rule compiles, and every v1 pipe
//! aggregation in `unsupported/` is rejected with the message that points to correlations.

use sigil_compiler::Options;
use sigil_tests::{compile_dirs, shared_dir, sigmahq_placeholder_options, SIGMAHQ_ACTIVE_DIRS};

#[test]
fn every_active_sigmahq_rule_compiles() {
    let Some(shared) = shared_dir("every_active_sigmahq_rule_compiles") else { return };
    let sigma = shared.join("sigma");
    let dirs: Vec<_> = SIGMAHQ_ACTIVE_DIRS.iter().map(|d| sigma.join(d)).collect();
    let out = compile_dirs(&dirs, sigmahq_placeholder_options());
    for d in &out.diagnostics {
        println!("rejected: {d}");
    }
    println!(
        "SigmaHQ active corpus: {} rules, {} compiled, {} rejected",
        out.rules_seen,
        out.plan.rules.len(),
        out.diagnostics.len()
    );
    assert_eq!(out.rules_seen, 3780, "the active corpus holds 3,780 rules");
    assert_eq!(out.plan.rules.len(), 3780, "every active rule compiles");
    sigil_engine::Engine::new(out.plan).expect("the plan of all rules prepares");
}

#[test]
fn placeholder_rules_are_rejected_without_values() {
    let Some(shared) = shared_dir("placeholder_rules_are_rejected_without_values") else { return };
    let out = compile_dirs(&[shared.join("sigma/rules-placeholder")], Options::default());
    assert_eq!(out.rules_seen, 23);
    assert_eq!(out.diagnostics.len(), 23, "every rule of rules-placeholder uses an unsupplied placeholder");
    assert!(out.diagnostics.iter().all(|d| d.message.contains("placeholder '%")), "{:?}", out.diagnostics);
}

#[test]
fn every_pipe_aggregation_is_rejected_with_the_correlation_hint() {
    let Some(shared) = shared_dir("every_pipe_aggregation_is_rejected_with_the_correlation_hint") else { return };
    let out = compile_dirs(&[shared.join("sigma/unsupported")], Options::default());
    let pipe: Vec<_> = out.diagnostics.iter().filter(|d| d.message.contains("write a correlation rule")).collect();
    let pipe_syntax = pipe.iter().filter(|d| d.message.contains("pipe syntax")).count();
    println!(
        "unsupported/: {} rules, {} rejected, {pipe_syntax} with the pipe message",
        out.rules_seen,
        out.diagnostics.len()
    );
    assert_eq!(pipe_syntax, 54, "the 54 pipe-syntax rules");
    for d in pipe.iter().filter(|d| d.message.contains("pipe syntax")) {
        let text = std::fs::read_to_string(&d.file).unwrap();
        let line = text.lines().nth(d.line as usize - 1).unwrap();
        let col = d.col as usize - 1;
        assert_eq!(line.chars().nth(col), Some('|'), "{d} points at the pipe");
    }
}
