//! [`Address`]: what an address type tells the allocator about itself.

use alloc::string::ToString;
use core::fmt;

use crate::error::Error;

/// One field of an address type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    /// The field's name, as written in patterns (`bus`, `slot`).
    pub name: &'static str,
    /// The smallest allowed value.
    pub min: u128,
    /// The largest allowed value.
    pub max: u128,
}

impl Field {
    /// A field named `name` holding `min..=max`.
    pub const fn new(name: &'static str, min: u128, max: u128) -> Field {
        Field { name, min, max }
    }

    /// Whether `value` is allowed.
    pub const fn contains(&self, value: u128) -> bool {
        value >= self.min && value <= self.max
    }

    /// `Ok(value)` when allowed, else [`Error::OutOfRange`] naming the field.
    pub fn check(&self, value: u128) -> Result<u128, Error> {
        if self.contains(value) {
            Ok(value)
        } else {
            Err(Error::OutOfRange {
                field: self.name.to_string(),
                value,
                min: self.min,
                max: self.max,
            })
        }
    }
}

/// An address type: a fixed list of unsigned fields, most significant first.
///
/// `#[derive(AddressSpace)]` and `include_schema!` implement it; implement it by hand
/// only for types neither can describe. The order of the fields is the order of
/// addresses: [`Policy::LowestFirst`](crate::Policy::LowestFirst) takes the address whose
/// first field is smallest, then the second, and so on.
///
/// The fields' value ranges together may span at most 128 bits (each field takes the
/// bits of `max - min`), and there may be at most
/// [`MAX_FIELDS`](crate::MAX_FIELDS) of them.
///
/// ```
/// use addralloc_runtime::{Address, Field};
/// use core::fmt;
///
/// #[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// struct Port { bus: u8, port: u8 }
///
/// impl Address for Port {
///     const FIELDS: &'static [Field] = &[Field::new("bus", 0, 3), Field::new("port", 1, 31)];
///     fn field(&self, i: usize) -> u128 {
///         [self.bus, self.port][i] as u128
///     }
///     fn from_fields(v: &[u128]) -> Self {
///         Port { bus: v[0] as u8, port: v[1] as u8 }
///     }
/// }
///
/// impl fmt::Display for Port {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         write!(f, "{}:{}", self.bus, self.port)
///     }
/// }
///
/// let mut alloc = addralloc_runtime::Allocator::<Port>::new();
/// alloc.add_pool(addralloc_runtime::Pattern::any()).unwrap();
/// assert_eq!(alloc.reserve_any().unwrap(), Port { bus: 0, port: 1 });
/// ```
pub trait Address: Copy + fmt::Display + 'static {
    /// The fields, most significant first.
    const FIELDS: &'static [Field];

    /// The value of field `i` (`i < FIELDS.len()`).
    fn field(&self, i: usize) -> u128;

    /// Builds an address from one value per field. The allocator only passes values
    /// within the fields' ranges; use [`Address::try_from_fields`] for other input.
    fn from_fields(values: &[u128]) -> Self;

    /// Whether field `i` is written in hexadecimal in the type's text (`{bus:02x}`):
    /// patterns and errors then print its values in hex too (`slot=1..=0x1f`, values
    /// below 10 without `0x`). Generated types answer from their format; the default
    /// is decimal for every field.
    fn hex_field(i: usize) -> bool {
        let _ = i;
        false
    }

    /// Builds an address from one value per field, checking the count and every range.
    fn try_from_fields(values: &[u128]) -> Result<Self, Error> {
        if values.len() != Self::FIELDS.len() {
            return Err(Error::Layout {
                reason: alloc::format!(
                    "{} values given for {} fields",
                    values.len(),
                    Self::FIELDS.len()
                ),
            });
        }
        for (f, v) in Self::FIELDS.iter().zip(values) {
            f.check(*v)?;
        }
        Ok(Self::from_fields(values))
    }
}
