//! Where could a needle start: [`Prefilter::find`] returns the start of the leftmost occurrence
//! of any of a few needles (up to [`MAX_NEEDLES`]) in a haystack, many times faster than an
//! automaton steps through it, so that the automaton starts there or never runs.
//!
//! Natively this is aho-corasick's packed (Teddy) searcher. That searcher has no SIMD kernel for
//! wasm32, so on `wasm32` with `simd128` it is this module's own Teddy ([`teddy`]) over
//! `core::arch::wasm32` ([`simd128`], two 16-byte vectors a step). The Teddy is generic over a
//! 16- or 32-lane [`vector::Vector`] so that the same algorithm is property-tested natively (on
//! [`vector::Portable`] and AVX2) and, through the `sigil-prefilter-check` module, inside wasm on
//! simd128.
//!
//! [`MixedCase`] searches text that has not been case-folded: each needle exact or ASCII
//! case-insensitive. aho-corasick's packed searcher has no such mode, so it is this module's
//! Teddy: on simd128 in Wasm, and natively on AVX2 ([`avx2`], 32 bytes a step), where it is
//! one pass over text that would otherwise be folded first (a copy) and then searched.
//! (An SSSE3 build, 16 bytes a step, was slower over Windows events than folding and running
//! aho-corasick's AVX2 Teddy, so other x86-64 CPUs and other targets have no `MixedCase`.)
//!
//! [`Occurrences`] goes further for the same few needles: it finds every occurrence of every
//! needle, one prefilter call per start, so that text with a few needle starts is never stepped
//! through by an automaton at all.
//!
//! This module never decides a predicate: it only says where needles are; what they mean is the
//! index's.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[doc(hidden)]
pub mod cases;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;
pub mod teddy;
pub mod vector;

pub use teddy::Case;

#[cfg(test)]
mod tests;

/// Past this many needles a prefilter rules out too little to pay for itself (aho-corasick's
/// Teddy kernels stop at 64 too).
pub const MAX_NEEDLES: usize = 64;

/// Finds where the leftmost occurrence of any needle starts.
#[derive(Debug, Clone)]
pub struct Prefilter {
    inner: Inner,
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
type Inner = aho_corasick::packed::Searcher;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
type Inner = teddy::Teddy<simd128::Simd128>;

impl Prefilter {
    /// A prefilter for `needles`, or `None` where none would help: no needles, an empty needle
    /// (it matches everywhere), more than [`MAX_NEEDLES`], or a target without a SIMD searcher.
    pub fn new(needles: &[String]) -> Option<Prefilter> {
        if needles.is_empty() || needles.len() > MAX_NEEDLES || needles.iter().any(String::is_empty) {
            return None;
        }
        Self::build(needles).map(|inner| Prefilter { inner })
    }

    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    fn build(needles: &[String]) -> Option<Inner> {
        aho_corasick::packed::Config::new().builder().extend(needles).build()
    }

    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    fn build(needles: &[String]) -> Option<Inner> {
        teddy::Teddy::new(needles)
    }

    /// The start of the leftmost occurrence of any needle in `haystack` (overlapping occurrences
    /// included: the least start over all of them), or `None` when no needle occurs.
    #[inline]
    pub fn find(&self, haystack: &[u8]) -> Option<usize> {
        self.find_from(haystack, 0)
    }

    /// [`Prefilter::find`] over `haystack[from..]`, as a position in `haystack`.
    #[inline]
    pub fn find_from(&self, haystack: &[u8], from: usize) -> Option<usize> {
        leftmost_from(&self.inner, haystack, from)
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
fn leftmost_from(inner: &Inner, haystack: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() {
        return None;
    }
    inner.find_in(haystack, aho_corasick::Span::from(from..haystack.len())).map(|m| m.start())
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn leftmost_from(inner: &Inner, haystack: &[u8], from: usize) -> Option<usize> {
    inner.find_from(haystack, from)
}

/// Finds where the leftmost occurrence of any needle starts, each needle exact or ASCII
/// case-insensitive.
#[derive(Debug, Clone)]
pub struct MixedCase {
    inner: MixedInner,
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
type MixedInner = teddy::Teddy<simd128::Simd128>;

#[cfg(target_arch = "x86_64")]
type MixedInner = teddy::Teddy<avx2::Avx2>;

// Elsewhere the engine's own unit tests run the portable Teddy, so that what uses a
// `MixedCase` is tested natively too.
#[cfg(all(test, not(target_arch = "x86_64"), not(all(target_arch = "wasm32", target_feature = "simd128"))))]
type MixedInner = teddy::Teddy<vector::Portable>;

#[cfg(all(not(test), not(target_arch = "x86_64"), not(all(target_arch = "wasm32", target_feature = "simd128"))))]
type MixedInner = std::convert::Infallible;

impl MixedCase {
    /// As [`Prefilter::new`]: `None` for no needles, an empty one, more than [`MAX_NEEDLES`], or
    /// a CPU without the vector instructions it needs (wasm32 without simd128, x86-64 without
    /// AVX2, other targets).
    pub fn new(needles: &[(&[u8], Case)]) -> Option<MixedCase> {
        Self::build(needles).map(|inner| MixedCase { inner })
    }

    #[cfg(target_arch = "x86_64")]
    fn build(needles: &[(&[u8], Case)]) -> Option<MixedInner> {
        avx2::built(needles)
    }

    #[cfg(all(not(target_arch = "x86_64"), any(test, all(target_arch = "wasm32", target_feature = "simd128"))))]
    fn build(needles: &[(&[u8], Case)]) -> Option<MixedInner> {
        teddy::Teddy::with_cases(needles)
    }

    #[cfg(all(not(test), not(target_arch = "x86_64"), not(all(target_arch = "wasm32", target_feature = "simd128"))))]
    fn build(_: &[(&[u8], Case)]) -> Option<MixedInner> {
        None
    }

    /// The start of the leftmost occurrence of any needle in `haystack[from..]`, as a position
    /// in `haystack`.
    #[inline]
    pub fn find_from(&self, haystack: &[u8], from: usize) -> Option<usize> {
        mixed_from(&self.inner, haystack, from)
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn mixed_from(inner: &MixedInner, haystack: &[u8], from: usize) -> Option<usize> {
    avx2::find_from(inner, haystack, from)
}

#[cfg(all(not(target_arch = "x86_64"), any(test, all(target_arch = "wasm32", target_feature = "simd128"))))]
#[inline]
fn mixed_from(inner: &MixedInner, haystack: &[u8], from: usize) -> Option<usize> {
    inner.find_from(haystack, from)
}

#[cfg(all(not(test), not(target_arch = "x86_64"), not(all(target_arch = "wasm32", target_feature = "simd128"))))]
fn mixed_from(inner: &MixedInner, _: &[u8], _: usize) -> Option<usize> {
    match *inner {}
}

/// `haystack.starts_with(needle)` eight bytes at a time: on wasm32 the slice comparison is a call
/// to a byte-by-byte `memcmp`, each byte also paying an epoch-deadline check.
#[inline]
pub fn starts_with(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(head) = haystack.get(..needle.len()) else { return false };
    let (head_words, head_rest) = head.as_chunks::<8>();
    let (needle_words, needle_rest) = needle.as_chunks::<8>();
    head_words.iter().zip(needle_words).all(|(h, n)| u64::from_ne_bytes(*h) == u64::from_ne_bytes(*n))
        && head_rest.iter().zip(needle_rest).all(|(h, n)| h == n)
}

/// Every occurrence of a few needles (up to [`MAX_NEEDLES`]), found start by start: the
/// prefilter finds the next place a needle starts, and the needles that begin with the byte there
/// are compared with the text.
#[derive(Debug, Clone)]
pub struct Occurrences {
    prefilter: Prefilter,
    needles: Vec<Box<[u8]>>,
    /// Per byte, the needles (bit `i` for needle `i`) that begin with it.
    by_first_byte: Box<[u64; 256]>,
}

/// Past [`DENSE_STARTS`] needle starts fewer than [`DENSE_GAP`] bytes apart on average,
/// [`Occurrences::each`] stops: one prefilter call per start would cost more there than an
/// automaton stepping through every byte.
#[cfg(not(target_arch = "wasm32"))]
pub const DENSE_STARTS: usize = 8;
#[cfg(not(target_arch = "wasm32"))]
pub const DENSE_GAP: usize = 16;

/// In Wasm a simd128 Teddy call costs more against the automaton's table walk than AVX2's does
/// natively: there the prefilter finds the first start and the automaton goes on from it.
/// (Measured on the OTRF sample: one call per start made `--runtime wasm` 10% slower.)
#[cfg(target_arch = "wasm32")]
pub const DENSE_STARTS: usize = 1;
#[cfg(target_arch = "wasm32")]
pub const DENSE_GAP: usize = usize::MAX;

impl Occurrences {
    /// As [`Prefilter::new`]: `None` where a prefilter would not help.
    pub fn new(needles: &[String]) -> Option<Occurrences> {
        let prefilter = Prefilter::new(needles)?;
        let mut by_first_byte = Box::new([0u64; 256]);
        for (i, needle) in needles.iter().enumerate() {
            by_first_byte[usize::from(needle.as_bytes()[0])] |= 1 << i;
        }
        let needles = needles.iter().map(|n| n.as_bytes().into()).collect();
        Some(Occurrences { prefilter, needles, by_first_byte })
    }

    /// Calls `found(needle, start, end)` for every occurrence of every needle in `haystack`
    /// (overlapping ones too), by start, and returns `None`. Where the text turns dense with
    /// needle starts it stops and returns `Some(from)`: every occurrence starting before `from`
    /// has been reported, none starting at or after it.
    pub fn each(&self, haystack: &[u8], mut found: impl FnMut(usize, usize, usize)) -> Option<usize> {
        let mut from = 0;
        let mut starts = 0usize;
        while let Some(at) = self.prefilter.find_from(haystack, from) {
            let rest = &haystack[at..];
            let mut candidates = self.by_first_byte[usize::from(rest[0])];
            while candidates != 0 {
                let n = candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                if starts_with(rest, &self.needles[n]) {
                    found(n, at, at + self.needles[n].len());
                }
            }
            from = at + 1;
            starts += 1;
            if starts >= DENSE_STARTS && starts.saturating_mul(DENSE_GAP) > from {
                return Some(from);
            }
        }
        None
    }
}
