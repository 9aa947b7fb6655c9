//! [`Vector`] on x86-64's AVX2: 32 lanes a step, `vpshufb` as the nibble shuffle (it looks
//! each 16-lane half up in its own half of the table, which holds the 16 entries twice).
//!
//! An [`Avx2`] value is made only inside a [`Teddy`] that [`built`] returned, which it does only
//! where the CPU has AVX2; its searches run through [`find_from`], compiled with AVX2 enabled so
//! that the whole search loop is inlined into one function of AVX2 instructions.

use super::teddy::{Case, Teddy};
use super::vector::{Vector, MAX_LANES};
use std::arch::x86_64::{
    __m256i, _mm256_and_si256, _mm256_broadcastsi128_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256,
    _mm256_movemask_epi8, _mm256_set1_epi8, _mm256_shuffle_epi8, _mm256_srli_epi16, _mm256_storeu_si256,
    _mm256_testz_si256, _mm_loadu_si128,
};

#[derive(Debug, Clone, Copy)]
pub struct Avx2(__m256i);

/// A Teddy over `needles` on AVX2, or `None` where the CPU has no AVX2 (or Teddy declines them).
pub fn built(needles: &[(&[u8], Case)]) -> Option<Teddy<Avx2>> {
    if !std::arch::is_x86_feature_detected!("avx2") {
        return None;
    }
    Teddy::with_cases(needles)
}

/// [`Teddy::find_from`], with the search loop compiled for AVX2.
#[inline]
pub fn find_from(teddy: &Teddy<Avx2>, haystack: &[u8], from: usize) -> Option<usize> {
    // SAFETY: a `Teddy<Avx2>` exists only where `built` saw the CPU has AVX2.
    unsafe { find_from_avx2(teddy, haystack, from) }
}

#[target_feature(enable = "avx2")]
fn find_from_avx2(teddy: &Teddy<Avx2>, haystack: &[u8], from: usize) -> Option<usize> {
    teddy.find_from(haystack, from)
}

// SAFETY (every method): an `Avx2` exists only where the CPU has AVX2 (see the module doc).
// Outside `find_from` the methods run while a Teddy is built, as calls, not inlined.
impl Vector for Avx2 {
    const LANES: usize = 32;

    #[inline(always)]
    fn splat(byte: u8) -> Self {
        Avx2(unsafe { _mm256_set1_epi8(byte as i8) })
    }

    #[inline(always)]
    fn table(entries: &[u8; 16]) -> Self {
        // SAFETY: `entries` is valid for 16 bytes; the load needs no alignment.
        Avx2(unsafe { _mm256_broadcastsi128_si256(_mm_loadu_si128(entries.as_ptr().cast())) })
    }

    #[inline(always)]
    fn load(bytes: &[u8]) -> Self {
        let bytes = &bytes[..32];
        // SAFETY: the slice is valid for 32 bytes; the load needs no alignment.
        Avx2(unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) })
    }

    #[inline(always)]
    fn and(self, other: Self) -> Self {
        Avx2(unsafe { _mm256_and_si256(self.0, other.0) })
    }

    #[inline(always)]
    fn shr4(self) -> Self {
        // There is no 8-bit shift: shift 16-bit lanes, then drop what crossed from the
        // neighbouring byte.
        Avx2(unsafe { _mm256_and_si256(_mm256_srli_epi16(self.0, 4), _mm256_set1_epi8(0x0f)) })
    }

    #[inline(always)]
    fn shuffle(self, indices: Self) -> Self {
        Avx2(unsafe { _mm256_shuffle_epi8(self.0, indices.0) })
    }

    #[inline(always)]
    fn any(self) -> bool {
        unsafe { _mm256_testz_si256(self.0, self.0) == 0 }
    }

    #[inline(always)]
    fn nonzero_lanes(self) -> u32 {
        !(unsafe { _mm256_movemask_epi8(_mm256_cmpeq_epi8(self.0, _mm256_set1_epi8(0))) } as u32)
    }

    #[inline(always)]
    fn to_array(self) -> [u8; MAX_LANES] {
        let mut out = [0u8; MAX_LANES];
        // SAFETY: `out` is valid for 32 bytes; the store needs no alignment.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), self.0) };
        out
    }
}
