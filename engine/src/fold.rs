//! Case folding for case-insensitive matching, as `str::to_lowercase` folds, without
//! allocating on the hot path.
//!
//! Every case-insensitive comparison (the scan's automata, the matchers' full tests) folds the
//! event's text this one way, so that a needle found by the scan is a value the matcher
//! accepts. Text is folded into a reused per-thread buffer; only a fold made while that buffer
//! is in use (a matcher called from inside a scan's fold) pays for a copy of its own. This
//! module never decides what matches.

use std::borrow::Cow;
use std::cell::RefCell;

thread_local! {
    static FOLDED: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Calls `f` with `s` folded.
pub fn with_folded<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    if is_folded(s) {
        return f(s);
    }
    FOLDED.with(|buf| match buf.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            fold_into(s, &mut buf);
            f(&buf)
        }
        Err(_) => f(&s.to_lowercase()),
    })
}

/// `s` folded, borrowed when nothing changes (for text that is kept, such as a rule's value).
pub fn folded(s: &str) -> Cow<'_, str> {
    if is_folded(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Appends `s` lower-cased exactly as `str::to_lowercase` does: runs of ASCII in one pass each,
/// other characters one by one. A capital sigma is the one character whose lower case depends
/// on its neighbours; text holding one is left to the standard library.
fn fold_into(s: &str, out: &mut String) {
    if s.is_ascii() {
        push_ascii_folded(s, out);
        return;
    }
    if has_capital_sigma(s.as_bytes()) {
        out.push_str(&s.to_lowercase());
        return;
    }
    let mut rest = s;
    while !rest.is_empty() {
        let ascii = ascii_prefix_len(rest.as_bytes());
        push_ascii_folded(&rest[..ascii], out);
        let mut chars = rest[ascii..].chars();
        if let Some(c) = chars.next() {
            out.extend(c.to_lowercase());
        }
        rest = chars.as_str();
    }
}

/// Whether `bytes` holds U+03A3 (`CE A3`). memchr is SIMD on wasm32 too, where
/// `str::contains` steps through the text byte by byte.
fn has_capital_sigma(bytes: &[u8]) -> bool {
    memchr::memchr_iter(0xa3, bytes).any(|at| at > 0 && bytes[at - 1] == 0xce)
}

// Text is looked at eight bytes at a time (SWAR): natively as fast as the compiler's vector
// loops, and in the Wasm guest a loop iteration is also an epoch-deadline check, so fewer
// iterations cost less there.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// 0x80 in each byte of `word` (all of whose bytes are ASCII) that is an upper-case letter.
fn upper_case_bits(word: u64) -> u64 {
    // No byte below 0x80 carries into its neighbour when 0x3f or 0x25 is added to it.
    let from_a = word + ONES * u64::from(0x80 - b'A');
    let past_z = word + ONES * u64::from(0x80 - b'Z' - 1);
    from_a & !past_z & HIGH_BITS
}

/// Whether folding `s` changes nothing: ASCII without an upper-case letter.
fn is_folded(s: &str) -> bool {
    let mut words = s.as_bytes().chunks_exact(8);
    for word in words.by_ref() {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        if word & HIGH_BITS != 0 || upper_case_bits(word) != 0 {
            return false;
        }
    }
    words.remainder().iter().all(|b| b.is_ascii() && !b.is_ascii_uppercase())
}

/// Appends ASCII `s` lower-cased.
fn push_ascii_folded(s: &str, out: &mut String) {
    let start = out.len();
    out.push_str(s);
    // SAFETY: only ASCII upper-case letters change, each into its lower-case ASCII letter, so the
    // bytes stay the same valid UTF-8 they were.
    let bytes = unsafe { &mut out.as_mut_vec()[start..] };
    let mut words = bytes.chunks_exact_mut(8);
    for chunk in words.by_ref() {
        let word = u64::from_le_bytes((&*chunk).try_into().expect("eight bytes"));
        chunk.copy_from_slice(&(word | (upper_case_bits(word) >> 2)).to_le_bytes());
    }
    words.into_remainder().make_ascii_lowercase();
}

/// How many bytes `bytes` starts with that are ASCII, eight at a time (text is mostly ASCII,
/// and a byte-at-a-time search would cost more than the fold itself).
fn ascii_prefix_len(bytes: &[u8]) -> usize {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let high = u64::from_le_bytes(word.try_into().expect("eight bytes")) & HIGH_BITS;
        if high != 0 {
            return at + high.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    at + words.remainder().iter().position(|b| !b.is_ascii()).unwrap_or(words.remainder().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_as_the_standard_library_does() {
        let samples = [
            "",
            "plain",
            "C:\\Windows\\System32\\CMD.EXE",
            "Jürgen ÄÖÜ",
            "\u{212a}elvin",
            "\u{130}stanbul",
            "ΟΔΟΣ ΣΑΣ",
            "Σ",
            "aΣ b",
            "ǅ ǈ ǋ",
            "ẞ straße",
        ];
        for s in samples {
            assert_eq!(with_folded(s, str::to_string), s.to_lowercase(), "{s:?}");
            assert_eq!(folded(s), s.to_lowercase(), "{s:?}");
        }
        // Every char of the Basic Multilingual Plane, alone and between letters.
        for c in (0u32..0x3_0000).filter_map(char::from_u32) {
            for s in [c.to_string(), format!("a{c}b")] {
                assert_eq!(with_folded(&s, str::to_string), s.to_lowercase(), "{:?}", c);
            }
        }
    }

    #[test]
    fn the_ascii_prefix_is_found_at_every_offset() {
        for len in 0..40 {
            for at in 0..=len {
                let mut bytes = vec![b'a'; len];
                if at < len {
                    bytes[at] = 0xc3;
                }
                assert_eq!(ascii_prefix_len(&bytes), at, "len {len}, non-ASCII at {at}");
            }
        }
    }

    #[test]
    fn every_ascii_byte_folds_in_every_lane() {
        for b in 0u8..0x80 {
            for lane in 0..9 {
                let mut text = vec![b'Q'; 9];
                text[lane] = b;
                let s = std::str::from_utf8(&text).unwrap();
                let mut out = String::new();
                push_ascii_folded(s, &mut out);
                assert_eq!(out, s.to_lowercase(), "byte {b:#x} in lane {lane}");
                let lower = s.to_lowercase();
                assert!(is_folded(&lower), "{lower:?}");
                assert_eq!(is_folded(s), s == lower, "{s:?}");
            }
        }
    }

    #[test]
    fn a_nested_fold_gets_its_own_copy() {
        let outer = with_folded("ABC", |a| with_folded("DEF", |b| format!("{a}{b}")));
        assert_eq!(outer, "abcdef");
    }
}
