//! `sigil normalize --to ocsf`: events in (read as `sigil hunt` reads them), one OCSF object per
//! line out. An event that no mapping covers is written unchanged and counted, never dropped;
//! a malformed one is reported with its file and line, and counted as rejected.

use crate::input::{self, Raw};
use crate::{ocsf, NormalizeArgs, NormalizeTarget};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;

/// What a run did, for the closing summary line.
#[derive(Default)]
struct Counts {
    /// Mapped events per OCSF class.
    mapped: BTreeMap<u64, u64>,
    passed: u64,
    rejected: u64,
    unreadable: u64,
}

impl Counts {
    fn summary(&self) -> String {
        let total: u64 = self.mapped.values().sum();
        let classes: Vec<String> = self.mapped.iter().map(|(class, n)| format!("{class}: {n}")).collect();
        let per_class = if classes.is_empty() { String::new() } else { format!(" ({})", classes.join(", ")) };
        format!(
            "normalized: {total} events mapped{per_class}, {} passed through unmapped, {} rejected",
            self.passed, self.rejected
        )
    }
}

pub fn run(args: NormalizeArgs) -> Result<ExitCode, String> {
    let NormalizeTarget::Ocsf = args.to;
    let inputs = if args.events.is_empty() { vec!["-".to_string()] } else { args.events };
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut counts = Counts::default();
    // A reader that closed the pipe (`sigil normalize … | head`) ends the output, not the run.
    let mut closed = false;
    let mut error: Option<io::Error> = None;
    for path in &inputs {
        let reader = match input::open(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("sigil: cannot read {path}: {e}");
                counts.unreadable += 1;
                continue;
            }
        };
        let mut write = |bytes: &[u8], flush: bool| {
            if closed || error.is_some() {
                return;
            }
            let result = out.write_all(bytes).and_then(|_| if flush { out.flush() } else { Ok(()) });
            match result {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => closed = true,
                Err(e) => error = Some(e),
                Ok(()) => {}
            }
        };
        let result = input::read_raw(reader, &mut |raw| {
            if matches!(raw, Raw::Idle) {
                // Streaming: what was read so far reaches the reader while standard input is open.
                write(b"", true);
                return;
            }
            // The record as read, to pass through unchanged (parsing may lay some layouts flat).
            let original = match &raw {
                Raw::Parsed { record: Ok(value), .. } => Some(value),
                _ => None,
            };
            input::parse(&raw, &mut |line, record| {
                let event = match record {
                    Ok(event) => event,
                    Err(reason) => {
                        counts.rejected += 1;
                        eprintln!("sigil: {path}:{line}: malformed event: {reason}");
                        return;
                    }
                };
                let value = event.doc.to_value();
                let mut text = match ocsf::normalize(&value) {
                    Some(mapped) => {
                        *counts.mapped.entry(mapped["class_uid"].as_u64().unwrap_or(0)).or_default() += 1;
                        serde_json::to_string(&mapped).expect("a Value serializes")
                    }
                    None => {
                        counts.passed += 1;
                        // Unchanged: the line or the record as read, when the event is all of it.
                        match (event.text, original) {
                            (Some(text), _) => text.to_string(),
                            (None, Some(record)) => record.to_string(),
                            (None, None) => value.to_string(),
                        }
                    }
                };
                text.push('\n');
                write(text.as_bytes(), false);
            });
        });
        if let Err(e) = result {
            eprintln!("sigil: error while reading {path}: {e}");
            counts.unreadable += 1;
        }
    }
    if !closed && error.is_none() {
        if let Err(e) = out.flush() {
            if e.kind() != io::ErrorKind::BrokenPipe {
                error = Some(e);
            }
        }
    }
    eprintln!("{}", counts.summary());
    if let Some(e) = error {
        return Err(format!("cannot write the output: {e}"));
    }
    Ok(if counts.unreadable > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_each_class() {
        let mut counts = Counts { passed: 3, ..Counts::default() };
        counts.mapped.insert(6003, 8);
        counts.mapped.insert(3002, 4);
        assert_eq!(
            counts.summary(),
            "normalized: 12 events mapped (3002: 4, 6003: 8), 3 passed through unmapped, 0 rejected"
        );
        assert_eq!(Counts::default().summary(), "normalized: 0 events mapped, 0 passed through unmapped, 0 rejected");
    }
}
