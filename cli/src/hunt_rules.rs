//! The rules a hunt runs: `--rules` files (or the embedded pack) compiled, or a `--pack` loaded,
//! keeping those the filters select (`sigil_compiler::select`). `hunt`, `edge`, `serve` and the
//! cluster commands load their rules here; only `hunt` passes a selection. This module prints
//! what it loaded and rejected on stderr, and never evaluates an event.

use crate::{rule_cache, rules};
use sigil_compiler::select::Selection;

/// The rules of `--rules` (or the embedded pack) or `--pack`, as `hunt`, `edge` and `serve`
/// load them.
pub fn load_rules(source: &crate::RuleSource) -> Result<sigil_engine::Plan, String> {
    load_rules_selected(source, &Selection::default())
}

/// The same, keeping only the rules `selection` admits: left out before compilation, or, in a
/// pack, made silent (`Selection::apply_to_plan`). Says on stderr how many were left out.
pub fn load_rules_selected(source: &crate::RuleSource, selection: &Selection) -> Result<sigil_engine::Plan, String> {
    let crate::RuleSource { rules, pack, rule_args, no_cache } = source;
    let plan = match pack {
        Some(path) => {
            if !rules.is_empty() {
                return Err("--pack and --rules exclude each other: a pack already holds its rules".into());
            }
            if !rule_args.pipelines.is_empty()
                || !rule_args.placeholders.is_empty()
                || !rule_args.placeholder_files.is_empty()
            {
                return Err(
                    "a pack is compiled already: give --pipeline and --placeholder to `sigil compile` instead".into()
                );
            }
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read the pack {}: {e}", path.display()))?;
            let mut plan = sigil_engine::pack::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("sigil: rules: {} loaded from the pack {}", plan.rules.len(), path.display());
            if !selection.is_everything() {
                let left_out = selection.apply_to_plan(&mut plan);
                eprintln!("sigil: filters left out {left_out} rules of the pack (they run without alerting)");
            }
            plan
        }
        None => {
            let (compiled, from_cache) = compile_cached(rules, rule_args, selection, !no_cache)?;
            for d in &compiled.diagnostics {
                eprintln!("sigil: rule rejected: {d}");
            }
            let how = if from_cache { " (from the cache)" } else { "" };
            eprintln!(
                "sigil: rules: {} loaded, {} rejected{how}",
                compiled.plan.rules.len(),
                compiled.diagnostics.len()
            );
            if !selection.is_everything() {
                eprintln!(
                    "sigil: filters left out {} rules; {} more run without alerting (correlations left out, and rules a correlation reads)",
                    compiled.left_out, compiled.silenced
                );
            }
            compiled.plan
        }
    };
    let alerting = plan.rules.iter().any(|r| r.alert) || plan.correlations.iter().any(|c| c.emit);
    if !selection.is_everything() && !alerting && plan.silences.is_empty() {
        return Err(
            "the filters left out every rule: nothing to hunt with (loosen --min-level, --status, --tag, --rule-id)"
                .into(),
        );
    }
    if plan.rules.is_empty() {
        return Err("no rule could be loaded: nothing to hunt with (see the errors above)".into());
    }
    Ok(plan)
}

/// The compiled rules from the cache when an entry for exactly these inputs is sound, else
/// compiled and stored; whether they came from the cache. A cache that cannot be written is
/// only a slower next run, so that is a note, never an error.
fn compile_cached(
    paths: &[std::path::PathBuf],
    rule_args: &crate::RuleArgs,
    selection: &Selection,
    use_cache: bool,
) -> Result<(rule_cache::Compiled, bool), String> {
    // Read once: the key hashes these texts and a miss compiles them.
    let files = rules::read(paths)?;
    let cache =
        if use_cache { rule_cache::directory().zip(rule_cache::key(&files, rule_args, selection)) } else { None };
    if let Some((dir, key)) = &cache {
        match rule_cache::load(dir, key) {
            Ok(compiled) => return Ok((compiled, true)),
            Err(rule_cache::Miss::Damaged(why)) => {
                eprintln!("sigil: cache: ignoring a damaged entry in {} ({why}): compiling again", dir.display())
            }
            Err(rule_cache::Miss::Absent) => {}
        }
    }
    let options = sigil_compiler::Options { selection: selection.clone(), ..rules::options(rule_args)? };
    let output = rules::compile_files(&files, options);
    let compiled = rule_cache::Compiled {
        plan: output.plan,
        diagnostics: output.diagnostics,
        left_out: output.left_out,
        silenced: output.silenced,
    };
    if let Some((dir, key)) = &cache {
        if let Err(e) = rule_cache::store(dir, key, &compiled) {
            eprintln!("sigil: cache: {e} (rules compile on every run; --no-cache skips the cache)");
        }
    }
    Ok((compiled, false))
}
