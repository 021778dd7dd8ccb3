//! The bundled schema library (`schemas/*.toml`), compiled.
//!
//! Every address type of every bundled schema, with the generated API of [`include_schema!`](crate::include_schema)
//! (`Address`, `Display`, `FromStr`, `new`, `pattern()`, `block()`, default pools), and
//! for the network types conversions with the standard library and CIDR pools.
//!
//! | schema | types |
//! | --- | --- |
//! | `pci.toml` | [`PciAddress`] |
//! | `drive.toml` | [`DriveAddress`] |
//! | `virtio-serial.toml` | [`VirtioSerialAddress`] |
//! | `ccw.toml` | [`CcwAddress`] |
//! | `ipv4.toml` | [`Ipv4Address`]: `From` [`Ipv4Addr`] and back, [`Ipv4Address::cidr`], [`Ipv4Address::prefix_block`] |
//! | `ipv6.toml` | [`Ipv6Address`]: RFC 5952 text, `From` [`Ipv6Addr`] and back, [`Ipv6Address::cidr`], [`Ipv6Address::prefix_block`] |
//! | `mac.toml` | [`MacAddress`]: `From<[u8; 6]>` and back |
//! | `usb.toml` | [`UsbAddress`] (a port path of 1 to 4 levels: `0-1`, `0-1.2`), [`UsbPortAddress`], [`UsbHubPortAddress`] |
//! | `spapr-vio.toml` | [`SpaprVioAddress`] |
//! | `dimm.toml` | [`DimmSlotAddress`] |
//! | `disk-name.toml` | [`ScsiDiskName`], [`IdeDiskName`], [`VirtioDiskName`], [`XenDiskName`] |
//! | `vlan.toml` | [`VlanId`], [`VxlanVni`] |
//!
//! The same files load at run time with
//! `addralloc::dynamic::DynSchema::from_toml(include_str!("schemas/ipv4.toml"))`, with the
//! same fields, ranges, text and default pools — except [`Ipv6Address`]'s text: the
//! schema format prints all eight groups (`fe80:0:0:0:0:0:0:1`), while this type prints
//! the RFC 5952 form (`fe80::1`) and parses both (see [`Ipv6Address`]).
//!
//! A CIDR prefix is a box of field ranges, so it is a [`Pattern`]: `192.168.1.0/24` is
//! `a=192, b=168, c=1`, and `10.0.16.0/20` (not on an octet boundary) is
//! `a=10, b=0, c=16..=31`. The shape of an aligned sub-block (a /29) is a [`Block`].
//!
//! ```
//! use addralloc::schemas::{Ipv4Address, Ipv6Address, MacAddress};
//! use addralloc::Allocator;
//! use std::net::{Ipv4Addr, Ipv6Addr};
//!
//! let mut ipam = Allocator::<Ipv4Address>::new();
//! ipam.add_pool(Ipv4Address::cidr("192.168.1.0/24")?)?;
//! ipam.owned_by("router").reserve("192.168.1.254".parse()?)?;
//! let block = ipam.reserve_block(Ipv4Address::cidr("192.168.1.0/24")?, Ipv4Address::prefix_block(29)?)?;
//! assert_eq!(block.to_string(), "192.168.1.0..=192.168.1.7");
//! assert_eq!(Ipv4Addr::from(block.last()), Ipv4Addr::new(192, 168, 1, 7));
//!
//! let ll: Ipv6Address = "fe80::1".parse()?;
//! assert_eq!(ll.to_string(), "fe80::1");
//! assert_eq!(ll, "fe80:0:0:0:0:0:0:1".parse()?);
//! assert_eq!(Ipv6Addr::from(ll), Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
//! assert_eq!(Ipv6Address::cidr("2001:db8::/64")?.to_string(), "a=0x2001, b=0xdb8, c=0, d=0");
//!
//! let mac = MacAddress::from([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
//! assert_eq!(mac.to_string(), "52:54:00:12:34:56");
//! assert_eq!(<[u8; 6]>::from(mac), [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
//!
//! assert_eq!(
//!     Ipv4Address::cidr("192.168.1.5/24").unwrap_err().to_string(),
//!     "invalid pattern `192.168.1.5/24`: host bits are set; the /24 network is 192.168.1.0/24"
//! );
//! # Ok::<(), addralloc::Error>(())
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

use crate::format::Format;
use crate::{Address, Block, Error, Pattern};

crate::include_schema!("schemas/pci.toml", crate = "crate");
crate::include_schema!("schemas/drive.toml", crate = "crate");
crate::include_schema!("schemas/virtio-serial.toml", crate = "crate");
crate::include_schema!("schemas/ccw.toml", crate = "crate");
crate::include_schema!("schemas/ipv4.toml", crate = "crate");
crate::include_schema!("schemas/ipv6.toml", crate = "crate", text = "custom");
crate::include_schema!("schemas/mac.toml", crate = "crate");
crate::include_schema!("schemas/usb.toml", crate = "crate");
crate::include_schema!("schemas/spapr-vio.toml", crate = "crate");
crate::include_schema!("schemas/dimm.toml", crate = "crate");
crate::include_schema!("schemas/disk-name.toml", crate = "crate");
crate::include_schema!("schemas/vlan.toml", crate = "crate");

#[cfg(feature = "ipnet")]
mod ipnet;

// ---------------------------------------------------------------------------------------
// Prefixes (CIDR) over address types whose fields are `W`-bit words.

/// The bits of one field of an address made of `W`-bit words.
fn field_bits<A: Address>() -> u32 {
    A::FIELDS.first().map_or(0, |f| 128 - f.max.leading_zeros())
}

/// How many of field `i`'s `w` bits a `/prefix` fixes.
fn fixed_bits(i: usize, w: u32, prefix: u32) -> u32 {
    let start = i as u32 * w;
    prefix.saturating_sub(start).min(w)
}

/// The pattern of the network `addr/prefix` (the caller checked the prefix length).
fn prefix_pattern<A: Address>(addr: &A, prefix: u32) -> Pattern<A> {
    let w = field_bits::<A>();
    let mut p = Pattern::any();
    for i in 0..A::FIELDS.len() {
        let k = fixed_bits(i, w, prefix);
        if k == 0 {
            continue;
        }
        let host = (1u128 << (w - k)) - 1;
        let lo = addr.field(i) & !host;
        p = p.field::<u128>(i, lo..=lo | host);
    }
    p
}

/// The block shape of a `/prefix` (the caller checked the prefix length).
fn prefix_shape<A: Address>(prefix: u32) -> Block<A> {
    let w = field_bits::<A>();
    let mut b = Block::single();
    for i in 0..A::FIELDS.len() {
        b = b.extent(i, 1u128 << (w - fixed_bits(i, w, prefix)));
    }
    b
}

/// The value of the host bits of `addr` under `/prefix`, as an address (all zero when
/// `addr` is the network's first address).
fn network<A: Address>(addr: &A, prefix: u32) -> A {
    let w = field_bits::<A>();
    let values: alloc::vec::Vec<u128> = (0..A::FIELDS.len())
        .map(|i| {
            let k = fixed_bits(i, w, prefix);
            let host = (1u128 << (w - k)) - 1;
            addr.field(i) & !host
        })
        .collect();
    A::from_fields(&values)
}

/// Parses a prefix length of at most `max` bits.
fn prefix_len(text: &str, len: &str, family: &str, max: u32) -> Result<u32, Error> {
    let bad = |reason: String| Error::BadPattern {
        pattern: text.to_string(),
        reason,
    };
    if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!(
            "the prefix length `{len}` is not a number from 0 to {max}"
        )));
    }
    let n: u32 = len.parse().map_err(|_| {
        bad(format!(
            "the prefix length `{len}` is not a number from 0 to {max}"
        ))
    })?;
    if n > max {
        return Err(bad(format!(
            "the prefix length {n} is longer than the {max} bits of an {family} address"
        )));
    }
    Ok(n)
}

/// `address/prefix` into the network's pattern; `example` is a valid text for messages.
fn cidr<A: Address + FromStr<Err = Error>>(
    text: &str,
    family: &str,
    example: &str,
) -> Result<Pattern<A>, Error> {
    let bad = |reason: String| Error::BadPattern {
        pattern: text.to_string(),
        reason,
    };
    let max = field_bits::<A>() * A::FIELDS.len() as u32;
    let Some((addr_text, len)) = text.split_once('/') else {
        return Err(bad(format!(
            "expected an {family} network `address/prefix-length`, such as `{example}`"
        )));
    };
    let addr: A = addr_text.parse().map_err(|e| bad(format!("{e}")))?;
    let prefix = prefix_len(text, len, family, max)?;
    let net = network(&addr, prefix);
    if (0..A::FIELDS.len()).any(|i| net.field(i) != addr.field(i)) {
        return Err(bad(format!(
            "host bits are set; the /{prefix} network is {net}/{prefix}"
        )));
    }
    Ok(prefix_pattern(&addr, prefix))
}

fn prefix_block<A: Address>(prefix: u32, family: &str) -> Result<Block<A>, Error> {
    let max = field_bits::<A>() * A::FIELDS.len() as u32;
    if prefix > max {
        return Err(Error::BadPattern {
            pattern: format!("/{prefix}"),
            reason: format!(
                "the prefix length {prefix} is longer than the {max} bits of an {family} address"
            ),
        });
    }
    Ok(prefix_shape(prefix))
}

// ---------------------------------------------------------------------------------------
// IPv4

impl Ipv4Address {
    /// The network `192.168.1.0/24` as a pattern of its addresses (`a=192, b=168, c=1`),
    /// for [`Allocator::add_pool`](crate::Allocator::add_pool) or `reserve_first`. A prefix
    /// inside an octet constrains that octet to a range: `10.0.16.0/20` is
    /// `a=10, b=0, c=16..=31`; `/0` is every address.
    ///
    /// # Errors
    ///
    /// [`Error::BadPattern`] for text that is not `address/length`, an address that does
    /// not parse, a length that is not a number from 0 to 32, or host bits set
    /// (`192.168.1.5/24`).
    pub fn cidr(text: &str) -> Result<Pattern<Ipv4Address>, Error> {
        cidr(text, "IPv4", "192.168.1.0/24")
    }

    /// The shape of an aligned `/prefix` block for
    /// [`Allocator::reserve_block`](crate::Allocator::reserve_block): `/29` is `d` extent
    /// 8, `/20` is `c` extent 16 and `d` extent 256, `/32` a single address.
    ///
    /// # Errors
    ///
    /// [`Error::BadPattern`] for a prefix length over 32.
    pub fn prefix_block(prefix: u32) -> Result<Block<Ipv4Address>, Error> {
        prefix_block(prefix, "IPv4")
    }
}

impl From<Ipv4Address> for Ipv4Addr {
    fn from(a: Ipv4Address) -> Ipv4Addr {
        Ipv4Addr::new(a.a, a.b, a.c, a.d)
    }
}

impl From<Ipv4Addr> for Ipv4Address {
    fn from(a: Ipv4Addr) -> Ipv4Address {
        let [a, b, c, d] = a.octets();
        Ipv4Address { a, b, c, d }
    }
}

// ---------------------------------------------------------------------------------------
// IPv6

/// The format of `schemas/ipv6.toml` (all eight groups), which [`Ipv6Address`] parses
/// besides RFC 4291 text; a test holds it equal to the file's.
pub(crate) const IPV6_SCHEMA_FORMAT: &str = "{a:x}:{b:x}:{c:x}:{d:x}:{e:x}:{f:x}:{g:x}:{h:x}";

/// RFC 5952 text: the longest run of two or more zero groups (the first on a tie)
/// written `::`, lowercase hexadecimal without leading zeros, and an IPv4-mapped address
/// as `::ffff:192.0.2.1`. Width and alignment flags apply to the whole address.
impl fmt::Display for Ipv6Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Ipv6Addr::from(*self), f)
    }
}

/// Any valid IPv6 text (RFC 4291: compressed `fe80::1` or not, with an IPv4 tail
/// `::ffff:192.0.2.1`, hexadecimal in either case), and everything the schema format
/// `{a:x}:{b:x}:…:{h:x}` accepts (all eight groups, leading zeros allowed).
///
/// Errors are [`Error::Parse`]: for text with `::` or a dotted tail, naming the rule; for
/// other text, the schema parser's error naming the group and the column. Never panics.
impl FromStr for Ipv6Address {
    type Err = Error;

    fn from_str(s: &str) -> Result<Ipv6Address, Error> {
        if let Ok(a) = Ipv6Addr::from_str(s) {
            return Ok(a.into());
        }
        let fields: alloc::vec::Vec<(&str, u128, u128)> = Ipv6Address::FIELDS
            .iter()
            .map(|f| (f.name, f.min, f.max))
            .collect();
        let schema = Format::parse(IPV6_SCHEMA_FORMAT, &fields).map_err(|_| Error::Layout {
            reason: "the IPv6 schema format does not compile".to_string(),
        })?;
        match schema.parse_values(s, &fields) {
            Ok(values) => Ipv6Address::try_from_fields(&values),
            Err(_) if s.contains("::") || s.contains('.') => Err(Error::Parse {
                input: s.to_string(),
                field: None,
                column: 1,
                reason: "expected an IPv6 address: up to eight groups of one to four \
                             hexadecimal digits separated by `:`, one `::` for a run of zero \
                             groups, optionally ending in a dotted IPv4 address"
                    .to_string(),
            }),
            Err(e) => Err(e),
        }
    }
}

impl Ipv6Address {
    /// The network `2001:db8::/64` as a pattern of its addresses (a /64 fixes the first
    /// four groups: `a=0x2001, b=0xdb8, c=0, d=0`). A prefix inside a group constrains that
    /// group to a range: `2001:db8::/36` is `a=0x2001, b=0xdb8, c=0..=0xfff`.
    ///
    /// # Errors
    ///
    /// [`Error::BadPattern`] for text that is not `address/length`, an address that does
    /// not parse, a length that is not a number from 0 to 128, or host bits set.
    pub fn cidr(text: &str) -> Result<Pattern<Ipv6Address>, Error> {
        cidr(text, "IPv6", "2001:db8::/64")
    }

    /// The shape of an aligned `/prefix` block: `/64` spans the last four groups, `/120`
    /// is `h` extent 256, `/128` a single address.
    ///
    /// # Errors
    ///
    /// [`Error::BadPattern`] for a prefix length over 128.
    pub fn prefix_block(prefix: u32) -> Result<Block<Ipv6Address>, Error> {
        prefix_block(prefix, "IPv6")
    }
}

impl From<Ipv6Address> for Ipv6Addr {
    fn from(a: Ipv6Address) -> Ipv6Addr {
        Ipv6Addr::new(a.a, a.b, a.c, a.d, a.e, a.f, a.g, a.h)
    }
}

impl From<Ipv6Addr> for Ipv6Address {
    fn from(a: Ipv6Addr) -> Ipv6Address {
        let [a, b, c, d, e, f, g, h] = a.segments();
        Ipv6Address {
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
        }
    }
}

// ---------------------------------------------------------------------------------------
// MAC

impl From<MacAddress> for [u8; 6] {
    fn from(m: MacAddress) -> [u8; 6] {
        [m.a, m.b, m.c, m.d, m.e, m.f]
    }
}

impl From<[u8; 6]> for MacAddress {
    fn from([a, b, c, d, e, f]: [u8; 6]) -> MacAddress {
        MacAddress { a, b, c, d, e, f }
    }
}

#[cfg(test)]
mod tests {
    /// The schema format [`Ipv6Address`](super::Ipv6Address) parses besides RFC 4291 text
    /// is the one in `schemas/ipv6.toml`.
    #[test]
    fn ipv6_schema_format_is_the_file_s() {
        let line = alloc::format!("format = \"{}\"", super::IPV6_SCHEMA_FORMAT);
        assert!(include_str!("../schemas/ipv6.toml")
            .lines()
            .any(|l| l == line));
    }
}
