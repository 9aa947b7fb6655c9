//! `sigil test PATH...`: every rule file's unit tests, from its sidecar `RULE.tests.yml`, run by
//! `sigil_rule_tests`; this module finds and reads the files and prints a line per failure.

use crate::rules;
use crate::TestArgs;
use sigil_rule_tests::{parse_cases, Case};
use std::path::Path;
use std::process::ExitCode;

pub fn run(args: TestArgs) -> Result<ExitCode, String> {
    let options = rules::options(&args.rule_args)?;
    let files = rules::rule_files(&args.paths)?;
    let (mut passed, mut failed, mut rules_tested) = (0u64, 0u64, 0u64);
    for file in &files {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {name}: {e}"))?;
        let out = sigil_compiler::compile_str(&name, &text, &options);
        if let Some(d) = out.diagnostics.first() {
            failed += 1;
            println!("FAIL {name}: the rule is rejected: {d}");
            continue;
        }
        let sidecar = sidecar_of(file);
        let cases = match read_cases(&sidecar) {
            Ok(cases) => cases,
            Err(message) => {
                failed += 1;
                println!("FAIL {name}: {message}");
                continue;
            }
        };
        rules_tested += 1;
        for case in &cases {
            match case.run(&out.plan) {
                Ok(()) => passed += 1,
                Err(reason) => {
                    failed += 1;
                    println!(
                        "FAIL {name}: {} case {} ({}:{}): {reason}",
                        case.kind,
                        case.index,
                        sidecar.display(),
                        case.line
                    );
                }
            }
        }
    }
    eprintln!("sigil: {} rule files, {rules_tested} with tests", files.len());
    println!("{passed} passed, {failed} failed");
    Ok(if failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `rules/x.yml` → `rules/x.tests.yml`.
fn sidecar_of(rule: &Path) -> std::path::PathBuf {
    let stem = rule.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    rule.with_file_name(format!("{stem}.tests.yml"))
}

/// The cases of a sidecar, or why there are none to run.
fn read_cases(path: &Path) -> Result<Vec<Case>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|_| format!("no tests: write {shown} beside the rule (see sigma-rules/README.md)"))?;
    parse_cases(&text).map_err(|e| match e.at {
        Some((line, col)) => format!("{shown}:{line}:{col}: {}", e.message),
        None => format!("{shown}: {}", e.message),
    })
}
