//! `sigil normalize --to ocsf`: events in (read as `sigil hunt` reads them), one OCSF object per
//! line out, mapped by `sigil_ocsf`. An event that no mapping covers is written unchanged and counted, never dropped;
//! a malformed one is reported with its file and line, and counted as rejected.

use crate::input::{self, Raw};
use crate::{NormalizeArgs, NormalizeTarget};
use sigil_ocsf::{normalize_record, Counts};
use std::io::{self, Write};
use std::process::ExitCode;

pub fn run(args: NormalizeArgs) -> Result<ExitCode, String> {
    let NormalizeTarget::Ocsf = args.to;
    let inputs = input::or_stdin(&args.events);
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut counts = Counts::default();
    let mut unreadable = 0u64;
    // A reader that closed the pipe (`sigil normalize … | head`) ends the output, not the run.
    let mut closed = false;
    let mut error: Option<io::Error> = None;
    for path in &inputs {
        let reader = match input::open(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("sigil: cannot read {path}: {e}");
                unreadable += 1;
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
        let result = input::read_raw(reader, &args.limits, &mut |raw| {
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
                // Unmapped, the line or the record as read when the event is all of it.
                let mut text = normalize_record(
                    &value,
                    || match (event.text, original) {
                        (Some(text), _) => text.to_string(),
                        (None, Some(record)) => record.to_string(),
                        (None, None) => value.to_string(),
                    },
                    &mut counts,
                );
                text.push('\n');
                write(text.as_bytes(), false);
            });
        });
        if let Err(e) = result {
            eprintln!("sigil: error while reading {path}: {e}");
            unreadable += 1;
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
    Ok(if unreadable > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
