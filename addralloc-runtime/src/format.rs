//! The format language of address types: how an address is printed and parsed.
//!
//! A format string is literal text with one placeholder per field:
//!
//! | placeholder | prints | parses |
//! | --- | --- | --- |
//! | `{bus}` | decimal | decimal digits |
//! | `{bus:x}` / `{bus:X}` | lower / upper case hexadecimal | hexadecimal digits in either case |
//! | `{bus:02x}` | zero-padded to 2 digits | up to the width and beyond: `0`, `00`, `000` |
//! | `{bus:3}` | right-aligned in 3 columns, padded with spaces | leading spaces, then digits |
//! | `{disk:a}` | bijective base-26 letters: `a`=0 … `z`=25, `aa`=26, `az`=51, `ba`=52 | lower case letters |
//!
//! `{{` and `}}` stand for literal braces. A width may precede any radix letter
//! (`{bus:4X}`, `{disk:3a}`); zero padding (`0` before the width) is not available
//! for letters.
//!
//! [`Format::parse`] checks a format string against the fields of an address type and
//! collects every error: unknown fields (with a "did you mean"), omitted and repeated
//! fields, unknown specifiers, and fields the parser could not tell apart.
//!
//! # When are neighbouring fields distinguishable?
//!
//! The address parser reads a field's digits greedily, so a field must be followed by
//! something that cannot be one of its digits, unless its printed width never varies:
//!
//! - A field is *fixed-width* when every value of its range prints with the same number
//!   of characters: `{bus:02x}` on `0..=255`, `{function:x}` on `0..=7`, `{octet:03}` on
//!   `0..=255`. A fixed-width field may be followed by anything, including another field
//!   (`{a:02x}{b:02x}` reads `0a1f` as `0a`, `1f`); it is then read at exactly its width.
//! - Otherwise the next piece must start with a character that is not one of its
//!   digits: a literal such as `:` or `.`, or a field whose digits are disjoint from its
//!   own (decimal digits and letters: `{disk:a}{partition}` reads `sdab3` after `sd`).
//!   `{a}{b}` on two decimal fields, `{a:x}{b:a}` and `{a:x}b` (a hexadecimal field
//!   followed by the letter `b`) are rejected.
//!
//! Where a field is followed by a separator, the parser accepts fewer digits than the
//! padded width (`0:1f.0`) and more, when the value is in range (`0000:0001f.0`).
//!
//! # Parsing addresses
//!
//! [`Format::parse_values`] accepts what [`Format::write`] prints, hexadecimal digits
//! in either case and fewer digits than the padded width; it rejects out-of-range
//! values, empty fields and trailing text with an [`Error::Parse`] that names the field
//! and the 1-based column (in characters). It never panics.
//!
//! ```
//! use addralloc_runtime::format::Format;
//! let fields = [("domain", 0, 0xffff), ("bus", 0, 0xff), ("slot", 0, 31), ("function", 0, 7)];
//! let f = Format::parse("{domain:04x}:{bus:02x}:{slot:02x}.{function:x}", &fields).unwrap();
//! assert_eq!(f.to_string(&[0, 0, 3, 1]), "0000:00:03.1");
//! assert_eq!(f.parse_values("0000:00:1F.7", &fields).unwrap(), vec![0, 0, 31, 7]);
//! let err = f.parse_values("0000:00:1g.0", &fields).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "invalid address `0000:00:1g.0` at column 10 (field `slot`): expected a hexadecimal digit"
//! );
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use crate::error::Error;
use crate::pattern::edit_distance;

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

    fn overlaps(self, other: Radix) -> bool {
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
}

/// A borrowed [`Piece`], for formats kept in `static`s (generated code builds
/// `&[PieceRef]` constants and calls [`write_pieces`] and [`parse_pieces`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PieceRef<'a> {
    /// Text printed and expected as is.
    Literal(&'a str),
    /// A field placeholder.
    Field(Spec),
}

impl Piece {
    /// This piece, borrowed.
    pub fn as_ref(&self) -> PieceRef<'_> {
        match self {
            Piece::Literal(s) => PieceRef::Literal(s),
            Piece::Field(s) => PieceRef::Field(*s),
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

/// An error in a format string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FormatError {
    /// What is wrong: lowercase, no trailing period, code in backticks.
    pub message: String,
    /// The byte range in the format string the error is about.
    pub span: Range<usize>,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for FormatError {}

/// A checked format string: literal text and one placeholder per field.
///
/// Fields are described as `(name, min, max)` triples, in the address type's order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Format {
    pieces: Vec<Piece>,
}

/// What the format parser found between braces.
struct Placeholder<'a> {
    name: &'a str,
    name_span: Range<usize>,
    spec: &'a str,
    spec_span: Range<usize>,
    span: Range<usize>,
}

enum Token<'a> {
    Literal(String),
    Field(Placeholder<'a>),
}

fn tokenize<'a>(text: &'a str, errors: &mut Vec<FormatError>) -> Vec<(Token<'a>, Range<usize>)> {
    let mut out: Vec<(Token<'a>, Range<usize>)> = Vec::new();
    let mut lit = String::new();
    let mut lit_start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let c = bytes[i];
        if c == b'{' && bytes.get(i + 1) == Some(&b'{') {
            if lit.is_empty() {
                lit_start = i;
            }
            lit.push('{');
            i += 2;
        } else if c == b'}' && bytes.get(i + 1) == Some(&b'}') {
            if lit.is_empty() {
                lit_start = i;
            }
            lit.push('}');
            i += 2;
        } else if c == b'{' {
            let Some(close) = text[i + 1..].find(['}', '{']).map(|j| j + i + 1) else {
                errors.push(FormatError {
                    message: "unclosed `{` in format; write `{{` for a literal brace".to_string(),
                    span: i..text.len(),
                });
                break;
            };
            if bytes[close] == b'{' {
                errors.push(FormatError {
                    message: "unclosed `{` in format; write `{{` for a literal brace".to_string(),
                    span: i..close,
                });
                i = close;
                continue;
            }
            if !lit.is_empty() {
                out.push((Token::Literal(core::mem::take(&mut lit)), lit_start..i));
            }
            let inner = &text[i + 1..close];
            let (name, spec, colon) = match inner.find(':') {
                Some(k) => (&inner[..k], &inner[k + 1..], Some(i + 1 + k)),
                None => (inner, "", None),
            };
            let name_span = i + 1..i + 1 + name.len();
            let spec_span = match colon {
                Some(k) => k + 1..close,
                None => close..close,
            };
            out.push((
                Token::Field(Placeholder {
                    name,
                    name_span,
                    spec,
                    spec_span,
                    span: i..close + 1,
                }),
                i..close + 1,
            ));
            i = close + 1;
        } else if c == b'}' {
            errors.push(FormatError {
                message: "unmatched `}` in format; write `}}` for a literal brace".to_string(),
                span: i..i + 1,
            });
            i += 1;
        } else {
            // Copy one whole character.
            let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
            if lit.is_empty() {
                lit_start = i;
            }
            lit.push_str(&text[i..i + ch_len]);
            i += ch_len;
        }
    }
    if !lit.is_empty() {
        out.push((Token::Literal(lit), lit_start..text.len()));
    }
    out
}

/// Parses a specifier (`x`, `04x`, `3`, `a`, ``); `None` when unknown.
fn parse_spec(spec: &str) -> Option<(Radix, usize, bool)> {
    let (rest, radix) = match spec.as_bytes().last() {
        Some(b'x') => (&spec[..spec.len() - 1], Radix::LowerHex),
        Some(b'X') => (&spec[..spec.len() - 1], Radix::UpperHex),
        Some(b'a') => (&spec[..spec.len() - 1], Radix::Letters),
        _ => (spec, Radix::Decimal),
    };
    if rest.is_empty() {
        return Some((radix, 0, false));
    }
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let zero_pad = rest.len() > 1 && rest.starts_with('0');
    let width: usize = rest.parse().ok()?;
    if width > MAX_WIDTH {
        return None;
    }
    Some((radix, width, zero_pad))
}

/// The candidate closest to `name` by [`edit_distance`], if close enough for a "did you
/// mean" (at most 2 edits, or a third of the name's length). Ties go to an anagram of
/// `name` (a transposition), then to the candidate of the same length, then to the
/// first.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut sorted: Vec<char> = name.chars().collect();
    sorted.sort_unstable();
    let len = name.chars().count();
    candidates
        .into_iter()
        .map(|c| {
            let mut cs: Vec<char> = c.chars().collect();
            let same_len = cs.len() == len;
            cs.sort_unstable();
            (edit_distance(name, c), cs != sorted, !same_len, c)
        })
        .filter(|(d, ..)| *d <= 2.max(len / 3))
        .min_by_key(|(d, a, l, _)| (*d, *a, *l))
        .map(|(.., c)| c)
}

/// The largest width a specifier may ask for.
pub const MAX_WIDTH: usize = 128;

fn field_list(fields: &[(&str, u128, u128)]) -> String {
    let names: Vec<String> = fields.iter().map(|f| format!("`{}`", f.0)).collect();
    names.join(", ")
}

impl Format {
    /// Parses and checks a format string against the fields, given as
    /// `(name, min, max)` in the address type's order.
    ///
    /// Checks, all collected: every field appears exactly once, specifiers are known,
    /// braces are balanced, and every field can be told apart from what follows it (see
    /// the [module documentation](self)). Each error carries the byte range of the
    /// format string it is about.
    ///
    /// ```
    /// use addralloc_runtime::format::Format;
    /// let fields = [("bus", 0, 255), ("slot", 0, 31)];
    /// let errs = Format::parse("{bux}:{slot:q}.{slot}", &fields).unwrap_err();
    /// assert_eq!(errs[0].message, "format names unknown field `bux`; did you mean `bus`?");
    /// assert_eq!(errs[0].span, 1..4);
    /// assert_eq!(
    ///     errs[1].message,
    ///     "unknown format specifier `q` for field `slot`; expected `x`, `X`, `a`, a width like `04x` or none"
    /// );
    /// assert_eq!(errs[2].message, "format repeats field `slot`");
    /// assert_eq!(errs.len(), 3);
    ///
    /// let errs = Format::parse("{bus}{slot}", &fields).unwrap_err();
    /// assert_eq!(
    ///     errs[0].message,
    ///     "fields `bus` and `slot` are adjacent and cannot be told apart; put literal text between them"
    /// );
    /// let errs = Format::parse("{slot}", &fields).unwrap_err();
    /// assert_eq!(errs[0].message, "format omits field `bus`");
    /// ```
    pub fn parse(text: &str, fields: &[(&str, u128, u128)]) -> Result<Format, Vec<FormatError>> {
        let mut errors = Vec::new();
        let tokens = tokenize(text, &mut errors);
        let brace_errors = !errors.is_empty();
        let mut seen: Vec<Option<Range<usize>>> = vec![None; fields.len()];
        let mut pieces = Vec::new();
        let mut spans = Vec::new();
        let mut suggested: Vec<usize> = Vec::new();
        for (tok, span) in tokens {
            match tok {
                Token::Literal(s) => {
                    pieces.push(Piece::Literal(s));
                    spans.push(span);
                }
                Token::Field(ph) => {
                    let index =
                        Self::resolve_name(&ph, fields, &mut seen, &mut suggested, &mut errors);
                    let spec = match parse_spec(ph.spec) {
                        Some(s) => Some(s),
                        None => {
                            let name = ph.name;
                            errors.push(FormatError {
                                message: format!(
                                    "unknown format specifier `{}` for field `{name}`; expected `x`, `X`, `a`, a width like `04x` or none",
                                    ph.spec
                                ),
                                span: ph.spec_span.clone(),
                            });
                            None
                        }
                    };
                    if let Some((Radix::Letters, _, true)) = spec {
                        errors.push(FormatError {
                            message: format!(
                                "field `{}` is written in letters, which cannot be zero-padded; drop the leading `0`",
                                ph.name
                            ),
                            span: ph.spec_span.clone(),
                        });
                    }
                    if let (Some(field), Some((radix, width, zero_pad))) = (index, spec) {
                        pieces.push(Piece::Field(Spec {
                            field,
                            radix,
                            width,
                            zero_pad: zero_pad && radix != Radix::Letters,
                        }));
                        spans.push(ph.span);
                    } else {
                        // Keep the shape for the adjacency check: an unusable placeholder
                        // is treated as a separator so it raises no further errors.
                        pieces.push(Piece::Literal(String::new()));
                        spans.push(ph.span);
                    }
                }
            }
        }
        Self::check_adjacency(&pieces, &spans, fields, &mut errors);
        errors.sort_by_key(|e| e.span.start);
        // Omitted fields, except those an unknown name was suggested for (the misspelling
        // already says it) and after brace errors (the placeholder may be unreadable).
        if !brace_errors {
            for (i, s) in seen.iter().enumerate() {
                if s.is_none() && !suggested.contains(&i) {
                    errors.push(FormatError {
                        message: format!("format omits field `{}`", fields[i].0),
                        span: 0..text.len(),
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(Format { pieces })
        } else {
            Err(errors)
        }
    }

    fn resolve_name(
        ph: &Placeholder<'_>,
        fields: &[(&str, u128, u128)],
        seen: &mut [Option<Range<usize>>],
        suggested: &mut Vec<usize>,
        errors: &mut Vec<FormatError>,
    ) -> Option<usize> {
        let name = ph.name;
        if name.is_empty() {
            errors.push(FormatError {
                message: "format has an empty placeholder; name a field, like `{bus}`".to_string(),
                span: ph.span.clone(),
            });
            return None;
        }
        match fields.iter().position(|f| f.0 == name) {
            Some(i) => {
                if seen[i].is_some() {
                    errors.push(FormatError {
                        message: format!("format repeats field `{name}`"),
                        span: ph.name_span.clone(),
                    });
                    None
                } else {
                    seen[i] = Some(ph.name_span.clone());
                    Some(i)
                }
            }
            None => {
                let message = match suggest(name, fields.iter().map(|f| f.0)) {
                    Some(n) => {
                        if let Some(i) = fields.iter().position(|f| f.0 == n) {
                            suggested.push(i);
                        }
                        format!("format names unknown field `{name}`; did you mean `{n}`?")
                    }
                    None if !fields.is_empty() => format!(
                        "format names unknown field `{name}`; the fields are {}",
                        field_list(fields)
                    ),
                    None => {
                        format!("format names unknown field `{name}`; the type has no fields")
                    }
                };
                errors.push(FormatError {
                    message,
                    span: ph.name_span.clone(),
                });
                None
            }
        }
    }

    fn check_adjacency(
        pieces: &[Piece],
        spans: &[Range<usize>],
        fields: &[(&str, u128, u128)],
        errors: &mut Vec<FormatError>,
    ) {
        for (k, p) in pieces.iter().enumerate() {
            let Piece::Field(a) = p else { continue };
            let Some(&(name_a, min, max)) = fields.get(a.field) else {
                continue;
            };
            if a.is_fixed_width(min, max) {
                continue;
            }
            match pieces.get(k + 1) {
                Some(Piece::Field(b)) => {
                    let name_b = fields.get(b.field).map_or("?", |f| f.0);
                    let starts_with_space = b.width > 0 && !b.zero_pad;
                    if a.radix.overlaps(b.radix) || starts_with_space && a.radix.is_digit(' ') {
                        errors.push(FormatError {
                            message: format!(
                                "fields `{name_a}` and `{name_b}` are adjacent and cannot be told apart; put literal text between them"
                            ),
                            span: spans[k].start..spans[k + 1].end,
                        });
                    }
                }
                Some(Piece::Literal(s)) => {
                    if let Some(c) = s.chars().next() {
                        if a.radix.is_digit(c) {
                            errors.push(FormatError {
                                message: format!(
                                    "field `{name_a}` is followed by `{c}`, which can be read as one of its digits; start the literal text with another character or give the field a fixed width"
                                ),
                                span: spans[k].start..spans[k + 1].end,
                            });
                        }
                    }
                }
                None => {}
            }
        }
    }

    /// The default format: every field in decimal, joined by `:`.
    ///
    /// ```
    /// use addralloc_runtime::format::Format;
    /// let f = Format::default_for(&[("bus", 0, 255), ("port", 0, 31)]);
    /// assert_eq!(f.to_string(&[2, 17]), "2:17");
    /// ```
    pub fn default_for(fields: &[(&str, u128, u128)]) -> Format {
        Self::default_for_count(fields.len())
    }

    /// The default format of `n` fields: decimal, joined by `:`.
    pub fn default_for_count(n: usize) -> Format {
        let mut pieces = Vec::new();
        for i in 0..n {
            if i > 0 {
                pieces.push(Piece::Literal(":".to_string()));
            }
            pieces.push(Piece::Field(Spec {
                field: i,
                radix: Radix::Decimal,
                width: 0,
                zero_pad: false,
            }));
        }
        Format { pieces }
    }

    /// The pieces, in order.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The pieces, borrowed (for [`write_pieces`] and [`parse_pieces`]).
    pub fn piece_refs(&self) -> Vec<PieceRef<'_>> {
        self.pieces.iter().map(Piece::as_ref).collect()
    }

    /// The format string that parses back to this format (braces escaped).
    ///
    /// ```
    /// use addralloc_runtime::format::Format;
    /// let fields = [("a", 0, 255), ("b", 0, 255)];
    /// let f = Format::parse("{{{a:02x}}}-{b:3}", &fields).unwrap();
    /// assert_eq!(f.source(&fields), "{{{a:02x}}}-{b:3}");
    /// ```
    pub fn source(&self, fields: &[(&str, u128, u128)]) -> String {
        let mut s = String::new();
        for p in &self.pieces {
            match p {
                Piece::Literal(l) => s.push_str(&l.replace('{', "{{").replace('}', "}}")),
                Piece::Field(spec) => {
                    s.push('{');
                    s.push_str(fields.get(spec.field).map_or("?", |f| f.0));
                    let radix = match spec.radix {
                        Radix::Decimal => "",
                        Radix::LowerHex => "x",
                        Radix::UpperHex => "X",
                        Radix::Letters => "a",
                    };
                    if spec.width > 0 || !radix.is_empty() {
                        s.push(':');
                    }
                    if spec.width > 0 {
                        if spec.zero_pad {
                            s.push('0');
                        }
                        s.push_str(&spec.width.to_string());
                    }
                    s.push_str(radix);
                    s.push('}');
                }
            }
        }
        s
    }

    /// Writes an address given as one value per field. A missing value is an error
    /// ([`fmt::Error`]).
    pub fn write(&self, values: &[u128], out: &mut impl fmt::Write) -> fmt::Result {
        write_pieces(&self.pieces, values, out)
    }

    /// The address as a string (see [`Format::write`]); a missing value prints as `?`.
    #[allow(clippy::inherent_to_string_shadow_display)]
    pub fn to_string(&self, values: &[u128]) -> String {
        let mut s = String::new();
        for p in &self.pieces {
            match p {
                Piece::Literal(l) => s.push_str(l),
                Piece::Field(spec) => match values.get(spec.field) {
                    Some(v) => {
                        let _ = spec.write(*v, &mut s);
                    }
                    None => s.push('?'),
                },
            }
        }
        s
    }

    /// Parses an address: one value per field, in the fields' order.
    ///
    /// Accepts what [`Format::write`] prints, hexadecimal in either case, fewer
    /// digits than the padded width (where a separator follows); rejects out-of-range
    /// values, empty fields and trailing text with [`Error::Parse`]. Never panics.
    pub fn parse_values(
        &self,
        text: &str,
        fields: &[(&str, u128, u128)],
    ) -> Result<Vec<u128>, Error> {
        parse_pieces(&self.pieces, text, fields)
    }
}

/// Writes the values with `pieces` (see [`Format::write`]).
pub fn write_pieces<P: AsPiece>(
    pieces: &[P],
    values: &[u128],
    out: &mut impl fmt::Write,
) -> fmt::Result {
    for p in pieces {
        match p.piece() {
            PieceRef::Literal(l) => out.write_str(l)?,
            PieceRef::Field(spec) => spec.write(*values.get(spec.field).ok_or(fmt::Error)?, out)?,
        }
    }
    Ok(())
}

/// Parses an address with `pieces` (see [`Format::parse_values`]). Fields that no
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
    for (k, p) in pieces.iter().enumerate() {
        match p.piece() {
            PieceRef::Literal(l) => {
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
            PieceRef::Field(spec) => {
                let Some(&(name, min, max)) = fields.get(spec.field) else {
                    return Err(err(
                        pos,
                        None,
                        format!("the format names field {} of {}", spec.field, fields.len()),
                    ));
                };
                let rest = &text[pos..];
                // How many characters may this field take?
                let next = pieces.get(k + 1).map(AsPiece::piece);
                let exact = match next {
                    Some(PieceRef::Field(_)) => spec.is_fixed_width(min, max),
                    Some(PieceRef::Literal(l)) => {
                        l.chars().next().is_some_and(|c| spec.radix.is_digit(c))
                            && spec.is_fixed_width(min, max)
                    }
                    None => false,
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
fn encode(mut v: u128, radix: Radix, buf: &mut [u8; 128]) -> &[u8] {
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
fn decode(s: &str, radix: Radix) -> Option<u128> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn letters(v: u128) -> String {
        let mut b = [0u8; 128];
        String::from_utf8(encode(v, Radix::Letters, &mut b).to_vec()).unwrap()
    }

    #[test]
    fn bijective_letters() {
        for (v, s) in [
            (0, "a"),
            (25, "z"),
            (26, "aa"),
            (51, "az"),
            (52, "ba"),
            (701, "zz"),
            (702, "aaa"),
        ] {
            assert_eq!(letters(v), s);
            assert_eq!(decode(s, Radix::Letters), Some(v));
        }
        let max = letters(u128::MAX);
        assert_eq!(decode(&max, Radix::Letters), Some(u128::MAX));
        assert_eq!(decode(&format!("{max}a"), Radix::Letters), None);
    }

    #[test]
    fn spec_parsing() {
        assert_eq!(parse_spec(""), Some((Radix::Decimal, 0, false)));
        assert_eq!(parse_spec("04x"), Some((Radix::LowerHex, 4, true)));
        assert_eq!(parse_spec("3"), Some((Radix::Decimal, 3, false)));
        assert_eq!(parse_spec("0"), Some((Radix::Decimal, 0, false)));
        assert_eq!(parse_spec("2X"), Some((Radix::UpperHex, 2, false)));
        assert_eq!(parse_spec("q"), None);
        assert_eq!(parse_spec("x4"), None);
        assert_eq!(parse_spec("999"), None);
    }

    #[test]
    fn fixed_width() {
        let s = Spec {
            field: 0,
            radix: Radix::LowerHex,
            width: 2,
            zero_pad: true,
        };
        assert!(s.is_fixed_width(0, 255));
        assert!(!s.is_fixed_width(0, 256));
        let d = Spec {
            field: 0,
            radix: Radix::Decimal,
            width: 0,
            zero_pad: false,
        };
        assert!(d.is_fixed_width(0, 7));
        assert!(!d.is_fixed_width(0, 10));
    }
}
