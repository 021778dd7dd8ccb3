//! Linear ranges (`10.20.0.250..=10.20.1.5`: every address from the first to the last
//! in address order) and prefixes (`10.20.0.0/16`, `/24` as a block shape): what
//! patterns, pools and blocks accept besides boxes of field ranges.
//!
//! The engine only knows boxes. A linear range is cut into at most `2k - 1` boxes for
//! `k` fields, in address order ([`boxes`]); a prefix of a type whose fields form one
//! bit string is always a single box ([`prefix_span`]).
//!
//! A type's fields form one bit string when every field starts at 0 and holds a whole
//! power of two of values (`0..=255`, `0..=0xffff`): IPv4, IPv6, MAC addresses (and,
//! as it happens, PCI addresses). Nothing has to be declared; [`is_bit_string`] decides
//! from the fields alone, so the schema compiler, [`DynType`](crate::DynType) and the
//! typed API agree.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::engine::MAX_FIELDS;
use crate::error::Error;
use crate::pattern::{check_extent, parse_extents, FieldInfo, RawPattern};

/// Field values of one address, first field first (unused slots are 0).
pub(crate) type Values = [u128; MAX_FIELDS];

/// One box: an inclusive value range per field.
pub(crate) type BoxRanges = [(u128, u128); MAX_FIELDS];

/// Whether the fields make up one contiguous bit string: each starts at 0 and spans a
/// whole power of two of values.
pub(crate) fn is_bit_string<F: FieldInfo>(fields: &[F]) -> bool {
    !fields.is_empty()
        && fields.len() <= MAX_FIELDS
        && fields
            .iter()
            .all(|f| f.min() == 0 && f.max().checked_add(1).is_none_or(|n| n.is_power_of_two()))
        && total_bits(fields) <= 128
}

fn width<F: FieldInfo>(f: &F) -> u32 {
    128 - f.max().leading_zeros()
}

/// The bits of all fields together.
pub(crate) fn total_bits<F: FieldInfo>(fields: &[F]) -> u32 {
    fields.iter().map(width).fold(0u32, u32::saturating_add)
}

/// Whether `a` comes after `b` in address order (lexicographic by field).
pub(crate) fn after(a: &[u128], b: &[u128], n: usize) -> bool {
    a[..n] > b[..n]
}

/// The boxes covering exactly the addresses from `first` to `last` in address order
/// (`first` at most `last`, both within the fields), lowest first: at most `2k - 1` for
/// `k` fields.
pub(crate) fn boxes<F: FieldInfo>(first: &Values, last: &Values, fields: &[F]) -> Vec<BoxRanges> {
    let n = fields.len().min(MAX_FIELDS);
    let mut out = Vec::new();
    let mut prefix = [(0u128, 0u128); MAX_FIELDS];
    rec(0, first, last, fields, n, &mut prefix, &mut out);
    out
}

fn rec<F: FieldInfo>(
    i: usize,
    first: &Values,
    last: &Values,
    fields: &[F],
    n: usize,
    prefix: &mut BoxRanges,
    out: &mut Vec<BoxRanges>,
) {
    if i == n {
        out.push(*prefix);
        return;
    }
    let (a, b) = (first[i], last[i]);
    if a == b {
        prefix[i] = (a, a);
        rec(i + 1, first, last, fields, n, prefix, out);
        return;
    }
    let low_min = (i + 1..n).all(|j| first[j] == fields[j].min());
    let high_max = (i + 1..n).all(|j| last[j] == fields[j].max());
    let full = |prefix: &mut BoxRanges| {
        for (j, f) in fields.iter().enumerate().take(n).skip(i + 1) {
            prefix[j] = (f.min(), f.max());
        }
    };
    // The part with field `i` at `a`, from `first` to the end of that field value.
    let mid_lo = if low_min {
        a
    } else {
        let mut top = *last;
        for (j, f) in fields.iter().enumerate().take(n).skip(i + 1) {
            top[j] = f.max();
        }
        prefix[i] = (a, a);
        rec(i + 1, first, &top, fields, n, prefix, out);
        a + 1
    };
    let mid_hi = if high_max { b } else { b - 1 };
    if mid_lo <= mid_hi {
        prefix[i] = (mid_lo, mid_hi);
        full(prefix);
        out.push(*prefix);
    }
    if !high_max {
        let mut bottom = *first;
        for (j, f) in fields.iter().enumerate().take(n).skip(i + 1) {
            bottom[j] = f.min();
        }
        prefix[i] = (b, b);
        rec(i + 1, &bottom, last, fields, n, prefix, out);
    }
}

/// The host bits of field `i` under a prefix of `len` bits.
fn host_bits<F: FieldInfo>(fields: &[F], i: usize, len: u32) -> u32 {
    let below: u32 = fields[i + 1..].iter().map(width).sum();
    let total = total_bits(fields);
    let host = total - len;
    host.saturating_sub(below).min(width(&fields[i]))
}

fn low_mask(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// Checks that the fields form a bit string and `len` fits it.
fn check_prefix_len<F: FieldInfo>(len: u32, fields: &[F]) -> Result<(), String> {
    if !is_bit_string(fields) {
        let names: Vec<String> = fields.iter().map(|f| format!("`{}`", f.name())).collect();
        return Err(format!(
            "a prefix needs fields that form one bit string (each from 0 to a power of two \
             minus 1); the fields {} do not",
            names.join(", ")
        ));
    }
    let total = total_bits(fields);
    if len > total {
        return Err(format!(
            "the prefix length /{len} is longer than the {total} bits of the address"
        ));
    }
    Ok(())
}

/// Parses the `n` of `/n`.
pub(crate) fn parse_prefix_len<F: FieldInfo>(text: &str, fields: &[F]) -> Result<u32, String> {
    let t = text.trim();
    let total = total_bits(fields);
    let n = if !t.is_empty() && t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<u32>().ok()
    } else {
        None
    };
    let Some(n) = n else {
        return Err(format!(
            "the prefix length `{t}` is not a number from 0 to {total}"
        ));
    };
    check_prefix_len(n, fields)?;
    Ok(n)
}

/// The first and last address of the prefix `values/len`. Host bits set in `values`
/// are an error naming the network: `10.20.1.0/16` is refused, not masked, because a
/// typo there would silently move a pool. `show` prints an address.
pub(crate) fn prefix_span<F: FieldInfo>(
    values: &Values,
    len: u32,
    fields: &[F],
    show: impl Fn(&Values) -> String,
) -> Result<(Values, Values), String> {
    check_prefix_len(len, fields)?;
    let mut first = *values;
    let mut last = *values;
    for i in 0..fields.len() {
        let m = low_mask(host_bits(fields, i, len));
        first[i] = values[i] & !m;
        last[i] = values[i] | m;
    }
    if first != *values {
        return Err(format!(
            "host bits are set: the bits after the first {len} must be 0; the /{len} network \
             is {}/{len}",
            show(&first)
        ));
    }
    Ok((first, last))
}

/// The extents of a `/len` block: whole host fields, a power of two in the field the
/// prefix ends in, 1 above it.
pub(crate) fn prefix_extents<F: FieldInfo>(len: u32, fields: &[F]) -> Result<Values, String> {
    check_prefix_len(len, fields)?;
    let mut ext = [1u128; MAX_FIELDS];
    for (i, e) in ext.iter_mut().enumerate().take(fields.len()) {
        let h = host_bits(fields, i, len);
        if h >= 128 {
            return Err(format!(
                "a /{len} block spans 2^128 addresses, more than a block can count"
            ));
        }
        *e = 1u128 << h;
    }
    Ok(ext)
}

/// Parses a block shape: `/24` (a prefix's size, for bit-string types) or the extents
/// `slot=4, function=8` (`1`: one address).
pub(crate) fn parse_block_text<F: FieldInfo>(text: &str, fields: &[F]) -> Result<Values, Error> {
    let t = text.trim();
    if let Some(len) = t.strip_prefix('/') {
        let bad = |reason: String| Error::BlockSyntax {
            block: text.to_string(),
            reason,
        };
        let n = parse_prefix_len(len, fields).map_err(bad)?;
        let ext = prefix_extents(n, fields).map_err(bad)?;
        for (f, &e) in fields.iter().zip(&ext) {
            check_extent(f, e)?;
        }
        return Ok(ext);
    }
    parse_extents(text, fields)
}

/// Parses any pattern text: `*`; fields `bus=0, slot=1..=31`; one address; a linear
/// range `first..=last`; a prefix `address/len`. Addresses are read with `parse`, in
/// the type's own text, and printed with `show` in messages.
pub(crate) fn parse_text<F: FieldInfo>(
    text: &str,
    fields: &[F],
    parse: impl Fn(&str) -> Result<Values, Error>,
    show: impl Fn(&Values) -> String,
) -> Result<RawPattern, Error> {
    let t = text.trim();
    if t.is_empty() || t == "*" || t.contains('=') && !t.contains("..=") {
        return RawPattern::parse(text, fields);
    }
    let bad = |reason: String| Error::BadPattern {
        pattern: text.to_string(),
        reason,
    };
    let why = |e: Error| match e {
        Error::Parse { .. } | Error::OutOfRange { .. } => e.to_string(),
        Error::BadPattern { reason, .. } => reason,
        e => e.to_string(),
    };
    if let Some((a, b)) = t.split_once("..=") {
        if a.contains('=') {
            // `field=lo..=hi`: the field syntax.
            return RawPattern::parse(text, fields);
        }
        let (a, b) = (a.trim(), b.trim());
        let first = parse(a).map_err(|e| bad(format!("the range's first address: {}", why(e))))?;
        let last = parse(b).map_err(|e| bad(format!("the range's last address: {}", why(e))))?;
        if after(&first, &last, fields.len()) {
            return Err(bad(format!(
                "the range is reversed: {a} comes after {b} in address order"
            )));
        }
        return Ok(RawPattern::linear(&first, &last, fields.len()));
    }
    if let Some((a, len)) = t.rsplit_once('/') {
        // A format may itself contain `/`: a whole address comes first.
        if let Ok(v) = parse(t) {
            return Ok(exact(&v, fields.len()));
        }
        let a = a.trim();
        let n = parse_prefix_len(len, fields).map_err(bad)?;
        let v = parse(a).map_err(|e| bad(format!("the prefix's address: {}", why(e))))?;
        let (first, last) = prefix_span(&v, n, fields, show).map_err(bad)?;
        let mut raw = RawPattern::ANY;
        for (i, f) in fields.iter().enumerate().take(MAX_FIELDS) {
            if (first[i], last[i]) != (f.min(), f.max()) {
                raw.set_range(i, first[i], last[i]);
            }
        }
        return Ok(raw);
    }
    if t.contains("..") {
        return Err(bad(
            "a range of addresses is written `first..=last` (both ends included)".to_string(),
        ));
    }
    match parse(t) {
        Ok(v) => Ok(exact(&v, fields.len())),
        // Not an address either: the field syntax's own message, the one `FromStr`
        // of a typed pattern gives.
        Err(_) => RawPattern::parse(text, fields),
    }
}

/// The pattern of exactly the address `v` (`n` fields).
fn exact(v: &Values, n: usize) -> RawPattern {
    let mut raw = RawPattern::ANY;
    for (i, &x) in v.iter().enumerate().take(n.min(MAX_FIELDS)) {
        raw.set_range(i, x, x);
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Field;

    const V4: &[Field] = &[
        Field::new("a", 0, 255),
        Field::new("b", 0, 255),
        Field::new("c", 0, 255),
        Field::new("d", 0, 255),
    ];

    fn v(x: [u128; 4]) -> Values {
        let mut out = [0; MAX_FIELDS];
        out[..4].copy_from_slice(&x);
        out
    }

    fn count(b: &BoxRanges, n: usize) -> u128 {
        b[..n].iter().map(|(lo, hi)| hi - lo + 1).product()
    }

    #[test]
    fn hosts_across_a_22() {
        let bs = boxes(&v([10, 20, 4, 10]), &v([10, 20, 7, 250]), V4);
        let total: u128 = bs.iter().map(|b| count(b, 4)).sum();
        assert_eq!(total, 1009);
        assert_eq!(bs.len(), 3);
    }

    #[test]
    fn a_prefix_is_one_box() {
        let bs = boxes(&v([10, 20, 0, 0]), &v([10, 20, 255, 255]), V4);
        assert_eq!(bs.len(), 1);
        assert_eq!(bs[0][2], (0, 255));
    }

    #[test]
    fn prefix_math() {
        let (f, l) = prefix_span(&v([10, 0, 16, 0]), 20, V4, |_| String::new()).unwrap();
        assert_eq!((f[2], l[2], l[3]), (16, 31, 255));
        let e = prefix_span(&v([10, 0, 17, 0]), 20, V4, |x| format!("{}", x[2])).unwrap_err();
        assert!(e.contains("host bits are set"), "{e}");
        assert!(parse_prefix_len("33", V4).unwrap_err().contains("/33"));
        let ext = prefix_extents(20, V4).unwrap();
        assert_eq!(&ext[..4], &[1, 1, 16, 256]);
        assert_eq!(&prefix_extents(0, V4).unwrap()[..4], &[256; 4]);
    }
}
