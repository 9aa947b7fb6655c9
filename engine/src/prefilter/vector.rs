//! The vector operations Teddy needs, as a trait, and a portable (array) implementation of it
//! that runs anywhere: it exists so the generic Teddy can be tested natively, never to be fast.
//! The simd128 implementation is in `super::simd128`, the AVX2 one in `super::avx2`.

/// The most lanes a [`Vector`] has (AVX2's 32).
pub const MAX_LANES: usize = 32;

/// 16 or 32 bytes, with the lane-wise operations of a nibble-shuffle search. A shuffle looks
/// lanes up in a 16-byte table: a 32-lane vector holds the table twice, once per half, as
/// AVX2's byte shuffle does.
pub trait Vector: Copy {
    /// 16 or 32.
    const LANES: usize;
    /// Every lane `byte`.
    fn splat(byte: u8) -> Self;
    /// A 16-entry shuffle table, in every 16-lane half.
    fn table(entries: &[u8; 16]) -> Self;
    /// The first [`Vector::LANES`] bytes of `bytes` in order, lane 0 first. The caller
    /// guarantees there are that many (it panics otherwise).
    fn load(bytes: &[u8]) -> Self;
    fn and(self, other: Self) -> Self;
    /// Each lane shifted right by four bits (its high nibble).
    fn shr4(self) -> Self;
    /// Lane `i` is the entry `indices[i]` of the table `self`; every index is below 16 here.
    fn shuffle(self, indices: Self) -> Self;
    /// Whether any lane is non-zero.
    fn any(self) -> bool;
    /// Bit `i` set when lane `i` is non-zero.
    fn nonzero_lanes(self) -> u32;
    /// The lanes in order; past [`Vector::LANES`], zero.
    fn to_array(self) -> [u8; MAX_LANES];
}

/// [`Vector`] as a plain array, for tests and benches on any target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Portable([u8; 16]);

impl Vector for Portable {
    const LANES: usize = 16;

    fn splat(byte: u8) -> Self {
        Portable([byte; 16])
    }

    fn table(entries: &[u8; 16]) -> Self {
        Portable(*entries)
    }

    fn load(bytes: &[u8]) -> Self {
        Portable(bytes[..16].try_into().expect("16 bytes"))
    }

    fn and(self, other: Self) -> Self {
        Portable(std::array::from_fn(|i| self.0[i] & other.0[i]))
    }

    fn shr4(self) -> Self {
        Portable(self.0.map(|b| b >> 4))
    }

    fn shuffle(self, indices: Self) -> Self {
        // As `i8x16.swizzle`: an index past the last lane gives 0.
        Portable(indices.0.map(|i| self.0.get(i as usize).copied().unwrap_or(0)))
    }

    fn any(self) -> bool {
        self.0 != [0; 16]
    }

    fn nonzero_lanes(self) -> u32 {
        self.0.iter().enumerate().fold(0, |mask, (i, &b)| mask | (u32::from(b != 0) << i))
    }

    fn to_array(self) -> [u8; MAX_LANES] {
        std::array::from_fn(|i| self.0.get(i).copied().unwrap_or(0))
    }
}
