//! `sigil verify FILE --key KEYFILE`: checks a sealed file with `sigil_seal::verify` and prints
//! each finding (line, kind, expected and found sequence numbers), or one line saying it verified.

use crate::seal::load_key;
use std::io::BufReader;
use std::path::Path;
use std::process::ExitCode;

pub fn run(file: &Path, key_file: &Path, json: bool) -> Result<ExitCode, String> {
    let key = load_key(key_file)?;
    let handle = std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let report =
        sigil_seal::verify(BufReader::new(handle), &key).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let shown = file.display();
    for f in &report.findings {
        if json {
            println!("{}", serde_json::to_string(f).expect("findings serialize"));
        } else {
            let seq = |s: Option<u64>| s.map_or_else(|| "none".to_string(), |s| s.to_string());
            println!(
                "{shown}:{}: {}: expected seq {}, found {}: {}",
                f.line,
                f.kind,
                seq(f.expected),
                seq(f.found),
                f.message
            );
        }
    }
    if report.findings.is_empty() {
        eprintln!(
            "sigil: {shown}: verified: {} records, {} checkpoints, closed cleanly ({} lines, key id {})",
            report.records,
            report.checkpoints,
            report.lines,
            key.id()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("sigil: {shown}: NOT verified: {} findings (see above)", report.findings.len());
        Ok(ExitCode::from(1))
    }
}
