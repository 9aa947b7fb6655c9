//! `sigil check`: compile rules and report each rejected one, for editors and CI pipelines.

use crate::{rules, CheckArgs, CheckFormat};
use serde_json::json;
use std::process::ExitCode;

pub fn run(args: CheckArgs) -> Result<ExitCode, String> {
    let placeholders = rules::placeholders(&args.rule_args.placeholders, &args.rule_args.placeholder_files)?;
    let out = rules::compile(&args.paths, placeholders)?;
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
