//! addralloc: declarative address schemas compiled into strongly-typed allocators.
//!
//! An address type — PCI `domain:bus:slot.function`, a drive address, an IPv4 address —
//! is described once, with [`#[derive(AddressSpace)]`](AddressSpace) or in a TOML schema
//! file read by [`include_schema!`]; addralloc checks the layout at compile time and
//! generates a typed address, parser, formatter, pattern builder and block builder, with
//! a typed [`Allocator`] over one shared range engine that stores ranges, not addresses.
//!
//! ```
//! # #[cfg(feature = "derive")] {
//! use addralloc::{AddressSpace, Allocator};
//!
//! #[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
//! #[address(format = "{domain:04x}:{bus:02x}:{slot:02x}.{function:x}")]
//! pub struct PciAddress {
//!     pub domain: u16,
//!     pub bus: u8,
//!     #[address(range = 0..=31)]
//!     pub slot: u8,
//!     #[address(range = 0..=7)]
//!     pub function: u8,
//! }
//!
//! let mut pci = Allocator::<PciAddress>::new();
//! pci.add_pool(PciAddress::pattern().domain(0).bus(0).slot(1..=31))?;
//! let slot = pci.reserve_block(PciAddress::pattern(), PciAddress::block().function(8))?;
//! assert_eq!(slot.first().to_string(), "0000:00:01.0");
//! assert_eq!("0000:00:1f.7".parse::<PciAddress>()?, PciAddress::new(0, 0, 31, 7)?);
//! # }
//! # Ok::<(), addralloc::Error>(())
//! ```
//!
//! See the crate README for a tour.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub use addralloc_runtime::*;

// The bundled schema library, compiled (documented in the module).
#[cfg(feature = "derive")]
pub mod schemas;

// Placement: plans, runs, state files (documented in the module).
#[cfg(feature = "plan")]
pub mod plan;

/// The README's example, compiled and run as a doctest.
#[cfg(all(doctest, feature = "derive"))]
#[doc = include_str!("../README.md")]
mod readme {}

/// Derives the address-type API for a struct with named unsigned integer fields.
///
/// # Generated API
///
/// For `#[derive(AddressSpace)] struct A { .. }`:
///
/// - `impl Address for A`: the fields with their ranges, most significant first
/// - `Display` and `FromStr` following the format; `FromStr::Err` is [`Error`]
///   ([`Error::Parse`] naming the field, the column and the reason), never a panic
/// - `A::new(field, ..) -> Result<A, Error>`, checking every field's range
///   ([`Error::OutOfRange`])
/// - `A::pattern() -> APattern`: one method per field taking a value or a range
///   ([`FieldRange`]); `APattern: Into<Pattern<A>>`
/// - `A::block() -> ABlock`: one method per field taking the extent;
///   `ABlock: Into<Block<A>>`
/// - with default pools: `A::default_pools()` (patterns with their tags) and
///   `A::default_allocator()`
/// - with the `serde` feature: `Serialize`/`Deserialize` as the display string
///
/// `APattern` and `ABlock` are new types beside `A`, with `A`'s visibility.
///
/// ```
/// use addralloc::{AddressSpace, Allocator, Error};
///
/// #[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq)]
/// #[address(format = "{bus}-{port}")]
/// #[address(pool(pattern = "bus=0, port=1..=15", tags = ["usb"]))]
/// struct UsbPort {
///     bus: u8,
///     #[address(range = 1..=15)]
///     port: u8,
/// }
///
/// let mut usb = UsbPort::default_allocator()?;
/// assert_eq!(usb.reserve_any()?, UsbPort::new(0, 1)?);
/// assert_eq!(usb.reserve_first(UsbPort::pattern().port(8..))?.to_string(), "0-8");
/// assert!(matches!(UsbPort::new(0, 16), Err(Error::OutOfRange { .. })));
/// assert_eq!(
///     "0-x".parse::<UsbPort>().unwrap_err().to_string(),
///     "invalid address `0-x` at column 3 (field `port`): expected a decimal digit"
/// );
/// # Ok::<(), Error>(())
/// ```
///
/// # Attributes
///
/// On the struct (`#[address(..)]` may be repeated; each key at most once, except
/// `pool`):
///
/// - `format = "{domain:04x}:{bus:02x}:{slot:02x}.{function:x}"`: how addresses are
///   printed and parsed (see [`mod@format`]); default: every field in decimal, joined by `:`
/// - `pool = "bus=0, slot=1..=31"`: a default pool, in pattern syntax
/// - `pool(pattern = "bus=0, slot=1..=31", tags = ["hotplug"])`: a tagged default pool
/// - `crate = "path::to::addralloc"`: where the generated code finds this crate
///   (default `::addralloc`); must name this facade crate, re-exported or renamed
///
/// On a field:
///
/// - `range = 0..=31` or `range = 0..32` (hex literals allowed): the field's values;
///   default: the whole range of its type
///
/// Every layout fact is checked at compile time, and every problem is reported at once
/// with its span: empty or too-wide ranges, unsupported field types, unknown or
/// repeated keys, format errors (unknown, omitted or repeated fields, unknown
/// specifiers, fields that cannot be told apart), pools outside a field's range.
///
/// ```
/// # use addralloc::AddressSpace;
/// #[derive(AddressSpace, Clone, Copy)]
/// #[address(format = "{a:02x}{b:02x}", crate = "::addralloc")]
/// pub struct Word {
///     /// High byte.
///     pub a: u8,
///     /// Low byte.
///     #[address(range = 0x00..=0x7f)]
///     pub b: u8,
/// }
/// assert_eq!(Word::new(0xab, 0x0c).unwrap().to_string(), "ab0c");
/// assert_eq!("ab0c".parse::<Word>().unwrap().b, 0x0c);
/// ```
#[cfg(feature = "derive")]
pub use addralloc_derive::AddressSpace;

/// Defines the address types of a TOML schema file, with everything
/// [`#[derive(AddressSpace)]`](AddressSpace) generates.
///
/// `include_schema!("schemas/pci.toml")` reads the file at compile time (the path is
/// relative to the crate's `CARGO_MANIFEST_DIR`; editing the file rebuilds the crate)
/// and defines, for each `[[address]]` table, a struct with its `doc`, the fields as
/// public fields with theirs, `Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord`
/// and the generated API.
///
/// # Generated API
///
/// As for [`AddressSpace`]: `Address`, `Display`, `FromStr`, `A::new`,
/// `A::pattern()`, `A::block()`, and `A::default_pools()` / `A::default_allocator()`
/// for types with `[[address.pool]]` tables.
///
/// ```
/// addralloc::include_schema!("schemas/pci.toml");
///
/// let mut pci = PciAddress::default_allocator()?;
/// let nic = pci.reserve_any()?;
/// assert_eq!(nic.to_string(), "0000:00:01.0");
/// assert_eq!(nic, PciAddress { domain: 0, bus: 0, slot: 1, function: 0 });
/// # Ok::<(), addralloc::Error>(())
/// ```
///
/// # Attributes
///
/// The file's layout is described in `docs/schema.md`: `[[address]]` with `name`, `doc`,
/// `format`; `[[address.field]]` with `name`, `type` (`u8` … `u128`), `range`
/// (`"0..=31"`, hex allowed), `doc`; `[[address.pool]]` with `pattern` and `tags`.
/// Errors are reported on the path literal as `file:line:col: message`.
///
/// `include_schema!("schemas/pci.toml", crate = "path::to::addralloc")` sets where the
/// generated code finds this crate, as `#[address(crate = "..")]` does for the derive.
/// `text = "custom"` generates everything but `Display` and `FromStr`, which the
/// calling crate then writes itself (the facade's `schemas::Ipv6Address` does, to print
/// RFC 5952 text).
///
/// ```
/// mod net {
///     addralloc::include_schema!("schemas/mac.toml", crate = "::addralloc");
/// }
/// use net::MacAddress;
///
/// let mac: MacAddress = "52:54:00:12:34:56".parse()?;
/// assert_eq!(mac.d, 0x12);
/// let qemu: addralloc::Pattern<MacAddress> = MacAddress::pattern().a(0x52).b(0x54).c(0).into();
/// assert_eq!(qemu.to_string(), "a=0x52, b=0x54, c=0");
/// # Ok::<(), addralloc::Error>(())
/// ```
#[cfg(feature = "derive")]
pub use addralloc_derive::include_schema;

/// The expansion of a schema file, as a string (golden tests).
#[cfg(feature = "derive")]
#[doc(hidden)]
pub use addralloc_derive::__expand_schema;

/// Support for generated code; not public API.
#[doc(hidden)]
pub mod __private {
    use alloc::vec::Vec;
    use core::fmt;

    use crate::{Address, Error};

    pub use addralloc_runtime::format::__private::{
        absent_before, parse_pieces, suggest, PieceRef, Radix, Spec,
    };

    #[cfg(feature = "serde")]
    pub use serde;

    pub use crate::__addralloc_serde_impls as serde_impls;

    /// The runtime parser, for what the generated fast path does not take (and for
    /// every error, so the words are the runtime's).
    #[cold]
    #[inline(never)]
    pub fn parse_slow<A: Address>(pieces: &[PieceRef<'_>], text: &str) -> Result<A, Error> {
        let fields: Vec<(&str, u128, u128)> =
            A::FIELDS.iter().map(|f| (f.name, f.min, f.max)).collect();
        let values = parse_pieces(pieces, text, &fields)?;
        A::try_from_fields(&values)
    }

    /// A stack buffer the generated `Display` writes an address into, handed to
    /// [`fmt::Formatter::pad`] in one piece (so width and alignment flags apply to the
    /// whole address). `N` is the longest printed address, computed by the macro.
    pub struct Buf<const N: usize> {
        bytes: [u8; N],
        len: usize,
    }

    impl<const N: usize> Default for Buf<N> {
        #[inline]
        fn default() -> Self {
            Self::new()
        }
    }

    impl<const N: usize> Buf<N> {
        /// An empty buffer.
        #[inline]
        pub const fn new() -> Self {
            Buf {
                bytes: [0; N],
                len: 0,
            }
        }

        #[inline]
        fn push_bytes(&mut self, src: &[u8]) {
            if let Some(dst) = self.bytes.get_mut(self.len..self.len + src.len()) {
                dst.copy_from_slice(src);
                self.len += src.len();
            }
        }

        /// Literal text.
        #[inline]
        pub fn push_str(&mut self, s: &str) {
            self.push_bytes(s.as_bytes());
        }

        #[inline]
        fn pad(&mut self, digits: usize, width: usize, zero_pad: bool) {
            let fill = if zero_pad { b'0' } else { b' ' };
            for _ in digits..width {
                self.push_bytes(&[fill]);
            }
        }

        /// A value of at most 64 bits in base 10 or 16, padded to `width`.
        #[inline]
        pub fn push_u64(
            &mut self,
            mut v: u64,
            base: u64,
            upper: bool,
            width: usize,
            zero_pad: bool,
        ) {
            let digits: &[u8; 16] = if upper {
                b"0123456789ABCDEF"
            } else {
                b"0123456789abcdef"
            };
            let mut tmp = [0u8; 64];
            let mut i = tmp.len();
            loop {
                i -= 1;
                tmp[i] = digits[(v % base) as usize & 15];
                v /= base;
                if v == 0 || i == 0 {
                    break;
                }
            }
            self.pad(tmp.len() - i, width, zero_pad);
            self.push_bytes(&tmp[i..]);
        }

        /// A 128-bit value in base 10 or 16, padded to `width`.
        #[inline]
        pub fn push_u128(
            &mut self,
            mut v: u128,
            base: u128,
            upper: bool,
            width: usize,
            zero_pad: bool,
        ) {
            let digits: &[u8; 16] = if upper {
                b"0123456789ABCDEF"
            } else {
                b"0123456789abcdef"
            };
            let mut tmp = [0u8; 128];
            let mut i = tmp.len();
            loop {
                i -= 1;
                tmp[i] = digits[(v % base) as usize & 15];
                v /= base;
                if v == 0 || i == 0 {
                    break;
                }
            }
            self.pad(tmp.len() - i, width, zero_pad);
            self.push_bytes(&tmp[i..]);
        }

        /// A value written with a format spec (letters).
        #[inline]
        pub fn push_spec(&mut self, spec: Spec, v: u128) {
            let _ = spec.write(v, self);
        }

        /// Writes the buffer to the formatter.
        #[inline]
        pub fn finish(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match core::str::from_utf8(self.bytes.get(..self.len).unwrap_or(&[])) {
                Ok(s) => f.pad(s),
                Err(_) => Err(fmt::Error),
            }
        }
    }

    impl<const N: usize> fmt::Write for Buf<N> {
        #[inline]
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.push_str(s);
            Ok(())
        }
    }

    /// Deserializes through `FromStr` from a string.
    #[cfg(feature = "serde")]
    pub fn deserialize_from_str<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: serde::Deserializer<'de>,
        T: core::str::FromStr,
        T::Err: fmt::Display,
    {
        struct V<T>(core::marker::PhantomData<T>);
        impl<T: core::str::FromStr> serde::de::Visitor<'_> for V<T>
        where
            T::Err: fmt::Display,
        {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an address string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<T, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V(core::marker::PhantomData))
    }
}

/// `Serialize` and `Deserialize` as the display string, when the `serde` feature of this
/// crate is on; nothing otherwise. Generated code always invokes it, so the user's crate
/// needs no `serde` feature or `cfg` of its own.
#[cfg(feature = "serde")]
#[doc(hidden)]
#[macro_export]
macro_rules! __addralloc_serde_impls {
    ($ty:ident) => {
        #[automatically_derived]
        impl $crate::__private::serde::Serialize for $ty {
            fn serialize<__S: $crate::__private::serde::Serializer>(
                &self,
                __s: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error> {
                __s.collect_str(self)
            }
        }
        #[automatically_derived]
        impl<'de> $crate::__private::serde::Deserialize<'de> for $ty {
            fn deserialize<__D: $crate::__private::serde::Deserializer<'de>>(
                __d: __D,
            ) -> ::core::result::Result<Self, __D::Error> {
                $crate::__private::deserialize_from_str(__d)
            }
        }
    };
}

/// See the `serde` version above.
#[cfg(not(feature = "serde"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __addralloc_serde_impls {
    ($ty:ident) => {};
}
