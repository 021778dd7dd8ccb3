//! The integer types the range set stores: `u64` for spaces of at most 64 bits,
//! `u128` for wider ones, so that narrow spaces pay 16 bytes per range, not 32.

use core::fmt::Debug;

/// An unsigned index type the range set can store.
pub(crate) trait Idx: Copy + Ord + Eq + Debug + Default + 'static {
    /// The largest value.
    const MAX: Self;
    /// Converts from `u128`; the caller guarantees that `v` fits.
    fn from_u128(v: u128) -> Self;
    /// Widens to `u128`.
    fn to_u128(self) -> u128;
}

impl Idx for u64 {
    const MAX: Self = u64::MAX;
    #[inline]
    fn from_u128(v: u128) -> Self {
        debug_assert!(v <= u64::MAX as u128);
        v as u64
    }
    #[inline]
    fn to_u128(self) -> u128 {
        self as u128
    }
}

impl Idx for u128 {
    const MAX: Self = u128::MAX;
    #[inline]
    fn from_u128(v: u128) -> Self {
        v
    }
    #[inline]
    fn to_u128(self) -> u128 {
        self
    }
}
