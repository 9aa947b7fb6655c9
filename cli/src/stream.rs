//! The stream every evaluating command shares: worker threads take batches of raw records
//! (each keeping its file and line) from a [`Source`], reading each for themselves, and
//! evaluate them; the calling thread gets their results to put back in sequence order. `hunt`
//! and `search` run this way; what a worker does with a batch and how results are written is
//! theirs.
//!
//! Reading starts first ([`Reading::start`]), before the command loads its rules, on a thread
//! that reads ahead while they load (given a second core), and beyond only when a core is left
//! over for it.

use crate::batch_source::{Ahead, Source};
use crate::filters::TimeWindow;
use crate::input;
use crate::record_run::RecordRun;
use indicatif::{ProgressBar, ProgressStyle};
use sigil_engine::alert::event_time_ms;
use sigil_engine::enrich::Lookup;
use sigil_engine::json::Json;
use sigil_engine::Scratch;
use std::io::{self, IsTerminal};
use std::sync::{mpsc, Arc, OnceLock};

/// Batches the reading thread may read while the rules load: at most 64 MiB (plus the line that
/// closes each batch). `hunt --pack` with SigmaHQ's rules/windows loads in ~18 ms, in which one
/// core reads ~28 batches of the OTRF sample.
const WHILE_LOADING: usize = 32;
/// With a core to spare, batches the reading thread may keep ready per worker. Fewer is faster
/// while the workers keep up (lines still in cache when a worker reads them): 2 rather than 4
/// took 0.83 -> 0.82 s over the OTRF sample; 1 measured the same as 2.
const PER_WORKER: usize = 2;

/// The inputs being read, and the batches read ahead.
pub struct Reading {
    source: Arc<Source>,
}

impl Reading {
    /// Starts reading `inputs` ahead on a thread of its own, for `threads` workers to come.
    /// Dropping the result stops that thread at its next batch.
    pub fn start(inputs: &[String], limits: &input::Limits, threads: usize) -> Result<Reading, String> {
        let cores = cores();
        // Without a core of its own, the reading thread would take turns with a worker on its
        // core: the workers read for themselves once they run. (Bounded whatever `--threads`
        // says: a deeper queue keeps no more workers busy.)
        let running = if threads < cores { threads.saturating_mul(PER_WORKER).min(WHILE_LOADING) } else { 0 };
        // On one core, reading while the rules load only takes turns with the load, and leaves
        // its batches out of the cache by the time a worker gets them.
        let while_loading = if cores > 1 { WHILE_LOADING } else { 0 };
        let source = Arc::new(Source::new(inputs, limits, Ahead { while_loading, running }));
        if while_loading > 0 || running > 0 {
            let reading = Arc::clone(&source);
            std::thread::Builder::new()
                .name("sigil-reader".into())
                .spawn(move || reading.read_ahead())
                .map_err(|e| format!("cannot start the reader thread: {e}"))?;
        }
        Ok(Reading { source })
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        self.source.abandon();
    }
}

/// The cores this process may run on (its CPU affinity and quota), asked once: the answer reads
/// cgroup files, and both the number of workers and `Reading::start` need it.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The worker threads `--threads` asks for: by default one per core.
pub fn threads(requested: Option<usize>) -> Result<usize, String> {
    match requested {
        Some(0) => Err("--threads must be at least 1".into()),
        Some(n) => Ok(n),
        None => Ok(cores()),
    }
}

/// Raw records of one input, in order (also what `sigil search`'s workers take).
pub struct Batch {
    pub seq: u64,
    pub file: Arc<str>,
    pub records: RecordRun,
    /// Messages that belong at this point of the output (an unreadable input, say).
    pub notes: Vec<String>,
    pub unreadable: u64,
}

/// What decides which of a batch's events are evaluated, and what is joined onto them: the same
/// for every command.
#[derive(Clone, Copy)]
pub struct Admission<'a> {
    /// `--from`/`--to`: events outside are counted, never evaluated.
    pub window: Option<TimeWindow>,
    pub timestamp_field: Option<&'a str>,
    pub lookups: &'a [Lookup],
}

/// A well-formed event inside the window, with the lookups joined onto it.
pub struct Admitted<'e> {
    pub line: u64,
    pub event: Json<'e>,
    /// The event's JSON text, while the event is still just that text (no lookup joined a row
    /// onto it): the engine's keyword shortcut reads it.
    pub text: Option<&'e str>,
    /// The event's time when the window read it (`None`: not read, there is no window).
    pub time: Option<Option<i64>>,
}

/// What the workers counted of the records they took, added up in input order.
#[derive(Default, Clone, Copy)]
pub struct Tally {
    pub read: u64,
    pub rejected: u64,
    /// Inputs that could not be read.
    pub unreadable: u64,
    /// Events outside --from/--to, and of those the ones without a readable time.
    pub outside_window: u64,
    pub untimed: u64,
}

impl Tally {
    pub fn add(&mut self, other: Tally) {
        self.read += other.read;
        self.rejected += other.rejected;
        self.unreadable += other.unreadable;
        self.outside_window += other.outside_window;
        self.untimed += other.untimed;
    }

    /// The final report's count of events, as `hunt` and `search` both print it (`windowed`:
    /// with `--from`/`--to`).
    pub fn events_line(&self, windowed: bool) -> String {
        let Tally { read, rejected, outside_window, untimed, .. } = self;
        match windowed {
            false => format!("events: {read} read, {rejected} rejected"),
            true => format!(
                "events: {read} read, {rejected} rejected, {outside_window} outside --from/--to ({untimed} of them without a time)"
            ),
        }
    }
}

impl Batch {
    /// Hands `each` the batch's events that are well formed and inside the window, in order,
    /// with the lookups joined; counts every record in `tally`, and notes each malformed one in
    /// `notes`. The window reads each event as it was read, before any lookup joins a row onto
    /// it, as a relative `--from` read the inputs to find the newest time (and an event left out
    /// costs no lookup).
    pub fn admitted_events(
        &self,
        admission: &Admission<'_>,
        tally: &mut Tally,
        notes: &mut Vec<String>,
        each: &mut dyn FnMut(Admitted<'_>),
    ) {
        let Admission { window, timestamp_field, lookups } = *admission;
        self.records.events(&mut |line, record| {
            tally.read += 1;
            let (mut event, mut text) = match record {
                Ok(input::Event { doc, text }) => (doc, text),
                Err(reason) => {
                    tally.rejected += 1;
                    notes.push(format!("sigil: {}:{line}: malformed event: {reason}", self.file));
                    return;
                }
            };
            // Read only when a window needs it: most events raise nothing and need no time.
            let time = window.map(|_| event_time_ms(&event, timestamp_field));
            if let (Some(window), Some(time)) = (window, time) {
                if !window.admits(time) {
                    tally.outside_window += 1;
                    tally.untimed += u64::from(time.is_none());
                    return;
                }
            }
            for table in lookups {
                // Joined values are not in the event's text: its keyword shortcut no longer holds.
                if table.apply(&mut event) {
                    text = None;
                }
            }
            each(Admitted { line, event, text, time });
        });
    }
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
    let source = &*reading.source;
    let (done_tx, done_rx) = mpsc::channel::<D>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let evaluate = &evaluate;
            scope.spawn(move || {
                let mut scratch = Scratch::default();
                while let Some(batch) = source.next() {
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
