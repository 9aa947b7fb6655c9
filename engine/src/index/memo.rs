//! What a long value decided, remembered per thread. Logs repeat their long values (call stacks,
//! hashes, script blocks, command lines of the same processes), and what a scan marks for a value
//! depends on the scan and the value alone; so a value seen again replays the predicates it
//! marked instead of being folded and searched again.
//!
//! Bounded and exact: a direct-mapped table of [`SLOTS`] entries, values of [`MIN_LEN`] to
//! [`MAX_LEN`] bytes, each remembering at most [`MAX_HITS`] distinct marks (a value that makes
//! more is searched each time); an entry is reused only for the same scan and byte-identical text
//! (a hash only picks the slot). Marks are kept once each: marking is idempotent, and a needle
//! that occurs a thousand times in a value must not cost a thousand entries. Entries keep their buffers when replaced, so a thread that has seen its
//! values once allocates nothing more. This module never searches: the index does, and records.

use super::Verdict;

/// Shorter values are searched each time: the lookup would cost about what it saves.
pub const MIN_LEN: usize = 128;
/// Longer values are searched each time, so that the table holds at most `SLOTS × MAX_LEN` bytes.
pub const MAX_LEN: usize = 8 << 10;
const SLOTS: usize = 512;
/// Distinct `(predicate, verdict)` marks one entry keeps.
pub const MAX_HITS: usize = 64;

/// One thread's memo (it lives in the thread's `Scratch`).
#[derive(Debug, Default)]
pub struct ValueMemo {
    slots: Vec<Entry>,
}

#[derive(Debug, Default)]
struct Entry {
    /// The scan's id; 0 for an empty slot (ids start at 1).
    scan: u64,
    text: Vec<u8>,
    hits: Vec<(u32, Verdict)>,
}

/// Whether a value of this length is remembered.
pub fn fits(len: usize) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&len)
}

/// Where a text is remembered, or would be: hashed once for [`ValueMemo::get`] and, on a miss,
/// [`ValueMemo::put`].
#[derive(Debug, Clone, Copy)]
pub struct Slot(usize);

impl Slot {
    pub fn of(text: &str) -> Slot {
        Slot((xxhash_rust::xxh3::xxh3_64(text.as_bytes()) % SLOTS as u64) as usize)
    }
}

/// Byte equality. In Wasm `memcmp` is a loop over single bytes (measured: comparing remembered
/// values that way cost as much as the searches it saved), so there eight bytes go at a time.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if cfg!(target_arch = "wasm32") {
        a.len() == b.len() && crate::prefilter::starts_with(a, b)
    } else {
        a == b
    }
}

impl ValueMemo {
    /// What scan `scan` marked for `text` (whose slot is `slot`), when it was remembered.
    pub fn get(&self, slot: Slot, scan: u64, text: &str) -> Option<&[(u32, Verdict)]> {
        let entry = self.slots.get(slot.0)?;
        (entry.scan == scan && same_bytes(&entry.text, text.as_bytes())).then_some(entry.hits.as_slice())
    }

    /// Remembers what scan `scan` marks for `text`: `search` searches it, telling the recorder
    /// each mark as it tells the caller.
    pub fn put(&mut self, slot: Slot, scan: u64, text: &str, search: impl FnOnce(&mut Recorder<'_>)) {
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, Entry::default);
        }
        let entry = &mut self.slots[slot.0];
        entry.scan = 0;
        entry.hits.clear();
        let mut recorder = Recorder { hits: &mut entry.hits, overflowed: false };
        search(&mut recorder);
        if recorder.overflowed {
            entry.hits.clear();
            return;
        }
        entry.text.clear();
        entry.text.extend_from_slice(text.as_bytes());
        entry.scan = scan;
    }
}

/// Takes the marks of one search, each distinct one once.
pub struct Recorder<'m> {
    hits: &'m mut Vec<(u32, Verdict)>,
    overflowed: bool,
}

impl Recorder<'_> {
    pub fn note(&mut self, pred: u32, verdict: Verdict) {
        if self.overflowed || self.hits.contains(&(pred, verdict)) {
            return;
        }
        if self.hits.len() == MAX_HITS {
            self.overflowed = true;
        } else {
            self.hits.push((pred, verdict));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_replayed_for_its_scan_and_exact_text_only() {
        let mut memo = ValueMemo::default();
        let text = "x".repeat(MIN_LEN);
        assert!(memo.get(Slot::of(&text), 1, &text).is_none());
        memo.put(Slot::of(&text), 1, &text, |r| (0..1000).for_each(|_| r.note(7, Verdict::Holds)));
        assert_eq!(
            memo.get(Slot::of(&text), 1, &text),
            Some(&[(7, Verdict::Holds)][..]),
            "a repeated mark is kept once"
        );
        assert!(memo.get(Slot::of(&text), 2, &text).is_none(), "another scan");
        let other = format!("{}y", &text[1..]);
        assert!(memo.get(Slot::of(&other), 1, &other).is_none(), "other text of the same length");
        memo.put(Slot::of(&text), 1, &text, |_| {});
        assert_eq!(memo.get(Slot::of(&text), 1, &text), Some(&[][..]), "replaced, nothing marked");
        assert!(fits(MIN_LEN) && fits(MAX_LEN) && !fits(MIN_LEN - 1) && !fits(MAX_LEN + 1));
    }

    #[test]
    fn a_value_with_more_distinct_marks_than_an_entry_keeps_is_not_remembered() {
        let mut memo = ValueMemo::default();
        let text = "y".repeat(MIN_LEN);
        memo.put(Slot::of(&text), 1, &text, |r| (0..MAX_HITS as u32).for_each(|p| r.note(p, Verdict::Verify)));
        assert_eq!(memo.get(Slot::of(&text), 1, &text).map(<[_]>::len), Some(MAX_HITS));
        memo.put(Slot::of(&text), 1, &text, |r| (0..=MAX_HITS as u32).for_each(|p| r.note(p, Verdict::Verify)));
        assert!(memo.get(Slot::of(&text), 1, &text).is_none());
        assert!(memo.slots.iter().all(|e| e.hits.capacity() <= MAX_HITS));
    }
}
