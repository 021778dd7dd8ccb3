//! The schema model: address types as data, shared by TOML schema files,
//! `#[derive(AddressSpace)]` and run-time loaded schemas ([`crate::dynamic`]).
//!
//! A front end (the TOML loader [`Schema::from_toml`], or the derive macro) builds
//! [`TypeDef`]s, then [`TypeDef::check`] runs every check that does not depend on the
//! front end, so a layout is rejected with the same words everywhere. Diagnostics carry
//! byte spans into the source when the front end knows them.
//!
//! ```
//! use addralloc_runtime::schema::Schema;
//! let schema = Schema::from_toml(r#"
//! [[address]]
//! name = "PciAddress"
//! format = "{bus:02x}:{slot:02x}.{function:x}"
//!
//! [[address.field]]
//! name = "bus"
//! type = "u8"
//!
//! [[address.field]]
//! name = "slot"
//! type = "u8"
//! range = "0..=31"
//!
//! [[address.field]]
//! name = "function"
//! type = "u8"
//! range = "0..8"
//! "#).unwrap();
//! let pci = &schema.types[0];
//! assert_eq!(pci.fields[1].max, 31);
//! assert_eq!(pci.format().to_string(&[0, 3, 1]), "00:03.1");
//! ```
//!
//! The TOML layout is described in `docs/schema.md`.

use std::fmt;
use std::ops::{Range, RangeInclusive};
use std::string::{String, ToString};
use std::vec::Vec;

use crate::engine::MAX_FIELDS;
use crate::format::Format;
use crate::pattern::{FieldInfo, RawPattern};

mod load;
mod report;

pub use report::{quote, render, Source, QUOTE_LIMIT};

/// The unsigned integer type of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldType {
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

impl FieldType {
    /// Every field type, narrowest first.
    pub const ALL: [FieldType; 5] = [
        FieldType::U8,
        FieldType::U16,
        FieldType::U32,
        FieldType::U64,
        FieldType::U128,
    ];

    /// The width in bits: 8, 16, 32, 64 or 128.
    pub const fn bits(self) -> u32 {
        match self {
            FieldType::U8 => 8,
            FieldType::U16 => 16,
            FieldType::U32 => 32,
            FieldType::U64 => 64,
            FieldType::U128 => 128,
        }
    }

    /// The Rust name: `"u8"` … `"u128"`.
    pub const fn name(self) -> &'static str {
        match self {
            FieldType::U8 => "u8",
            FieldType::U16 => "u16",
            FieldType::U32 => "u32",
            FieldType::U64 => "u64",
            FieldType::U128 => "u128",
        }
    }

    /// The type called `name` (`"u8"` … `"u128"`).
    pub fn from_name(name: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The largest value of the type.
    pub const fn max_value(self) -> u128 {
        match self {
            FieldType::U128 => u128::MAX,
            t => (1u128 << t.bits()) - 1,
        }
    }

    /// The narrowest type holding `max`.
    pub fn narrowest_for(max: u128) -> FieldType {
        FieldType::ALL
            .into_iter()
            .find(|t| max <= t.max_value())
            .unwrap_or(FieldType::U128)
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One field of an address type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct FieldDef {
    /// The field's name: a Rust identifier, used in formats and patterns.
    pub name: String,
    /// The field's integer type.
    pub ty: FieldType,
    /// The smallest allowed value.
    pub min: u128,
    /// The largest allowed value.
    pub max: u128,
    /// Documentation, becomes rustdoc.
    pub doc: Option<String>,
    /// Source span of the field's entry (its `[[address.field]]` header, or the
    /// struct field).
    pub span: Option<Range<usize>>,
    /// Source span of the field's range, when it has one.
    pub range_span: Option<Range<usize>>,
}

impl FieldDef {
    /// A field of type `ty` over the type's full range, without doc or spans.
    ///
    /// ```
    /// use addralloc_runtime::schema::{FieldDef, FieldType};
    /// let slot = FieldDef::new("slot", FieldType::U8).with_range(0, 31);
    /// assert_eq!((slot.min, slot.max, slot.bits()), (0, 31, 5));
    /// ```
    #[must_use]
    pub fn new(name: impl Into<String>, ty: FieldType) -> FieldDef {
        FieldDef {
            name: name.into(),
            ty,
            min: 0,
            max: ty.max_value(),
            doc: None,
            span: None,
            range_span: None,
        }
    }

    /// This field restricted to `min..=max`.
    #[must_use]
    pub fn with_range(mut self, min: u128, max: u128) -> FieldDef {
        self.min = min;
        self.max = max;
        self
    }

    /// Number of bits the field takes in an address: those of `max - min` (0 when the
    /// field has one value or an empty range).
    pub fn bits(&self) -> u32 {
        128 - self.max.saturating_sub(self.min).leading_zeros()
    }
}

impl FieldInfo for FieldDef {
    fn name(&self) -> &str {
        &self.name
    }
    fn min(&self) -> u128 {
        self.min
    }
    fn max(&self) -> u128 {
        self.max
    }
}

/// A default pool of an address type: a pattern in the textual syntax
/// (`bus=0, slot=1..=31`) and its tags.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PoolDef {
    /// The pattern, e.g. `domain=0, bus=0, slot=1..=31`; `*` for every address.
    pub pattern: String,
    /// Tags a request can require.
    pub tags: Vec<String>,
    /// Source span of the pool's entry.
    pub span: Option<Range<usize>>,
}

impl PoolDef {
    /// A pool of the addresses matching `pattern`, without tags or span.
    ///
    /// ```
    /// use addralloc_runtime::schema::PoolDef;
    /// let hotplug = PoolDef::new("bus=0, slot=1..=31").with_tags(["hotplug"]);
    /// assert_eq!(hotplug.tags, ["hotplug"]);
    /// ```
    ///
    /// The model's structs are `#[non_exhaustive]`: build them with their constructors,
    /// not with struct literals.
    ///
    /// ```compile_fail
    /// use addralloc_runtime::schema::PoolDef;
    /// let p = PoolDef { pattern: "*".into(), tags: Vec::new(), span: None };
    /// ```
    ///
    /// A pool that is built and dropped is a mistake the compiler points out:
    ///
    /// ```compile_fail
    /// #![deny(unused_must_use)]
    /// addralloc_runtime::schema::PoolDef::new("*");
    /// ```
    #[must_use]
    pub fn new(pattern: impl Into<String>) -> PoolDef {
        PoolDef {
            pattern: pattern.into(),
            tags: Vec::new(),
            span: None,
        }
    }

    /// This pool with `tags` added.
    #[must_use]
    pub fn with_tags<T: Into<String>>(mut self, tags: impl IntoIterator<Item = T>) -> PoolDef {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }
}

/// One address type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TypeDef {
    /// The Rust type name, e.g. `PciAddress`.
    pub name: String,
    /// Documentation, becomes rustdoc.
    pub doc: Option<String>,
    /// The format string; `None` for the default (decimal fields joined by `:`).
    pub format: Option<String>,
    /// Source span of the format string literal, quotes included. When its length is
    /// the format's length plus two (a quoted string without escapes), format errors
    /// point into it precisely; otherwise at the whole literal.
    pub format_span: Option<Range<usize>>,
    /// The fields, most significant first.
    pub fields: Vec<FieldDef>,
    /// Default pools.
    pub pools: Vec<PoolDef>,
    /// Source span of the type's entry (its `[[address]]` header, or the struct name).
    pub span: Option<Range<usize>>,
    /// A text the runtime knows, used instead of the format by run-time readers
    /// ([`DynType`](crate::DynType): plan files, snapshots, the command line): `ipv6`
    /// prints RFC 5952 (`2001:db8::1`) and parses any RFC 4291 text as well as the
    /// format's. It needs eight fields of `0..=0xffff`. The schema compiler still
    /// generates the format's text (the facade's `Ipv6Address` writes RFC 5952 itself).
    pub text: Option<String>,
}

/// A related location attached to a [`Diagnostic`] ("first declared here").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Note {
    /// What the location is: lowercase, no trailing period.
    pub message: String,
    /// Byte span into the source.
    pub span: Option<Range<usize>>,
}

/// A schema error: lowercase, no trailing period, code in backticks, with the byte span
/// in the source it is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Diagnostic {
    /// What is wrong.
    pub message: String,
    /// The byte range in the source, when known.
    pub span: Option<Range<usize>>,
    /// Related locations (the first of two duplicates).
    pub notes: Vec<Note>,
}

impl Diagnostic {
    /// A diagnostic without notes. Long values quoted in backticks in `message` are
    /// shortened (see [`quote`]), so that a message never grows with its input.
    #[must_use]
    pub fn new(message: impl Into<String>, span: Option<Range<usize>>) -> Diagnostic {
        Diagnostic {
            message: report::shorten_quoted(message.into()),
            span,
            notes: Vec::new(),
        }
    }

    /// A diagnostic at `span`.
    #[must_use]
    pub fn at(message: impl Into<String>, span: Range<usize>) -> Diagnostic {
        Diagnostic::new(message, Some(span))
    }

    /// Adds a related location (its message shortened as [`Diagnostic::new`] does).
    #[must_use]
    pub fn with_note(mut self, message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        self.notes.push(Note {
            message: report::shorten_quoted(message.into()),
            span,
        });
        self
    }

    /// The 1-based line and column (in characters) of the span's start in `source`.
    pub fn line_col(&self, source: &str) -> Option<(usize, usize)> {
        line_col(source, self.span.as_ref()?.start)
    }

    /// `path:line:col: message` (or `path: message` without a span), on one line: the
    /// proc-macro's messages about schema files. [`Source::render`] prints the long
    /// form with the line and carets.
    pub fn render(&self, path: &str, source: &str) -> String {
        match self.line_col(source) {
            Some((l, c)) => format!("{path}:{l}:{c}: {}", self.message),
            None => format!("{path}: {}", self.message),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// The 1-based line and column (in characters) of byte offset `pos` in `source`.
pub fn line_col(source: &str, pos: usize) -> Option<(usize, usize)> {
    let before = source.get(..pos)?;
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Some((line, before[line_start..].chars().count() + 1))
}

/// Whether `s` is a valid Rust identifier that is not a keyword (raw identifiers are
/// not accepted).
pub fn is_rust_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first == '_' || first.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && s != "_"
        && !RUST_KEYWORDS.contains(&s)
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

impl TypeDef {
    /// A type with no fields, format, pools, doc or spans.
    #[must_use]
    pub fn new(name: impl Into<String>) -> TypeDef {
        TypeDef {
            name: name.into(),
            doc: None,
            format: None,
            format_span: None,
            fields: Vec::new(),
            pools: Vec::new(),
            span: None,
            text: None,
        }
    }

    /// The fields as `(name, min, max)`, as [`Format`] takes them.
    pub fn field_tuples(&self) -> Vec<(&str, u128, u128)> {
        self.fields
            .iter()
            .map(|f| (f.name.as_str(), f.min, f.max))
            .collect()
    }

    /// Total bits of the fields' ranges (at most 128 for a valid type).
    pub fn total_bits(&self) -> u32 {
        self.fields.iter().map(FieldDef::bits).sum()
    }

    /// Every check that does not depend on the front end, all collected, in source
    /// order where spans are known:
    ///
    /// - the type name is a valid Rust identifier; so is every field name
    /// - at least one field, at most [`MAX_FIELDS`]
    /// - no duplicate field names (reported at the second, with a note at the first)
    /// - every range is non-empty and fits the field's type
    /// - the fields' ranges fit 128 bits together
    /// - the format parses ([`Format::parse`]), spans shifted into the source
    /// - every pool pattern parses and lies in the fields' ranges; pools do not overlap;
    ///   at most 64 distinct tags
    ///
    /// ```
    /// use addralloc_runtime::schema::{FieldDef, FieldType, TypeDef};
    /// let mut t = TypeDef::new("Port");
    /// t.fields.push(FieldDef::new("bus", FieldType::U8).with_range(0, 300));
    /// t.format = Some("{bux}".into());
    /// let msgs: Vec<String> = t.check().into_iter().map(|d| d.message).collect();
    /// assert_eq!(msgs, [
    ///     "range 0..=300 of field `bus` does not fit in `u8`; the largest `u8` is 255",
    ///     "format names unknown field `bux`; did you mean `bus`?",
    /// ]);
    /// ```
    #[must_use = "the diagnostics are the check's only result"]
    pub fn check(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let name = &self.name;
        if !is_rust_identifier(name) {
            out.push(Diagnostic::new(
                format!("type name `{name}` is not a valid Rust identifier"),
                self.span.clone(),
            ));
        }
        if self.fields.is_empty() {
            out.push(Diagnostic::new(
                format!("address type `{name}` has no fields; add at least one"),
                self.span.clone(),
            ));
        }
        if self.fields.len() > MAX_FIELDS {
            out.push(Diagnostic::new(
                format!(
                    "address type `{name}` has {} fields; at most {MAX_FIELDS} are supported",
                    self.fields.len()
                ),
                self.fields
                    .get(MAX_FIELDS)
                    .and_then(|f| f.span.clone())
                    .or(self.span.clone()),
            ));
        }
        let mut ranges_ok = true;
        for (i, f) in self.fields.iter().enumerate() {
            let fname = &f.name;
            if !is_rust_identifier(fname) {
                out.push(Diagnostic::new(
                    format!("field name `{fname}` is not a valid Rust identifier"),
                    f.span.clone(),
                ));
            }
            if let Some(first) = self.fields[..i].iter().find(|g| g.name == *fname) {
                out.push(
                    Diagnostic::new(format!("duplicate field `{fname}`"), f.span.clone())
                        .with_note(
                            format!("field `{fname}` is first declared here"),
                            first.span.clone(),
                        ),
                );
            }
            let rspan = f.range_span.clone().or(f.span.clone());
            if f.min > f.max {
                ranges_ok = false;
                out.push(Diagnostic::new(
                    format!("field `{fname}` has an empty range"),
                    rspan,
                ));
            } else if f.max > f.ty.max_value() {
                ranges_ok = false;
                out.push(Diagnostic::new(
                    format!(
                        "range {}..={} of field `{fname}` does not fit in `{}`; the largest `{}` is {}",
                        f.min,
                        f.max,
                        f.ty,
                        f.ty,
                        f.ty.max_value()
                    ),
                    rspan,
                ));
            }
        }
        let bits = self.total_bits();
        if ranges_ok && bits > 128 {
            out.push(Diagnostic::new(
                format!(
                    "the fields of `{name}` need {bits} bits together; at most 128 are supported"
                ),
                self.span.clone(),
            ));
        }
        let duplicates = self
            .fields
            .iter()
            .enumerate()
            .any(|(i, f)| self.fields[..i].iter().any(|g| g.name == f.name));
        // With duplicate names the format and pools would only repeat that error.
        if let (Some(text), false) = (&self.format, duplicates) {
            if let Err(errs) = Format::parse(text, &self.field_tuples()) {
                for e in errs {
                    out.push(Diagnostic::new(
                        e.message,
                        self.format_subspan(text, e.span),
                    ));
                }
            }
        }
        self.check_text(&mut out);
        if ranges_ok && !duplicates && !self.fields.is_empty() && self.fields.len() <= MAX_FIELDS {
            self.check_pools(&mut out);
        }
        out.sort_by_key(|d| d.span.as_ref().map(|s| (s.start, s.end)));
        out
    }

    /// `text = "ipv6"`: a known text, on fields it can print.
    fn check_text(&self, out: &mut Vec<Diagnostic>) {
        let Some(text) = &self.text else { return };
        if text != "ipv6" {
            out.push(Diagnostic::new(
                format!("unknown text `{text}`; the texts the runtime knows are `ipv6`"),
                self.span.clone(),
            ));
            return;
        }
        if self.fields.len() != 8 || self.fields.iter().any(|f| f.min != 0 || f.max != 0xffff) {
            out.push(Diagnostic::new(
                format!(
                    "`text = \"ipv6\"` needs eight fields of `0..=0xffff`; `{}` has {} fields",
                    self.name,
                    self.fields.len()
                ),
                self.span.clone(),
            ));
        }
    }

    fn check_pools(&self, out: &mut Vec<Diagnostic>) {
        // A pool can only overlap pools whose hulls (first to last packed index) meet
        // its own: accepted pools are kept by hull start, and a new one is compared with
        // those starting at most the longest hull before it. Pools that differ in a
        // leading field (the usual layout) are then a logarithmic look-up each.
        let fields = &self.fields;
        let mut shifts = alloc::vec![0u32; fields.len()];
        let mut acc = 0u32;
        for (i, f) in fields.iter().enumerate().rev() {
            shifts[i] = acc;
            acc = acc.saturating_add(f.bits());
        }
        let packs = acc <= 128;
        let index = |corner: &[(u128, u128)], hi: bool| -> u128 {
            corner
                .iter()
                .zip(fields)
                .zip(&shifts)
                .fold(0u128, |idx, ((r, f), &sh)| {
                    let v = if hi { r.1 } else { r.0 } - f.min;
                    idx | v.checked_shl(sh).unwrap_or(0)
                })
        };
        let mut boxes: Vec<(usize, Vec<(u128, u128)>)> = Vec::new();
        let mut by_start: std::collections::BTreeMap<u128, Vec<usize>> = Default::default();
        let mut longest = 0u128;
        let mut tags: std::collections::BTreeSet<&str> = Default::default();
        for (k, p) in self.pools.iter().enumerate() {
            for t in &p.tags {
                tags.insert(t);
            }
            match self.pool_boxes(p) {
                Err(d) => out.push(d),
                Ok(pool_boxes) => {
                    for b in pool_boxes {
                        let meets = |o: &[(u128, u128)]| {
                            o.iter().zip(&b).all(|(x, y)| x.0 <= y.1 && y.0 <= x.1)
                        };
                        // The earliest declared pool it overlaps, as a plain scan would find.
                        let hit = if packs {
                            let (s, e) = (index(&b, false), index(&b, true));
                            by_start
                                .range(s.saturating_sub(longest)..=e)
                                .flat_map(|(_, v)| v.iter().copied())
                                .filter(|&j| meets(&boxes[j].1))
                                .min()
                        } else {
                            boxes.iter().position(|(_, o)| meets(o))
                        };
                        if let Some(j) = hit {
                            let other = &self.pools[boxes[j].0];
                            out.push(
                                Diagnostic::new(
                                    format!(
                                        "pool `{}` overlaps pool `{}`",
                                        p.pattern, other.pattern
                                    ),
                                    p.span.clone(),
                                )
                                .with_note("the other pool is declared here", other.span.clone()),
                            );
                            break;
                        }
                        if packs {
                            let (s, e) = (index(&b, false), index(&b, true));
                            longest = longest.max(e - s);
                            by_start.entry(s).or_default().push(boxes.len());
                        }
                        boxes.push((k, b));
                    }
                }
            }
        }
        if tags.len() > 64 {
            out.push(Diagnostic::new(
                format!(
                    "address type `{}` has {} distinct pool tags; at most 64 are supported",
                    self.name,
                    tags.len()
                ),
                self.span.clone(),
            ));
        }
    }

    /// Maps a span inside the format string to the source.
    /// The ranges of a pool's pattern, one per field (`None`: unconstrained), checked
    /// against the fields: what [`TypeDef::check`] reads every pool with, and what the
    /// schema compiler generates `default_pools` from. The error is the diagnostic
    /// `check` reports, at the pool's span.
    ///
    /// ```
    /// use addralloc_runtime::schema::{FieldDef, FieldType, PoolDef, TypeDef};
    /// let mut t = TypeDef::new("Port");
    /// t.fields.push(FieldDef::new("bus", FieldType::U8));
    /// t.fields.push(FieldDef::new("port", FieldType::U8).with_range(0, 31));
    /// assert_eq!(t.pool_ranges(&PoolDef::new("port=1..8")), Ok(vec![None, Some(1..=7)]));
    /// let err = t.pool_ranges(&PoolDef::new("port=32")).unwrap_err();
    /// assert_eq!(
    ///     err.message,
    ///     "invalid pool pattern `port=32`: field `port` value 32 is out of range 0..=31"
    /// );
    /// ```
    pub fn pool_ranges(
        &self,
        pool: &PoolDef,
    ) -> Result<Vec<Option<RangeInclusive<u128>>>, Diagnostic> {
        let raw = self.pool_raw(pool)?;
        if raw.linear {
            return Err(Diagnostic::new(
                format!(
                    "pool `{}` is a linear range, not a box of field ranges: read it with \
                     `TypeDef::pool_ends` or `TypeDef::pool_boxes`",
                    pool.pattern
                ),
                pool.span.clone(),
            ));
        }
        Ok((0..self.fields.len())
            .map(|i| raw.range(i).map(|(a, b)| a..=b))
            .collect())
    }

    /// The boxes of a pool's pattern, each one range per field (unconstrained fields
    /// whole), in address order: one for a box pattern or a prefix, up to `2k - 1` for
    /// a linear range `first..=last` over `k` fields. The error is the diagnostic
    /// [`TypeDef::check`] reports, at the pool's span.
    ///
    /// ```
    /// use addralloc_runtime::schema::{FieldDef, FieldType, PoolDef, TypeDef};
    /// let mut t = TypeDef::new("Port");
    /// t.format = Some("{bus}-{port}".into());
    /// t.fields.push(FieldDef::new("bus", FieldType::U8));
    /// t.fields.push(FieldDef::new("port", FieldType::U8).with_range(0, 31));
    /// let boxes = t.pool_boxes(&PoolDef::new("0-30..=1-2")).unwrap();
    /// assert_eq!(boxes, vec![vec![(0, 0), (30, 31)], vec![(1, 1), (0, 2)]]);
    /// ```
    pub fn pool_boxes(&self, pool: &PoolDef) -> Result<Vec<Vec<(u128, u128)>>, Diagnostic> {
        let raw = self.pool_raw(pool)?;
        let n = self.fields.len();
        if raw.linear {
            let (first, last) = raw.ends();
            return Ok(crate::linear::boxes(&first, &last, &self.fields)
                .into_iter()
                .map(|b| b[..n].to_vec())
                .collect());
        }
        Ok(alloc::vec![self
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| raw.range(i).unwrap_or((f.min, f.max)))
            .collect()])
    }

    /// The first and last address of a pool that is a linear range (`first..=last`),
    /// one value per field; `None` for a box pool. What the schema compiler generates a
    /// linear default pool from.
    ///
    /// ```
    /// use addralloc_runtime::schema::{FieldDef, FieldType, PoolDef, TypeDef};
    /// let mut t = TypeDef::new("Port");
    /// t.format = Some("{bus}-{port}".into());
    /// t.fields.push(FieldDef::new("bus", FieldType::U8));
    /// t.fields.push(FieldDef::new("port", FieldType::U8));
    /// assert_eq!(t.pool_ends(&PoolDef::new("0-250..=1-5")), Ok(Some((vec![0, 250], vec![1, 5]))));
    /// assert_eq!(t.pool_ends(&PoolDef::new("bus=1")), Ok(None));
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn pool_ends(&self, pool: &PoolDef) -> Result<Option<(Vec<u128>, Vec<u128>)>, Diagnostic> {
        let raw = self.pool_raw(pool)?;
        if !raw.linear {
            return Ok(None);
        }
        let n = self.fields.len();
        let (first, last) = raw.ends();
        Ok(Some((first[..n].to_vec(), last[..n].to_vec())))
    }

    /// A pool's pattern read with the type's text (fields, an address, a linear range
    /// or a prefix), as a diagnostic at the pool's span when it does not parse.
    fn pool_raw(&self, pool: &PoolDef) -> Result<RawPattern, Diagnostic> {
        let format = self.format();
        let tuples = self.field_tuples();
        let n = self.fields.len();
        let parse = |s: &str| -> Result<crate::linear::Values, crate::Error> {
            let values = format.parse_values(s, &tuples)?;
            let mut v = [0u128; MAX_FIELDS];
            for (slot, x) in v.iter_mut().zip(values) {
                *slot = x;
            }
            Ok(v)
        };
        let show = |v: &crate::linear::Values| format.to_string(&v[..n]);
        crate::linear::parse_text(&pool.pattern, &self.fields, parse, show).map_err(|e| {
            let reason = match e {
                crate::Error::BadPattern { reason, .. } => reason,
                e => e.to_string(),
            };
            Diagnostic::new(
                format!("invalid pool pattern `{}`: {reason}", pool.pattern),
                pool.span.clone(),
            )
        })
    }

    fn format_subspan(&self, text: &str, span: Range<usize>) -> Option<Range<usize>> {
        let whole = self.format_span.clone()?;
        if whole.end.checked_sub(whole.start) == Some(text.len() + 2) {
            Some(whole.start + 1 + span.start..whole.start + 1 + span.end)
        } else {
            Some(whole)
        }
    }

    /// The checked format: the type's format string parsed, or the default (decimal
    /// fields joined by `:`) when there is none or when it does not parse (run
    /// [`TypeDef::check`] first).
    pub fn format(&self) -> Format {
        let fields = self.field_tuples();
        self.format
            .as_deref()
            .and_then(|f| Format::parse(f, &fields).ok())
            .unwrap_or_else(|| Format::default_for(&fields))
    }
}

/// A schema: the address types of one TOML file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Schema {
    /// The types, in file order.
    pub types: Vec<TypeDef>,
}

impl Schema {
    /// A schema of these types (checked when it is used, e.g. by `DynSchema`).
    pub fn new(types: Vec<TypeDef>) -> Schema {
        Schema { types }
    }

    /// Parses a TOML schema and checks every type ([`TypeDef::check`]), collecting
    /// every error with its byte span into `text`: TOML syntax, unknown keys (with a
    /// "did you mean"), missing keys, values of the wrong type, bad ranges, unknown
    /// field types, duplicate type names, and the model checks.
    ///
    /// ```
    /// use addralloc_runtime::schema::Schema;
    /// let src = "[[address]]\nname = \"Port\"\nfromat = \"{port}\"\n\n\
    ///            [[address.field]]\nname = \"port\"\ntype = \"u8\"\n";
    /// let errs = Schema::from_toml(src).unwrap_err();
    /// assert_eq!(errs[0].message, "unknown key `fromat` in `[[address]]`; did you mean `format`?");
    /// assert_eq!(errs[0].line_col(src), Some((3, 1)));
    /// ```
    pub fn from_toml(text: &str) -> Result<Schema, Vec<Diagnostic>> {
        load::from_toml(text)
    }

    /// The type called `name`.
    pub fn get(&self, name: &str) -> Option<&TypeDef> {
        self.types.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let src = "ab\ncdé\nf";
        assert_eq!(line_col(src, 0), Some((1, 1)));
        assert_eq!(line_col(src, 3), Some((2, 1)));
        assert_eq!(line_col(src, 7), Some((2, 4)));
        assert_eq!(line_col(src, 8), Some((3, 1)));
        assert_eq!(line_col(src, 9), Some((3, 2)));
        assert_eq!(line_col(src, 10), None);
        // Inside a multi-byte character: no position.
        assert_eq!(line_col(src, 6), None);
    }

    #[test]
    fn field_bits() {
        assert_eq!(FieldDef::new("a", FieldType::U8).bits(), 8);
        assert_eq!(FieldDef::new("a", FieldType::U8).with_range(3, 3).bits(), 0);
        assert_eq!(FieldDef::new("a", FieldType::U8).with_range(1, 8).bits(), 3);
        assert_eq!(FieldDef::new("a", FieldType::U128).bits(), 128);
    }

    #[test]
    fn format_spans_shift_into_plain_strings() {
        let mut t = TypeDef::new("T");
        t.fields.push(FieldDef::new("bus", FieldType::U8));
        t.format = Some("{bux}".into());
        t.format_span = Some(10..17);
        assert_eq!(t.check()[0].span, Some(12..15));
        t.format_span = Some(10..20); // an escaped or raw string: the whole literal
        assert_eq!(t.check()[0].span, Some(10..20));
    }
}
