//! [`Pattern`] (a box of field ranges), [`Block`] (a block shape) and the textual
//! pattern syntax `bus=0, slot=1..=31` shared by the command line, schema pools and
//! `FromStr`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Bound, Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};
use core::str::FromStr;

use crate::address::{Address, Field};
use crate::count::Count;
use crate::engine::MAX_FIELDS;
use crate::error::Error;

mod sealed {
    pub trait Sealed {}
}

/// The unsigned integer types a field can have.
pub trait Unsigned: Copy + Into<u128> + sealed::Sealed {}
macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl Unsigned for $t {}
    )*};
}
unsigned!(u8, u16, u32, u64, u128);

/// A value or a range of values of one field: `3`, `1..=31`, `1..32`, `8..`, `..=7`, `..`.
///
/// Open ends stand for the field's declared minimum or maximum.
pub trait FieldRange<T> {
    /// The bounds, widened to `u128`.
    fn bounds(self) -> (Bound<u128>, Bound<u128>);
}

impl<T: Unsigned> FieldRange<T> for T {
    fn bounds(self) -> (Bound<u128>, Bound<u128>) {
        (Bound::Included(self.into()), Bound::Included(self.into()))
    }
}
impl<T: Unsigned> FieldRange<T> for RangeInclusive<T> {
    fn bounds(self) -> (Bound<u128>, Bound<u128>) {
        let (a, b) = self.into_inner();
        (Bound::Included(a.into()), Bound::Included(b.into()))
    }
}
impl<T: Unsigned> FieldRange<T> for Range<T> {
    fn bounds(self) -> (Bound<u128>, Bound<u128>) {
        (
            Bound::Included(self.start.into()),
            Bound::Excluded(self.end.into()),
        )
    }
}
impl<T: Unsigned> FieldRange<T> for RangeFrom<T> {
    fn bounds(self) -> (Bound<u128>, Bound<u128>) {
        (Bound::Included(self.start.into()), Bound::Unbounded)
    }
}
impl<T: Unsigned> FieldRange<T> for RangeTo<T> {
    fn bounds(self) -> (Bound<u128>, Bound<u128>) {
        (Bound::Unbounded, Bound::Excluded(self.end.into()))
    }
}
impl<T: Unsigned> FieldRange<T> for RangeToInclusive<T> {
    fn bounds(self) -> (Bound<u128>, Bound<u128>) {
        (Bound::Unbounded, Bound::Included(self.end.into()))
    }
}
impl<T: Unsigned> FieldRange<T> for RangeFull {
    fn bounds(self) -> (Bound<u128>, Bound<u128>) {
        (Bound::Unbounded, Bound::Unbounded)
    }
}

/// Field ranges shared by typed and dynamic patterns.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RawPattern {
    /// Per field: `Some((lo, hi))` when constrained; `lo > hi` marks an empty range.
    pub(crate) ranges: [Option<(u128, u128)>; MAX_FIELDS],
    /// Bit `i` set: `ranges[i]` is `Some` (so "any" is one comparison).
    constrained: u16,
    /// A linear range: `ranges[i]` holds field `i` of the first and of the last address,
    /// and the pattern is every address between them in address order (see
    /// [`crate::linear`]).
    pub(crate) linear: bool,
}

/// What the raw layers need to know of a field: name and range.
pub(crate) trait FieldInfo {
    fn name(&self) -> &str;
    fn min(&self) -> u128;
    fn max(&self) -> u128;
}

impl FieldInfo for Field {
    fn name(&self) -> &str {
        self.name
    }
    fn min(&self) -> u128 {
        self.min
    }
    fn max(&self) -> u128 {
        self.max
    }
}

impl RawPattern {
    pub(crate) const ANY: RawPattern = RawPattern {
        ranges: [None; MAX_FIELDS],
        constrained: 0,
        linear: false,
    };

    /// Every address from `first` to `last` in address order (`n` fields).
    pub(crate) fn linear(first: &[u128], last: &[u128], n: usize) -> RawPattern {
        let mut p = RawPattern::ANY;
        for i in 0..n.min(MAX_FIELDS) {
            p.set_range(i, first[i], last[i]);
        }
        p.linear = true;
        p
    }

    /// The first and last address of a linear range, field by field.
    pub(crate) fn ends(&self) -> (crate::linear::Values, crate::linear::Values) {
        let mut first = [0; MAX_FIELDS];
        let mut last = [0; MAX_FIELDS];
        for i in 0..MAX_FIELDS {
            if let Some((a, b)) = self.range(i) {
                first[i] = a;
                last[i] = b;
            }
        }
        (first, last)
    }

    /// Whether the address with field values `v` matches (a pattern that does not
    /// resolve matches nothing).
    pub(crate) fn matches_values<F: FieldInfo>(
        &self,
        fields: &[F],
        v: impl Fn(usize) -> u128,
    ) -> bool {
        if self.resolve(fields).is_err() {
            return false;
        }
        let n = fields.len().min(MAX_FIELDS);
        if self.linear {
            let mut x = [0; MAX_FIELDS];
            for (i, slot) in x.iter_mut().enumerate().take(n) {
                *slot = v(i);
            }
            let (first, last) = self.ends();
            return fields
                .iter()
                .enumerate()
                .all(|(i, f)| f.min() <= x[i] && x[i] <= f.max())
                && !crate::linear::after(&first, &x, n)
                && !crate::linear::after(&x, &last, n);
        }
        fields.iter().enumerate().all(|(i, f)| {
            let x = v(i);
            match self.range(i) {
                Some((lo, hi)) => lo <= x && x <= hi,
                None => f.min() <= x && x <= f.max(),
            }
        })
    }

    /// The range of field `i` as given (`lo > hi` when empty), or `None` when it is
    /// unconstrained or past the last field.
    pub(crate) fn range(&self, i: usize) -> Option<(u128, u128)> {
        self.ranges.get(i).copied().flatten()
    }

    /// Constrains field `i` to `lo..=hi` as given.
    pub(crate) fn set_range(&mut self, i: usize, lo: u128, hi: u128) {
        if i < MAX_FIELDS {
            self.ranges[i] = Some((lo, hi));
            self.constrained |= 1 << i;
        }
    }

    /// Sets field `i` from bounds, resolving open ends against `min..=max`.
    pub(crate) fn set(
        &mut self,
        i: usize,
        (lo, hi): (Bound<u128>, Bound<u128>),
        min: u128,
        max: u128,
    ) {
        if i >= MAX_FIELDS {
            return;
        }
        let (lo, hi) = resolve_bounds((lo, hi), min, max);
        self.set_range(i, lo, hi);
    }

    /// Whether no field is constrained.
    pub(crate) fn is_any(&self) -> bool {
        self.constrained == 0
    }

    /// Checks every constrained field and returns the digit range of every field. A
    /// value outside its field is reported first (the lowest such field), then an empty
    /// range.
    pub(crate) fn resolve<F: FieldInfo>(
        &self,
        fields: &[F],
    ) -> Result<[(u128, u128); MAX_FIELDS], Error> {
        for (i, f) in fields.iter().enumerate().take(MAX_FIELDS) {
            if let Some((lo, hi)) = self.range(i) {
                for v in [lo, hi] {
                    if v < f.min() || v > f.max() {
                        return Err(Error::OutOfRange {
                            field: f.name().to_string(),
                            value: v,
                            min: f.min(),
                            max: f.max(),
                        });
                    }
                }
            }
        }
        let mut out = [(0, 0); MAX_FIELDS];
        if self.linear {
            let (first, last) = self.ends();
            if crate::linear::after(&first, &last, fields.len().min(MAX_FIELDS)) {
                return Err(Error::BadPattern {
                    pattern: self.display(fields),
                    reason: "the range is reversed: its first address comes after its last in \
                             address order"
                        .to_string(),
                });
            }
            for (i, f) in fields.iter().enumerate().take(MAX_FIELDS) {
                out[i] = (first[i] - f.min(), last[i] - f.min());
            }
            return Ok(out);
        }
        for (i, f) in fields.iter().enumerate().take(MAX_FIELDS) {
            let (lo, hi) = self.range(i).unwrap_or((f.min(), f.max()));
            if lo > hi {
                return Err(Error::BadPattern {
                    pattern: self.display(fields),
                    reason: format!(
                        "the range of field `{}` is empty: it starts after it ends",
                        f.name()
                    ),
                });
            }
            out[i] = (lo - f.min(), hi - f.min());
        }
        Ok(out)
    }

    /// The pattern's text; a linear range prints its ends field by field
    /// (`{a=10, b=20}..={a=10, b=21}`): use [`RawPattern::display_with`] where the
    /// type's text is known.
    pub(crate) fn display<F: FieldInfo>(&self, fields: &[F]) -> String {
        self.display_in(fields, &|_| DEC)
    }

    /// [`RawPattern::display`] with each field's values in its own radix
    /// (`radix(i)`: [`DEC`], [`HEX`] or [`UPPER_HEX`]; hex prints as `0x2800`, which
    /// the pattern parser reads back).
    pub(crate) fn display_in<F: FieldInfo>(
        &self,
        fields: &[F],
        radix: &dyn Fn(usize) -> u8,
    ) -> String {
        if self.linear {
            let (first, last) = self.ends();
            let one = |v: &crate::linear::Values| {
                let parts: Vec<String> = fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| format!("{}={}", f.name(), show_value(v[i], radix(i))))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            };
            return format!("{}..={}", one(&first), one(&last));
        }
        let mut s = String::new();
        for (i, f) in fields.iter().enumerate().take(MAX_FIELDS) {
            if let Some((lo, hi)) = self.range(i) {
                if !s.is_empty() {
                    s.push_str(", ");
                }
                let r = radix(i);
                if lo == hi {
                    s.push_str(&format!("{}={}", f.name(), show_value(lo, r)));
                } else {
                    s.push_str(&format!(
                        "{}={}..={}",
                        f.name(),
                        show_value(lo, r),
                        show_value(hi, r)
                    ));
                }
            }
        }
        if s.is_empty() {
            s.push('*');
        }
        s
    }

    /// The pattern's text, a linear range's ends printed by `show` in the type's text
    /// (`10.20.0.250..=10.20.1.5`), other values in each field's `radix`.
    pub(crate) fn display_with<F: FieldInfo>(
        &self,
        fields: &[F],
        show: impl Fn(&crate::linear::Values) -> String,
        radix: &dyn Fn(usize) -> u8,
    ) -> String {
        if self.linear {
            let (first, last) = self.ends();
            return format!("{}..={}", show(&first), show(&last));
        }
        self.display_in(fields, radix)
    }

    /// Parses `bus=0, slot=1..=31` (`*` or nothing: any address).
    pub(crate) fn parse<F: FieldInfo>(text: &str, fields: &[F]) -> Result<RawPattern, Error> {
        let bad = |reason: String| Error::BadPattern {
            pattern: text.to_string(),
            reason,
        };
        let mut p = RawPattern::ANY;
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed == "*" {
            return Ok(p);
        }
        for item in trimmed.split(',') {
            let item = item.trim();
            let Some((name, value)) = item.split_once('=') else {
                return Err(bad(format!(
                    "expected `field=value` or `field=lo..=hi`, found `{item}`"
                )));
            };
            let name = name.trim();
            let Some(i) = fields.iter().position(|f| f.name() == name) else {
                return Err(bad(unknown_field(name, fields)));
            };
            if p.range(i).is_some() {
                return Err(bad(format!("field `{name}` is given twice")));
            }
            let f = &fields[i];
            let bounds =
                parse_range(value.trim()).map_err(|r| bad(format!("field `{name}`: {r}")))?;
            p.set(i, bounds, f.min(), f.max());
        }
        // Range checks with the same words as typed patterns, quoting what was typed.
        p.resolve(fields).map_err(|e| match e {
            Error::BadPattern { reason, .. } => Error::BadPattern {
                pattern: text.to_string(),
                reason,
            },
            e => e,
        })?;
        Ok(p)
    }
}

/// A field printed in decimal.
pub(crate) const DEC: u8 = 0;
/// A field printed in lower-case hexadecimal (`{reg:x}`).
pub(crate) const HEX: u8 = 1;
/// A field printed in upper-case hexadecimal (`{reg:X}`).
pub(crate) const UPPER_HEX: u8 = 2;

/// A value in a pattern or block shape, in its field's radix: `4096`, `0x1000`,
/// `0x1A`; what [`parse_number`] reads back. Values below 10 are the same digits in
/// either radix and print without `0x` (`slot=1..=0x1f`).
pub(crate) fn show_value(v: u128, radix: u8) -> String {
    if v < 10 {
        return format!("{v}");
    }
    match radix {
        HEX => format!("{v:#x}"),
        UPPER_HEX => format!("0x{v:X}"),
        _ => format!("{v}"),
    }
}

/// "unknown field `x`; did you mean `y`?" or the list of fields.
pub(crate) fn unknown_field<F: FieldInfo>(name: &str, fields: &[F]) -> String {
    match suggest(name, fields.iter().map(FieldInfo::name)) {
        Some(n) => format!("unknown field `{name}`; did you mean `{n}`?"),
        None => {
            let list: Vec<String> = fields.iter().map(|f| format!("`{}`", f.name())).collect();
            format!("unknown field `{name}`; the fields are {}", list.join(", "))
        }
    }
}

/// The candidate closest to `name`, when close enough for a "did you mean": every
/// "did you mean" of the runtime, the schema compiler and the command line comes from
/// here, with this one threshold.
///
/// Names are compared without case (`SLOT` is `slot`), by edit distance. A candidate is
/// close enough at no more edits than a third of the name's length (rounded up, at
/// least 1) and fewer edits than the name has characters, so a suggestion keeps
/// something of the name (`x` suggests nothing). Ties go to an anagram of the name (a
/// transposition), then to a candidate of the same length, then to the first.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let len = lower.chars().count();
    let mut sorted: Vec<char> = lower.chars().collect();
    sorted.sort_unstable();
    let limit = 1.max(len.div_ceil(3));
    candidates
        .into_iter()
        .map(|c| {
            let cl = c.to_lowercase();
            let mut cs: Vec<char> = cl.chars().collect();
            let same_len = cs.len() == len;
            cs.sort_unstable();
            (edit_distance(&lower, &cl), cs != sorted, !same_len, c)
        })
        .filter(|(d, ..)| *d <= limit && *d < len)
        .min_by_key(|(d, a, l, _)| (*d, *a, *l))
        .map(|(.., c)| c)
}

/// Levenshtein distance, behind [`suggest`].
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Parses one unsigned number: decimal, or hexadecimal after `0x`.
pub(crate) fn parse_number(s: &str) -> Result<u128, String> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (s, 10),
    };
    if digits.is_empty() {
        return Err(format!("expected a number, found `{s}`"));
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(format!(
            "`{s}` is not a number (decimal, or hexadecimal after `0x`)"
        ));
    }
    u128::from_str_radix(digits, radix).map_err(|_| format!("`{s}` is too large"))
}

/// Bounds resolved against a field's `min..=max`: `(lo, hi)`, with `lo > hi` for an
/// empty range (`x..0`, `(MAX+1)..`).
pub(crate) fn resolve_bounds(
    (lo, hi): (Bound<u128>, Bound<u128>),
    min: u128,
    max: u128,
) -> (u128, u128) {
    let lo = match lo {
        Bound::Included(x) => Some(x),
        Bound::Excluded(x) => x.checked_add(1),
        Bound::Unbounded => Some(min),
    };
    let hi = match hi {
        Bound::Included(x) => Some(x),
        Bound::Excluded(x) => x.checked_sub(1),
        Bound::Unbounded => Some(max),
    };
    match (lo, hi) {
        (Some(lo), Some(hi)) => (lo, hi),
        _ => (1, 0),
    }
}

/// Parses one field's range: `3`, `1..=31`, `1..32`, `8..`, `..=7`, `..7`, `..`, `*`,
/// numbers in decimal or `0x` hexadecimal, spaces around any part. The one range
/// parser: patterns, pools (TOML and derive) and the fields' ranges of TOML schemas
/// all read ranges here.
pub(crate) fn parse_range(s: &str) -> Result<(Bound<u128>, Bound<u128>), String> {
    let s = s.trim();
    if s == "*" || s == ".." {
        return Ok((Bound::Unbounded, Bound::Unbounded));
    }
    let Some((a, b)) = s.split_once("..") else {
        let v = parse_number(s)?;
        return Ok((Bound::Included(v), Bound::Included(v)));
    };
    let lo = match a.trim() {
        "" => Bound::Unbounded,
        a => Bound::Included(parse_number(a)?),
    };
    let hi = match b.strip_prefix('=') {
        Some(b) => Bound::Included(parse_number(b.trim())?),
        None => match b.trim() {
            "" => Bound::Unbounded,
            b => Bound::Excluded(parse_number(b)?),
        },
    };
    Ok((lo, hi))
}

/// A box of addresses: a value or a range for each field; unconstrained fields take
/// their whole range.
///
/// Generated address types offer a typed builder (`PciAddress::pattern().bus(0)`) that
/// converts into a `Pattern`. A pattern's ranges are checked against the fields when it
/// is used, and a bad one is reported as [`Error::OutOfRange`] or [`Error::BadPattern`].
///
/// The textual syntax, accepted by [`FromStr`] and printed by [`Display`](fmt::Display):
/// `bus=0, slot=1..=31`; `*` matches every address.
#[must_use = "a pattern does nothing until an allocator is given it"]
pub struct Pattern<A> {
    /// Low ends of the constrained fields, as digits (value minus the field's min) at
    /// the field's place in the type's bit layout: every field in one number.
    lo: u128,
    /// High ends, packed the same way.
    hi: u128,
    /// The out-of-range end of field `bad_field` (see `bad_ends`).
    bad_value: u128,
    /// Constrained fields.
    set: u16,
    /// Fields whose range could not be packed (an end outside the field's range).
    bad: u16,
    /// The lowest such field whose value is kept in `bad_value`; `NONE` when none is.
    bad_field: u8,
    /// Bit 0: its low end is `bad_value`; bit 1: its high end is.
    bad_ends: u8,
    /// `lo` and `hi` are the first and last address of a linear range (every field set).
    linear: bool,
    _a: PhantomData<fn() -> A>,
}

/// No field.
const NONE: u8 = u8::MAX;

/// Field `i`'s place in the packed layout of `fields`: shift and digit mask. `None`
/// when the fields need more than 128 bits (such a type has no allocator either).
fn place(fields: &[Field], i: usize) -> Option<(u32, u128)> {
    let bits = |f: &Field| 128 - (f.max - f.min).leading_zeros();
    let mut shift = 0u32;
    for f in fields.get(i + 1..)? {
        shift = shift.checked_add(bits(f))?;
    }
    let b = bits(fields.get(i)?);
    if shift.checked_add(b)? > 128 {
        return None;
    }
    let mask = if b == 128 {
        u128::MAX
    } else {
        (1u128 << b) - 1
    };
    Some((shift, mask))
}

/// Every field's place (see [`place`]) in one pass, from the last field up.
fn places(fields: &[Field]) -> [Option<(u32, u128)>; MAX_FIELDS] {
    let mut out = [None; MAX_FIELDS];
    let mut shift = 0u32;
    let n = fields.len().min(MAX_FIELDS);
    for i in (0..n).rev() {
        let b = 128 - (fields[i].max - fields[i].min).leading_zeros();
        let Some(end) = shift.checked_add(b).filter(|e| *e <= 128) else {
            // The fields need more than 128 bits: nothing from here up has a place.
            break;
        };
        let mask = if b == 128 {
            u128::MAX
        } else {
            (1u128 << b) - 1
        };
        out[i] = Some((shift, mask));
        shift = end;
    }
    if fields.len() > MAX_FIELDS || shift > 128 {
        return [None; MAX_FIELDS];
    }
    out
}

fn digit(packed: u128, (shift, mask): (u32, u128)) -> u128 {
    packed.checked_shr(shift).unwrap_or(0) & mask
}

fn put(packed: &mut u128, (shift, mask): (u32, u128), d: u128) {
    let m = mask.checked_shl(shift).unwrap_or(0);
    *packed = (*packed & !m) | (d.checked_shl(shift).unwrap_or(0) & m);
}

impl<A> Clone for Pattern<A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A> Copy for Pattern<A> {}
impl<A: Address> PartialEq for Pattern<A> {
    fn eq(&self, other: &Self) -> bool {
        self.raw() == other.raw()
    }
}
impl<A: Address> Eq for Pattern<A> {}

impl<A: Address> Default for Pattern<A> {
    fn default() -> Self {
        Self::any()
    }
}

impl<A: Address> Pattern<A> {
    /// The field ranges, as given. Code outside this file reads a pattern through here
    /// (and builds one with [`Pattern::from_raw`]), so its representation stays here.
    pub(crate) fn raw(&self) -> RawPattern {
        let mut raw = RawPattern::ANY;
        if self.set == 0 {
            return raw;
        }
        let places = places(A::FIELDS);
        for (i, f) in A::FIELDS.iter().enumerate().take(MAX_FIELDS) {
            if self.set & (1 << i) == 0 {
                continue;
            }
            let (lo, hi) = if self.bad & (1 << i) == 0 {
                match places[i] {
                    Some(p) => (digit(self.lo, p) + f.min, digit(self.hi, p) + f.min),
                    None => (f.min, f.max),
                }
            } else if i == self.bad_field as usize {
                let p = places[i];
                let end = |packed: u128, bit: u8| match p {
                    Some(p) if self.bad_ends & bit == 0 => digit(packed, p) + f.min,
                    _ => self.bad_value,
                };
                (end(self.lo, 1), end(self.hi, 2))
            } else {
                // Its value was not kept (another field's was): still out of range.
                let v = f.max.checked_add(1).unwrap_or(f.max);
                (v, v)
            };
            raw.set_range(i, lo, hi);
        }
        raw.linear = self.linear;
        raw
    }

    /// Constrains field `i` to `lo..=hi` as given (resolved bounds).
    fn put_range(&mut self, i: usize, lo: u128, hi: u128) {
        let Some(f) = A::FIELDS.get(i) else { return };
        if i >= MAX_FIELDS {
            return;
        }
        let bit = 1u16 << i;
        self.set |= bit;
        let p = place(A::FIELDS, i);
        let (ok_lo, ok_hi) = (f.contains(lo), f.contains(hi));
        if let Some(p) = p {
            put(&mut self.lo, p, if ok_lo { lo - f.min } else { 0 });
            put(&mut self.hi, p, if ok_hi { hi - f.min } else { 0 });
        }
        if ok_lo && ok_hi && p.is_some() {
            self.bad &= !bit;
            if self.bad_field as usize == i {
                self.bad_field = NONE;
            }
            return;
        }
        self.bad |= bit;
        if self.bad_field == NONE || i <= self.bad_field as usize {
            self.bad_field = i as u8;
            self.bad_ends = if p.is_none() {
                3
            } else {
                u8::from(!ok_lo) | (u8::from(!ok_hi) << 1)
            };
            self.bad_value = if !ok_lo || p.is_none() { lo } else { hi };
            if p.is_none() && lo != hi {
                // Unpackable type: keep the low end; the pattern is unusable anyway.
                self.bad_ends = 3;
            }
        }
    }

    fn set_bounds(&mut self, i: usize, bounds: (Bound<u128>, Bound<u128>)) {
        if let Some(f) = A::FIELDS.get(i) {
            let (lo, hi) = resolve_bounds(bounds, f.min, f.max);
            self.put_range(i, lo, hi);
        }
    }

    pub(crate) fn from_raw(raw: RawPattern) -> Self {
        let mut p = Self::any();
        for i in 0..A::FIELDS.len().min(MAX_FIELDS) {
            if let Some((lo, hi)) = raw.range(i) {
                p.put_range(i, lo, hi);
            }
        }
        p.linear = raw.linear;
        p
    }

    /// Every address.
    pub fn any() -> Self {
        Pattern {
            lo: 0,
            hi: 0,
            bad_value: 0,
            set: 0,
            bad: 0,
            bad_field: NONE,
            bad_ends: 0,
            linear: false,
            _a: PhantomData,
        }
    }

    /// Exactly `addr`.
    pub fn exact(addr: A) -> Self {
        let mut p = Self::any();
        for i in 0..A::FIELDS.len() {
            let v = addr.field(i);
            p.put_range(i, v, v);
        }
        p
    }

    /// Constrains field `i` (in [`Address::FIELDS`] order) to a value or range. Generated
    /// builders call this with the field's own type. An index past the last field is
    /// ignored.
    pub fn field<T: Unsigned>(mut self, i: usize, range: impl FieldRange<T>) -> Self {
        self.set_bounds(i, range.bounds());
        self
    }

    /// Constrains the field called `name`; an unknown name is an error.
    pub fn field_named<T: Unsigned>(
        mut self,
        name: &str,
        range: impl FieldRange<T>,
    ) -> Result<Self, Error> {
        match A::FIELDS.iter().position(|f| f.name == name) {
            Some(i) => {
                self.set_bounds(i, range.bounds());
                Ok(self)
            }
            None => Err(Error::BadPattern {
                pattern: self.to_string(),
                reason: unknown_field(name, A::FIELDS),
            }),
        }
    }
    /// The range of field `i`, or `None` when it is unconstrained.
    pub fn range(&self, i: usize) -> Option<RangeInclusive<u128>> {
        self.raw().range(i).map(|(a, b)| a..=b)
    }

    /// Whether no field is constrained.
    pub fn is_any(&self) -> bool {
        self.raw().is_any()
    }

    /// Checks every range against its field.
    pub fn check(&self) -> Result<(), Error> {
        self.raw().resolve(A::FIELDS).map(|_| ())
    }

    /// Whether `addr` matches (a pattern that fails [`Pattern::check`] matches nothing).
    pub fn matches(&self, addr: &A) -> bool {
        self.raw().matches_values(A::FIELDS, |i| addr.field(i))
    }

    /// The pattern's text, a linear range's ends in the type's own text.
    fn text(&self) -> String {
        self.raw().display_with(
            A::FIELDS,
            |v| {
                let n = A::FIELDS.len().min(MAX_FIELDS);
                A::from_fields(&v[..n]).to_string()
            },
            &|i| if A::hex_field(i) { HEX } else { DEC },
        )
    }
}

/// Linear ranges and prefixes (see `docs/schema.md`, "Linear ranges and prefixes").
impl<A: Address> Pattern<A> {
    /// Every address from `first` to `last` in address order, across field boundaries:
    /// `10.20.0.250..=10.20.1.5` holds 12 addresses, which no box of field ranges
    /// describes. `first..=last` converts into the same pattern, so
    /// `alloc.add_pool(first..=last)` adds the range as one pool.
    ///
    /// A search in a linear pattern goes through its boxes in address order (lowest
    /// first, or highest first under [`Policy::HighestFirst`](crate::Policy)); a range
    /// whose `first` comes after `last` is refused when used, as
    /// [`Error::BadPattern`].
    ///
    /// ```
    /// use addralloc_runtime::{Address, Allocator, Field, Pattern};
    /// # use core::fmt;
    /// #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// struct V4([u8; 4]);
    /// impl Address for V4 {
    ///     const FIELDS: &'static [Field] = &[
    ///         Field::new("a", 0, 255), Field::new("b", 0, 255),
    ///         Field::new("c", 0, 255), Field::new("d", 0, 255),
    ///     ];
    ///     fn field(&self, i: usize) -> u128 { self.0[i].into() }
    ///     fn from_fields(v: &[u128]) -> Self { V4([v[0] as u8, v[1] as u8, v[2] as u8, v[3] as u8]) }
    /// }
    /// # impl fmt::Display for V4 {
    /// #     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    /// #         let [a, b, c, d] = self.0;
    /// #         write!(f, "{a}.{b}.{c}.{d}")
    /// #     }
    /// # }
    /// let mut dhcp = Allocator::<V4>::new();
    /// dhcp.add_pool(V4([10, 20, 0, 250])..=V4([10, 20, 1, 5]))?;
    /// assert_eq!(dhcp.free_count().to_string(), "12");
    /// assert_eq!(dhcp.reserve_any()?, V4([10, 20, 0, 250]));
    /// let p = Pattern::linear(V4([10, 20, 0, 250]), V4([10, 20, 1, 5]));
    /// assert_eq!(p.to_string(), "10.20.0.250..=10.20.1.5");
    /// assert!(p.matches(&V4([10, 20, 0, 255])) && !p.matches(&V4([10, 20, 1, 6])));
    /// # Ok::<(), addralloc_runtime::Error>(())
    /// ```
    pub fn linear(first: A, last: A) -> Self {
        let mut p = Self::any();
        for i in 0..A::FIELDS.len() {
            p.put_range(i, first.field(i), last.field(i));
        }
        p.linear = true;
        p
    }

    /// Whether this is a linear range ([`Pattern::linear`]).
    pub fn is_linear(&self) -> bool {
        self.linear
    }

    /// The network `addr/len` of a type whose fields form one bit string (each field
    /// from 0 to a power of two minus 1: IPv4, IPv6, MAC): a box, high fields fixed, a
    /// range in the field the prefix ends in, lower fields whole.
    ///
    /// # Errors
    ///
    /// [`Error::BadPattern`] when the fields do not form a bit string, when `len` is
    /// longer than the address, or when `addr` has host bits set (`10.20.1.0/16`: they
    /// are refused, not masked, and the message names the network).
    ///
    /// ```
    /// # use addralloc_runtime::{Address, Field, Pattern};
    /// # use core::fmt;
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    /// # struct V4([u8; 4]);
    /// # impl Address for V4 {
    /// #     const FIELDS: &'static [Field] = &[
    /// #         Field::new("a", 0, 255), Field::new("b", 0, 255),
    /// #         Field::new("c", 0, 255), Field::new("d", 0, 255),
    /// #     ];
    /// #     fn field(&self, i: usize) -> u128 { self.0[i].into() }
    /// #     fn from_fields(v: &[u128]) -> Self { V4([v[0] as u8, v[1] as u8, v[2] as u8, v[3] as u8]) }
    /// # }
    /// # impl fmt::Display for V4 {
    /// #     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    /// #         let [a, b, c, d] = self.0;
    /// #         write!(f, "{a}.{b}.{c}.{d}")
    /// #     }
    /// # }
    /// let p = Pattern::prefix(V4([10, 0, 16, 0]), 20)?;
    /// assert_eq!(p.to_string(), "a=10, b=0, c=16..=31");
    /// let err = Pattern::prefix(V4([10, 0, 17, 0]), 20).unwrap_err();
    /// assert!(err.to_string().contains("the /20 network is 10.0.16.0/20"));
    /// assert!(Pattern::prefix(V4([10, 0, 0, 0]), 33).is_err());
    /// # Ok::<(), addralloc_runtime::Error>(())
    /// ```
    pub fn prefix(addr: A, len: u32) -> Result<Self, Error> {
        let n = A::FIELDS.len().min(MAX_FIELDS);
        let mut v = [0u128; MAX_FIELDS];
        for (i, x) in v.iter_mut().enumerate().take(n) {
            *x = addr.field(i);
        }
        let (first, last) =
            crate::linear::prefix_span(&v, len, A::FIELDS, |x| A::from_fields(&x[..n]).to_string())
                .map_err(|reason| Error::BadPattern {
                    pattern: format!("{addr}/{len}"),
                    reason,
                })?;
        let mut p = Self::any();
        for (i, f) in A::FIELDS.iter().enumerate().take(n) {
            if (first[i], last[i]) != (f.min, f.max) {
                p.put_range(i, first[i], last[i]);
            }
        }
        Ok(p)
    }

    /// Parses any pattern text, addresses in the type's own text (its `FromStr`): `*`,
    /// fields `a=10, b=20`, one address, a linear range `10.20.0.250..=10.20.1.5`, a
    /// prefix `10.20.0.0/16`. [`FromStr`] for `Pattern` reads the field syntax only, as
    /// it cannot parse addresses of a type without `FromStr`.
    ///
    /// # Errors
    ///
    /// [`Error::BadPattern`] (or [`Error::OutOfRange`]) naming what is wrong: an
    /// address that does not parse, a reversed range, a bad prefix length, host bits set.
    pub fn from_text(text: &str) -> Result<Self, Error>
    where
        A: FromStr,
        A::Err: fmt::Display,
    {
        let n = A::FIELDS.len().min(MAX_FIELDS);
        let parse = |s: &str| -> Result<crate::linear::Values, Error> {
            let a = s.parse::<A>().map_err(|e| Error::BadPattern {
                pattern: s.to_string(),
                reason: e.to_string(),
            })?;
            let mut v = [0u128; MAX_FIELDS];
            for (i, x) in v.iter_mut().enumerate().take(n) {
                *x = a.field(i);
            }
            Ok(v)
        };
        let raw = crate::linear::parse_text(text, A::FIELDS, parse, |x| {
            A::from_fields(&x[..n]).to_string()
        })?;
        Ok(Pattern::from_raw(raw))
    }
}

impl<A: Address> From<RangeInclusive<A>> for Pattern<A> {
    /// The linear range `first..=last` ([`Pattern::linear`]).
    fn from(r: RangeInclusive<A>) -> Self {
        let (first, last) = r.into_inner();
        Pattern::linear(first, last)
    }
}

impl<A: Address> fmt::Display for Pattern<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl<A: Address> fmt::Debug for Pattern<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({})", self.text())
    }
}

impl<A: Address> FromStr for Pattern<A> {
    type Err = Error;

    /// Parses `bus=0, slot=1..=31`: fields by name, values in decimal or `0x` hex, ranges
    /// `a..=b`, `a..b`, `a..`, `..=b`, `*`; `*` alone matches everything.
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(Pattern::from_raw(RawPattern::parse(s, A::FIELDS)?))
    }
}

/// The extents of a block, one per field (default 1): `function=8` is a whole PCI slot,
/// an extent of 8 on the last IPv4 octet is a /29.
///
/// Blocks are naturally aligned: on every field the block's first value is a multiple
/// of its extent.
#[must_use = "a block shape does nothing until an allocator is given it"]
pub struct Block<A> {
    /// Extent minus one of every field, packed as [`Pattern`] packs digits.
    ext: u128,
    /// The extent of field `bad_field`, which could not be packed (0, or more than the
    /// field's values).
    bad_value: u128,
    /// Fields whose extent could not be packed.
    bad: u16,
    /// The lowest such field whose extent is kept in `bad_value`, or `NONE`.
    bad_field: u8,
    _a: PhantomData<fn() -> A>,
}

impl<A> Clone for Block<A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A> Copy for Block<A> {}
impl<A: Address> PartialEq for Block<A> {
    fn eq(&self, other: &Self) -> bool {
        self.extents() == other.extents()
    }
}
impl<A: Address> Eq for Block<A> {}

impl<A: Address> Default for Block<A> {
    fn default() -> Self {
        Self::single()
    }
}

impl<A: Address> Block<A> {
    /// The extents, one per field (1 past the last). Code outside this file reads a
    /// block through here, so its representation stays here.
    pub(crate) fn extents(&self) -> [u128; MAX_FIELDS] {
        let mut out = [1u128; MAX_FIELDS];
        if self.bad == 0 {
            // Every extent packed: peel the digits off from the last field up.
            let n = A::FIELDS.len().min(MAX_FIELDS);
            let mut x = self.ext;
            let mut used = 0u32;
            for i in (0..n).rev() {
                let f = &A::FIELDS[i];
                let b = 128 - (f.max - f.min).leading_zeros();
                used = used.saturating_add(b);
                if used > 128 {
                    break;
                }
                let mask = if b == 128 {
                    u128::MAX
                } else {
                    (1u128 << b) - 1
                };
                out[i] = (x & mask) + 1;
                x = x.checked_shr(b).unwrap_or(0);
            }
            return out;
        }
        let places = places(A::FIELDS);
        for (i, e) in out.iter_mut().enumerate().take(A::FIELDS.len()) {
            *e = if self.bad & (1 << i) == 0 {
                places[i].map_or(1, |p| digit(self.ext, p) + 1)
            } else if i == self.bad_field as usize {
                self.bad_value
            } else {
                // Its value was not kept (another field's was): still invalid.
                0
            };
        }
        out
    }

    /// A block of one address (every extent 1).
    pub fn single() -> Self {
        Block {
            ext: 0,
            bad_value: 0,
            bad: 0,
            bad_field: NONE,
            _a: PhantomData,
        }
    }

    /// Sets the extent of field `i`; an index past the last field is ignored.
    pub fn extent(mut self, i: usize, extent: u128) -> Self {
        let Some(f) = A::FIELDS.get(i) else {
            return self;
        };
        if i >= MAX_FIELDS {
            return self;
        }
        let bit = 1u16 << i;
        let p = place(A::FIELDS, i);
        let ok = extent >= 1 && extent - 1 <= f.max - f.min;
        if let Some(p) = p {
            put(&mut self.ext, p, if ok { extent - 1 } else { 0 });
        }
        if ok && p.is_some() {
            self.bad &= !bit;
            if self.bad_field as usize == i {
                self.bad_field = NONE;
            }
        } else {
            self.bad |= bit;
            if self.bad_field == NONE || i <= self.bad_field as usize {
                self.bad_field = i as u8;
                self.bad_value = extent;
            }
        }
        self
    }

    /// The extent of field `i`.
    pub fn get(&self, i: usize) -> u128 {
        self.extents().get(i).copied().unwrap_or(1)
    }

    /// Checks every extent: at least 1, at most the number of values of its field.
    pub fn check(&self) -> Result<(), Error> {
        for (i, f) in A::FIELDS.iter().enumerate() {
            check_extent(f, self.get(i))?;
        }
        Ok(())
    }
}

/// Prefix sizes.
impl<A: Address> Block<A> {
    /// The block of a `/len` prefix, for types whose fields form one bit string (see
    /// [`Pattern::prefix`]): `/24` of an IPv4 type is `d=256`, `/20` is `c=16, d=256`.
    ///
    /// # Errors
    ///
    /// [`Error::BlockSyntax`] when the fields do not form a bit string or `len` is longer
    /// than the address.
    pub fn prefix(len: u32) -> Result<Self, Error> {
        let ext =
            crate::linear::prefix_extents(len, A::FIELDS).map_err(|reason| Error::BlockSyntax {
                block: format!("/{len}"),
                reason,
            })?;
        let mut b = Block::single();
        for (i, &e) in ext.iter().enumerate().take(A::FIELDS.len()) {
            b = b.extent(i, e);
        }
        b.check()?;
        Ok(b)
    }
}

pub(crate) fn check_extent<F: FieldInfo>(f: &F, ext: u128) -> Result<(), Error> {
    let values = (f.max() - f.min()).checked_add(1);
    let reason = if ext == 0 {
        Some("an extent is at least 1".to_string())
    } else if values.is_some_and(|n| ext > n) {
        Some(format!(
            "the field has only {} values ({}..={})",
            f.max() - f.min() + 1,
            f.min(),
            f.max()
        ))
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::BadBlock {
            field: f.name().to_string(),
            extent: ext,
            reason,
        }),
        None => Ok(()),
    }
}

pub(crate) fn display_extents<F: FieldInfo>(extents: &[u128], fields: &[F]) -> String {
    // Extents are counts, not values: always decimal.
    let parts: Vec<String> = fields
        .iter()
        .zip(extents)
        .filter(|(_, e)| **e != 1)
        .map(|(f, e)| format!("{}={e}", f.name()))
        .collect();
    if parts.is_empty() {
        "1".to_string()
    } else {
        parts.join(", ")
    }
}

impl<A: Address> fmt::Display for Block<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_extents(&self.extents(), A::FIELDS))
    }
}

impl<A: Address> fmt::Debug for Block<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Block({self})")
    }
}

impl<A: Address> FromStr for Block<A> {
    type Err = Error;

    /// Parses `function=8` or `slot=4, function=8`; `1` is a single address; `/24` is
    /// the size of a /24 prefix for types whose fields form one bit string
    /// ([`Block::prefix`]).
    fn from_str(s: &str) -> Result<Self, Error> {
        let extents = crate::linear::parse_block_text(s, A::FIELDS)?;
        let mut b = Block::single();
        for (i, &e) in extents.iter().enumerate().take(A::FIELDS.len()) {
            b = b.extent(i, e);
        }
        Ok(b)
    }
}

/// Parses a block shape `slot=4, function=8` (`1` or nothing: a single address) and
/// checks every extent against its field.
pub(crate) fn parse_extents<F: FieldInfo>(
    text: &str,
    fields: &[F],
) -> Result<[u128; MAX_FIELDS], Error> {
    let mut extents = [1u128; MAX_FIELDS];
    let t = text.trim();
    if t.is_empty() || t == "1" {
        return Ok(extents);
    }
    let bad = |reason: String| Error::BlockSyntax {
        block: text.to_string(),
        reason,
    };
    let mut seen = [false; MAX_FIELDS];
    for item in t.split(',') {
        let Some((name, value)) = item.split_once('=') else {
            return Err(bad(format!(
                "expected `field=extent`, found `{}`",
                item.trim()
            )));
        };
        let name = name.trim();
        let Some(i) = fields.iter().position(|f| f.name() == name) else {
            return Err(bad(unknown_field(name, fields)));
        };
        if seen[i] {
            return Err(bad(format!("field `{name}` is given twice")));
        }
        seen[i] = true;
        extents[i] = parse_number(value.trim()).map_err(|r| {
            bad(format!(
                "field `{name}`: {r}; an extent is one number, the count of values the block spans"
            ))
        })?;
        check_extent(&fields[i], extents[i])?;
    }
    Ok(extents)
}

/// A reserved block or window: the box from [`first`](Self::first) to
/// [`last`](Self::last), field by field ([`Allocator::reserve_block`],
/// [`Allocator::reserve_range`]), or the linear run of every address from `first` to
/// `last` in address order ([`Allocator::reserve_sized`]; see
/// [`is_linear`](Self::is_linear)). For a type of one field the two are the same.
///
/// A value type to compute with: [`len`](Self::len), [`contains`](Self::contains),
/// [`overlaps`](Self::overlaps), [`contains_range`](Self::contains_range), and an
/// order by first, then last address. [`Allocator::release_block`] frees exactly the
/// reservation it describes.
///
/// [`Allocator::reserve_block`]: crate::Allocator::reserve_block
/// [`Allocator::reserve_range`]: crate::Allocator::reserve_range
/// [`Allocator::reserve_sized`]: crate::Allocator::reserve_sized
/// [`Allocator::release_block`]: crate::Allocator::release_block
///
/// ```
/// use addralloc_runtime::{Address, BlockRange, Field};
/// # use core::fmt;
/// #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
/// struct Mmio(u64);
/// impl Address for Mmio {
///     const FIELDS: &'static [Field] = &[Field::new("addr", 0, u64::MAX as u128)];
///     fn field(&self, _: usize) -> u128 { self.0 as u128 }
///     fn from_fields(v: &[u128]) -> Self { Mmio(v[0] as u64) }
/// }
/// # impl fmt::Display for Mmio {
/// #     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{:#x}", self.0) }
/// # }
/// let a = BlockRange::new(Mmio(0x1000), Mmio(0x1fff)).unwrap();
/// let b = BlockRange::new(Mmio(0x1800), Mmio(0x27ff)).unwrap();
/// let c = BlockRange::new(Mmio(0x1200), Mmio(0x12ff)).unwrap();
/// assert_eq!(a.len(), 0x1000u128);
/// assert!(a.overlaps(&b) && !c.overlaps(&b));
/// assert!(a.contains_range(&c) && !a.contains_range(&b));
/// assert!(a < b && a < c && c < b);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockRange<A> {
    first: A,
    last: A,
    /// A linear run that is not also a box (see [`BlockRange::linear`]).
    linear: bool,
}

impl<A: Address> BlockRange<A> {
    /// The block spanning `first..=last` on every field. `None` unless each field of
    /// `first` is at most the same field of `last`.
    pub fn new(first: A, last: A) -> Option<Self> {
        (0..A::FIELDS.len())
            .all(|i| first.field(i) <= last.field(i))
            .then_some(BlockRange {
                first,
                last,
                linear: false,
            })
    }

    /// The linear run of every address from `first` to `last` in address order (the
    /// first field most significant), as a sized request returns it: on IPv4,
    /// `10.0.0.250` to `10.0.1.5` is 12 addresses (no box has those corners). `None`
    /// when `first` comes after `last`.
    ///
    /// A run that is also a box (always, for a type of one field) is the same value
    /// as [`BlockRange::new`] gives.
    ///
    /// ```
    /// # use addralloc_runtime::{Address, BlockRange, Field};
    /// # use core::fmt;
    /// #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    /// struct Ip([u8; 4]);
    /// impl Address for Ip {
    ///     const FIELDS: &'static [Field] = &[
    ///         Field::new("a", 0, 255), Field::new("b", 0, 255),
    ///         Field::new("c", 0, 255), Field::new("d", 0, 255),
    ///     ];
    ///     fn field(&self, i: usize) -> u128 { self.0[i] as u128 }
    ///     fn from_fields(v: &[u128]) -> Self { Ip([v[0] as u8, v[1] as u8, v[2] as u8, v[3] as u8]) }
    /// }
    /// # impl fmt::Display for Ip {
    /// #     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    /// #         write!(f, "{}.{}.{}.{}", self.0[0], self.0[1], self.0[2], self.0[3])
    /// #     }
    /// # }
    /// let run = BlockRange::linear(Ip([10, 0, 0, 250]), Ip([10, 0, 1, 5])).unwrap();
    /// assert!(run.is_linear());
    /// assert_eq!(run.len(), 12u128);
    /// assert!(run.contains(&Ip([10, 0, 0, 255])));
    /// assert!(!run.contains(&Ip([10, 0, 0, 3])));
    /// // A run of whole rows is a box.
    /// let rows = BlockRange::linear(Ip([10, 0, 0, 0]), Ip([10, 0, 1, 255])).unwrap();
    /// assert_eq!(Some(rows), BlockRange::new(Ip([10, 0, 0, 0]), Ip([10, 0, 1, 255])));
    /// ```
    pub fn linear(first: A, last: A) -> Option<Self> {
        let (f, l) = (values(&first), values(&last));
        let n = A::FIELDS.len();
        (f[..n] <= l[..n]).then(|| BlockRange {
            first,
            last,
            linear: !is_box_run(&f[..n], &l[..n], A::FIELDS),
        })
    }

    /// The block's first (lowest) address.
    pub fn first(&self) -> A {
        self.first
    }

    /// The block's last (highest) address.
    pub fn last(&self) -> A {
        self.last
    }

    /// Whether this is a linear run in address order that is not also a box (only a
    /// sized request of a type with several fields gives one).
    pub fn is_linear(&self) -> bool {
        self.linear
    }

    fn span(&self) -> Span {
        Span {
            first: values(&self.first),
            last: values(&self.last),
            linear: self.linear,
        }
    }

    /// Whether `addr` lies in the block.
    pub fn contains(&self, addr: &A) -> bool {
        let v = values(addr);
        let n = A::FIELDS.len();
        let one = Span {
            first: v,
            last: v,
            linear: false,
        };
        self.span().contains(&one, &A::FIELDS[..n])
    }

    /// The number of addresses in the block, as a [`Count`] (a whole 128-bit space
    /// holds 2<sup>128</sup>).
    ///
    /// ```
    /// # use addralloc_runtime::{Address, BlockRange, Field};
    /// # use core::fmt;
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    /// # struct Pci { bus: u8, slot: u8, function: u8 }
    /// # impl Address for Pci {
    /// #     const FIELDS: &'static [Field] =
    /// #         &[Field::new("bus", 0, 255), Field::new("slot", 0, 31), Field::new("function", 0, 7)];
    /// #     fn field(&self, i: usize) -> u128 { [self.bus, self.slot, self.function][i] as u128 }
    /// #     fn from_fields(v: &[u128]) -> Self { Pci { bus: v[0] as u8, slot: v[1] as u8, function: v[2] as u8 } }
    /// # }
    /// # impl fmt::Display for Pci {
    /// #     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    /// #         write!(f, "{:02x}:{:02x}.{:x}", self.bus, self.slot, self.function)
    /// #     }
    /// # }
    /// let pci = |bus, slot, function| Pci { bus, slot, function };
    /// // Slots 1 to 3 of bus 0, functions 0 to 3: a box of 3 x 4.
    /// assert_eq!(BlockRange::new(pci(0, 1, 0), pci(0, 3, 3)).unwrap().len(), 12u128);
    /// // From 00:01.0 to 00:03.3 in address order: 8 + 8 + 4.
    /// assert_eq!(BlockRange::linear(pci(0, 1, 0), pci(0, 3, 3)).unwrap().len(), 20u128);
    /// ```
    #[allow(clippy::len_without_is_empty)] // never empty
    pub fn len(&self) -> Count {
        self.span().len(&A::FIELDS[..A::FIELDS.len()])
    }

    /// Whether the two blocks share an address.
    pub fn overlaps(&self, other: &BlockRange<A>) -> bool {
        self.span().overlaps(&other.span(), A::FIELDS)
    }

    /// Whether every address of `other` lies in this block.
    pub fn contains_range(&self, other: &BlockRange<A>) -> bool {
        self.span().contains(&other.span(), A::FIELDS)
    }

    /// The block as a pattern (for a linear run of several rows, the smallest box
    /// holding it).
    pub fn pattern(&self) -> Pattern<A> {
        let n = A::FIELDS.len();
        // A run of several rows covers every field below the first one where its ends
        // differ, somewhere.
        let whole_below = match self.linear {
            true => (0..n).find(|&j| self.first.field(j) != self.last.field(j)),
            false => None,
        };
        let mut p = Pattern::any();
        for (i, f) in A::FIELDS.iter().enumerate() {
            match whole_below {
                Some(top) if i > top => p.put_range(i, f.min, f.max),
                _ => p.put_range(i, self.first.field(i), self.last.field(i)),
            }
        }
        p
    }
}

impl<A: Address> fmt::Display for BlockRange<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.first, self.last)
    }
}

impl<A: Address + Eq> PartialOrd for BlockRange<A> {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<A: Address + Eq> Ord for BlockRange<A> {
    /// By first address, then last address (both in address order), then a box before
    /// a linear run with the same corners.
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        let (a, b) = (self.span(), other.span());
        let n = A::FIELDS.len();
        (&a.first[..n], &a.last[..n], a.linear).cmp(&(&b.first[..n], &b.last[..n], b.linear))
    }
}

/// The field values of an address.
fn values<A: Address>(a: &A) -> [u128; MAX_FIELDS] {
    let mut v = [0u128; MAX_FIELDS];
    for (i, x) in v.iter_mut().enumerate().take(A::FIELDS.len()) {
        *x = a.field(i);
    }
    v
}

/// Whether the run from `first` to `last` in address order (`first <= last`) is also
/// the box with those corners: below the first field where they differ, `first` is at
/// every field's minimum and `last` at its maximum.
pub(crate) fn is_box_run<F: FieldInfo>(first: &[u128], last: &[u128], fields: &[F]) -> bool {
    let n = fields.len();
    let Some(top) = (0..n).find(|&i| first[i] != last[i]) else {
        return true;
    };
    (top + 1..n).all(|j| first[j] == fields[j].min() && last[j] == fields[j].max())
}

/// A box or linear run of addresses as field values: what [`BlockRange`] and
/// `DynBlockRange` compute with.
#[derive(Clone, Copy)]
pub(crate) struct Span {
    pub(crate) first: [u128; MAX_FIELDS],
    pub(crate) last: [u128; MAX_FIELDS],
    pub(crate) linear: bool,
}

/// A box as corner values.
type Corners = ([u128; MAX_FIELDS], [u128; MAX_FIELDS]);

impl Span {
    /// The number of addresses.
    pub(crate) fn len<F: FieldInfo>(&self, fields: &[F]) -> Count {
        let n = fields.len();
        if self.linear {
            return Count::span(rank(&self.first, fields), rank(&self.last, fields));
        }
        let mut c = Count::from(1u128);
        for i in 0..n {
            let w = Count::span(self.first[i], self.last[i]);
            c = match w.to_u128() {
                Some(w) => c.mul(w).unwrap_or(Count::FULL_128),
                // A whole 128-bit field is the only field.
                None => return Count::FULL_128,
            };
        }
        c
    }

    /// The span as disjoint boxes: itself, or a linear run's boxes
    /// ([`crate::linear::boxes`], at most `2 * fields - 1`).
    pub(crate) fn boxes<F: FieldInfo>(&self, fields: &[F]) -> Vec<Corners> {
        if !self.linear {
            return alloc::vec![(self.first, self.last)];
        }
        crate::linear::boxes(&self.first, &self.last, fields)
            .into_iter()
            .map(|ranges| {
                let mut corners = ([0; MAX_FIELDS], [0; MAX_FIELDS]);
                for (i, (lo, hi)) in ranges.iter().enumerate() {
                    corners.0[i] = *lo;
                    corners.1[i] = *hi;
                }
                corners
            })
            .collect()
    }

    /// Whether the two spans share an address.
    pub(crate) fn overlaps<F: FieldInfo>(&self, other: &Span, fields: &[F]) -> bool {
        let n = fields.len();
        let (x, y) = (self.boxes(fields), other.boxes(fields));
        x.iter().any(|(f1, l1)| {
            y.iter()
                .any(|(f2, l2)| (0..n).all(|i| f1[i].max(f2[i]) <= l1[i].min(l2[i])))
        })
    }

    /// Whether every address of `other` lies in this span.
    pub(crate) fn contains<F: FieldInfo>(&self, other: &Span, fields: &[F]) -> bool {
        let n = fields.len();
        if self.linear {
            // The lowest and highest addresses of a box or run are its corners.
            return self.first[..n] <= other.first[..n] && other.last[..n] <= self.last[..n];
        }
        other
            .boxes(fields)
            .iter()
            .all(|(f, l)| (0..n).all(|i| self.first[i] <= f[i] && l[i] <= self.last[i]))
    }
}

/// The position of an address among all addresses of its type, in address order.
fn rank<F: FieldInfo>(v: &[u128], fields: &[F]) -> u128 {
    // The true value is below 2^128 (at most 128 bits of fields): wrapping arithmetic
    // is exact, including a single field of the whole 128-bit range.
    fields.iter().enumerate().fold(0u128, |r, (i, f)| {
        let radix = (f.max() - f.min()).wrapping_add(1);
        r.wrapping_mul(radix).wrapping_add(v[i] - f.min())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_share_one_threshold() {
        let keys = ["name", "type", "doc", "range"];
        // A third of the length, rounded up: 1 edit for up to 3 characters, 2 up to 6.
        assert_eq!(suggest("nme", keys), Some("name"));
        assert_eq!(suggest("rnage", keys), Some("range"));
        assert_eq!(suggest("rnge", keys), Some("range"));
        assert_eq!(suggest("xyz", keys), None);
        // Fewer edits than characters: a one-letter name suggests nothing.
        assert_eq!(suggest("x", ["y", "z"]), None);
        assert_eq!(suggest("yy", ["y"]), Some("y"));
        // Without case.
        assert_eq!(suggest("SLOT", ["bus", "slot"]), Some("slot"));
        assert_eq!(suggest("Format", ["format"]), Some("format"));
        // Ties: an anagram first, then the same length.
        assert_eq!(suggest("abdc", ["abxy", "abcd"]), Some("abcd"));
        assert_eq!(suggest("tags", ["tag", "tagz"]), Some("tagz"));
        assert_eq!(suggest("slot", core::iter::empty()), None);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("slot", "slt"), 1);
        assert_eq!(edit_distance("", "bus"), 3);
        assert_eq!(edit_distance("fromat", "format"), 2);
    }
}
