//! Inputs read as raw records and gathered into batches of whole JSON Lines, for the engines
//! that take text rather than parsed events: the Wasm guest (`hunt --runtime wasm`) and
//! `sigil edge`'s runners. Line numbers are kept (blank lines pad the gaps, so the engine counts
//! lines from a batch's first one), and records of arrays and EVTX files go as one line each,
//! at their positions. This module never evaluates anything: what a batch means is the caller's.

use crate::input::{self, Lent, Raw};

/// Lines per batch, and the text size at which a batch goes out early: never one call per
/// event, and never more than a few MiB of guest memory per call.
const BATCH_LINES: usize = 2048;
const BATCH_BYTES: usize = 4 << 20;

/// Consecutive lines of one input: `text` holds lines `first..next`, of which `lines` are
/// events (the others are blank padding).
#[derive(Debug, Default)]
pub struct Batch {
    pub first: u64,
    pub next: u64,
    pub lines: usize,
    pub text: String,
}

/// What the reader hands on, in input order.
pub enum Step {
    Batch(Batch),
    /// A record the reader could not even turn into text (an EVTX record it failed to parse).
    Rejected {
        position: u64,
        reason: String,
    },
}

/// Reads every input (`-` is standard input) and hands `out` each batch and each rejected
/// record, with the input's name. An input that cannot be opened or read to the end is
/// reported on standard error and counted (the others are still read); the count is returned.
/// The first error `out` returns stops the reading and is returned.
pub fn read_inputs<E>(
    inputs: &[String],
    limits: &input::Limits,
    out: &mut impl FnMut(&str, Step) -> Result<(), E>,
) -> Result<u64, E> {
    let mut unreadable = 0;
    for path in inputs {
        let reader = match input::open(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("sigil: cannot read {path}: {e}");
                unreadable += 1;
                continue;
            }
        };
        let mut open = Batch::default();
        // Each line is copied straight from the reader's line buffer into the batch's text.
        let result = input::Records::new(reader, limits).and_then(|mut records| {
            while let Some(record) = records.next_lent()? {
                if let Err(e) = take(&mut open, record, &mut |step| out(path, step)) {
                    return Ok(Err(e));
                }
            }
            Ok(Ok(()))
        });
        let read = match result {
            Ok(Err(e)) => return Err(e),
            Ok(Ok(())) => Ok(()),
            Err(e) => Err(e),
        };
        hand_on(&mut open, &mut |step| out(path, step))?;
        if let Err(e) = read {
            eprintln!("sigil: error while reading {path}: {e}");
            unreadable += 1;
        }
    }
    Ok(unreadable)
}

/// Adds one raw record to the open batch, handing on the batch first when the record cannot
/// join it (an idle input, numbering that goes back, a rejected record) and after it when full.
fn take<E>(open: &mut Batch, record: Lent<'_>, out: &mut impl FnMut(Step) -> Result<(), E>) -> Result<(), E> {
    let owned;
    let (number, line) = match record {
        Lent::Line { number, text } => (number, text),
        Lent::Other(Raw::Idle) => return hand_on(open, out),
        Lent::Other(Raw::Line { number, text }) => {
            owned = text;
            (number, owned.as_str())
        }
        Lent::Other(Raw::Parsed { position, record: Ok(value) }) => {
            owned = value.to_string();
            (position, owned.as_str())
        }
        Lent::Other(Raw::Parsed { position, record: Err(reason) }) => {
            hand_on(open, out)?;
            return out(Step::Rejected { position, reason });
        }
    };
    if open.lines > 0 && number < open.next {
        hand_on(open, out)?;
    }
    if open.lines == 0 {
        open.first = number;
        open.next = number;
        // Room for a whole batch at once: grown by doubling, each batch's text was copied once
        // more on its way (`hunt --runtime wasm` over the OTRF sample: 1.36–1.46 → 1.33–1.41 s).
        open.text.reserve(BATCH_BYTES + line.len() + 1);
    }
    while open.next < number {
        open.text.push('\n');
        open.next += 1;
    }
    open.text.push_str(line.trim_end_matches(['\n', '\r']));
    open.text.push('\n');
    open.next += 1;
    open.lines += 1;
    if open.lines >= BATCH_LINES || open.text.len() >= BATCH_BYTES {
        hand_on(open, out)?;
    }
    Ok(())
}

fn hand_on<E>(open: &mut Batch, out: &mut impl FnMut(Step) -> Result<(), E>) -> Result<(), E> {
    if open.lines == 0 {
        return Ok(());
    }
    out(Step::Batch(std::mem::take(open)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(raws: Vec<Raw>) -> Vec<String> {
        let mut open = Batch::default();
        let mut seen = Vec::new();
        let mut out = |step: Step| -> Result<(), ()> {
            seen.push(match step {
                Step::Batch(b) => format!("batch {}..{} ({} lines): {:?}", b.first, b.next, b.lines, b.text),
                Step::Rejected { position, reason } => format!("rejected {position}: {reason}"),
            });
            Ok(())
        };
        for raw in raws {
            take(&mut open, Lent::Other(raw), &mut out).unwrap();
        }
        hand_on(&mut open, &mut out).unwrap();
        seen
    }

    fn line(number: u64, text: &str) -> Raw {
        Raw::Line { number, text: text.to_string() }
    }

    #[test]
    fn gaps_are_padded_and_rejections_and_idle_inputs_end_a_batch() {
        let seen = steps(vec![
            line(1, "{\"a\":1}\n"),
            line(3, "{\"a\":3}\r\n"),
            Raw::Parsed { position: 4, record: Err("bad record".into()) },
            line(5, "{\"a\":5}"),
            Raw::Idle,
            Raw::Parsed { position: 6, record: Ok(serde_json::json!({"a": 6})) },
            line(2, "{\"again\":2}"),
        ]);
        assert_eq!(
            seen,
            [
                "batch 1..4 (2 lines): \"{\\\"a\\\":1}\\n\\n{\\\"a\\\":3}\\n\"",
                "rejected 4: bad record",
                "batch 5..6 (1 lines): \"{\\\"a\\\":5}\\n\"",
                "batch 6..7 (1 lines): \"{\\\"a\\\":6}\\n\"",
                "batch 2..3 (1 lines): \"{\\\"again\\\":2}\\n\"",
            ]
        );
    }
}
