//! Where could a needle start: [`Prefilter::find`] returns the start of the leftmost occurrence
//! of any of a few needles (up to [`MAX_NEEDLES`]) in a haystack, many times faster than an
//! automaton steps through it, so that the automaton starts there or never runs.
//!
//! Natively this is aho-corasick's packed (Teddy) searcher. That searcher has no SIMD kernel for
//! wasm32, so on `wasm32` with `simd128` it is this module's own Teddy ([`teddy`]) over
//! `core::arch::wasm32` ([`simd128`]). The Teddy is generic over a 16-byte [`vector::Vector`] so
//! that the same algorithm is property-tested natively (on [`vector::Portable`]) and, through the
//! `sigil-prefilter-check` module, inside wasm on simd128.
//!
//! This module never decides a predicate: it only says where the first needle starts; which
//! needle, where it ends and what it means are the automaton's and the index's.

#[doc(hidden)]
pub mod cases;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;
pub mod teddy;
pub mod vector;

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
        leftmost(&self.inner, haystack)
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
fn leftmost(inner: &Inner, haystack: &[u8]) -> Option<usize> {
    inner.find(haystack).map(|m| m.start())
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn leftmost(inner: &Inner, haystack: &[u8]) -> Option<usize> {
    inner.find(haystack)
}
