//! The stream every evaluating command shares: one reader thread splits the inputs into batches
//! of raw records (each keeping its file and line), worker threads evaluate batches, and the
//! calling thread gets their results to put back in sequence order. `hunt` and `search` run
//! this way; what a worker does with a batch and how results are written is theirs.
//!
//! The reader starts first ([`Reading::start`]), before the command loads its rules, so that a
//! second core spends the load reading: its queue is deep enough to hold what it reads meanwhile.

use crate::batch_queue;
use crate::input::{self, Raw};
use indicatif::{ProgressBar, ProgressStyle};
use sigil_engine::Scratch;
use std::io::{self, IsTerminal};
use std::sync::{mpsc, Arc};

pub const BATCH: usize = 512;
/// A batch also goes out once its lines hold this many bytes, so that the queue is bounded in
/// bytes too (a batch of long lines would otherwise hold 512 of them).
const BATCH_BYTES: usize = 2 << 20;
/// Batches the reader may read while the rules load: with [`BATCH_BYTES`], at most 64 MiB (plus
/// the line that closes each batch). `hunt --pack` with SigmaHQ's rules/windows loads in ~18 ms,
/// in which one core reads ~28 batches of the OTRF sample.
const WHILE_LOADING: usize = 32;
/// Batches the reader may be ahead of each worker once they run. Fewer is faster while the
/// workers keep up (lines still in cache when a worker reads them): 2 rather than 4 took one core
/// 0.83 -> 0.82 s and two threads 0.45 -> 0.44 s over the OTRF sample; 1 measured the same as 2.
const PER_WORKER: usize = 2;

/// A reader thread under way, and the batches it hands on.
pub struct Reading {
    batches: batch_queue::Receiver<Batch>,
}

impl Reading {
    /// Starts reading `inputs` on a thread of its own, for `threads` workers to come. Dropping
    /// the result stops the reader at its next batch.
    pub fn start(inputs: &[String], limits: &input::Limits, threads: usize) -> Result<Reading, String> {
        // Bounded whatever `--threads` says: a deeper queue keeps no more workers busy.
        let running = threads.saturating_mul(PER_WORKER).min(WHILE_LOADING);
        let (work, batches) = batch_queue::bounded(WHILE_LOADING, running);
        let (inputs, limits) = (inputs.to_vec(), *limits);
        std::thread::Builder::new()
            .name("sigil-reader".into())
            .spawn(move || read_inputs(&inputs, &limits, work))
            .map_err(|e| format!("cannot start the reader thread: {e}"))?;
        Ok(Reading { batches })
    }
}

/// Raw records of one input, in order (also what `sigil search`'s workers take).
pub struct Batch {
    pub seq: u64,
    pub file: Arc<str>,
    pub items: Vec<Raw>,
    /// Messages that belong at this point of the output (an unreadable input, say).
    pub notes: Vec<String>,
    pub unreadable: u64,
}

/// Evaluates the batches of `reading` on `threads` workers (each with its own `Scratch`) and
/// hands the results, as they finish, to `write` on the calling thread, which puts them back in
/// sequence order. When `write` returns early, the workers stop, and then the reader. `hunt` and
/// `search` both run this way.
pub fn run_batches<D: Send, R>(
    reading: Reading,
    threads: usize,
    evaluate: impl Fn(&mut Scratch, Batch) -> D + Sync,
    write: impl FnOnce(mpsc::Receiver<D>) -> R,
) -> R {
    let batches = &reading.batches;
    let (done_tx, done_rx) = mpsc::channel::<D>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let evaluate = &evaluate;
            scope.spawn(move || {
                let mut scratch = Scratch::default();
                while let Some(batch) = batches.recv() {
                    if done_tx.send(evaluate(&mut scratch, batch)).is_err() {
                        break;
                    }
                }
                // The command ends with the stream: what the scratch holds (remembered values,
                // routes, regex caches) goes with the process rather than being freed piece by
                // piece while the last batches wait to be written.
                std::mem::forget(scratch);
            });
        }
        drop(done_tx);
        write(done_rx)
    })
    // `reading` goes here, after the workers: when the writer stopped early, so does the reader.
}

fn read_inputs(inputs: &[String], limits: &input::Limits, work: batch_queue::Sender<Batch>) {
    let mut seq = 0u64;
    let mut send = |file: &Arc<str>, items: Vec<Raw>, notes: Vec<String>, unreadable: u64| {
        let ok = work.send(Batch { seq, file: Arc::clone(file), items, notes, unreadable });
        seq += 1;
        ok
    };
    for path in inputs {
        let file: Arc<str> = Arc::from(path.as_str());
        let reader = match input::open(path) {
            Ok(r) => r,
            Err(e) => {
                if !send(&file, Vec::new(), vec![format!("sigil: cannot read {path}: {e}")], 1) {
                    return;
                }
                continue;
            }
        };
        let mut items = Vec::with_capacity(BATCH);
        let mut bytes = 0;
        let mut stopped = false;
        let result = input::read_raw(reader, limits, &mut |raw| {
            if stopped {
                return;
            }
            // A quiet input gets what it has evaluated now: alerts stream while stdin is open.
            let idle = matches!(raw, Raw::Idle);
            if let Raw::Line { text, .. } = &raw {
                bytes += text.len();
            }
            if !idle {
                items.push(raw);
            }
            if items.len() == BATCH || bytes >= BATCH_BYTES || (idle && !items.is_empty()) {
                bytes = 0;
                stopped = !send(&file, std::mem::replace(&mut items, Vec::with_capacity(BATCH)), Vec::new(), 0);
            }
        });
        let (notes, unreadable) = match result {
            Ok(()) => (Vec::new(), 0),
            Err(e) => (vec![format!("sigil: error while reading {path}: {e}")], 1),
        };
        if stopped || !send(&file, items, notes, unreadable) {
            return;
        }
    }
}

/// A spinner with the events read, on a terminal only.
pub fn progress_bar() -> Option<ProgressBar> {
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {human_pos} events, {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    Some(bar)
}
