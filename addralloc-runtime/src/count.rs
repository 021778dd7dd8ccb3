//! [`Count`]: a number of addresses, wide enough for a whole 128-bit space.

use core::cmp::Ordering;
use core::fmt;

/// A number of addresses.
///
/// A 128-bit space (an IPv6 pool of `::/0`) holds 2<sup>128</sup> addresses, one more
/// than `u128::MAX`, so counts are 129-bit numbers. Compare a `Count` with a `u128`
/// directly, or narrow it with [`Count::to_u128`].
///
/// ```
/// use addralloc_runtime::Count;
/// let c = Count::from(256u128);
/// assert_eq!(c, 256u128);
/// assert_eq!(c.to_u128(), Some(256));
/// assert_eq!(Count::FULL_128.to_string(), "340282366920938463463374607431768211456");
/// assert_eq!(Count::FULL_128.to_u128(), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Count {
    /// Bit 128.
    hi: bool,
    /// Bits 0..128.
    lo: u128,
}

impl Count {
    /// Zero addresses.
    pub const ZERO: Count = Count { hi: false, lo: 0 };
    /// 2<sup>128</sup>: every address of a 128-bit space.
    pub const FULL_128: Count = Count { hi: true, lo: 0 };

    /// The count as a `u128`, or `None` when it is 2<sup>128</sup> or more.
    pub const fn to_u128(self) -> Option<u128> {
        if self.hi {
            None
        } else {
            Some(self.lo)
        }
    }

    /// The count as a `u128`, saturating at `u128::MAX`.
    pub const fn saturating_u128(self) -> u128 {
        if self.hi {
            u128::MAX
        } else {
            self.lo
        }
    }

    /// Whether the count is zero.
    pub const fn is_zero(self) -> bool {
        !self.hi && self.lo == 0
    }

    /// The number of integers in `lo..=hi`; `lo <= hi`.
    pub(crate) fn span(lo: u128, hi: u128) -> Count {
        let d = hi - lo;
        match d.checked_add(1) {
            Some(n) => Count { hi: false, lo: n },
            None => Count::FULL_128,
        }
    }

    /// Sum; counts in this crate never exceed 2<sup>129</sup> − 1.
    pub(crate) fn add(self, other: Count) -> Count {
        let (lo, carry) = self.lo.overflowing_add(other.lo);
        Count {
            hi: self.hi | other.hi | carry,
            lo,
        }
    }

    /// Difference; `other <= self`.
    pub(crate) fn sub(self, other: Count) -> Count {
        let (lo, borrow) = self.lo.overflowing_sub(other.lo);
        Count {
            hi: (self.hi as u8 - other.hi as u8 - borrow as u8) != 0,
            lo,
        }
    }

    /// Product of a count that fits in `u128` with a `u128`, or `None` past 2<sup>128</sup>.
    pub(crate) fn mul(self, m: u128) -> Option<Count> {
        if self.hi {
            return match m {
                0 => Some(Count::ZERO),
                1 if self.lo == 0 => Some(self),
                _ => None,
            };
        }
        match self.lo.checked_mul(m) {
            Some(lo) => Some(Count { hi: false, lo }),
            None => {
                // Exactly 2^128 is still representable.
                if self.lo.is_power_of_two()
                    && m.is_power_of_two()
                    && self.lo.trailing_zeros() + m.trailing_zeros() == 128
                {
                    Some(Count::FULL_128)
                } else {
                    None
                }
            }
        }
    }
}

impl From<u128> for Count {
    fn from(n: u128) -> Count {
        Count { hi: false, lo: n }
    }
}

impl From<u64> for Count {
    fn from(n: u64) -> Count {
        Count::from(n as u128)
    }
}

impl From<usize> for Count {
    fn from(n: usize) -> Count {
        Count::from(n as u128)
    }
}

impl PartialEq<u128> for Count {
    fn eq(&self, other: &u128) -> bool {
        !self.hi && self.lo == *other
    }
}

impl PartialOrd for Count {
    fn partial_cmp(&self, other: &Count) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Count {
    fn cmp(&self, other: &Count) -> Ordering {
        (self.hi, self.lo).cmp(&(other.hi, other.lo))
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.hi {
            return fmt::Display::fmt(&self.lo, f);
        }
        // hi * 2^128 + lo, printed by long division in base 10^19.
        let mut digits = [0u64; 3]; // base 10^19 limbs, least significant first
        let mut limbs = [
            self.lo as u64 as u128,
            (self.lo >> 64) as u64 as u128,
            1u128,
        ];
        const BASE: u128 = 10_000_000_000_000_000_000;
        for d in digits.iter_mut() {
            let mut rem: u128 = 0;
            for limb in limbs.iter_mut().rev() {
                let cur = (rem << 64) | *limb;
                *limb = cur / BASE;
                rem = cur % BASE;
            }
            *d = rem as u64;
        }
        let mut s = alloc::string::String::new();
        let mut started = false;
        for (i, d) in digits.iter().enumerate().rev() {
            if started {
                s.push_str(&alloc::format!("{d:019}"));
            } else if *d != 0 || i == 0 {
                s.push_str(&alloc::format!("{d}"));
                started = true;
            }
        }
        f.pad_integral(true, "", &s)
    }
}

impl fmt::Debug for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn arithmetic_across_2_pow_128() {
        let full = Count::span(0, u128::MAX);
        assert_eq!(full, Count::FULL_128);
        assert_eq!(full.sub(Count::from(1u128)), u128::MAX);
        assert_eq!(
            Count::from(u128::MAX).add(Count::from(1u128)),
            Count::FULL_128
        );
        assert_eq!(
            Count::from(1u128 << 64).mul(1u128 << 64),
            Some(Count::FULL_128)
        );
        assert_eq!(Count::from(3u128 << 126).mul(2), None);
        assert!(Count::FULL_128 > Count::from(u128::MAX));
        assert_eq!(Count::ZERO.to_string(), "0");
        assert_eq!(Count::from(u128::MAX).to_string(), u128::MAX.to_string());
        assert_eq!(
            Count::FULL_128.to_string(),
            "340282366920938463463374607431768211456"
        );
    }
}
