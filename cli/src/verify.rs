//! `sigil verify FILE --key KEYFILE`: checks a sealed file with `sigil_seal::verify` and prints
//! each finding (line, kind, expected and found sequence numbers), or one line saying it verified.
//! Lines are read up to `--max-line-bytes`; what a forged file claims never sizes an allocation.

use crate::seal::load_key;
use crate::VerifyArgs;
use std::io::BufReader;
use std::process::ExitCode;

pub fn run(args: &VerifyArgs) -> Result<ExitCode, String> {
    let (file, json) = (&args.file, args.json);
    let key = load_key(&args.key)?;
    let handle = std::fs::File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let report = sigil_seal::verify_lines(BufReader::new(handle), &key, args.max_line_bytes)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
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
