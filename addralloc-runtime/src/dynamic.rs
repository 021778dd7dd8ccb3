//! Address types loaded at run time: the same TOML schemas `include_schema!` compiles,
//! for command-line tools and daemons that learn their address types from
//! configuration.
//!
//! [`DynSchema`] holds checked [`DynType`]s; a [`DynAddress`] is a list of field values
//! tied to its type (it prints in the type's format); [`DynAllocator`] offers the
//! operations of [`Allocator`](crate::Allocator), taking addresses, patterns and block
//! shapes as text or as parsed values.
//!
//! ```
//! use addralloc_runtime::dynamic::{DynAllocator, DynSchema};
//! use addralloc_runtime::Policy;
//!
//! let schema = DynSchema::from_toml(r#"
//! [[address]]
//! name = "PciAddress"
//! format = "{bus:02x}:{slot:02x}.{function:x}"
//! [[address.field]]
//! name = "bus"
//! type = "u8"
//! [[address.field]]
//! name = "slot"
//! type = "u8"
//! range = "0..=31"
//! [[address.field]]
//! name = "function"
//! type = "u8"
//! range = "0..=7"
//! [[address.pool]]
//! pattern = "bus=0, slot=1..=31"
//! tags = ["hotplug"]
//! "#).map_err(|e| e[0].message.clone())?;
//!
//! let pci = schema.get("PciAddress").unwrap();
//! let mut alloc = DynAllocator::with_default_pools(pci.clone(), Policy::LowestFirst)?;
//! alloc.owned_by("isa-bridge").reserve("00:01.0")?;
//! let err = alloc.reserve("00:01.0").unwrap_err();
//! assert_eq!(err.to_string(), "address 00:01.0 is already reserved by `isa-bridge`");
//!
//! let slot = alloc.reserve_block("*", "function=8")?;
//! assert_eq!(slot.to_string(), "00:02.0..=00:02.7");
//! assert_eq!(alloc.reserve_any()?.to_string(), "00:01.1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Bound;
use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;

use crate::allocator_core::{Core, Opts, Space};
use crate::count::Count;
use crate::engine::grid::Layout;
use crate::engine::state::Engine;
use crate::error::Error;
use crate::format::Format;
use crate::front;
use crate::pattern::{check_extent, display_extents, is_box_run, RawPattern, Span};
use crate::policy::Policy;
use crate::schema::{Diagnostic, FieldDef, Schema, TypeDef};
use crate::snapshot::{self, Snapshot};
use crate::transaction::{self, Journaled, Transaction};
use crate::window::Fit;

// ----- schema and types --------------------------------------------------------------

/// A checked schema loaded at run time: its address types, ready to parse, print and
/// allocate.
#[derive(Clone, Debug)]
pub struct DynSchema {
    types: Vec<Arc<DynType>>,
}

impl DynSchema {
    /// Parses and checks a TOML schema (see [`Schema::from_toml`]).
    pub fn from_toml(text: &str) -> Result<DynSchema, Vec<Diagnostic>> {
        Self::from_schema(Schema::from_toml(text)?)
    }

    /// Checks a schema model built by other means.
    pub fn from_schema(schema: Schema) -> Result<DynSchema, Vec<Diagnostic>> {
        let mut types: Vec<Arc<DynType>> = Vec::new();
        let mut errors = Vec::new();
        for t in schema.types {
            if let Some(first) = types.iter().find(|u| u.name() == t.name) {
                errors.push(
                    Diagnostic::new(
                        format!("duplicate address type `{}`", t.name),
                        t.span.clone(),
                    )
                    .with_note(
                        format!("address type `{}` is first declared here", t.name),
                        first.def.span.clone(),
                    ),
                );
                continue;
            }
            match DynType::from_def(t) {
                Ok(t) => types.push(Arc::new(t)),
                Err(e) => errors.extend(e),
            }
        }
        if errors.is_empty() {
            Ok(DynSchema { types })
        } else {
            Err(errors)
        }
    }

    /// The types, in file order.
    pub fn types(&self) -> &[Arc<DynType>] {
        &self.types
    }

    /// The type called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<DynType>> {
        self.types.iter().find(|t| t.name() == name)
    }
}

/// One address type loaded at run time.
///
/// Share it as `Arc<DynType>`: addresses, patterns and allocators keep a reference to
/// their type.
#[derive(Clone, Debug)]
pub struct DynType {
    def: TypeDef,
    format: Format,
    layout: Layout,
    /// `text = "ipv6"`: RFC 5952 text instead of the format.
    ipv6: bool,
    /// Per field, the radix its values print in within patterns and block shapes: the
    /// format's (`{reg:x}`: hex).
    radix: Vec<u8>,
}

impl PartialEq for DynType {
    fn eq(&self, other: &Self) -> bool {
        self.def == other.def
    }
}
impl Eq for DynType {}

impl DynType {
    /// Checks a type ([`TypeDef::check`]) and prepares it.
    pub fn from_def(def: TypeDef) -> Result<DynType, Vec<Diagnostic>> {
        let errors = def.check();
        if !errors.is_empty() {
            return Err(errors);
        }
        let layout = Layout::new(def.fields.iter().map(|f| (f.min, f.max))).map_err(|e| {
            vec![Diagnostic::new(
                front::layout_error(e, &def.fields).to_string(),
                def.span.clone(),
            )]
        })?;
        let format = def.format();
        let mut radix = vec![crate::pattern::DEC; def.fields.len()];
        for p in format.pieces() {
            if let crate::format::__private::Piece::Field(spec) = p {
                let r = match spec.radix {
                    crate::format::__private::Radix::LowerHex => crate::pattern::HEX,
                    crate::format::__private::Radix::UpperHex => crate::pattern::UPPER_HEX,
                    _ => crate::pattern::DEC,
                };
                if let Some(slot) = radix.get_mut(spec.field) {
                    *slot = r;
                }
            }
        }
        Ok(DynType {
            format,
            radix,
            ipv6: def.text.as_deref() == Some("ipv6"),
            def,
            layout,
        })
    }

    /// The type's name.
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// The type's definition.
    pub fn def(&self) -> &TypeDef {
        &self.def
    }

    /// The fields, most significant first.
    pub fn fields(&self) -> &[FieldDef] {
        &self.def.fields
    }

    /// The position of the field called `name`.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.def.fields.iter().position(|f| f.name == name)
    }

    /// The format addresses are printed and parsed with.
    pub fn format(&self) -> &Format {
        &self.format
    }

    /// Number of addresses of the type (every field's whole range).
    pub fn capacity(&self) -> Count {
        self.def
            .fields
            .iter()
            .try_fold(Count::from(1u128), |c, f| {
                c.to_u128().and_then(|c| Count::span(f.min, f.max).mul(c))
            })
            // Only a 128-bit space overflows, and it holds exactly 2^128.
            .unwrap_or(Count::FULL_128)
    }

    fn tuples(&self) -> Vec<(&str, u128, u128)> {
        self.def.field_tuples()
    }

    /// Parses an address in the type's format.
    pub fn parse_address(self: &Arc<Self>, text: &str) -> Result<DynAddress, Error> {
        let values = self.text_values(text)?;
        Ok(DynAddress {
            ty: Arc::clone(self),
            values,
        })
    }

    /// An address from one value per field, checking the count and every range.
    pub fn address(self: &Arc<Self>, values: &[u128]) -> Result<DynAddress, Error> {
        self.check_values(values)?;
        self.format.check_present(values, &self.tuples())?;
        Ok(DynAddress {
            ty: Arc::clone(self),
            values: values.to_vec(),
        })
    }

    fn check_values(&self, values: &[u128]) -> Result<(), Error> {
        if values.len() != self.def.fields.len() {
            return Err(Error::Layout {
                reason: format!(
                    "{} values given for the {} fields of `{}`",
                    values.len(),
                    self.def.fields.len(),
                    self.name()
                ),
            });
        }
        for (f, &v) in self.def.fields.iter().zip(values) {
            if v < f.min || v > f.max {
                return Err(Error::OutOfRange {
                    field: f.name.clone(),
                    value: v,
                    min: f.min,
                    max: f.max,
                });
            }
        }
        Ok(())
    }

    /// Prints an address of this type in its format (any address prints in its own
    /// type's format through `Display`).
    pub fn format_address(&self, addr: &DynAddress) -> String {
        self.format_values(&addr.values)
    }

    /// Prints field values in the type's format (a missing value prints as `?`), or
    /// its known text (`text = "ipv6"`: RFC 5952).
    pub fn format_values(&self, values: &[u128]) -> String {
        match self.ipv6_of(values) {
            Some(a) => a.to_string(),
            None => self.format.to_string(values),
        }
    }

    /// The radix field `i` prints in within patterns and block shapes.
    fn radix_of(&self, i: usize) -> u8 {
        self.radix.get(i).copied().unwrap_or(crate::pattern::DEC)
    }

    /// The address as an `Ipv6Addr` when the type's text is `ipv6`.
    fn ipv6_of(&self, values: &[u128]) -> Option<core::net::Ipv6Addr> {
        if !self.ipv6 || values.len() != 8 {
            return None;
        }
        let mut seg = [0u16; 8];
        for (s, &v) in seg.iter_mut().zip(values) {
            *s = u16::try_from(v).ok()?;
        }
        Some(core::net::Ipv6Addr::from(seg))
    }

    /// An address's values from its text: the known text first (`ipv6`: any RFC 4291
    /// form), then the format.
    fn text_values(&self, text: &str) -> Result<Vec<u128>, Error> {
        if self.ipv6 {
            if let Ok(a) = text.parse::<core::net::Ipv6Addr>() {
                return Ok(a.segments().iter().map(|&s| u128::from(s)).collect());
            }
        }
        self.format.parse_values(text, &self.tuples())
    }

    /// Parses a pattern: fields `bus=0, slot=1..=31`; `*` for every address; one
    /// address; a linear range in address order `10.20.0.250..=10.20.1.5`; a prefix
    /// `10.20.0.0/16` for types whose fields form one bit string (see `docs/schema.md`).
    /// Addresses are in the type's text.
    ///
    /// ```
    /// use addralloc_runtime::DynSchema;
    /// let schema = DynSchema::from_toml(
    ///     "[[address]]\nname = \"V4\"\nformat = \"{a}.{b}.{c}.{d}\"\n\
    ///      [[address.field]]\nname = \"a\"\ntype = \"u8\"\n[[address.field]]\nname = \"b\"\ntype = \"u8\"\n\
    ///      [[address.field]]\nname = \"c\"\ntype = \"u8\"\n[[address.field]]\nname = \"d\"\ntype = \"u8\"\n",
    /// ).unwrap();
    /// let v4 = schema.get("V4").unwrap();
    /// assert_eq!(v4.parse_pattern("10.20.0.0/16")?.to_string(), "a=10, b=20");
    /// assert_eq!(v4.parse_pattern("10.20.0.250..=10.20.1.5")?.to_string(), "10.20.0.250..=10.20.1.5");
    /// assert!(v4.parse_pattern("10.20.1.0/16").is_err());
    /// # Ok::<(), addralloc_runtime::Error>(())
    /// ```
    pub fn parse_pattern(self: &Arc<Self>, text: &str) -> Result<DynPattern, Error> {
        let raw = crate::linear::parse_text(
            text,
            &self.def.fields,
            |s| self.parse_values(s),
            |v| self.format_values(&v[..self.def.fields.len()]),
        )?;
        Ok(DynPattern {
            ty: Arc::clone(self),
            raw,
        })
    }

    /// An address's field values, as the linear-range parser takes them.
    fn parse_values(&self, text: &str) -> Result<crate::linear::Values, Error> {
        let values = self.text_values(text)?;
        let mut v = [0u128; crate::MAX_FIELDS];
        for (slot, x) in v.iter_mut().zip(values) {
            *slot = x;
        }
        Ok(v)
    }

    /// The pattern matching every address.
    pub fn any(self: &Arc<Self>) -> DynPattern {
        DynPattern {
            ty: Arc::clone(self),
            raw: RawPattern::ANY,
        }
    }

    /// Parses a block shape: `function=8`, `slot=4, function=8`; `1` for one address;
    /// `/24` for the size of a prefix (types whose fields form one bit string).
    pub fn parse_block(self: &Arc<Self>, text: &str) -> Result<DynBlock, Error> {
        let n = self.def.fields.len();
        let extents = crate::linear::parse_block_text(text, &self.def.fields)?[..n].to_vec();
        Ok(DynBlock {
            ty: Arc::clone(self),
            extents,
        })
    }

    /// Whether `addr` is of this type (the same `Arc`, or an equal definition).
    fn owns(&self, addr_ty: &Arc<DynType>) -> bool {
        std::ptr::eq(self, Arc::as_ptr(addr_ty)) || *self == **addr_ty
    }

    fn addr(self: &Arc<Self>, idx: u128) -> DynAddress {
        let values = (0..self.def.fields.len())
            .map(|i| self.layout.value(idx, i))
            .collect();
        DynAddress {
            ty: Arc::clone(self),
            values,
        }
    }

    fn addr_text(&self, idx: u128) -> String {
        let values: Vec<u128> = (0..self.def.fields.len())
            .map(|i| self.layout.value(idx, i))
            .collect();
        self.format_values(&values)
    }

    fn index(&self, values: &[u128]) -> Result<u128, Error> {
        self.check_values(values)?;
        Ok(self.layout.index_of(|i| values[i]))
    }

    fn wrong_type(&self, text: String, other: &str) -> Error {
        Error::Parse {
            input: text,
            field: None,
            column: 1,
            reason: format!("the address is a `{other}`; expected a `{}`", self.name()),
        }
    }
}

// ----- values ------------------------------------------------------------------------

/// An address of a [`DynType`]: one value per field. It prints in its type's format.
#[derive(Clone)]
pub struct DynAddress {
    ty: Arc<DynType>,
    values: Vec<u128>,
}

impl DynAddress {
    /// The field values, most significant first.
    pub fn values(&self) -> &[u128] {
        &self.values
    }

    /// The value of the field called `name`.
    pub fn get(&self, name: &str) -> Option<u128> {
        self.ty.field_index(name).map(|i| self.values[i])
    }

    /// The address's type.
    pub fn ty(&self) -> &Arc<DynType> {
        &self.ty
    }

    /// The name of the address's type.
    pub fn type_name(&self) -> &str {
        self.ty.name()
    }
}

impl fmt::Display for DynAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ty.ipv6_of(&self.values) {
            Some(a) => fmt::Display::fmt(&a, f),
            None => self.ty.format.write(&self.values, f),
        }
    }
}

impl fmt::Debug for DynAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({self})", self.ty.name())
    }
}

impl PartialEq for DynAddress {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values && self.ty.name() == other.ty.name()
    }
}
impl Eq for DynAddress {}

impl Hash for DynAddress {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.ty.name().hash(state);
        self.values.hash(state);
    }
}

impl PartialOrd for DynAddress {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DynAddress {
    /// Address order (the first field most significant); addresses of different types
    /// order by type name first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.ty.name(), &self.values).cmp(&(other.ty.name(), &other.values))
    }
}

/// A pattern of a [`DynType`]: a value or range per field (`bus=0, slot=1..=31`).
#[derive(Clone)]
pub struct DynPattern {
    ty: Arc<DynType>,
    raw: RawPattern,
}

impl DynPattern {
    /// The range of field `i`, or `None` when it is unconstrained.
    pub fn range(&self, i: usize) -> Option<std::ops::RangeInclusive<u128>> {
        self.raw
            .ranges
            .get(i)
            .copied()
            .flatten()
            .map(|(a, b)| a..=b)
    }

    /// Constrains field `i` to `lo..=hi` (checked when the pattern is used); an index
    /// past the last field is ignored.
    pub fn with_range(mut self, i: usize, lo: u128, hi: u128) -> Self {
        if let Some(f) = self.ty.def.fields.get(i) {
            self.raw
                .set(i, (Bound::Included(lo), Bound::Included(hi)), f.min, f.max);
        }
        self
    }

    /// Whether no field is constrained.
    pub fn is_any(&self) -> bool {
        self.raw.is_any()
    }

    /// Whether `addr` matches.
    pub fn matches(&self, addr: &DynAddress) -> bool {
        self.ty.owns(&addr.ty)
            && self
                .raw
                .matches_values(&self.ty.def.fields, |i| addr.values[i])
    }

    /// Whether this is a linear range (`first..=last` in address order); its
    /// [`range`](Self::range)s are then the fields of the first and the last address.
    pub fn is_linear(&self) -> bool {
        self.raw.linear
    }
}

impl fmt::Display for DynPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.ty.def.fields.len();
        f.write_str(&self.raw.display_with(
            &self.ty.def.fields,
            |v| self.ty.format_values(&v[..n]),
            &|i| self.ty.radix_of(i),
        ))
    }
}

impl fmt::Debug for DynPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DynPattern({self})")
    }
}

impl PartialEq for DynPattern {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw && self.ty.name() == other.ty.name()
    }
}
impl Eq for DynPattern {}

/// A block shape of a [`DynType`]: one extent per field (`function=8`).
#[derive(Clone, PartialEq, Eq)]
pub struct DynBlock {
    ty: Arc<DynType>,
    extents: Vec<u128>,
}

impl DynBlock {
    /// The extents, one per field.
    pub fn extents(&self) -> &[u128] {
        &self.extents
    }
}

impl fmt::Display for DynBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_extents(&self.extents, &self.ty.def.fields))
    }
}

impl fmt::Debug for DynBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DynBlock({self})")
    }
}

/// A reserved block or window: every address from [`first`](Self::first) to
/// [`last`](Self::last), field by field (a box), or in address order (a linear run, as
/// [`DynAllocator::reserve_sized`] returns; see [`is_linear`](Self::is_linear)). Prints
/// as `first..=last`. A value type as [`BlockRange`](crate::BlockRange): `len`,
/// `contains`, `overlaps`, `contains_range`, ordered by first, then last address.
///
/// ```
/// # use addralloc_runtime::dynamic::{DynBlockRange, DynSchema};
/// let schema = DynSchema::from_toml(r#"
/// [[address]]
/// name = "Mmio"
/// format = "0x{addr:x}"
/// [[address.field]]
/// name = "addr"
/// type = "u64"
/// "#).unwrap();
/// let ty = schema.get("Mmio").unwrap();
/// let at = |t: &str| ty.parse_address(t).unwrap();
/// let a = DynBlockRange::new(at("0x1000"), at("0x1fff")).unwrap();
/// let b = DynBlockRange::new(at("0x1800"), at("0x27ff")).unwrap();
/// assert_eq!(a.len(), 0x1000u128);
/// assert!(a.overlaps(&b) && !a.contains_range(&b) && a < b);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DynBlockRange {
    first: DynAddress,
    last: DynAddress,
    /// A linear run that is not also a box.
    linear: bool,
}

impl DynBlockRange {
    /// The block spanning `first..=last` on every field; `None` unless both are of the
    /// same type and each field of `first` is at most the same field of `last`.
    pub fn new(first: DynAddress, last: DynAddress) -> Option<Self> {
        (first.ty.owns(&last.ty) && first.values.iter().zip(&last.values).all(|(a, b)| a <= b))
            .then_some(DynBlockRange {
                first,
                last,
                linear: false,
            })
    }

    /// The linear run of every address from `first` to `last` in address order, as
    /// [`BlockRange::linear`](crate::BlockRange::linear); `None` unless both are of the
    /// same type and `first` does not come after `last`.
    pub fn linear(first: DynAddress, last: DynAddress) -> Option<Self> {
        if !first.ty.owns(&last.ty) || first.values > last.values {
            return None;
        }
        let linear = !is_box_run(&first.values, &last.values, &first.ty.def.fields);
        Some(DynBlockRange {
            first,
            last,
            linear,
        })
    }

    /// The block's first address.
    pub fn first(&self) -> &DynAddress {
        &self.first
    }

    /// The block's last address.
    pub fn last(&self) -> &DynAddress {
        &self.last
    }

    /// Whether this is a linear run in address order that is not also a box.
    pub fn is_linear(&self) -> bool {
        self.linear
    }

    fn fields(&self) -> &[FieldDef] {
        &self.first.ty.def.fields
    }

    fn span(&self) -> Span {
        Span {
            first: field_values(&self.first.values),
            last: field_values(&self.last.values),
            linear: self.linear,
        }
    }

    /// Whether `addr` lies in the block.
    pub fn contains(&self, addr: &DynAddress) -> bool {
        let v = field_values(&addr.values);
        let one = Span {
            first: v,
            last: v,
            linear: false,
        };
        self.first.ty.owns(&addr.ty) && self.span().contains(&one, self.fields())
    }

    /// The number of addresses in the block.
    #[allow(clippy::len_without_is_empty)] // never empty
    pub fn len(&self) -> Count {
        self.span().len(self.fields())
    }

    /// Whether the two blocks (of the same type) share an address.
    pub fn overlaps(&self, other: &DynBlockRange) -> bool {
        self.first.ty.owns(&other.first.ty) && self.span().overlaps(&other.span(), self.fields())
    }

    /// Whether every address of `other` (of the same type) lies in this block.
    pub fn contains_range(&self, other: &DynBlockRange) -> bool {
        self.first.ty.owns(&other.first.ty) && self.span().contains(&other.span(), self.fields())
    }
}

/// Field values in a fixed array, as [`Span`] holds them.
fn field_values(v: &[u128]) -> [u128; crate::engine::MAX_FIELDS] {
    let mut out = [0u128; crate::engine::MAX_FIELDS];
    for (o, x) in out.iter_mut().zip(v) {
        *o = *x;
    }
    out
}

impl fmt::Display for DynBlockRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.first, self.last)
    }
}

impl fmt::Debug for DynBlockRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DynBlockRange({self})")
    }
}

// ----- arguments ---------------------------------------------------------------------

mod sealed {
    pub trait Sealed {}
}

/// An address argument: text in the type's format, or a [`DynAddress`].
pub trait AddressArg: sealed::Sealed {
    /// The field values, checked against `ty`.
    #[doc(hidden)]
    fn values(self, ty: &Arc<DynType>) -> Result<Vec<u128>, Error>;
}

/// A pattern argument: text (`bus=0, slot=1..=31`, `*`), or a [`DynPattern`].
pub trait PatternArg: sealed::Sealed {
    /// The parsed pattern.
    #[doc(hidden)]
    fn pattern(self, ty: &Arc<DynType>) -> Result<DynPattern, Error>;
}

/// A block shape argument: text (`function=8`, `1`), or a [`DynBlock`].
pub trait BlockArg: sealed::Sealed {
    /// The parsed block shape.
    #[doc(hidden)]
    fn block(self, ty: &Arc<DynType>) -> Result<DynBlock, Error>;
}

impl sealed::Sealed for &str {}
impl sealed::Sealed for &String {}
impl sealed::Sealed for &DynAddress {}
impl sealed::Sealed for DynAddress {}
impl sealed::Sealed for &DynPattern {}
impl sealed::Sealed for DynPattern {}
impl sealed::Sealed for &DynBlock {}
impl sealed::Sealed for DynBlock {}

impl AddressArg for &str {
    fn values(self, ty: &Arc<DynType>) -> Result<Vec<u128>, Error> {
        ty.text_values(self)
    }
}
impl AddressArg for &String {
    fn values(self, ty: &Arc<DynType>) -> Result<Vec<u128>, Error> {
        self.as_str().values(ty)
    }
}
impl AddressArg for &DynAddress {
    fn values(self, ty: &Arc<DynType>) -> Result<Vec<u128>, Error> {
        if !ty.owns(&self.ty) {
            return Err(ty.wrong_type(self.to_string(), self.ty.name()));
        }
        ty.check_values(&self.values)?;
        Ok(self.values.clone())
    }
}
impl AddressArg for DynAddress {
    fn values(self, ty: &Arc<DynType>) -> Result<Vec<u128>, Error> {
        AddressArg::values(&self, ty)
    }
}

impl PatternArg for &str {
    fn pattern(self, ty: &Arc<DynType>) -> Result<DynPattern, Error> {
        ty.parse_pattern(self)
    }
}
impl PatternArg for &String {
    fn pattern(self, ty: &Arc<DynType>) -> Result<DynPattern, Error> {
        ty.parse_pattern(self)
    }
}
impl PatternArg for &DynPattern {
    fn pattern(self, ty: &Arc<DynType>) -> Result<DynPattern, Error> {
        self.clone().pattern(ty)
    }
}
impl PatternArg for DynPattern {
    fn pattern(self, ty: &Arc<DynType>) -> Result<DynPattern, Error> {
        if !ty.owns(&self.ty) {
            return Err(Error::BadPattern {
                pattern: self.to_string(),
                reason: format!(
                    "the pattern is for `{}`; expected one for `{}`",
                    self.ty.name(),
                    ty.name()
                ),
            });
        }
        Ok(self)
    }
}

impl BlockArg for &str {
    fn block(self, ty: &Arc<DynType>) -> Result<DynBlock, Error> {
        ty.parse_block(self)
    }
}
impl BlockArg for &String {
    fn block(self, ty: &Arc<DynType>) -> Result<DynBlock, Error> {
        ty.parse_block(self)
    }
}
impl BlockArg for &DynBlock {
    fn block(self, ty: &Arc<DynType>) -> Result<DynBlock, Error> {
        self.clone().block(ty)
    }
}
impl BlockArg for DynBlock {
    fn block(self, ty: &Arc<DynType>) -> Result<DynBlock, Error> {
        if !ty.owns(&self.ty) {
            return Err(Error::BadPattern {
                pattern: self.to_string(),
                reason: format!(
                    "the block shape is for `{}`; expected one for `{}`",
                    self.ty.name(),
                    ty.name()
                ),
            });
        }
        for (f, &e) in ty.def.fields.iter().zip(&self.extents) {
            check_extent(f, e)?;
        }
        Ok(self)
    }
}

// ----- the allocator -----------------------------------------------------------------

impl Space for Arc<DynType> {
    type Field = FieldDef;

    fn fields(&self) -> &[FieldDef] {
        &self.def.fields
    }

    fn text(&self, _layout: &Layout, idx: u128) -> String {
        self.addr_text(idx)
    }

    fn radix(&self, i: usize) -> u8 {
        self.radix_of(i)
    }
}

/// The allocator of a run-time loaded address type: the operations of
/// [`Allocator`](crate::Allocator), with addresses, patterns and block shapes as text
/// (or [`DynAddress`], [`DynPattern`], [`DynBlock`]). Both share one core: the same
/// method names, arguments and errors.
///
/// Errors print addresses in the type's own format. Every failing call leaves the
/// allocator exactly as it was; no input makes it panic.
#[derive(Clone)]
pub struct DynAllocator {
    core: Core<Arc<DynType>>,
}

impl fmt::Debug for DynAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.core.engine;
        f.debug_struct("DynAllocator")
            .field("type", &self.core.space.name())
            .field("policy", &e.policy())
            .field("pools", &e.pools().count())
            .field("reserved", &e.reserved_count())
            .field("free", &e.free_count())
            .finish()
    }
}

impl DynAllocator {
    /// An allocator of `ty` with no pools.
    pub fn new(ty: Arc<DynType>, policy: Policy) -> DynAllocator {
        let engine = Engine::new(ty.layout.clone(), policy);
        DynAllocator {
            core: Core::from_engine(engine, ty),
        }
    }

    /// An allocator of `ty` with the pools of its schema (`[[address.pool]]`).
    pub fn with_default_pools(ty: Arc<DynType>, policy: Policy) -> Result<DynAllocator, Error> {
        let mut a = Self::new(ty, policy);
        let pools = a.core.space.def.pools.clone();
        for p in &pools {
            let tags: Vec<&str> = p.tags.iter().map(String::as_str).collect();
            a.add_pool_tagged(p.pattern.as_str(), &tags)?;
        }
        Ok(a)
    }

    /// The address type.
    pub fn ty(&self) -> &Arc<DynType> {
        &self.core.space
    }

    /// The allocation policy.
    pub fn policy(&self) -> Policy {
        self.core.engine.policy()
    }

    // ----- conversions -------------------------------------------------------

    fn index(&self, addr: impl AddressArg) -> Result<u128, Error> {
        let values = addr.values(&self.core.space)?;
        self.core.space.index(&values)
    }

    fn addr(&self, idx: u128) -> DynAddress {
        self.core.space.addr(idx)
    }

    fn range(&self, first: u128, last: u128) -> DynBlockRange {
        DynBlockRange {
            first: self.addr(first),
            last: self.addr(last),
            linear: false,
        }
    }

    fn raw(&self, pattern: impl PatternArg) -> Result<RawPattern, Error> {
        Ok(pattern.pattern(&self.core.space)?.raw)
    }

    // ----- pools -------------------------------------------------------------

    /// Adds a pool: addresses that automatic choice may use and that exact
    /// reservations must lie in. Pools may not overlap.
    pub fn add_pool(&mut self, pattern: impl PatternArg) -> Result<(), Error> {
        self.add_pool_tagged(pattern, &[])
    }

    /// Adds a pool carrying `tags` (at most 64 distinct tags per allocator).
    pub fn add_pool_tagged(
        &mut self,
        pattern: impl PatternArg,
        tags: &[&str],
    ) -> Result<(), Error> {
        let raw = self.raw(pattern)?;
        self.core.add_pool(&raw, tags)
    }

    /// Removes the pool that is exactly `pattern`; refused while it holds a
    /// reservation, as [`Allocator::remove_pool`](crate::Allocator::remove_pool).
    pub fn remove_pool(&mut self, pattern: impl PatternArg) -> Result<(), Error> {
        let raw = self.raw(pattern)?;
        self.core.remove_pool(&raw)
    }

    /// The pools, as patterns with their tags, in address order.
    pub fn pools(&self) -> impl Iterator<Item = (DynPattern, Vec<&str>)> + '_ {
        self.core.pools().map(|(raw, tags)| {
            (
                DynPattern {
                    ty: Arc::clone(&self.core.space),
                    raw,
                },
                tags,
            )
        })
    }

    /// The allocator's whole state as plain data (see [`Snapshot`]).
    pub fn snapshot(&self) -> Snapshot {
        snapshot::take_core(&self.core)
    }

    /// Rebuilds an allocator of `ty` from a snapshot, checking everything first, as
    /// [`Allocator::restore`](crate::Allocator::restore) does.
    pub fn restore(ty: Arc<DynType>, snapshot: &Snapshot) -> Result<DynAllocator, Error> {
        let parse = |text: &str| -> Result<u128, String> {
            let a = ty.parse_address(text).map_err(|e| e.to_string())?;
            ty.index(&a.values).map_err(|e| e.to_string())
        };
        let core = snapshot::restore_core(snapshot, Arc::clone(&ty), ty.layout.clone(), &parse)?;
        Ok(DynAllocator { core })
    }

    // ----- requests ----------------------------------------------------------

    /// Starts a request whose reservations carry the owner label `owner`.
    pub fn owned_by<'a>(&'a mut self, owner: &'a str) -> DynRequest<'a> {
        DynRequest {
            alloc: self,
            opts: Opts {
                owner: Some(owner),
                tags: &[],
            },
        }
    }

    /// Starts a request that may only use pools carrying every tag in `tags`.
    pub fn requiring<'a>(&'a mut self, tags: &'a [&'a str]) -> DynRequest<'a> {
        DynRequest {
            alloc: self,
            opts: Opts { owner: None, tags },
        }
    }

    /// Reserves exactly `addr`: error if a field is out of range, the address is
    /// outside every pool, or already reserved (naming the holder).
    pub fn reserve(&mut self, addr: impl AddressArg) -> Result<DynAddress, Error> {
        self.reserve_with(addr, Opts::default())
    }

    /// Reserves the first free address matching `pattern`, by policy.
    pub fn reserve_first(&mut self, pattern: impl PatternArg) -> Result<DynAddress, Error> {
        self.reserve_first_with(pattern, Opts::default())
    }

    /// Reserves any free address in the pools, by policy.
    pub fn reserve_any(&mut self) -> Result<DynAddress, Error> {
        self.reserve_any_with(Opts::default())
    }

    /// Reserves the first free address of the first pattern that has one; returns it
    /// and the position of the pattern.
    pub fn reserve_preferred<P: PatternArg>(
        &mut self,
        preferences: impl IntoIterator<Item = P>,
    ) -> Result<(DynAddress, usize), Error> {
        self.reserve_preferred_with(preferences, Opts::default())
    }

    /// Reserves a whole free block of shape `block` (naturally aligned), inside
    /// `pattern` and inside one pool. The block is one reservation.
    pub fn reserve_block(
        &mut self,
        pattern: impl PatternArg,
        block: impl BlockArg,
    ) -> Result<DynBlockRange, Error> {
        self.reserve_block_with(pattern, block, Opts::default())
    }

    /// Reserves every address of the box from `first` to `last`, field by field (need
    /// not be aligned); all must be free and inside one pool. One reservation.
    pub fn reserve_range(
        &mut self,
        first: impl AddressArg,
        last: impl AddressArg,
    ) -> Result<DynBlockRange, Error> {
        self.reserve_range_with(first, last, Opts::default())
    }

    fn reserve_with(&mut self, addr: impl AddressArg, o: Opts<'_>) -> Result<DynAddress, Error> {
        let values = addr.values(&self.core.space)?;
        let idx = self.core.space.index(&values)?;
        self.core.reserve(idx, o)?;
        Ok(DynAddress {
            ty: Arc::clone(&self.core.space),
            values,
        })
    }

    fn reserve_first_with(
        &mut self,
        pattern: impl PatternArg,
        o: Opts<'_>,
    ) -> Result<DynAddress, Error> {
        let raw = self.raw(pattern)?;
        let idx = self.core.reserve_first(&raw, o)?;
        Ok(self.addr(idx))
    }

    fn reserve_any_with(&mut self, o: Opts<'_>) -> Result<DynAddress, Error> {
        let idx = self.core.reserve_any(o)?;
        Ok(self.addr(idx))
    }

    fn reserve_preferred_with<P: PatternArg>(
        &mut self,
        prefs: impl IntoIterator<Item = P>,
        o: Opts<'_>,
    ) -> Result<(DynAddress, usize), Error> {
        let raws = prefs
            .into_iter()
            .map(|p| self.raw(p))
            .collect::<Result<Vec<_>, _>>()?;
        let (idx, i) = self.core.reserve_preferred(&raws, o)?;
        Ok((self.addr(idx), i))
    }

    fn reserve_block_with(
        &mut self,
        pattern: impl PatternArg,
        block: impl BlockArg,
        o: Opts<'_>,
    ) -> Result<DynBlockRange, Error> {
        let raw = self.raw(pattern)?;
        // The pattern's ranges are checked first, as on the typed front.
        raw.resolve(&self.core.space.def.fields)?;
        let block = block.block(&self.core.space)?;
        let (first, last) = self.core.reserve_block(&raw, &block.extents, o)?;
        Ok(self.range(first, last))
    }

    fn reserve_range_with(
        &mut self,
        first: impl AddressArg,
        last: impl AddressArg,
        o: Opts<'_>,
    ) -> Result<DynBlockRange, Error> {
        let (a, b) = (self.index(first)?, self.index(last)?);
        self.core.reserve_range(a, b, o)?;
        Ok(self.range(a, b))
    }

    // ----- releases ----------------------------------------------------------

    /// Gives back the reservation of exactly `addr`; an address that is part of a
    /// larger reservation is refused naming it, as
    /// [`Allocator::release`](crate::Allocator::release).
    pub fn release(&mut self, addr: impl AddressArg) -> Result<(), Error> {
        let idx = self.index(addr)?;
        self.core.release(idx)
    }

    /// Gives back one whole reservation, exactly the block or range a reserve call
    /// returned, as [`Allocator::release_block`](crate::Allocator::release_block).
    pub fn release_block(&mut self, block: &DynBlockRange) -> Result<(), Error> {
        let (a, b) = (self.index(&block.first)?, self.index(&block.last)?);
        if block.linear {
            return self.core.release_run(a, b);
        }
        self.core.release_block(a, b)
    }

    /// Gives back every address of the box from `first` to `last`, all reserved,
    /// cutting the reservations it meets, as
    /// [`Allocator::release_range`](crate::Allocator::release_range): a subdivided block
    /// it meets that still has children is refused.
    pub fn release_range(
        &mut self,
        first: impl AddressArg,
        last: impl AddressArg,
    ) -> Result<Count, Error> {
        let (a, b) = (self.index(first)?, self.index(last)?);
        self.core.release_range(a, b)
    }

    /// Gives back every reservation labelled `owner`; how many addresses were freed. A
    /// subdivided block of `owner` goes with its children, as
    /// [`Allocator::release_owner`](crate::Allocator::release_owner).
    pub fn release_owner(&mut self, owner: &str) -> Count {
        self.core.release_owner(owner)
    }

    // ----- queries -----------------------------------------------------------

    /// Whether `addr` is reserved (an address that does not parse, or is out of
    /// range, is not).
    pub fn is_reserved(&self, addr: impl AddressArg) -> bool {
        self.index(addr)
            .is_ok_and(|i| self.core.engine.is_reserved(i))
    }

    /// The owner label of `addr`'s reservation, if it has one.
    pub fn owner_of(&self, addr: impl AddressArg) -> Option<&str> {
        self.index(addr)
            .ok()
            .and_then(|i| self.core.engine.owner_of(i))
    }

    /// The whole reservation holding `addr`: first and last address and owner.
    pub fn reservation(
        &self,
        addr: impl AddressArg,
    ) -> Option<(DynAddress, DynAddress, Option<&str>)> {
        let i = self.index(addr).ok()?;
        let (f, l, o) = self.core.reservation_at(i)?;
        Some((self.addr(f), self.addr(l), o))
    }

    /// Reserved addresses as maximal runs `(first, last)` in address order.
    pub fn reserved(&self) -> impl Iterator<Item = (DynAddress, DynAddress)> + '_ {
        self.core
            .engine
            .reserved_ranges()
            .map(|(s, e)| (self.addr(s), self.addr(e)))
    }

    /// Labelled reservations as runs `(first, last, owner)` in address order.
    pub fn owners(&self) -> impl Iterator<Item = (DynAddress, DynAddress, &str)> + '_ {
        self.core
            .engine
            .owned_ranges()
            .map(|(s, e, o)| (self.addr(s), self.addr(e), o))
    }

    /// Free addresses in the pools as maximal runs `(first, last)`, pool by pool.
    pub fn free_ranges(&self) -> impl Iterator<Item = (DynAddress, DynAddress)> + '_ {
        self.core
            .engine
            .free_ranges()
            .map(|(s, e)| (self.addr(s), self.addr(e)))
    }

    /// Number of reserved addresses.
    pub fn reserved_count(&self) -> Count {
        self.core.engine.reserved_count()
    }

    /// Number of addresses in all pools.
    pub fn capacity(&self) -> Count {
        self.core.engine.capacity()
    }

    /// Number of free addresses in all pools.
    pub fn free_count(&self) -> Count {
        self.core.engine.free_count()
    }

    /// Number of free addresses matching `pattern` in the pools.
    pub fn free_count_in(&self, pattern: impl PatternArg) -> Result<Count, Error> {
        let raw = self.raw(pattern)?;
        self.core.free_count_in(&raw)
    }

    /// Heap bytes held by the allocator's ranges, pools and labels (estimated).
    pub fn heap_bytes(&self) -> usize {
        self.core.engine.heap_bytes()
    }

    // ----- transactions ------------------------------------------------------

    /// Runs `f` as one transaction, as
    /// [`Allocator::transaction`](crate::Allocator::transaction): when it returns `Err`
    /// (or panics), everything it did is undone.
    ///
    /// ```
    /// # use addralloc_runtime::dynamic::DynSchema;
    /// # use addralloc_runtime::{DynAllocator, Error, Policy};
    /// # let schema = DynSchema::from_toml(r#"
    /// # [[address]]
    /// # name = "Port"
    /// # format = "{port}"
    /// # [[address.field]]
    /// # name = "port"
    /// # type = "u8"
    /// # range = "0..=3"
    /// # "#).unwrap();
    /// let mut a = DynAllocator::new(schema.get("Port").unwrap().clone(), Policy::LowestFirst);
    /// a.add_pool("*")?;
    /// let r: Result<(), Error> = a.transaction(|tx| {
    ///     tx.reserve("0")?;
    ///     tx.reserve("0")?; // fails: the first reservation is undone too
    ///     Ok(())
    /// });
    /// assert!(r.is_err());
    /// assert!(!a.is_reserved("0"));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn transaction<T, E>(
        &mut self,
        f: impl FnOnce(&mut Transaction<'_, Self>) -> Result<T, E>,
    ) -> Result<T, E> {
        transaction::run(self, f)
    }
}

/// Sized requests: memory windows, as vm-allocator's `AddressAllocator::allocate`.
impl DynAllocator {
    /// Reserves a window of `size` consecutive addresses at a multiple of `alignment`
    /// (a power of two), placed by `fit`, as
    /// [`Allocator::reserve_sized`](crate::Allocator::reserve_sized); released exactly
    /// with [`DynAllocator::release_block`].
    ///
    /// ```
    /// # use addralloc_runtime::dynamic::DynSchema;
    /// # use addralloc_runtime::{DynAllocator, Error, Fit, Policy};
    /// # let schema = DynSchema::from_toml(r#"
    /// # [[address]]
    /// # name = "Mmio"
    /// # format = "0x{addr:x}"
    /// # [[address.field]]
    /// # name = "addr"
    /// # type = "u64"
    /// # "#).unwrap();
    /// let ty = schema.get("Mmio").unwrap().clone();
    /// let mut mmio = DynAllocator::new(ty.clone(), Policy::LowestFirst);
    /// mmio.add_pool("addr=0x1000..=0x10fff")?;
    /// let w = mmio.reserve_sized(0x3000, 0x1000, Fit::First)?;
    /// assert_eq!(w.to_string(), "0x1000..=0x3fff");
    /// let at = ty.parse_address("0x8000")?;
    /// let bar = mmio.owned_by("bar0").reserve_sized(0x1000, 0x1000, Fit::Exact(at))?;
    /// mmio.release_block(&bar)?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn reserve_sized(
        &mut self,
        size: u128,
        alignment: u128,
        fit: Fit<DynAddress>,
    ) -> Result<DynBlockRange, Error> {
        self.reserve_sized_with(size, alignment, fit, Opts::default())
    }

    fn reserve_sized_with(
        &mut self,
        size: u128,
        alignment: u128,
        fit: Fit<DynAddress>,
        o: Opts<'_>,
    ) -> Result<DynBlockRange, Error> {
        let fit = fit.try_map(|a| self.index(&a))?;
        let (first, last) = self.core.reserve_sized(size, alignment, fit, o)?;
        let (a, b) = (self.addr(first), self.addr(last));
        let text = format!("{a}..={b}");
        DynBlockRange::linear(a, b).ok_or_else(|| Error::BadPattern {
            pattern: text,
            reason: "the first address must not come after the last".to_string(),
        })
    }
}

/// Sized requests with an owner label or required tags.
impl<'a> DynRequest<'a> {
    /// As [`DynAllocator::reserve_sized`].
    pub fn reserve_sized(
        self,
        size: u128,
        alignment: u128,
        fit: Fit<DynAddress>,
    ) -> Result<DynBlockRange, Error> {
        self.alloc
            .reserve_sized_with(size, alignment, fit, self.opts)
    }
}

/// A request with options: an owner label ([`DynAllocator::owned_by`]) and required
/// pool tags ([`DynAllocator::requiring`]). Its methods are the allocator's reserving
/// methods.
#[must_use = "a request does nothing until one of its reserve methods is called"]
pub struct DynRequest<'a> {
    alloc: &'a mut DynAllocator,
    opts: Opts<'a>,
}

impl<'a> DynRequest<'a> {
    /// Also label the reservation with `owner`.
    pub fn owned_by(mut self, owner: &'a str) -> Self {
        self.opts.owner = Some(owner);
        self
    }

    /// Also require pools carrying every tag in `tags`.
    pub fn requiring(mut self, tags: &'a [&'a str]) -> Self {
        self.opts.tags = tags;
        self
    }

    /// As [`DynAllocator::reserve`].
    pub fn reserve(self, addr: impl AddressArg) -> Result<DynAddress, Error> {
        self.alloc.reserve_with(addr, self.opts)
    }

    /// As [`DynAllocator::reserve_first`].
    pub fn reserve_first(self, pattern: impl PatternArg) -> Result<DynAddress, Error> {
        self.alloc.reserve_first_with(pattern, self.opts)
    }

    /// As [`DynAllocator::reserve_any`].
    pub fn reserve_any(self) -> Result<DynAddress, Error> {
        self.alloc.reserve_any_with(self.opts)
    }

    /// As [`DynAllocator::reserve_preferred`].
    pub fn reserve_preferred<P: PatternArg>(
        self,
        preferences: impl IntoIterator<Item = P>,
    ) -> Result<(DynAddress, usize), Error> {
        self.alloc.reserve_preferred_with(preferences, self.opts)
    }

    /// As [`DynAllocator::reserve_block`].
    pub fn reserve_block(
        self,
        pattern: impl PatternArg,
        block: impl BlockArg,
    ) -> Result<DynBlockRange, Error> {
        self.alloc.reserve_block_with(pattern, block, self.opts)
    }

    /// As [`DynAllocator::reserve_range`].
    pub fn reserve_range(
        self,
        first: impl AddressArg,
        last: impl AddressArg,
    ) -> Result<DynBlockRange, Error> {
        self.alloc.reserve_range_with(first, last, self.opts)
    }
}

/// Nested blocks, as on the typed front.
impl DynAllocator {
    /// Makes `block` (one whole reservation) a pool for its own children, as
    /// [`Allocator::subdivide`](crate::Allocator::subdivide).
    pub fn subdivide(&mut self, block: &DynBlockRange) -> Result<(), Error> {
        let (a, b) = (self.index(&block.first)?, self.index(&block.last)?);
        self.core.subdivide(a, b)
    }

    /// Runs `f` on the allocator of the subdivided `block`'s children, as
    /// [`Allocator::child`](crate::Allocator::child).
    pub fn child<T>(
        &mut self,
        block: &DynBlockRange,
        f: impl FnOnce(&mut DynAllocator) -> T,
    ) -> Result<T, Error> {
        let (a, b) = (self.index(&block.first)?, self.index(&block.last)?);
        let Some(k) = self.core.child_index(a, b) else {
            return Err(Error::NoSuchPool {
                pool: format!("{block} (a subdivided block)"),
            });
        };
        Ok(self
            .core
            .with_child(k, |core| DynAllocator { core }, |a| a.core, f))
    }

    /// The subdivided blocks, in the order they were subdivided.
    pub fn children(&self) -> impl Iterator<Item = DynBlockRange> + '_ {
        self.core
            .children
            .iter()
            .map(|c| self.range(c.first, c.last))
    }

    /// How many disjoint aligned blocks of `block`'s shape are free in the pools within
    /// `pattern`, as [`Allocator::free_block_count`](crate::Allocator::free_block_count).
    pub fn free_block_count(
        &self,
        pattern: impl PatternArg,
        block: impl BlockArg,
    ) -> Result<Count, Error> {
        let raw = self.raw(pattern)?;
        let block = block.block(&self.core.space)?;
        self.core.free_block_count(&raw, &block.extents)
    }
}

impl Journaled for DynAllocator {
    fn begin(&mut self) {
        self.core.begin();
    }
    fn commit(&mut self) {
        self.core.commit();
    }
    fn rollback(&mut self) {
        self.core.rollback();
    }
}
