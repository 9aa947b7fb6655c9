//! The queue between the reader thread and the workers: bounded, and deeper until the first
//! worker asks for a batch. Reading starts while the rules load; what it reads meanwhile waits
//! here, so that a second core spends the load reading. Once the workers run, the reader stays
//! only a few batches ahead of them: a reader far ahead made one-core hunts slower (0.77 -> 0.82 s
//! over the OTRF sample with 32 batches ahead instead of 4), its lines leaving the cache before a
//! worker read them.
//!
//! It never looks inside what it holds. (std's `sync_channel` has one fixed bound; this is the
//! same queue, a mutex and a condition variable, with a bound that changes once.)

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

struct State<T> {
    items: VecDeque<T>,
    /// A worker has asked for a batch: the bound is `running` from now on.
    started: bool,
    /// The sender is gone: no more items will come.
    closed: bool,
    /// The receiver is gone: items sent would never be taken.
    abandoned: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
    /// How many items may wait before the first `recv`, and after it.
    before_start: usize,
    running: usize,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No code holding the lock can panic, but a poisoned queue is still a queue.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State<T>>) -> MutexGuard<'a, State<T>> {
        self.changed.wait(guard).unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks one end gone and wakes whoever waits at the other.
    fn end(&self, mark: impl FnOnce(&mut State<T>)) {
        mark(&mut self.lock());
        self.changed.notify_all();
    }
}

/// The reader's end.
pub struct Sender<T>(Arc<Shared<T>>);

/// The workers' end, shared by reference among them.
pub struct Receiver<T>(Arc<Shared<T>>);

/// A queue that holds up to `before_start` items until the first [`Receiver::recv`], and up
/// to `running` after it.
pub fn bounded<T>(before_start: usize, running: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State { items: VecDeque::new(), started: false, closed: false, abandoned: false }),
        changed: Condvar::new(),
        before_start: before_start.max(1),
        running: running.max(1),
    });
    (Sender(Arc::clone(&shared)), Receiver(shared))
}

impl<T> Sender<T> {
    /// Adds `item` when there is room, waiting for it; `false` (and `item` dropped) once the
    /// receiver is gone.
    pub fn send(&self, item: T) -> bool {
        let shared = &self.0;
        let mut state = shared.lock();
        loop {
            if state.abandoned {
                return false;
            }
            let bound = if state.started { shared.running } else { shared.before_start };
            if state.items.len() < bound {
                state.items.push_back(item);
                shared.changed.notify_all();
                return true;
            }
            state = shared.wait(state);
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.0.end(|state| state.closed = true);
    }
}

impl<T> Receiver<T> {
    /// The oldest item, waiting for one; `None` once the sender is gone and nothing is left.
    pub fn recv(&self) -> Option<T> {
        let shared = &self.0;
        let mut state = shared.lock();
        state.started = true;
        loop {
            if let Some(item) = state.items.pop_front() {
                shared.changed.notify_all();
                return Some(item);
            }
            if state.closed {
                return None;
            }
            state = shared.wait(state);
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.0.end(|state| state.abandoned = true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Sends 0.. on a thread until the queue refuses one or `limit` are sent; returns how many
    /// were accepted once the sender is left waiting (or done).
    fn fill(sender: Sender<u32>, limit: u32) -> std::thread::JoinHandle<u32> {
        std::thread::spawn(move || {
            let mut sent = 0;
            while sent < limit && sender.send(sent) {
                sent += 1;
            }
            sent
        })
    }

    fn waiting(receiver: &Receiver<u32>) -> usize {
        receiver.0.lock().items.len()
    }

    /// Waits (up to 10 s: the filler thread may be slow to run on a busy machine) until
    /// `expected` items wait, and says how many do.
    fn settles_at(receiver: &Receiver<u32>, expected: usize) -> usize {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while waiting(receiver) != expected && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        waiting(receiver)
    }

    #[test]
    fn the_bound_is_deep_before_the_first_receive_and_shallow_after() {
        let (sender, receiver) = bounded::<u32>(6, 2);
        let filler = fill(sender, 100);
        assert_eq!(settles_at(&receiver, 6), 6);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(waiting(&receiver), 6, "no more than the bound before the first receive");
        assert_eq!(receiver.recv(), Some(0));
        // Started: the sender waits until fewer than 2 wait, so it adds nothing while 5 do.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(waiting(&receiver), 5);
        for expected in 1..6 {
            assert_eq!(receiver.recv(), Some(expected));
        }
        assert_eq!(settles_at(&receiver, 2), 2);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(waiting(&receiver), 2, "no more than the running bound");
        let rest: Vec<u32> = std::iter::from_fn(|| receiver.recv()).collect();
        assert_eq!(rest, (6..100).collect::<Vec<_>>(), "every item, in order");
        assert_eq!(filler.join().unwrap(), 100);
    }

    #[test]
    fn a_dropped_receiver_stops_the_sender_and_a_dropped_sender_ends_the_stream() {
        let (sender, receiver) = bounded::<u32>(3, 1);
        let filler = fill(sender, u32::MAX);
        assert_eq!(settles_at(&receiver, 3), 3);
        drop(receiver);
        assert_eq!(filler.join().unwrap(), 3, "the waiting sender was told to stop");

        let (sender, receiver) = bounded::<u32>(3, 1);
        assert!(sender.send(7));
        drop(sender);
        assert_eq!(receiver.recv(), Some(7));
        assert_eq!(receiver.recv(), None);
    }
}
