//! [`Vector`] on WebAssembly's fixed-width SIMD (`simd128`): `i8x16.swizzle` is the nibble
//! shuffle Teddy is built on. A [`Simd128`] is two 16-byte vectors, so that a Teddy block of 32
//! positions is one loop iteration: half as many of Wasm's loop-header deadline checks and
//! branches per byte (over the OTRF sample `--runtime wasm` took 1.52 s with one vector a step,
//! 1.51 s with two: ABBA means of 8). Compiled only for wasm32 with the feature enabled at build
//! time.

use super::vector::{Vector, MAX_LANES};
use core::arch::wasm32::{
    u8x16_bitmask, u8x16_eq, u8x16_shr, u8x16_splat, u8x16_swizzle, v128, v128_and, v128_any_true, v128_load, v128_or,
    v128_store,
};

#[derive(Debug, Clone, Copy)]
pub struct Simd128(v128, v128);

/// The first 16 bytes of `bytes` (it panics on fewer).
#[inline(always)]
fn load_half(bytes: &[u8]) -> v128 {
    let bytes = &bytes[..16];
    // SAFETY: the slice is valid for 16 bytes; `v128.load` needs no alignment.
    unsafe { v128_load(bytes.as_ptr().cast()) }
}

/// Bit `i` set when lane `i` of `half` is non-zero.
#[inline(always)]
fn nonzero_half(half: v128) -> u32 {
    u32::from(!u8x16_bitmask(u8x16_eq(half, u8x16_splat(0))))
}

impl Vector for Simd128 {
    const LANES: usize = 32;

    #[inline(always)]
    fn splat(byte: u8) -> Self {
        Simd128(u8x16_splat(byte), u8x16_splat(byte))
    }

    #[inline(always)]
    fn table(entries: &[u8; 16]) -> Self {
        let half = load_half(entries);
        Simd128(half, half)
    }

    #[inline(always)]
    fn load(bytes: &[u8]) -> Self {
        let bytes = &bytes[..32];
        Simd128(load_half(&bytes[..16]), load_half(&bytes[16..]))
    }

    #[inline(always)]
    fn and(self, other: Self) -> Self {
        Simd128(v128_and(self.0, other.0), v128_and(self.1, other.1))
    }

    #[inline(always)]
    fn shr4(self) -> Self {
        Simd128(u8x16_shr(self.0, 4), u8x16_shr(self.1, 4))
    }

    #[inline(always)]
    fn shuffle(self, indices: Self) -> Self {
        Simd128(u8x16_swizzle(self.0, indices.0), u8x16_swizzle(self.1, indices.1))
    }

    #[inline(always)]
    fn any(self) -> bool {
        v128_any_true(v128_or(self.0, self.1))
    }

    #[inline(always)]
    fn nonzero_lanes(self) -> u32 {
        nonzero_half(self.0) | nonzero_half(self.1) << 16
    }

    #[inline(always)]
    fn to_array(self) -> [u8; MAX_LANES] {
        let mut out = [0u8; MAX_LANES];
        // SAFETY: `out` is valid for 32 bytes; `v128.store` needs no alignment.
        unsafe {
            v128_store(out.as_mut_ptr().cast(), self.0);
            v128_store(out.as_mut_ptr().add(16).cast(), self.1);
        }
        out
    }
}
