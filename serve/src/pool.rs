//! The worker threads that evaluate request bodies, off the async reactor. A body is admitted
//! to the stream ([`crate::ordered`]) as a worker takes it from the queue, under the queue's
//! lock, so queue order is ticket order: the oldest ticket is always held by a running worker,
//! and a worker waiting for its turn never waits on a body no worker has taken.
//!
//! This module owns that hand-off; evaluation is [`crate::ingest`]'s and ordering
//! [`crate::ordered`]'s.

use crate::ingest::{Evaluated, Evaluator};
use crate::ordered::Stream;
use crate::Shared;
use bytes::Bytes;
use sigil_engine::Scratch;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Mutex};
use tokio::sync::oneshot;

/// A body to evaluate, and where its outcome goes.
pub struct Job {
    pub body: Vec<u8>,
    pub lines: u64,
    pub reply: oneshot::Sender<Done>,
}

/// What a body came to.
pub struct Done {
    /// Lines of the stream before this body.
    pub first_line: u64,
    pub lines: u64,
    pub evaluated: Evaluated,
    /// Correlation (and suppression) alerts it completed.
    pub correlations: u64,
}

/// One worker: takes bodies until the queue closes.
pub fn work(
    evaluator: &Evaluator<'_>,
    stream: &Stream<Box<dyn Write + Send>>,
    jobs: &Mutex<mpsc::Receiver<Job>>,
    shared: &Shared,
) {
    let mut scratch = Scratch::default();
    loop {
        let (job, ticket) = {
            let queue = jobs.lock().unwrap_or_else(|p| p.into_inner());
            let Ok(job) = queue.recv() else { return };
            let ticket = stream.admit(job.lines);
            (job, ticket)
        };
        let Job { body, lines, reply } = job;
        let first_line = ticket.first_line;
        // A bug that panics on one body fails that request only: its ticket gives up its turn
        // as it unwinds, and the reply is dropped (the client gets 503).
        let done = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut evaluated = evaluator.evaluate(&mut scratch, &body, first_line);
            let plan = evaluator.engine.plan();
            let items = std::mem::take(&mut evaluated.items);
            let (correlations, written) = stream.complete(ticket, plan, items, |bytes, state| {
                shared.counts.open_groups.store(state.correlator.open_groups() as u64, Ordering::Relaxed);
                shared.publish(bytes);
            });
            (evaluated, correlations, written)
        }));
        let Ok((evaluated, correlations, written)) = done else {
            eprintln!("sigil: serve: internal error while evaluating a body (its request failed); please report it");
            continue;
        };
        if let Err(e) = written {
            if !shared.output_failed.swap(true, Ordering::SeqCst) {
                eprintln!("sigil: serve: cannot write alerts: {e}: stopping");
            }
            shared.stop.store(true, Ordering::SeqCst);
        }
        let counts = &shared.counts;
        counts.events_read.fetch_add(evaluated.read, Ordering::Relaxed);
        counts.events_rejected.fetch_add(evaluated.rejected.len() as u64, Ordering::Relaxed);
        counts.detections.fetch_add(evaluated.detections, Ordering::Relaxed);
        counts.correlations.fetch_add(correlations, Ordering::Relaxed);
        let _ = reply.send(Done { first_line, lines, evaluated, correlations });
    }
}

/// Splits written alert bytes into lines for subscribers.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = Bytes> + '_ {
    bytes.split_inclusive(|&b| b == b'\n').map(Bytes::copy_from_slice)
}
