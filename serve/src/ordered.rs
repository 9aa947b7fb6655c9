//! The server's one stream of events: a request takes a ticket (and its range of stream lines)
//! when a worker takes its body, is evaluated on that worker, and reaches correlation and
//! output in ticket order. So correlations see events in one definite order, and what the
//! server writes is what `sigil hunt` writes for the request bodies concatenated in ticket
//! order (the `first_line` each reply gives).
//!
//! This module owns that ordering only; it never evaluates an event.

use super::ingest::{Correlations, Item};
use sigil_engine::Plan;
use sigil_seal::LineSink;
use std::io::{self, Write};
use std::sync::{Condvar, Mutex, MutexGuard};

pub struct Stream<W: Write> {
    admission: Mutex<Admission>,
    ordered: Mutex<Ordered<W>>,
    turn_changed: Condvar,
}

#[derive(Default)]
struct Admission {
    next_ticket: u64,
    lines: u64,
}

struct Ordered<W: Write> {
    turn: u64,
    correlations: Correlations,
    sink: LineSink<W>,
}

/// A request's place in the stream. Dropped without [`Stream::complete`] (the request failed
/// after admission), it still gives up its turn, so later requests never wait for it forever.
pub struct Ticket<'a, W: Write> {
    stream: &'a Stream<W>,
    number: u64,
    /// Lines of the stream before this request's body.
    pub first_line: u64,
    done: bool,
}

impl<W: Write> Drop for Ticket<'_, W> {
    fn drop(&mut self) {
        if !self.done {
            let mut ordered = self.stream.wait_for(self.number);
            ordered.turn += 1;
            self.stream.turn_changed.notify_all();
        }
    }
}

impl<W: Write> Stream<W> {
    pub fn new(correlations: Correlations, sink: LineSink<W>) -> Self {
        Stream {
            admission: Mutex::new(Admission::default()),
            ordered: Mutex::new(Ordered { turn: 0, correlations, sink }),
            turn_changed: Condvar::new(),
        }
    }

    /// Places a body of `lines` lines in the stream.
    pub fn admit(&self, lines: u64) -> Ticket<'_, W> {
        let mut admission = self.admission.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = Ticket { stream: self, number: admission.next_ticket, first_line: admission.lines, done: false };
        admission.next_ticket += 1;
        admission.lines += lines;
        ticket
    }

    /// When the ticket's turn comes: feeds its items to the correlations, writes the alerts,
    /// flushes, and hands the alert lines to `written_lines` (still in turn, so whoever it
    /// passes them on to sees them in output order). Returns how many correlation alerts
    /// fired, or the write error.
    pub fn complete(
        &self,
        mut ticket: Ticket<'_, W>,
        plan: &Plan,
        items: Vec<Item>,
        written_lines: impl FnOnce(&[u8], &Correlations),
    ) -> (u64, io::Result<()>) {
        let mut ordered = self.wait_for(ticket.number);
        let Ordered { correlations, sink, .. } = &mut *ordered;
        let (bytes, fired) = correlations.feed(plan, items);
        let written = sink.write_lines(&bytes).and_then(|_| sink.flush());
        written_lines(&bytes, correlations);
        ordered.turn += 1;
        ticket.done = true;
        self.turn_changed.notify_all();
        (fired, written)
    }

    fn wait_for(&self, number: u64) -> MutexGuard<'_, Ordered<W>> {
        let guard = self.ordered.lock().unwrap_or_else(|p| p.into_inner());
        self.turn_changed.wait_while(guard, |o| o.turn != number).unwrap_or_else(|p| p.into_inner())
    }

    pub fn into_parts(self) -> (Correlations, LineSink<W>) {
        let ordered = self.ordered.into_inner().unwrap_or_else(|p| p.into_inner());
        (ordered.correlations, ordered.sink)
    }
}
