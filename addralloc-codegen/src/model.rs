//! The model every front end builds and the expander reads: one address type with its
//! fields, format and pools, each fact with the span it came from.

use addralloc_runtime::format::Format;
use proc_macro2::TokenStream;
use syn::Ident;

/// The unsigned integer type of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UInt {
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `u128`
    U128,
}

impl UInt {
    /// The type for a name such as `u16`.
    pub fn from_name(name: &str) -> Option<UInt> {
        Some(match name {
            "u8" => UInt::U8,
            "u16" => UInt::U16,
            "u32" => UInt::U32,
            "u64" => UInt::U64,
            "u128" => UInt::U128,
            _ => return None,
        })
    }

    /// The type's name.
    pub fn name(self) -> &'static str {
        match self {
            UInt::U8 => "u8",
            UInt::U16 => "u16",
            UInt::U32 => "u32",
            UInt::U64 => "u64",
            UInt::U128 => "u128",
        }
    }

    /// The type's largest value.
    pub fn max(self) -> u128 {
        match self {
            UInt::U8 => u8::MAX.into(),
            UInt::U16 => u16::MAX.into(),
            UInt::U32 => u32::MAX.into(),
            UInt::U64 => u64::MAX.into(),
            UInt::U128 => u128::MAX,
        }
    }
}

/// One field.
#[derive(Clone, Debug)]
pub struct FieldModel {
    /// The field's name.
    pub ident: Ident,
    /// Its type.
    pub ty: UInt,
    /// Smallest allowed value.
    pub min: u128,
    /// Largest allowed value.
    pub max: u128,
    /// Rustdoc (TOML front end; the derive keeps the user's own docs).
    pub doc: Option<String>,
}

/// A default pool: per field an optional range, and tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolModel {
    /// The pattern text as written.
    pub text: String,
    /// Per field: `Some((lo, hi))` when constrained.
    pub ranges: Vec<Option<(u128, u128)>>,
    /// A linear range: `ranges` hold the fields of its first and last address.
    pub linear: bool,
    /// The pool's tags.
    pub tags: Vec<String>,
}

/// One address type.
#[derive(Clone, Debug)]
pub struct AddressType {
    /// The type's name.
    pub ident: Ident,
    /// Its visibility (generated builder types share it).
    pub vis: TokenStream,
    /// The path of the `addralloc` facade (`::addralloc` unless overridden).
    pub krate: TokenStream,
    /// Rustdoc for a defined struct (TOML front end).
    pub doc: Option<String>,
    /// Fields, most significant first.
    pub fields: Vec<FieldModel>,
    /// The checked format.
    pub format: Format,
    /// The format text as written.
    pub format_text: String,
    /// Default pools.
    pub pools: Vec<PoolModel>,
}
