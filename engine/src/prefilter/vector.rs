//! The 16-byte vector operations Teddy needs, as a trait, and a portable (array) implementation
//! of it that runs anywhere: it exists so the generic Teddy can be tested natively, never to be
//! fast. The simd128 implementation is in `super::simd128`.

/// Sixteen bytes, with the lane-wise operations of a nibble-shuffle search.
pub trait Vector: Copy {
    /// Every lane `byte`.
    fn splat(byte: u8) -> Self;
    /// The bytes in order, lane 0 first.
    fn load(bytes: &[u8; 16]) -> Self;
    fn and(self, other: Self) -> Self;
    /// Each lane shifted right by four bits (its high nibble).
    fn shr4(self) -> Self;
    /// Lane `i` is `self[indices[i]]`; every index is below 16 here.
    fn shuffle(self, indices: Self) -> Self;
    /// Whether any lane is non-zero.
    fn any(self) -> bool;
    /// Bit `i` set when lane `i` is non-zero.
    fn nonzero_lanes(self) -> u16;
    fn to_array(self) -> [u8; 16];
}

/// [`Vector`] as a plain array, for tests and benches on any target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Portable([u8; 16]);

impl Vector for Portable {
    fn splat(byte: u8) -> Self {
        Portable([byte; 16])
    }

    fn load(bytes: &[u8; 16]) -> Self {
        Portable(*bytes)
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

    fn nonzero_lanes(self) -> u16 {
        self.0.iter().enumerate().fold(0, |mask, (i, &b)| mask | (u16::from(b != 0) << i))
    }

    fn to_array(self) -> [u8; 16] {
        self.0
    }
}
