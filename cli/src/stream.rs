//! The stream every evaluating command shares: one reader thread splits the inputs into batches
//! of raw records (each keeping its file and line), worker threads evaluate batches, and the
//! calling thread gets their results to put back in sequence order. `hunt` and `search` run
//! this way; what a worker does with a batch and how results are written is theirs.

use crate::input::{self, Raw};
use indicatif::{ProgressBar, ProgressStyle};
use sigil_engine::Scratch;
use std::io::{self, IsTerminal};
use std::sync::{mpsc, Arc};

pub const BATCH: usize = 512;

/// Raw records of one input, in order (also what `sigil search`'s workers take).
pub struct Batch {
    pub seq: u64,
    pub file: Arc<str>,
    pub items: Vec<Raw>,
    /// Messages that belong at this point of the output (an unreadable input, say).
    pub notes: Vec<String>,
    pub unreadable: u64,
}

/// Reads `inputs` into batches on one thread, evaluates them on `threads` workers (each with
/// its own `Scratch`) and hands the results, as they finish, to `write` on the calling thread,
/// which puts them back in sequence order. When `write` returns early, the workers stop, and
/// then the reader. `hunt` and `search` both run this way.
pub fn run_batches<D: Send, R>(
    inputs: &[String],
    limits: &input::Limits,
    threads: usize,
    evaluate: impl Fn(&mut Scratch, Batch) -> D + Sync,
    write: impl FnOnce(mpsc::Receiver<D>) -> R,
) -> R {
    let (work_tx, work_rx) = mpsc::sync_channel::<Batch>(threads * 4);
    let work_rx = Arc::new(std::sync::Mutex::new(work_rx));
    let (done_tx, done_rx) = mpsc::channel::<D>();
    std::thread::scope(|scope| {
        scope.spawn(move || read_inputs(inputs, limits, work_tx));
        for _ in 0..threads {
            let work_rx = Arc::clone(&work_rx);
            let done_tx = done_tx.clone();
            let evaluate = &evaluate;
            scope.spawn(move || {
                let mut scratch = Scratch::default();
                loop {
                    // (Taken in a statement of its own: the queue's lock must not be held while
                    // the batch is evaluated.)
                    let batch = match work_rx.lock().expect("work queue").recv() {
                        Ok(b) => b,
                        Err(_) => break,
                    };
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
        // The workers hold the queue now: when the writer stops early, they stop, and so does the reader.
        drop(work_rx);
        write(done_rx)
    })
}

pub fn read_inputs(inputs: &[String], limits: &input::Limits, work: mpsc::SyncSender<Batch>) {
    let mut seq = 0u64;
    let mut send = |file: &Arc<str>, items: Vec<Raw>, notes: Vec<String>, unreadable: u64| {
        let ok = work.send(Batch { seq, file: Arc::clone(file), items, notes, unreadable }).is_ok();
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
        let mut stopped = false;
        let result = input::read_raw(reader, limits, &mut |raw| {
            if stopped {
                return;
            }
            // A quiet input gets what it has evaluated now: alerts stream while stdin is open.
            let idle = matches!(raw, Raw::Idle);
            if !idle {
                items.push(raw);
            }
            if items.len() == BATCH || (idle && !items.is_empty()) {
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
