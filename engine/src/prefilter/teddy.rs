//! Slim Teddy: a multi-substring search that tests 16 or 32 haystack positions at once.
//!
//! The needles are spread over 8 buckets (one bit each). For each of the first `M` bytes of a
//! needle (`M` = 1 to 4, no longer than the longest needle) two 16-entry tables say which
//! buckets have a needle whose byte at that offset has a given low or high nibble; a needle
//! shorter than `M` accepts any byte past its end. For a block of positions (a vector's lanes),
//! one shuffle per table looks up all of its haystack bytes at once; the AND over the `M`
//! offsets leaves, per position, the buckets whose fingerprint matched there. Only those
//! positions are verified against the needles of their buckets, left to right, so the first
//! verified position is the leftmost start of any needle.
//!
//! A needle may be ASCII case-insensitive ([`Case::Ascii`]): its letters' other case goes into
//! the same tables, and verification compares it ignoring ASCII case.
//!
//! Generic over [`Vector`]; it never reads outside the haystack (the last partial block is
//! copied into a zero-padded buffer) and never panics.

use super::starts_with;
use super::vector::{Vector, MAX_LANES};
use std::fmt;

const BUCKETS: usize = 8;
/// The longest fingerprint: more offsets rule out more candidates but cost a load and two
/// shuffles each.
const MAX_FINGERPRINT: usize = 4;

/// How a needle's bytes must match the haystack's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Byte for byte.
    Exact,
    /// ASCII letters in either case; every other byte exactly.
    Ascii,
}

/// A built searcher over up to `super::MAX_NEEDLES` non-empty needles.
#[derive(Clone)]
pub struct Teddy<V: Vector> {
    needles: Vec<Vec<u8>>,
    /// Per needle that ignores ASCII case, `0x20` where it holds a letter, else 0: OR-ed into
    /// the haystack before comparing with the (lower-case) needle. `None` for an exact needle.
    case_bits: Vec<Option<Box<[u8]>>>,
    /// Per bucket, the indices into `needles` it holds.
    buckets: [Vec<u16>; BUCKETS],
    /// Per fingerprint offset: the bucket bits of each low nibble and of each high nibble.
    masks: Vec<(V, V)>,
    shortest: usize,
}

impl<V: Vector> fmt::Debug for Teddy<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Teddy").field("needles", &self.needles.len()).field("fingerprint", &self.masks.len()).finish()
    }
}

impl<V: Vector> Teddy<V> {
    /// `None` for no needles, an empty one, or more than `super::MAX_NEEDLES`.
    pub fn new<N: AsRef<[u8]>>(needles: &[N]) -> Option<Teddy<V>> {
        let exact: Vec<(&[u8], Case)> = needles.iter().map(|n| (n.as_ref(), Case::Exact)).collect();
        Self::with_cases(&exact)
    }

    /// As [`Teddy::new`], each needle with its own [`Case`].
    pub fn with_cases(needles: &[(&[u8], Case)]) -> Option<Teddy<V>> {
        if needles.is_empty() || needles.len() > super::MAX_NEEDLES {
            return None;
        }
        let shortest = needles.iter().map(|(n, _)| n.len()).min()?;
        if shortest == 0 {
            return None;
        }
        let caseless = needles.iter().enumerate().filter(|(_, (_, case))| *case == Case::Ascii);
        let caseless = caseless.fold(0u64, |bits, (n, _)| bits | 1 << n);
        let needles: Vec<Vec<u8>> = needles.iter().map(|(n, case)| fold_if(n, *case)).collect();
        let longest = needles.iter().map(Vec::len).max()?;
        let fingerprint = longest.min(MAX_FINGERPRINT);
        // Needles with the same first bytes share a bucket, so one candidate verifies them all.
        // Exact and case-insensitive needles never do: a bucket's tables accept any mix of its
        // needles' nibbles, so one case-insensitive needle would let an exact one's upper
        // case through too.
        let head = |n: u16| &needles[n as usize][..needles[n as usize].len().min(fingerprint)];
        let mut order: Vec<u16> = (0..needles.len() as u16).collect();
        order.sort_by(|&a, &b| head(a).cmp(head(b)));
        let (ascii, exact): (Vec<u16>, Vec<u16>) = order.into_iter().partition(|&n| caseless & 1 << n != 0);
        let buckets = spread(&ascii, &exact, head);
        let mut low = vec![[0u8; 16]; fingerprint];
        let mut high = vec![[0u8; 16]; fingerprint];
        for (bucket, members) in buckets.iter().enumerate() {
            for &n in members {
                let needle = &needles[n as usize];
                let bit = 1u8 << bucket;
                for k in 0..fingerprint {
                    let Some(&byte) = needle.get(k) else {
                        // Past a short needle's end any byte will do.
                        low[k].iter_mut().chain(high[k].iter_mut()).for_each(|entry| *entry |= bit);
                        continue;
                    };
                    let other_case = if caseless & 1 << n != 0 { byte.to_ascii_uppercase() } else { byte };
                    for b in [byte, other_case] {
                        low[k][usize::from(b & 0x0f)] |= bit;
                        high[k][usize::from(b >> 4)] |= bit;
                    }
                }
            }
        }
        let masks = low.iter().zip(&high).map(|(lo, hi)| (V::table(lo), V::table(hi))).collect();
        let case_bits = needles
            .iter()
            .enumerate()
            .map(|(n, needle)| {
                let letters = needle.iter().map(|b| if b.is_ascii_lowercase() { 0x20 } else { 0 });
                (caseless & 1 << n != 0).then(|| letters.collect())
            })
            .collect();
        Some(Teddy { needles, case_bits, buckets, masks, shortest })
    }

    /// The start of the leftmost occurrence of any needle in `haystack`.
    // Inlined whole into each caller (one per kind of search): the search loop then sees its
    // tables as the caller's values, and a call costs no more than a branch.
    #[inline(always)]
    pub fn find(&self, haystack: &[u8]) -> Option<usize> {
        if haystack.len() < self.shortest {
            return None;
        }
        match self.masks.len() {
            1 => self.find_with::<1>(haystack),
            2 => self.find_with::<2>(haystack),
            3 => self.find_with::<3>(haystack),
            _ => self.find_with::<4>(haystack),
        }
    }

    /// [`Teddy::find`] over `haystack[from..]`, as a position in `haystack`.
    #[inline(always)]
    pub fn find_from(&self, haystack: &[u8], from: usize) -> Option<usize> {
        self.find(haystack.get(from..)?).map(|at| at + from)
    }

    #[inline(always)]
    fn find_with<const M: usize>(&self, haystack: &[u8]) -> Option<usize> {
        let masks: [(V, V); M] = std::array::from_fn(|k| self.masks[k]);
        let mut at = 0;
        // Whole blocks: the positions from `at`, whose fingerprints reach M - 1 bytes further.
        while at + V::LANES + M - 1 <= haystack.len() {
            let found = candidates(&masks, haystack, at);
            if found.any() {
                if let Some(start) = self.verify(haystack, at, found.nonzero_lanes(), &found.to_array()) {
                    return Some(start);
                }
            }
            at += V::LANES;
        }
        // The rest (fewer than LANES + M - 1 bytes), zero-padded, a block at a time: a needle
        // shorter than M may start in its last bytes, past the first block. Wherever a needle
        // could start, the bytes it covers are inside the haystack (offsets past a short
        // needle's end accept anything, padding too); padding can only make false candidates,
        // which verification against the haystack itself rejects.
        while at < haystack.len() {
            let rest = &haystack[at..];
            let mut block = [0u8; MAX_LANES + MAX_FINGERPRINT];
            block[..rest.len()].copy_from_slice(rest);
            let found = candidates(&masks, &block, 0);
            if found.any() {
                if let Some(start) = self.verify(haystack, at, found.nonzero_lanes(), &found.to_array()) {
                    return Some(start);
                }
            }
            at += V::LANES;
        }
        None
    }

    /// The first position of the block at `at` where a needle of a flagged bucket really starts:
    /// `lanes` has a bit per flagged position, `buckets` the flagged buckets of each.
    #[inline]
    fn verify(&self, haystack: &[u8], at: usize, mut lanes: u32, buckets: &[u8; MAX_LANES]) -> Option<usize> {
        while lanes != 0 {
            let lane = lanes.trailing_zeros() as usize;
            lanes &= lanes - 1;
            let start = at + lane;
            let Some(tail) = haystack.get(start..) else { break };
            let mut bits = buckets[lane];
            while bits != 0 {
                let bucket = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if self.buckets[bucket].iter().any(|&n| self.starts(tail, n as usize)) {
                    return Some(start);
                }
            }
        }
        None
    }

    #[inline]
    fn starts(&self, tail: &[u8], n: usize) -> bool {
        match &self.case_bits[n] {
            None => starts_with(tail, &self.needles[n]),
            Some(bits) => starts_with_ignoring(tail, &self.needles[n], bits),
        }
    }
}

/// The buckets of two groups of needles (each in order of `head`, its fingerprint bytes) that
/// never share one. A bucket's tables accept any mix of its needles' nibbles, so what costs
/// false candidates is different heads in one bucket: needles with the same head always share
/// one, and each group's distinct heads are spread evenly over its buckets, which are in
/// proportion to its number of heads (at least one each).
pub(super) fn spread<'n>(first: &[u16], second: &[u16], head: impl Fn(u16) -> &'n [u8]) -> [Vec<u16>; BUCKETS] {
    let same_head = |a: &u16, b: &u16| head(*a) == head(*b);
    let (first, second): (Vec<&[u16]>, Vec<&[u16]>) =
        (first.chunk_by(same_head).collect(), second.chunk_by(same_head).collect());
    let total = first.len() + second.len();
    let for_first = match (first.is_empty(), second.is_empty()) {
        (true, _) => 0,
        (false, true) => BUCKETS,
        (false, false) => ((BUCKETS * first.len() + total / 2) / total).clamp(1, BUCKETS - 1),
    };
    let mut buckets: [Vec<u16>; BUCKETS] = Default::default();
    for (heads, range) in [(first, 0..for_first), (second, for_first..BUCKETS)] {
        for (i, needles) in heads.iter().enumerate() {
            buckets[range.start + i * range.len() / heads.len()].extend_from_slice(needles);
        }
    }
    buckets
}

/// Whether `haystack` starts with `needle` once `bits` (as long as `needle`) are OR-ed into it,
/// eight bytes at a time. With `0x20` over the needle's lower-case letters, that compares those
/// letters in either case and every other byte exactly.
#[inline]
fn starts_with_ignoring(haystack: &[u8], needle: &[u8], bits: &[u8]) -> bool {
    let Some(head) = haystack.get(..needle.len()) else { return false };
    let (head_words, head_rest) = head.as_chunks::<8>();
    let (needle_words, needle_rest) = needle.as_chunks::<8>();
    let (bit_words, bit_rest) = bits.as_chunks::<8>();
    let word = |b: &[u8; 8]| u64::from_ne_bytes(*b);
    head_words.iter().zip(needle_words).zip(bit_words).all(|((h, n), b)| word(h) | word(b) == word(n))
        && head_rest.iter().zip(needle_rest).zip(bit_rest).all(|((h, n), b)| h | b == *n)
}

/// A needle as its masks are built from: a case-insensitive one in lower case, so that each
/// letter adds its upper case once.
fn fold_if(needle: &[u8], case: Case) -> Vec<u8> {
    match case {
        Case::Exact => needle.to_vec(),
        Case::Ascii => needle.to_ascii_lowercase(),
    }
}

/// Per position of the block from `at`, the buckets whose fingerprint matches there. The caller
/// guarantees `at + LANES + M - 1 <= bytes.len()`; were it not so, every position would be
/// flagged (and verified), never missed.
#[inline(always)]
fn candidates<V: Vector, const M: usize>(masks: &[(V, V); M], bytes: &[u8], at: usize) -> V {
    let low_nibble = V::splat(0x0f);
    let mut found = V::splat(0xff);
    for (k, &(low, high)) in masks.iter().enumerate() {
        let Some(chunk) = bytes.get(at + k..).filter(|b| b.len() >= V::LANES) else {
            return V::splat(0xff);
        };
        let chunk = V::load(chunk);
        found = found.and(low.shuffle(chunk.and(low_nibble))).and(high.shuffle(chunk.shr4()));
    }
    found
}
