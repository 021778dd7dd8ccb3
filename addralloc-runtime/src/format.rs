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
//! # Optional trailing fields
//!
//! `{p2?}` (also `{p2?:x}` and so on) is an optional field: 0 means absent, so its range
//! must include 0. It owns the literal text just before it, and the pair is printed only
//! up to the last present optional field: `{bus}-{p1}.{p2?}.{p3?}` prints `0-1`,
//! `0-1.2`, `0-1.2.3`. The parser stops at the end of the text (what is left out is 0)
//! and rejects an optional field written as `0`. Optional fields are trailing, each
//! after a field and literal text, with no literal text after the last; an absent one
//! makes every later one absent ([`Format::check_present`]; printing such a value shows
//! its zeros, `0-1.0.5`, which do not parse back).
//!
//! ```
//! use addralloc_runtime::format::Format;
//! let fields = [("bus", 0, 255), ("p1", 1, 15), ("p2", 0, 15), ("p3", 0, 15)];
//! let f = Format::parse("{bus}-{p1}.{p2?}.{p3?}", &fields).unwrap();
//! assert_eq!(f.to_string(&[0, 1, 0, 0]), "0-1");
//! assert_eq!(f.to_string(&[0, 1, 2, 3]), "0-1.2.3");
//! assert_eq!(f.parse_values("0-1.2", &fields).unwrap(), [0, 1, 2, 0]);
//! assert!(f.parse_values("0-1.0", &fields).is_err());
//! ```
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
use crate::pattern::suggest;

mod pieces;

use self::pieces::{
    check_optional, optional_shown, parse_pieces, write_pieces, Piece, PieceRef, Radix, Spec,
};

/// Support for generated code, the schema compiler and the command line; not public
/// API (no semver promise). The facade re-exports what generated code names from its
/// own `__private`.
#[doc(hidden)]
pub mod __private {
    pub use super::pieces::{
        absent_before, check_optional, optional_shown, parse_pieces, write_pieces, AsPiece, Piece,
        PieceRef, Radix, Spec,
    };
    pub use crate::pattern::suggest;
}

/// An error in a format string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
    optional: bool,
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
            let (name, optional) = match name.strip_suffix('?') {
                Some(n) => (n, true),
                None => (name, false),
            };
            let name_span = i + 1..i + 1 + name.len();
            let spec_span = match colon {
                Some(k) => k + 1..close,
                None => close..close,
            };
            out.push((
                Token::Field(Placeholder {
                    name,
                    optional,
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

/// The largest width a specifier may ask for.
const MAX_WIDTH: usize = 128;

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
        let mut optional: Vec<bool> = Vec::new();
        let mut suggested: Vec<usize> = Vec::new();
        for (tok, span) in tokens {
            match tok {
                Token::Literal(s) => {
                    pieces.push(Piece::Literal(s));
                    spans.push(span);
                    optional.push(false);
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
                        optional.push(ph.optional);
                    } else {
                        // Keep the shape for the adjacency check: an unusable placeholder
                        // is treated as a separator so it raises no further errors.
                        pieces.push(Piece::Literal(String::new()));
                        spans.push(ph.span);
                        optional.push(false);
                    }
                }
            }
        }
        Self::check_adjacency(&pieces, &spans, fields, &mut errors);
        let pieces = Self::fold_optional(pieces, &spans, &optional, fields, &mut errors);
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

    /// Checks the optional fields (trailing, each after literal text, 0 in range, no
    /// text after the last) and folds each with the literal before it into one
    /// [`Piece::Optional`].
    fn fold_optional(
        pieces: Vec<Piece>,
        spans: &[Range<usize>],
        optional: &[bool],
        fields: &[(&str, u128, u128)],
        errors: &mut Vec<FormatError>,
    ) -> Vec<Piece> {
        let Some(first) = optional.iter().position(|o| *o) else {
            return pieces;
        };
        let name = |spec: &Spec| fields.get(spec.field).map_or("?", |f| f.0);
        let mut first_optional: Option<&str> = None;
        for (k, p) in pieces.iter().enumerate() {
            match p {
                Piece::Field(spec) if optional[k] => {
                    let n = name(spec);
                    if let Some(&(_, min, max)) = fields.get(spec.field) {
                        if min > 0 {
                            errors.push(FormatError {
                                message: format!(
                                    "optional field `{n}` must have 0 in its range (0 means absent); its range is {min}..={max}"
                                ),
                                span: spans[k].clone(),
                            });
                        }
                    }
                    // Literal text before, and a placeholder before that (the tokenizer
                    // merges literal text, so anything at `k - 2` is a placeholder; an
                    // unusable one is an empty literal, already reported).
                    let after_text =
                        k >= 2 && matches!(&pieces[k - 1], Piece::Literal(l) if !l.is_empty());
                    if !after_text {
                        errors.push(FormatError {
                            message: format!(
                                "optional field `{n}` must come after a field and literal text, which is printed only when it is present, like `{{bus}}.{{{n}?}}`"
                            ),
                            span: spans[k].clone(),
                        });
                    }
                    first_optional.get_or_insert(n);
                }
                Piece::Field(spec) if k > first => {
                    errors.push(FormatError {
                        message: format!(
                            "field `{}` follows the optional field `{}`; optional fields must be trailing: mark it `{{{}?}}` or move it before",
                            name(spec),
                            first_optional.unwrap_or("?"),
                            name(spec)
                        ),
                        span: spans[k].clone(),
                    });
                }
                Piece::Literal(l)
                    if k > first
                        && !l.is_empty()
                        && !matches!(pieces.get(k + 1), Some(Piece::Field(_))) =>
                {
                    errors.push(FormatError {
                        message: format!(
                            "literal text `{l}` after the optional field `{}` would be printed only with it; end the format with the last optional field",
                            first_optional.unwrap_or("?")
                        ),
                        span: spans[k].clone(),
                    });
                }
                _ => {}
            }
        }
        let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
        for (k, p) in pieces.into_iter().enumerate() {
            match p {
                Piece::Field(spec) if optional[k] => {
                    let prefix = match out.pop() {
                        Some(Piece::Literal(l)) => l,
                        Some(other) => {
                            out.push(other);
                            String::new()
                        }
                        None => String::new(),
                    };
                    out.push(Piece::Optional(prefix, spec));
                }
                p => out.push(p),
            }
        }
        out
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
                // Optional groups are folded after this check.
                Some(Piece::Optional(..)) | None => {}
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
    #[must_use]
    pub fn default_for(fields: &[(&str, u128, u128)]) -> Format {
        let mut pieces = Vec::new();
        for i in 0..fields.len() {
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

    /// The pieces, in order (for the schema compiler).
    #[doc(hidden)]
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The pieces, borrowed (for `write_pieces` and `parse_pieces`).
    #[doc(hidden)]
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
            let (spec, optional) = match p {
                Piece::Literal(l) => {
                    s.push_str(&l.replace('{', "{{").replace('}', "}}"));
                    continue;
                }
                Piece::Field(spec) => (spec, false),
                Piece::Optional(l, spec) => {
                    s.push_str(&l.replace('{', "{{").replace('}', "}}"));
                    (spec, true)
                }
            };
            s.push('{');
            s.push_str(fields.get(spec.field).map_or("?", |f| f.0));
            if optional {
                s.push('?');
            }
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
        let shown = optional_shown(&self.pieces, values);
        let mut optional = 0;
        for p in &self.pieces {
            match p {
                Piece::Literal(l) => s.push_str(l),
                Piece::Optional(l, spec) => {
                    optional += 1;
                    if optional > shown {
                        break;
                    }
                    s.push_str(l);
                    match values.get(spec.field) {
                        Some(v) => {
                            let _ = spec.write(*v, &mut s);
                        }
                        None => s.push('?'),
                    }
                }
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

    /// Whether the format has optional fields (`{p2?}`).
    ///
    /// ```
    /// use addralloc_runtime::format::Format;
    /// let fields = [("bus", 0, 9), ("p1", 1, 15), ("p2", 0, 15)];
    /// let f = Format::parse("{bus}-{p1}.{p2?}", &fields).unwrap();
    /// assert!(f.has_optional());
    /// assert_eq!(f.to_string(&[0, 1, 0]), "0-1");
    /// assert_eq!(f.to_string(&[0, 1, 2]), "0-1.2");
    /// assert_eq!(f.parse_values("0-1", &fields).unwrap(), [0, 1, 0]);
    /// ```
    pub fn has_optional(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Optional(..)))
    }

    /// Checks that no optional field is present after an absent one: with
    /// `{bus}-{p1}.{p2?}.{p3?}`, `p2` = 0 and `p3` = 5 is not an address
    /// ([`Error::AbsentBefore`]). Formats without optional fields accept every value.
    ///
    /// ```
    /// use addralloc_runtime::format::Format;
    /// let fields = [("bus", 0, 9), ("p1", 1, 15), ("p2", 0, 15), ("p3", 0, 15)];
    /// let f = Format::parse("{bus}-{p1}.{p2?}.{p3?}", &fields).unwrap();
    /// assert!(f.check_present(&[0, 1, 2, 0], &fields).is_ok());
    /// assert_eq!(
    ///     f.check_present(&[0, 1, 0, 5], &fields).unwrap_err().to_string(),
    ///     "field `p3` is 5 but the optional field `p2` before it is 0 (absent); an absent optional field makes every later one absent"
    /// );
    /// ```
    pub fn check_present(
        &self,
        values: &[u128],
        fields: &[(&str, u128, u128)],
    ) -> Result<(), Error> {
        check_optional(&self.pieces, values, fields)
    }
}

#[cfg(test)]
mod tests {
    use super::pieces::{decode, encode};
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
