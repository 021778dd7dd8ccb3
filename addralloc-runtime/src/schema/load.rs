//! The TOML front end: walks toml's spanned document tree so that every error carries a
//! byte span and all of them are collected.

use std::borrow::Cow;
use std::ops::Range;
use std::string::{String, ToString};
use std::vec::Vec;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::{Diagnostic, FieldDef, FieldType, PoolDef, Schema, TypeDef};
use crate::pattern;
use crate::pattern::suggest;

type Table<'i> = DeTable<'i>;
type Value<'i> = Spanned<DeValue<'i>>;

const TOP_KEYS: &[&str] = &["address"];
const ADDRESS_KEYS: &[&str] = &["name", "doc", "format", "field", "pool", "text"];
const FIELD_KEYS: &[&str] = &["name", "type", "doc", "range"];
const POOL_KEYS: &[&str] = &["pattern", "tags"];

struct Loader {
    errors: Vec<Diagnostic>,
}

/// Lowercases the first letter and drops a trailing period, to match our wording.
fn tidy(msg: &str) -> String {
    let msg = msg.trim().trim_end_matches('.');
    let msg = msg.replace('\n', "; ");
    let mut c = msg.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn article(type_str: &str) -> &'static str {
    match type_str {
        "string" => "a string",
        "integer" => "an integer",
        "float" => "a float",
        "boolean" => "a boolean",
        "datetime" => "a datetime",
        "array" => "an array",
        "table" => "a table",
        _ => "a value",
    }
}

pub(super) fn from_toml(text: &str) -> Result<Schema, Vec<Diagnostic>> {
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        let mut errs: Vec<Diagnostic> = syntax
            .iter()
            .map(|e| Diagnostic::new(format!("invalid TOML: {}", tidy(e.message())), e.span()))
            .collect();
        errs.sort_by_key(|d| d.span.as_ref().map(|s| (s.start, s.end)));
        return Err(errs);
    }
    let mut l = Loader { errors: Vec::new() };
    let root = doc.get_ref();
    l.unknown_keys(root, TOP_KEYS, "the schema");
    let mut types = Vec::new();
    match root.get("address") {
        None => l.errors.push(Diagnostic::new(
            "the schema defines no address types; add an `[[address]]` table",
            Some(0..0),
        )),
        Some(v) => {
            for t in l.tables(v, "address", "[[address]]") {
                if let Some(def) = l.address(t) {
                    types.push(def);
                }
            }
        }
    }
    // Duplicate type names.
    for (i, t) in types.iter().enumerate() {
        if let Some(first) = types[..i].iter().find(|u| u.name == t.name) {
            l.errors.push(
                Diagnostic::new(
                    format!("duplicate address type `{}`", t.name),
                    t.span.clone(),
                )
                .with_note(
                    format!("address type `{}` is first declared here", t.name),
                    first.span.clone(),
                ),
            );
        }
    }
    for t in &types {
        l.errors.extend(t.check());
    }
    if l.errors.is_empty() {
        Ok(Schema { types })
    } else {
        let mut errs = l.errors;
        errs.sort_by_key(|d| d.span.as_ref().map(|s| (s.start, s.end)));
        errs.dedup();
        Err(errs)
    }
}

impl Loader {
    fn unknown_keys(&mut self, table: &Table<'_>, known: &[&str], within: &str) {
        for (k, _) in table.iter() {
            let key: &str = k.get_ref();
            if known.contains(&key) {
                continue;
            }
            let message = match suggest(key, known.iter().copied()) {
                Some(n) => format!("unknown key `{key}` in {within}; did you mean `{n}`?"),
                None => {
                    let list: Vec<String> = known.iter().map(|n| format!("`{n}`")).collect();
                    format!(
                        "unknown key `{key}` in {within}; expected one of {}",
                        list.join(", ")
                    )
                }
            };
            self.errors.push(Diagnostic::new(message, Some(k.span())));
        }
    }

    /// The tables of an array of tables (`[[key]]`); reports anything else.
    fn tables<'a, 'i>(
        &mut self,
        v: &'a Value<'i>,
        key: &str,
        header: &str,
    ) -> Vec<(&'a Table<'i>, Range<usize>)> {
        match v.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::Table(t) => out.push((t, item.span())),
                        other => self.errors.push(Diagnostic::new(
                            format!(
                                "`{key}` must hold tables, found {}; write `{header}` sections",
                                article(other.type_str())
                            ),
                            Some(item.span()),
                        )),
                    }
                }
                out
            }
            DeValue::Table(_) => {
                self.errors.push(Diagnostic::new(
                    format!("`{key}` must be an array of tables; write `{header}`, not `[{key}]`"),
                    Some(v.span()),
                ));
                Vec::new()
            }
            other => {
                self.errors.push(Diagnostic::new(
                    format!(
                        "`{key}` must be an array of tables, found {}; write `{header}` sections",
                        article(other.type_str())
                    ),
                    Some(v.span()),
                ));
                Vec::new()
            }
        }
    }

    /// A string value, or an error naming the expected type.
    fn string<'a>(
        &mut self,
        table: &'a Table<'_>,
        key: &str,
        within: &str,
    ) -> Option<(&'a str, Range<usize>)> {
        let v = table.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some((cow_str(s), v.span())),
            other => {
                self.errors.push(Diagnostic::new(
                    format!(
                        "`{key}` in {within} must be a string, found {}",
                        article(other.type_str())
                    ),
                    Some(v.span()),
                ));
                None
            }
        }
    }

    fn required<'a>(
        &mut self,
        table: &'a Table<'_>,
        key: &str,
        within: &str,
        span: &Range<usize>,
    ) -> Option<(&'a str, Range<usize>)> {
        if table.get(key).is_none() {
            self.errors.push(Diagnostic::new(
                format!("missing key `{key}` in {within}"),
                Some(span.clone()),
            ));
            return None;
        }
        self.string(table, key, within)
    }

    fn address(&mut self, (t, span): (&Table<'_>, Range<usize>)) -> Option<TypeDef> {
        let within = "`[[address]]`";
        self.unknown_keys(t, ADDRESS_KEYS, within);
        let before = self.errors.len();
        let name = self.required(t, "name", within, &span);
        let doc = self.string(t, "doc", within).map(|(s, _)| s.to_string());
        let format = self.string(t, "format", within);
        let text = self.string(t, "text", within).map(|(s, _)| s.to_string());
        let mut fields = Vec::new();
        if let Some(v) = t.get("field") {
            for ft in self.tables(v, "field", "[[address.field]]") {
                if let Some(f) = self.field(ft) {
                    fields.push(f);
                }
            }
        }
        let mut pools = Vec::new();
        if let Some(v) = t.get("pool") {
            for pt in self.tables(v, "pool", "[[address.pool]]") {
                if let Some(p) = self.pool(pt) {
                    pools.push(p);
                }
            }
        }
        let (name, _) = name?;
        if self.errors.len() > before {
            // Missing or mistyped pieces: the model checks would only add noise.
            return None;
        }
        Some(TypeDef {
            name: name.to_string(),
            doc,
            format: format.as_ref().map(|(s, _)| s.to_string()),
            format_span: format.map(|(_, sp)| sp),
            fields,
            pools,
            span: Some(span),
            text,
        })
    }

    fn field(&mut self, (t, span): (&Table<'_>, Range<usize>)) -> Option<FieldDef> {
        let within = "`[[address.field]]`";
        self.unknown_keys(t, FIELD_KEYS, within);
        let name = self.required(t, "name", within, &span);
        let ty = self
            .required(t, "type", within, &span)
            .and_then(|(ty, sp)| {
                let found = FieldType::from_name(ty);
                if found.is_none() {
                    self.errors.push(Diagnostic::new(
                        format!(
                        "unknown field type `{ty}`; expected `u8`, `u16`, `u32`, `u64` or `u128`"
                    ),
                        Some(sp),
                    ));
                }
                found
            });
        let doc = self.string(t, "doc", within).map(|(s, _)| s.to_string());
        // Open ends of a range are the type's own (without a type, no field is made).
        let full = ty.map_or(u128::MAX, FieldType::max_value);
        let range = match t.get("range") {
            None => None,
            Some(v) => match v.get_ref() {
                DeValue::String(s) => match parse_range(cow_str(s), full) {
                    Ok(r) => Some((r, v.span())),
                    Err(reason) => {
                        self.errors.push(Diagnostic::new(
                            format!("invalid range `{}`: {reason}", cow_str(s)),
                            Some(v.span()),
                        ));
                        None
                    }
                },
                other => {
                    self.errors.push(Diagnostic::new(
                        format!(
                            "`range` in {within} must be a string like \"0..=31\", found {}",
                            article(other.type_str())
                        ),
                        Some(v.span()),
                    ));
                    None
                }
            },
        };
        let ((name, _), ty) = (name?, ty?);
        let mut f = FieldDef::new(name, ty);
        f.doc = doc;
        f.span = Some(span);
        if let Some(((lo, hi), sp)) = range {
            f.min = lo;
            f.max = hi;
            f.range_span = Some(sp);
        }
        Some(f)
    }

    fn pool(&mut self, (t, span): (&Table<'_>, Range<usize>)) -> Option<PoolDef> {
        let within = "`[[address.pool]]`";
        self.unknown_keys(t, POOL_KEYS, within);
        let pattern = self.required(t, "pattern", within, &span);
        let mut tags = Vec::new();
        let mut ok = true;
        if let Some(v) = t.get("tags") {
            match v.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::String(s) => tags.push(cow_str(s).to_string()),
                            other => {
                                ok = false;
                                self.errors.push(Diagnostic::new(
                                    format!(
                                        "pool tags must be strings, found {}",
                                        article(other.type_str())
                                    ),
                                    Some(item.span()),
                                ));
                            }
                        }
                    }
                }
                other => {
                    ok = false;
                    self.errors.push(Diagnostic::new(
                        format!(
                            "`tags` in {within} must be an array of strings, found {}",
                            article(other.type_str())
                        ),
                        Some(v.span()),
                    ));
                }
            }
        }
        let (pattern, _) = pattern?;
        ok.then(|| PoolDef {
            pattern: pattern.to_string(),
            tags,
            span: Some(span),
        })
    }
}

#[allow(clippy::ptr_arg)] // names the conversion from toml's `DeString`
fn cow_str<'a>(s: &'a Cow<'_, str>) -> &'a str {
    s.as_ref()
}

/// Reads a field's range (`0..=31`, `0..32`, `0x0..=0x1f`, `..=31`, `8..`, `5`) with the
/// one range parser of patterns; open ends are the type's own (`0` and `max`). `lo > hi`
/// for an empty range (`3..0`), which the model's check reports.
fn parse_range(s: &str, max: u128) -> Result<(u128, u128), String> {
    let bounds = pattern::parse_range(s).map_err(|reason| {
        if s.contains("..") {
            reason
        } else {
            expected_range()
        }
    })?;
    Ok(pattern::resolve_bounds(bounds, 0, max))
}

fn expected_range() -> String {
    "expected `lo..=hi` or `lo..hi` with decimal or `0x` hexadecimal bounds".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |s: &str| parse_range(s, 255);
        assert_eq!(r("0..=31"), Ok((0, 31)));
        assert_eq!(r("0..32"), Ok((0, 31)));
        assert_eq!(r("0x0..=0x1f"), Ok((0, 31)));
        assert_eq!(r(" 8.. "), Ok((8, 255)));
        assert_eq!(r("..=7"), Ok((0, 7)));
        assert_eq!(r(".."), Ok((0, 255)));
        assert_eq!(r("5"), Ok((5, 5)));
        assert_eq!(r("3..0"), Ok((1, 0)));
        assert_eq!(r("a"), Err(expected_range()));
        assert_eq!(r(""), Err(expected_range()));
        assert_eq!(
            r("a..b"),
            Err("`a` is not a number (decimal, or hexadecimal after `0x`)".to_string())
        );
        assert!(r("0..=999999999999999999999999999999999999999999").is_err());
    }

    #[test]
    fn toml_messages_are_tidied() {
        assert_eq!(tidy("Duplicate key.\n"), "duplicate key");
        assert_eq!(tidy("a\nb"), "a; b");
        assert_eq!(tidy(""), "");
    }
}
