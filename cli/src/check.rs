//! `sigil check` and `sigil compile`: compile rules, report each rejected one (for editors and
//! CI pipelines), and write the compiled pack.

use crate::{rules, CheckArgs, CheckFormat, CompileArgs};
use serde_json::json;
use std::process::ExitCode;

pub fn run(args: CheckArgs) -> Result<ExitCode, String> {
    let options = rules::options(&args.rule_args)?;
    let out = rules::compile(&args.paths, options)?;
    let rejected = out.diagnostics.len();
    let ok = out.rules_seen - rejected;
    match args.format {
        CheckFormat::Text => {
            for d in &out.diagnostics {
                println!("{d}");
            }
            println!("checked {} rules: {ok} ok, {rejected} rejected", out.rules_seen);
        }
        CheckFormat::Json => {
            let report = json!({
                "checked": out.rules_seen,
                "ok": ok,
                "rejected": rejected,
                "errors": out.diagnostics,
            });
            println!("{}", serde_json::to_string_pretty(&report).expect("serializable"));
        }
    }
    Ok(if rejected > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

pub fn compile(args: CompileArgs) -> Result<ExitCode, String> {
    let options = rules::options(&args.rule_args)?;
    let started = std::time::Instant::now();
    let out = rules::compile(&args.paths, options)?;
    let compile_time = started.elapsed();
    for d in &out.diagnostics {
        eprintln!("sigil: rule rejected: {d}");
    }
    if out.plan.rules.is_empty() {
        return Err("no rule compiled: no pack written".into());
    }
    let bytes = sigil_engine::pack::to_bytes(&out.plan);
    std::fs::write(&args.output, &bytes).map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    eprintln!(
        "compiled {} rules ({} rejected) in {:.0} ms into {} ({} bytes): {} predicates, {} graph nodes ({} shared)",
        out.plan.rules.len(),
        out.diagnostics.len(),
        compile_time.as_secs_f64() * 1000.0,
        args.output.display(),
        bytes.len(),
        out.plan.predicates.len(),
        out.graph.nodes,
        out.graph.shared
    );
    Ok(ExitCode::SUCCESS)
}
