//! Sealed output: JSON Lines whose records form an HMAC-SHA-256 chain, so that a record
//! modified, deleted, inserted or moved, or a tail cut off, is detected on verification. The
//! layout is specified in docs/seal-format.md (a third party can verify without Sigil).
//!
//! - [`key`]: the secret, its id, and the MAC of one record.
//! - [`writer`]: records in, sealed lines out ([`SealedWriter`], [`LineSink`]).
//! - [`verify`](mod@verify): sealed lines in, findings out.
//!
//! Architecture invariant: no file or network I/O, and no printing. Callers bring the key's
//! text and the bytes to seal or check, and decide where lines go, so the CLI, a worker, the
//! gateway and the Wasm component seal and verify with the same code. The crate builds for
//! `wasm32-unknown-unknown` without its `os-rng` feature (random keys and stream ids). It never
//! decides what is sealed, and never formats key bytes.

pub mod key;
pub mod verify;
pub mod writer;

pub use key::{KeyError, SealKey, MAX_KEY_BYTES, MIN_KEY_BYTES};
pub use verify::{verify, verify_lines, Finding, Report, DEFAULT_MAX_LINE_BYTES};
pub use writer::{LineSink, SealedWriter};

/// The format name in every file's opening record.
pub const FORMAT: &str = "sigil-seal/1";
/// Content records between two checkpoints, unless the writer is told otherwise.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 1000;
/// What the first record's `prev` holds: there is no record before it.
pub const GENESIS: [u8; 32] = [0; 32];

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The first record (seq 0): the format, key id and stream id.
    Open,
    /// One sealed JSON value.
    Record,
    /// Every N records: the count so far and the chain head, for anchoring elsewhere.
    Checkpoint,
    /// The last record of a file closed cleanly: without it the tail was cut.
    End,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Open => "open",
            Kind::Record => "record",
            Kind::Checkpoint => "checkpoint",
            Kind::End => "end",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        [Kind::Open, Kind::Record, Kind::Checkpoint, Kind::End].into_iter().find(|k| k.as_str() == text)
    }
}
