//! The pieces of a checked format, which generated parsers and formatters keep in
//! `static`s: not public API, reached through `format::__private`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::error::Error;

/// How a field's value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Radix {
    /// Decimal digits (`{bus}`).
    Decimal,
    /// Lower case hexadecimal (`{bus:x}`); parsing accepts either case.
    LowerHex,
    /// Upper case hexadecimal (`{bus:X}`); parsing accepts either case.
    UpperHex,
    /// Bijective base-26 letters (`{disk:a}`): `a`=0 … `z`=25, `aa`=26, like disk names.
    Letters,
}

impl Radix {
    /// Whether `c` can be one of the digits of a value written in this radix (as the
    /// parser reads them: hexadecimal in either case).
    pub fn is_digit(self, c: char) -> bool {
        match self {
            Radix::Decimal => c.is_ascii_digit(),
            Radix::LowerHex | Radix::UpperHex => c.is_ascii_hexdigit(),
            Radix::Letters => c.is_ascii_lowercase(),
        }
    }

    /// What the parser expected: "a decimal digit", "a hexadecimal digit", "a lower case
    /// letter".
    pub fn digit_word(self) -> &'static str {
        match self {
            Radix::Decimal => "a decimal digit",
            Radix::LowerHex | Radix::UpperHex => "a hexadecimal digit",
            Radix::Letters => "a lower case letter",
        }
    }

    pub(crate) fn overlaps(self, other: Radix) -> bool {
        !matches!(
            (self, other),
            (Radix::Decimal, Radix::Letters) | (Radix::Letters, Radix::Decimal)
        )
    }
}

/// One placeholder: which field, how it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Spec {
    /// The field's position in the address type's field list.
    pub field: usize,
    /// Digits or letters.
    pub radix: Radix,
    /// The minimum printed width in characters; 0 for none.
    pub width: usize,
    /// Pad to `width` with `0` (`{bus:02x}`) rather than spaces (`{bus:2x}`).
    pub zero_pad: bool,
}

impl Spec {
    /// The printed length of `value`, padding included.
    pub fn printed_len(&self, value: u128) -> usize {
        digit_count(value, self.radix).max(self.width)
    }

    /// Whether every value of `min..=max` prints with the same number of characters.
    pub fn is_fixed_width(&self, min: u128, max: u128) -> bool {
        min > max || self.printed_len(min) == self.printed_len(max)
    }

    /// Writes `value` with this spec's radix and padding.
    pub fn write(&self, value: u128, out: &mut impl fmt::Write) -> fmt::Result {
        let mut buf = [0u8; 128];
        let digits = encode(value, self.radix, &mut buf);
        let pad = if self.zero_pad { '0' } else { ' ' };
        for _ in digits.len()..self.width {
            out.write_char(pad)?;
        }
        // `encode` only produces ASCII.
        for &b in digits {
            out.write_char(char::from(b))?;
        }
        Ok(())
    }
}

/// A piece of a format: literal text or a field placeholder.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Piece {
    /// Text printed and expected as is (braces already unescaped).
    Literal(String),
    /// A field placeholder.
    Field(Spec),
    /// An optional trailing field (`.{p2?}`) with the literal text before it: both are
    /// printed only when the field is present (not 0), or when a later optional field
    /// is; the parser reads it only when the text goes on.
    Optional(String, Spec),
}

/// A borrowed [`Piece`], for formats kept in `static`s (generated code builds
/// `&[PieceRef]` constants and calls [`write_pieces`] and [`parse_pieces`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PieceRef<'a> {
    /// Text printed and expected as is.
    Literal(&'a str),
    /// A field placeholder.
    Field(Spec),
    /// An optional trailing field with the literal text before it.
    Optional(&'a str, Spec),
}

impl Piece {
    /// This piece, borrowed.
    pub fn as_ref(&self) -> PieceRef<'_> {
        match self {
            Piece::Literal(s) => PieceRef::Literal(s),
            Piece::Field(s) => PieceRef::Field(*s),
            Piece::Optional(l, s) => PieceRef::Optional(l, *s),
        }
    }
}

/// Something that can be viewed as a [`PieceRef`]: [`Piece`] and [`PieceRef`].
pub trait AsPiece {
    /// The borrowed view.
    fn piece(&self) -> PieceRef<'_>;
}

impl AsPiece for Piece {
    fn piece(&self) -> PieceRef<'_> {
        self.as_ref()
    }
}

impl AsPiece for PieceRef<'_> {
    fn piece(&self) -> PieceRef<'_> {
        *self
    }
}

/// Writes the values with `pieces` (see [`Format::write`](super::Format::write)).
pub fn write_pieces<P: AsPiece>(
    pieces: &[P],
    values: &[u128],
    out: &mut impl fmt::Write,
) -> fmt::Result {
    let shown = optional_shown(pieces, values);
    let mut optional = 0;
    for p in pieces {
        match p.piece() {
            PieceRef::Literal(l) => out.write_str(l)?,
            PieceRef::Field(spec) => spec.write(*values.get(spec.field).ok_or(fmt::Error)?, out)?,
            PieceRef::Optional(l, spec) => {
                let v = *values.get(spec.field).ok_or(fmt::Error)?;
                optional += 1;
                if optional > shown {
                    break;
                }
                out.write_str(l)?;
                spec.write(v, out)?;
            }
        }
    }
    Ok(())
}

/// How many optional groups are printed: up to the last one whose field is present
/// (not 0). A gap (an absent field before a present one, which checked constructors
/// and the parser reject) prints as `0`, so the fault shows.
pub fn optional_shown<P: AsPiece>(pieces: &[P], values: &[u128]) -> usize {
    let mut shown = 0;
    let mut n = 0;
    for p in pieces {
        if let PieceRef::Optional(_, spec) = p.piece() {
            n += 1;
            if values.get(spec.field).is_some_and(|v| *v != 0) {
                shown = n;
            }
        }
    }
    shown
}

/// Checks that no optional field is present after an absent one (`p2` = 0, `p3` = 5):
/// an absent optional field makes every later one absent.
pub fn check_optional<P: AsPiece>(
    pieces: &[P],
    values: &[u128],
    fields: &[(&str, u128, u128)],
) -> Result<(), Error> {
    let mut absent: Option<usize> = None;
    for p in pieces {
        if let PieceRef::Optional(_, spec) = p.piece() {
            let v = values.get(spec.field).copied().unwrap_or(0);
            match absent {
                Some(a) if v != 0 => {
                    let name = |i: usize| fields.get(i).map_or("?", |f| f.0).to_string();
                    return Err(Error::AbsentBefore {
                        field: name(spec.field),
                        value: v,
                        absent: name(a),
                    });
                }
                None if v == 0 => absent = Some(spec.field),
                _ => {}
            }
        }
    }
    Ok(())
}

/// The error of a checked constructor given `field` = `value` after the absent
/// optional field `absent` (generated `new` calls it).
#[cold]
pub fn absent_before(field: &str, value: u128, absent: &str) -> Error {
    Error::AbsentBefore {
        field: field.to_string(),
        value,
        absent: absent.to_string(),
    }
}

/// One step of the parser: a format with optional groups read as a flat sequence.
#[derive(Clone, Copy)]
enum Step<'a> {
    Literal(&'a str),
    Field(Spec, bool),
    /// Where an optional group starts: the end of the text ends the address here.
    StopAtEnd,
}

fn steps<P: AsPiece>(pieces: &[P]) -> Vec<Step<'_>> {
    let mut out = Vec::with_capacity(pieces.len() + 4);
    for p in pieces {
        match p.piece() {
            PieceRef::Literal(l) => out.push(Step::Literal(l)),
            PieceRef::Field(s) => out.push(Step::Field(s, false)),
            PieceRef::Optional(l, s) => {
                out.push(Step::StopAtEnd);
                out.push(Step::Literal(l));
                out.push(Step::Field(s, true));
            }
        }
    }
    out
}

/// Parses an address with `pieces` (see [`Format::parse_values`](super::Format::parse_values)). Fields that no
/// piece names get their minimum.
pub fn parse_pieces<P: AsPiece>(
    pieces: &[P],
    text: &str,
    fields: &[(&str, u128, u128)],
) -> Result<Vec<u128>, Error> {
    let mut values: Vec<u128> = fields.iter().map(|f| f.1).collect();
    let mut pos = 0usize; // byte offset into text
    let err = |pos: usize, field: Option<&str>, reason: String| Error::Parse {
        input: text.to_string(),
        field: field.map(str::to_string),
        column: column_of(text, pos),
        reason,
    };
    // The field just read, if it could have taken more digits than it found.
    let mut prev: Option<Spec> = None;
    let steps = steps(pieces);
    for (k, step) in steps.iter().enumerate() {
        match *step {
            Step::StopAtEnd => {
                if pos == text.len() {
                    // Absent optional fields keep their minimum, 0.
                    break;
                }
            }
            Step::Literal(l) => {
                if l.is_empty() {
                    continue;
                }
                if text[pos..].starts_with(l) {
                    pos += l.len();
                    prev = None;
                    continue;
                }
                let found = text[pos..].chars().next();
                // After a field, a stray alphanumeric character is a bad digit.
                if let (Some(spec), Some(c)) = (prev, found) {
                    if c.is_ascii_alphanumeric() {
                        let name = fields.get(spec.field).map(|f| f.0);
                        return Err(err(
                            pos,
                            name,
                            format!("expected {}", spec.radix.digit_word()),
                        ));
                    }
                }
                // Point at the first character that differs.
                let same: usize = text[pos..]
                    .chars()
                    .zip(l.chars())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a.len_utf8())
                    .sum();
                let at = pos + same;
                let reason = match text[at..].chars().next() {
                    Some(c) => format!("expected `{l}`, found `{c}`"),
                    None => format!("expected `{l}`, found the end"),
                };
                return Err(err(at, None, reason));
            }
            Step::Field(spec, optional) => {
                let Some(&(name, min, max)) = fields.get(spec.field) else {
                    return Err(err(
                        pos,
                        None,
                        format!("the format names field {} of {}", spec.field, fields.len()),
                    ));
                };
                let rest = &text[pos..];
                // How many characters may this field take?
                let next = match steps.get(k + 1) {
                    Some(Step::StopAtEnd) => steps.get(k + 2),
                    next => next,
                };
                let exact = match next {
                    Some(Step::Field(..)) => spec.is_fixed_width(min, max),
                    Some(Step::Literal(l)) => {
                        l.chars().next().is_some_and(|c| spec.radix.is_digit(c))
                            && spec.is_fixed_width(min, max)
                    }
                    Some(Step::StopAtEnd) | None => false,
                };
                let (start, end) = if exact {
                    let w = spec.printed_len(max);
                    // Exactly `w` characters (ASCII), or fewer if the text ends first.
                    let avail = rest
                        .char_indices()
                        .take(w)
                        .map(|(i, c)| i + c.len_utf8())
                        .last()
                        .unwrap_or(0);
                    let chunk = &rest[..avail];
                    let lead = if spec.zero_pad || spec.width == 0 {
                        0
                    } else {
                        chunk.len() - chunk.trim_start_matches(' ').len()
                    };
                    let digits_end = chunk[lead..]
                        .find(|c: char| !spec.radix.is_digit(c))
                        .map_or(chunk.len(), |j| j + lead);
                    if digits_end < chunk.len() || chunk.chars().count() < w {
                        let bad = pos + digits_end;
                        return Err(err(
                            bad,
                            Some(name),
                            match text[bad..].chars().next() {
                                Some(_) => format!("expected {}", spec.radix.digit_word()),
                                None => {
                                    format!("expected {}, found the end", spec.radix.digit_word())
                                }
                            },
                        ));
                    }
                    (pos + lead, pos + digits_end)
                } else {
                    let lead = if spec.width > 0 && !spec.zero_pad {
                        rest.len() - rest.trim_start_matches(' ').len()
                    } else {
                        0
                    };
                    let digits = &rest[lead..];
                    let n = digits
                        .find(|c: char| !spec.radix.is_digit(c))
                        .unwrap_or(digits.len());
                    (pos + lead, pos + lead + n)
                };
                let digits = &text[start..end];
                if digits.is_empty() {
                    let reason = match text[start..].chars().next() {
                        Some(_) => format!("expected {}", spec.radix.digit_word()),
                        None => format!("expected {}, found the end", spec.radix.digit_word()),
                    };
                    return Err(err(start, Some(name), reason));
                }
                let value = decode(digits, spec.radix);
                if optional && value == Some(0) {
                    return Err(err(
                        start,
                        Some(name),
                        format!(
                            "0 means the optional field `{name}` is absent; leave it out, with the text before it"
                        ),
                    ));
                }
                match value {
                    Some(v) if v >= min && v <= max => values[spec.field] = v,
                    _ => {
                        return Err(err(
                            start,
                            Some(name),
                            format!(
                                "`{digits}` is out of range {}",
                                range_words(spec.radix, min, max)
                            ),
                        ))
                    }
                }
                pos = end;
                let longest =
                    digit_count(max, spec.radix).max(if spec.zero_pad { spec.width } else { 0 });
                let could_be_longer = digits.len() < longest;
                prev = could_be_longer.then_some(spec);
            }
        }
    }
    if pos < text.len() {
        let rest = &text[pos..];
        if let (Some(spec), Some(c)) = (prev, rest.chars().next()) {
            if c.is_ascii_alphanumeric() {
                let name = fields.get(spec.field).map(|f| f.0);
                return Err(err(
                    pos,
                    name,
                    format!("expected {}", spec.radix.digit_word()),
                ));
            }
        }
        return Err(err(pos, None, format!("unexpected trailing text `{rest}`")));
    }
    Ok(values)
}

/// `0..=255`, `0x0..=0x1f`, `` `a`..=`z` ``: a range in a field's own notation.
fn range_words(radix: Radix, min: u128, max: u128) -> String {
    match radix {
        Radix::Decimal => format!("{min}..={max}"),
        Radix::LowerHex => format!("0x{min:x}..=0x{max:x}"),
        Radix::UpperHex => format!("0x{min:X}..=0x{max:X}"),
        Radix::Letters => {
            let mut a = [0u8; 128];
            let mut b = [0u8; 128];
            let a = encode(min, radix, &mut a);
            let b = encode(max, radix, &mut b);
            format!(
                "`{}`..=`{}`",
                core::str::from_utf8(a).unwrap_or("?"),
                core::str::from_utf8(b).unwrap_or("?")
            )
        }
    }
}

/// 1-based character column of byte offset `pos`.
fn column_of(text: &str, pos: usize) -> usize {
    text.get(..pos).map_or(pos, |s| s.chars().count()) + 1
}

/// Number of digits (or letters) of `v`.
fn digit_count(v: u128, radix: Radix) -> usize {
    let mut buf = [0u8; 128];
    encode(v, radix, &mut buf).len()
}

/// Writes the digits of `v` at the end of `buf` and returns them.
pub(super) fn encode(mut v: u128, radix: Radix, buf: &mut [u8; 128]) -> &[u8] {
    let mut i = buf.len();
    match radix {
        Radix::Letters => loop {
            i -= 1;
            buf[i] = b'a' + (v % 26) as u8;
            v /= 26;
            if v == 0 {
                break;
            }
            v -= 1;
        },
        _ => {
            let (base, digits): (u128, &[u8; 16]) = match radix {
                Radix::Decimal => (10, b"0123456789??????"),
                Radix::UpperHex => (16, b"0123456789ABCDEF"),
                _ => (16, b"0123456789abcdef"),
            };
            loop {
                i -= 1;
                buf[i] = digits[(v % base) as usize];
                v /= base;
                if v == 0 {
                    break;
                }
            }
        }
    }
    &buf[i..]
}

/// Reads digits already known to be of `radix`; `None` on overflow.
pub(super) fn decode(s: &str, radix: Radix) -> Option<u128> {
    match radix {
        Radix::Letters => {
            let mut v: Option<u128> = None;
            for b in s.bytes() {
                let d = u128::from(b.checked_sub(b'a')?);
                v = Some(match v {
                    None => d,
                    Some(v) => v.checked_add(1)?.checked_mul(26)?.checked_add(d)?,
                });
            }
            v
        }
        _ => {
            let base = if radix == Radix::Decimal { 10 } else { 16 };
            let mut v: u128 = 0;
            for c in s.chars() {
                v = v
                    .checked_mul(base)?
                    .checked_add(u128::from(c.to_digit(base as u32)?))?;
            }
            Some(v)
        }
    }
}
