//! Slim Teddy: a multi-substring search that tests 16 haystack positions at once.
//!
//! The needles are spread over 8 buckets (one bit each). For each of the first `M` bytes of a
//! needle (`M` = 1 to 3, no longer than the shortest needle) two 16-entry tables say which
//! buckets have a needle whose byte at that offset has a given low or high nibble. For a block of
//! 16 positions, one shuffle per table looks up all 16 haystack bytes at once; the AND over the
//! `M` offsets leaves, per position, the buckets whose fingerprint matched there. Only those
//! positions are verified against the needles of their buckets, left to right, so the first
//! verified position is the leftmost start of any needle.
//!
//! Generic over [`Vector`]; it never reads outside the haystack (the last partial block is
//! copied into a zero-padded buffer) and never panics.

use super::starts_with;
use super::vector::Vector;
use std::fmt;

const BUCKETS: usize = 8;
/// The longest fingerprint: more offsets rule out more candidates but cost a load and two
/// shuffles each.
const MAX_FINGERPRINT: usize = 3;

/// A built searcher over up to `super::MAX_NEEDLES` non-empty needles.
#[derive(Clone)]
pub struct Teddy<V: Vector> {
    needles: Vec<Vec<u8>>,
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
        let needles: Vec<Vec<u8>> = needles.iter().map(|n| n.as_ref().to_vec()).collect();
        if needles.is_empty() || needles.len() > super::MAX_NEEDLES {
            return None;
        }
        let shortest = needles.iter().map(Vec::len).min()?;
        if shortest == 0 {
            return None;
        }
        let fingerprint = shortest.min(MAX_FINGERPRINT);
        // Needles with the same first bytes share a bucket, so one candidate verifies them all.
        let mut order: Vec<u16> = (0..needles.len() as u16).collect();
        order.sort_by(|&a, &b| needles[a as usize][..fingerprint].cmp(&needles[b as usize][..fingerprint]));
        let per_bucket = needles.len().div_ceil(BUCKETS);
        let mut buckets: [Vec<u16>; BUCKETS] = Default::default();
        for (i, n) in order.into_iter().enumerate() {
            buckets[i / per_bucket].push(n);
        }
        let mut low = vec![[0u8; 16]; fingerprint];
        let mut high = vec![[0u8; 16]; fingerprint];
        for (bucket, members) in buckets.iter().enumerate() {
            for &n in members {
                for (k, &byte) in needles[n as usize][..fingerprint].iter().enumerate() {
                    low[k][usize::from(byte & 0x0f)] |= 1 << bucket;
                    high[k][usize::from(byte >> 4)] |= 1 << bucket;
                }
            }
        }
        let masks = low.iter().zip(&high).map(|(lo, hi)| (V::load(lo), V::load(hi))).collect();
        Some(Teddy { needles, buckets, masks, shortest })
    }

    /// The start of the leftmost occurrence of any needle in `haystack`.
    #[inline]
    pub fn find(&self, haystack: &[u8]) -> Option<usize> {
        if haystack.len() < self.shortest {
            return None;
        }
        match self.masks.len() {
            1 => self.find_with::<1>(haystack),
            2 => self.find_with::<2>(haystack),
            _ => self.find_with::<3>(haystack),
        }
    }

    fn find_with<const M: usize>(&self, haystack: &[u8]) -> Option<usize> {
        let masks: [(V, V); M] = std::array::from_fn(|k| self.masks[k]);
        let mut at = 0;
        // Whole blocks: the 16 positions from `at`, whose fingerprints reach M - 1 bytes further.
        while at + 16 + M - 1 <= haystack.len() {
            let found = candidates(&masks, haystack, at);
            if found.any() {
                if let Some(start) = self.verify(haystack, at, found) {
                    return Some(start);
                }
            }
            at += 16;
        }
        // The rest, zero-padded. Every position a needle could still start at has its whole
        // fingerprint inside the haystack (a needle is at least M long); padding can only make
        // false candidates, which verification against the haystack itself rejects.
        if at < haystack.len() {
            let rest = &haystack[at..];
            let mut block = [0u8; 16 + MAX_FINGERPRINT];
            block[..rest.len()].copy_from_slice(rest);
            let found = candidates(&masks, &block, 0);
            if found.any() {
                return self.verify(haystack, at, found);
            }
        }
        None
    }

    /// The first position of the block at `at` where a needle of a flagged bucket really starts.
    #[inline]
    fn verify(&self, haystack: &[u8], at: usize, found: V) -> Option<usize> {
        let buckets = found.to_array();
        let mut lanes = found.nonzero_lanes();
        while lanes != 0 {
            let lane = lanes.trailing_zeros() as usize;
            lanes &= lanes - 1;
            let start = at + lane;
            let Some(tail) = haystack.get(start..) else { break };
            let mut bits = buckets[lane];
            while bits != 0 {
                let bucket = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if self.buckets[bucket].iter().any(|&n| starts_with(tail, &self.needles[n as usize])) {
                    return Some(start);
                }
            }
        }
        None
    }
}

/// Per position of the 16 from `at`, the buckets whose fingerprint matches there. The caller
/// guarantees `at + 16 + M - 1 <= bytes.len()`; were it not so, every position would be flagged
/// (and verified), never missed.
#[inline(always)]
fn candidates<V: Vector, const M: usize>(masks: &[(V, V); M], bytes: &[u8], at: usize) -> V {
    let low_nibble = V::splat(0x0f);
    let mut found = V::splat(0xff);
    for (k, &(low, high)) in masks.iter().enumerate() {
        let Some(chunk) = bytes.get(at + k..).and_then(|b| b.first_chunk::<16>()) else {
            return V::splat(0xff);
        };
        let chunk = V::load(chunk);
        found = found.and(low.shuffle(chunk.and(low_nibble))).and(high.shuffle(chunk.shr4()));
    }
    found
}
