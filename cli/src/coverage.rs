//! `sigil coverage PATH...`: which ATT&CK tactics and techniques a pack covers (from its rules'
//! `attack.*` tags, by `sigil_compiler::coverage`), as a table and (with `--navigator FILE`) an
//! ATT&CK Navigator layer.

use crate::rules;
use crate::CoverageArgs;
use std::process::ExitCode;

pub fn run(args: CoverageArgs) -> Result<ExitCode, String> {
    let out = rules::compile(&args.paths, rules::options(&args.rule_args)?)?;
    for d in &out.diagnostics {
        eprintln!("sigil: rule rejected: {d}");
    }
    let coverage = sigil_compiler::coverage::coverage(&out.plan);
    print!("{}", coverage.table());
    println!("{}", coverage.summary());
    if let Some(path) = &args.navigator {
        let text = serde_json::to_string_pretty(&coverage.navigator_layer()).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("sigil: ATT&CK Navigator layer written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
