//! Interop with the `ipnet` crate (feature `ipnet`): [`Ipv4Net`] and [`Ipv6Net`] to and
//! from patterns and reserved blocks of [`Ipv4Address`] and [`Ipv6Address`].
//!
//! - `Ipv4Address::net_pattern(net)`: the network's addresses (host bits dropped, as
//!   [`Ipv4Net::trunc`] does: `ipnet` keeps an interface address in a net);
//! - `Ipv4Address::net_block(net)`: the network as a block, to release or compare;
//! - `Ipv4Address::net_of_block(&block)` / `net_of_pattern(&pattern)`: a block or
//!   pattern that is exactly one prefix, else [`Error::BadPattern`] saying why;
//!
//! and the same on [`Ipv6Address`] with [`Ipv6Net`]. (Inherent functions: the orphan
//! rules forbid `From` between `ipnet`'s types and `Pattern`.)
//!
//! ```
//! use addralloc::schemas::Ipv4Address;
//! use addralloc::{Allocator, Pattern};
//! use ipnet::Ipv4Net;
//!
//! let lan: Ipv4Net = "10.20.0.0/16".parse().unwrap();
//! let mut ipam = Allocator::<Ipv4Address>::new();
//! ipam.add_pool(Ipv4Address::net_pattern(lan))?;
//! let rack = ipam.reserve_block(Ipv4Address::net_pattern(lan), Ipv4Address::prefix_block(24)?)?;
//! assert_eq!(Ipv4Address::net_of_block(&rack)?, "10.20.0.0/24".parse::<Ipv4Net>().unwrap());
//! assert_eq!(Ipv4Address::net_of_pattern(&Ipv4Address::net_pattern(lan))?, lan);
//! assert_eq!(Ipv4Address::net_block("10.20.0.0/24".parse().unwrap()), rack);
//! assert!(Ipv4Address::net_of_pattern(&"a=10, b=20, c=1..=2".parse()?).is_err());
//! # Ok::<(), addralloc::Error>(())
//! ```

use alloc::format;
use alloc::string::{String, ToString};

use ipnet::{Ipv4Net, Ipv6Net};

use super::{Ipv4Address, Ipv6Address};
use crate::{Address, BlockRange, Error, Pattern};

/// The bits of one field of an address made of equal words.
fn word<A: Address>() -> u32 {
    A::FIELDS.first().map_or(0, |f| 128 - f.max.leading_zeros())
}

/// The address as one number (fields are words, most significant first).
fn number<A: Address>(a: &A) -> u128 {
    let w = word::<A>();
    (0..A::FIELDS.len()).fold(0u128, |n, i| (n << w) | a.field(i))
}

/// The address of a number.
fn address<A: Address>(n: u128) -> A {
    let w = word::<A>();
    let k = A::FIELDS.len();
    let mut v = [0u128; 8];
    for (i, slot) in v.iter_mut().enumerate().take(k) {
        let shift = w * (k - 1 - i) as u32;
        *slot = (n >> shift) & ((1u128 << w) - 1);
    }
    A::from_fields(&v[..k])
}

/// The prefix length of `first..=last` when it is exactly one prefix of `bits`-bit
/// addresses.
fn prefix_of(first: u128, last: u128, bits: u32, text: impl Fn() -> String) -> Result<u8, Error> {
    let bad = |reason: &str| Error::BadPattern {
        pattern: text(),
        reason: reason.to_string(),
    };
    if last < first {
        return Err(bad("the range is reversed"));
    }
    let span = last - first;
    // `span + 1` is a power of two: `span` is all ones.
    if span & span.wrapping_add(1) != 0 {
        return Err(bad(
            "not a prefix: the number of addresses is not a power of two",
        ));
    }
    if first & span != 0 {
        return Err(bad(
            "not a prefix: the first address is not aligned to the block's size",
        ));
    }
    let host = 128 - span.leading_zeros();
    Ok((bits - host) as u8)
}

/// The first and last address of a pattern that is one box, as numbers, when the box
/// is one run of addresses.
fn pattern_span<A: Address>(p: &Pattern<A>) -> Result<(u128, u128), Error> {
    let w = word::<A>();
    let mut lo = 0u128;
    let mut hi = 0u128;
    let mut varied = false;
    for (i, f) in A::FIELDS.iter().enumerate() {
        let (a, b) = p
            .range(i)
            .map_or((f.min, f.max), |r| (*r.start(), *r.end()));
        if varied && !p.is_linear() && (a, b) != (f.min, f.max) {
            return Err(Error::BadPattern {
                pattern: p.to_string(),
                reason: "not a prefix: the pattern is not one run of addresses".to_string(),
            });
        }
        varied |= a != b;
        lo = (lo << w) | a;
        hi = (hi << w) | b;
    }
    p.check()?;
    Ok((lo, hi))
}

macro_rules! interop {
    ($addr:ident, $net:ident, $bits:expr, $example:expr) => {
        /// `ipnet` interop (feature `ipnet`).
        impl $addr {
            #[doc = concat!("The addresses of `net` as a pattern (host bits dropped, as [`", stringify!($net), "::trunc`]).")]
            pub fn net_pattern(net: $net) -> Pattern<$addr> {
                let n = net.trunc();
                // A truncated network is always a valid prefix of the type.
                Pattern::prefix($addr::from(n.network()), u32::from(n.prefix_len()))
                    .unwrap_or_else(|_| Pattern::any())
            }

            /// `net` as a block, from its first to its last address (to release it or
            /// compare it with a reserved block).
            pub fn net_block(net: $net) -> BlockRange<$addr> {
                let n = net.trunc();
                let (a, b) = ($addr::from(n.network()), $addr::from(n.broadcast()));
                // A prefix is a box: every field of its first address is at most the last's.
                BlockRange::new(a, b)
                    .or_else(|| BlockRange::new(a, a))
                    .expect("a single address is a block")
            }

            #[doc = concat!("The prefix a reserved block is, when it is exactly one (a `/n` block always is), as an [`", stringify!($net), "`].")]
            ///
            /// # Errors
            ///
            /// [`Error::BadPattern`] for a block that is not one prefix.
            pub fn net_of_block(block: &BlockRange<$addr>) -> Result<$net, Error> {
                let (lo, hi) = (number(&block.first()), number(&block.last()));
                let len = prefix_of(lo, hi, $bits, || block.to_string())?;
                $net::new(block.first().into(), len).map_err(|e| Error::BadPattern {
                    pattern: block.to_string(),
                    reason: e.to_string(),
                })
            }

            #[doc = concat!("The prefix a pattern is, when it is exactly one (`", $example, "`).")]
            ///
            /// # Errors
            ///
            /// [`Error::BadPattern`] for a pattern that is not one prefix.
            pub fn net_of_pattern(pattern: &Pattern<$addr>) -> Result<$net, Error> {
                let (lo, hi) = pattern_span(pattern)?;
                let len = prefix_of(lo, hi, $bits, || pattern.to_string())?;
                $net::new(address::<$addr>(lo).into(), len).map_err(|e| Error::BadPattern {
                    pattern: format!("{pattern}"),
                    reason: e.to_string(),
                })
            }
        }
    };
}

interop!(Ipv4Address, Ipv4Net, 32, "a=10, b=20 is 10.20.0.0/16");
interop!(
    Ipv6Address,
    Ipv6Net,
    128,
    "a=0x2001, b=0xdb8 is 2001:db8::/32"
);
