//! Where a stream's workers get their batches: each worker reads the next batch of the inputs
//! for itself, under a lock, and a reading thread reads ahead only while a core would otherwise
//! sit idle: while the rules load, and throughout when there are fewer workers than cores.
//!
//! A worker that reads its own batch parses lines still in its core's cache, and no core is
//! shared between a reader and a worker: over the OTRF sample with SigmaHQ's rules/windows, a
//! dedicated reader thread took one pinned core 0.812 s where workers reading for themselves took
//! 0.797 s, and two threads on two cores 0.453 s against 0.432 s (means of 12 runs, ABBA order).
//!
//! This module cuts inputs into batches and hands them out in sequence order of reading; what
//! a batch holds is [`crate::input`]'s, what is done with it the worker's.

use crate::input::{self, Records, Step};
use crate::record_run::RecordRun;
use crate::stream::Batch;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};

/// Raw records per batch.
const BATCH: usize = 512;
/// A batch also closes once its lines hold this many bytes, so that what waits is bounded in
/// bytes too (a batch of long lines would otherwise hold 512 of them).
const BATCH_BYTES: usize = 2 << 20;

/// How far the reading thread may read ahead.
#[derive(Debug, Clone, Copy)]
pub struct Ahead {
    /// Batches it may read before the first worker asks for one (while the rules load).
    pub while_loading: usize,
    /// Batches it may keep ready once the workers run; 0 stops it when the first worker asks.
    pub running: usize,
}

/// The inputs, cut into batches on demand, and the batches read ahead.
pub struct Source {
    /// The reading position. Taken before `ready` by whoever holds both, so that a batch read
    /// ahead is in `ready` by the time another thread can take the reader.
    reader: Mutex<Reader>,
    ready: Mutex<Ready>,
    changed: Condvar,
    ahead: Ahead,
}

struct Ready {
    batches: VecDeque<Batch>,
    /// A worker has asked for a batch: the bound is `Ahead::running` from now on.
    started: bool,
    /// Nobody will ask any more: the reading thread stops.
    abandoned: bool,
    /// Every input has been read.
    finished: bool,
}

impl Source {
    pub fn new(inputs: &[String], limits: &input::Limits, ahead: Ahead) -> Source {
        Source {
            reader: Mutex::new(Reader::new(inputs, limits)),
            ready: Mutex::new(Ready { batches: VecDeque::new(), started: false, abandoned: false, finished: false }),
            changed: Condvar::new(),
            ahead,
        }
    }

    /// The next batch: one read ahead, else the next one read now, on the caller's thread;
    /// `None` once every input has been read. A caller never waits for the reader lock: while
    /// another thread reads (perhaps blocked on a quiet standard input), it waits for a batch to
    /// be ready or the reader to be free, so that a batch read ahead is never held up behind
    /// a read.
    pub fn next(&self) -> Option<Batch> {
        let mut ready = self.ready();
        ready.started = true;
        loop {
            if let Some(batch) = ready.batches.pop_front() {
                self.changed.notify_all();
                return Some(batch);
            }
            if ready.finished {
                return None;
            }
            // (`try_lock` while holding `ready`: it never waits, so the lock order holds.)
            let mut reader = match self.reader.try_lock() {
                Ok(reader) => reader,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    ready = self.changed.wait(ready).unwrap_or_else(PoisonError::into_inner);
                    continue;
                }
            };
            // Nothing can join `ready` while this thread holds the reader.
            drop(ready);
            let batch = reader.next_batch();
            ready = self.ready();
            ready.finished |= batch.is_none();
            drop(reader);
            self.changed.notify_all();
            if batch.is_some() {
                return batch;
            }
        }
    }

    /// Reads ahead into `ready` within `Ahead`'s bounds, until the inputs end, the bound falls
    /// to 0 or nobody will ask any more. What the reading thread runs.
    pub fn read_ahead(&self) {
        loop {
            {
                let mut ready = self.ready();
                loop {
                    let bound = if ready.started { self.ahead.running } else { self.ahead.while_loading };
                    if ready.abandoned || ready.finished || bound == 0 {
                        return;
                    }
                    if ready.batches.len() < bound {
                        break;
                    }
                    ready = self.changed.wait(ready).unwrap_or_else(PoisonError::into_inner);
                }
            }
            let mut reader = self.reader();
            let batch = reader.next_batch();
            // Into `ready` before the reader is let go: whoever takes the reader next and finds
            // the inputs done has seen this batch.
            let mut ready = self.ready();
            match batch {
                Some(batch) => ready.batches.push_back(batch),
                None => ready.finished = true,
            }
            drop(reader);
            drop(ready);
            self.changed.notify_all();
        }
    }

    /// Stops the reading thread at its next batch.
    pub fn abandon(&self) {
        self.ready().abandoned = true;
        self.changed.notify_all();
    }

    fn ready(&self) -> MutexGuard<'_, Ready> {
        // No code holding these locks panics, but a poisoned one still guards whole data.
        self.ready.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reader(&self) -> MutexGuard<'_, Reader> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The reading position over every input, in order.
struct Reader {
    inputs: VecDeque<String>,
    limits: input::Limits,
    /// The input being read, by name.
    open: Option<(Arc<str>, Records)>,
    seq: u64,
}

impl Reader {
    fn new(inputs: &[String], limits: &input::Limits) -> Reader {
        Reader { inputs: inputs.iter().cloned().collect(), limits: *limits, open: None, seq: 0 }
    }

    /// The next batch of one input: full, or cut short where the input ends or goes quiet
    /// (alerts then stream while standard input is open). An input that cannot be opened or read
    /// to its end gives a batch with its message, counted as unreadable.
    fn next_batch(&mut self) -> Option<Batch> {
        loop {
            if self.open.is_none() {
                let path = self.inputs.pop_front()?;
                let file: Arc<str> = Arc::from(path.as_str());
                match open(&path, &self.limits) {
                    Ok(records) => self.open = Some((file, records)),
                    Err(note) => return Some(self.batch(file, RecordRun::default(), vec![note])),
                }
            }
            let (file, records) = self.open.as_mut().expect("opened above");
            let file = Arc::clone(file);
            // Room for a full batch's text from the start (one string): grown past the last
            // batch's size, as it was about every other batch, its 1-2 MiB were copied again
            // (one pinned core 738 -> 713 ms, ABBA). Pages never written are never mapped in.
            let mut run = RecordRun::with_capacity(BATCH, BATCH_BYTES + (64 << 10));
            let ended = loop {
                match records.read_into(&mut run) {
                    Ok(Step::Idle) if run.is_empty() => continue,
                    Ok(Step::Idle) => break None,
                    Ok(Step::Kept) => {
                        if run.len() == BATCH || run.text_len() >= BATCH_BYTES {
                            break None;
                        }
                    }
                    Ok(Step::End) => break Some(Vec::new()),
                    Err(e) => break Some(vec![format!("sigil: error while reading {file}: {e}")]),
                }
            };
            let Some(notes) = ended else { return Some(self.batch(file, run, Vec::new())) };
            self.open = None;
            if !run.is_empty() || !notes.is_empty() {
                return Some(self.batch(file, run, notes));
            }
        }
    }

    fn batch(&mut self, file: Arc<str>, records: RecordRun, notes: Vec<String>) -> Batch {
        let unreadable = notes.len() as u64;
        self.seq += 1;
        Batch { seq: self.seq - 1, file, records, notes, unreadable }
    }
}

fn open(path: &str, limits: &input::Limits) -> Result<Records, String> {
    let reader = input::open(path).map_err(|e| format!("sigil: cannot read {path}: {e}"))?;
    Records::new(reader, limits).map_err(|e| format!("sigil: error while reading {path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A file of `n` JSON lines, `{"i":N}` on line N (line 3 is blank).
    fn lines_file(dir: &tempfile::TempDir, name: &str, n: u64) -> String {
        let text: String =
            (1..=n).map(|i| if i == 3 { "\n".to_string() } else { format!("{{\"i\":{i}}}\n") }).collect();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn reading_ahead(source: &Arc<Source>) -> std::thread::JoinHandle<()> {
        let source = Arc::clone(source);
        std::thread::spawn(move || source.read_ahead())
    }

    /// A source over one file of `batches` full batches, its reading thread started and settled
    /// at the bound while loading.
    fn read_ahead_over(batches: u64, ahead: Ahead) -> (tempfile::TempDir, Arc<Source>, std::thread::JoinHandle<()>) {
        let dir = tempfile::tempdir().unwrap();
        let inputs = [lines_file(&dir, "e.jsonl", batches * BATCH as u64)];
        let source = Arc::new(Source::new(&inputs, &input::Limits::default(), ahead));
        let thread = reading_ahead(&source);
        assert!(settles(|| waiting(&source) == ahead.while_loading));
        (dir, source, thread)
    }

    fn waiting(source: &Source) -> usize {
        source.ready().batches.len()
    }

    /// Polls (up to 10 s: a busy machine may be slow to run the reading thread) until `done`.
    fn settles(done: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        done()
    }

    /// Every batch's (seq, file, line numbers, notes).
    fn contents(batches: &[Batch]) -> Vec<(u64, String, Vec<u64>, Vec<String>)> {
        let mut all: Vec<_> =
            batches.iter().map(|b| (b.seq, b.file.to_string(), b.records.line_numbers(), b.notes.clone())).collect();
        all.sort();
        all
    }

    #[test]
    fn every_record_reaches_one_worker_once_in_sequence_with_the_reader_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let big = lines_file(&dir, "big.jsonl", 2000);
        let missing = dir.path().join("missing.jsonl").to_str().unwrap().to_string();
        let small = lines_file(&dir, "small.jsonl", 2);
        let inputs = [big.clone(), missing.clone(), small.clone()];
        let source = Arc::new(Source::new(&inputs, &input::Limits::default(), Ahead { while_loading: 3, running: 2 }));
        let ahead = reading_ahead(&source);
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let source = Arc::clone(&source);
                std::thread::spawn(move || std::iter::from_fn(|| source.next()).collect::<Vec<_>>())
            })
            .collect();
        let batches: Vec<Batch> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        ahead.join().unwrap();
        let got = contents(&batches);
        assert_eq!(got.iter().map(|b| b.0).collect::<Vec<_>>(), (0..got.len() as u64).collect::<Vec<_>>());
        let big_lines: Vec<u64> = got.iter().filter(|b| b.1 == big).flat_map(|b| b.2.clone()).collect();
        assert_eq!(big_lines, (1..=2000).filter(|&i| i != 3).collect::<Vec<_>>(), "every line once, in order");
        assert!(got.iter().filter(|b| b.1 == big).all(|b| b.2.len() <= BATCH));
        let missing_batch: Vec<_> = got.iter().filter(|b| b.1 == missing).collect();
        assert_eq!(missing_batch.len(), 1);
        assert!(missing_batch[0].2.is_empty() && missing_batch[0].3[0].starts_with("sigil: cannot read"));
        assert_eq!(batches.iter().map(|b| b.unreadable).sum::<u64>(), 1);
        let small_lines: Vec<u64> = got.iter().filter(|b| b.1 == small).flat_map(|b| b.2.clone()).collect();
        assert_eq!(small_lines, [1, 2]);
        assert!(source.next().is_none(), "the end stays the end");
    }

    #[test]
    fn the_reading_thread_stops_at_its_bound_and_when_the_workers_start_without_a_core_to_spare() {
        let (_dir, source, ahead) = read_ahead_over(10, Ahead { while_loading: 3, running: 0 });
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(waiting(&source), 3, "no more than the bound while loading");
        assert_eq!(source.next().unwrap().seq, 0);
        assert!(settles(|| ahead.is_finished()), "a running bound of 0 stops the thread once a worker asks");
        assert_eq!(waiting(&source), 2);
        let seqs: Vec<u64> = std::iter::from_fn(|| source.next()).map(|b| b.seq).collect();
        assert_eq!(seqs, (1..10).collect::<Vec<_>>(), "the worker reads the rest for itself");
    }

    #[test]
    fn with_a_core_to_spare_the_thread_keeps_its_running_bound_until_abandoned() {
        let (_dir, source, ahead) = read_ahead_over(20, Ahead { while_loading: 4, running: 2 });
        for expected in 0..3 {
            assert_eq!(source.next().unwrap().seq, expected);
        }
        // One waits; the thread reads one more (the bound is 2) and waits.
        assert!(settles(|| waiting(&source) == 2));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(waiting(&source), 2, "no more than the running bound");
        assert!(!ahead.is_finished());
        source.abandon();
        assert!(settles(|| ahead.is_finished()), "abandoned, the thread stops");
    }
}
