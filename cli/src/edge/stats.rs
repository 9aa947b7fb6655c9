//! The counts while `sigil edge` runs: the latest snapshot (as of the last batch) is kept where
//! a signal thread can read it, so `kill -USR1 PID` prints it at once even while the input is
//! quiet; `--stats-every N` prints it as the stream passes each N events. This module only
//! prints counts; it never changes them.

use sigil_engine::edge::Counts;
use std::sync::{Arc, Mutex};

/// The counts as one stderr line.
pub fn line(counts: &Counts) -> String {
    format!("sigil: edge: {counts}")
}

/// The shared snapshot, and when `--stats-every` last printed.
pub struct Live {
    snapshot: Arc<Mutex<Counts>>,
    every: Option<u64>,
    printed_at: u64,
}

impl Live {
    /// Starts listening for SIGUSR1 (on Unix); `every` is `--stats-every`.
    pub fn start(every: Option<u64>) -> Result<Live, String> {
        let snapshot = Arc::new(Mutex::new(Counts::default()));
        listen(Arc::clone(&snapshot))?;
        Ok(Live { snapshot, every: every.filter(|n| *n > 0), printed_at: 0 })
    }

    /// Publishes the counts after a batch; prints them when a multiple of `--stats-every`
    /// events was passed since the last print.
    pub fn update(&mut self, counts: &Counts) {
        if let Ok(mut snapshot) = self.snapshot.lock() {
            *snapshot = counts.clone();
        }
        if let Some(n) = self.every {
            if counts.events / n > self.printed_at / n {
                self.printed_at = counts.events;
                eprintln!("{}", line(counts));
            }
        }
    }
}

#[cfg(unix)]
fn listen(snapshot: Arc<Mutex<Counts>>) -> Result<(), String> {
    use signal_hook::consts::signal::SIGUSR1;
    use signal_hook::iterator::Signals;
    let mut signals = Signals::new([SIGUSR1]).map_err(|e| format!("cannot listen for SIGUSR1: {e}"))?;
    std::thread::Builder::new()
        .name("sigil-edge-stats".into())
        .spawn(move || {
            for _ in signals.forever() {
                if let Ok(counts) = snapshot.lock() {
                    eprintln!("{}", line(&counts));
                }
            }
        })
        .map_err(|e| format!("cannot start the SIGUSR1 listener: {e}"))?;
    Ok(())
}

#[cfg(not(unix))]
fn listen(_snapshot: Arc<Mutex<Counts>>) -> Result<(), String> {
    Ok(())
}
