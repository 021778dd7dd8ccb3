//! The plan file's TOML tree: the `toml` crate parses the file into its spanned document
//! tree, and this module turns that into the small owned tree that `plan.rs` reads,
//! keeping the byte span of every key and value for error messages.
//!
//! Plan files use tables, arrays of tables, strings, integers, booleans, arrays and
//! inline tables; floats and dates are rejected with a message.

use std::ops::Range;

use ::toml::de::{DeTable, DeValue};

/// A value with the byte span of its source text.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Range<usize>,
}

/// A TOML value.
#[derive(Clone, Debug)]
pub enum Value {
    Str(String),
    Int(i128),
    /// A boolean; no plan key takes one yet, so only its kind is kept.
    Bool,
    Array(Vec<Spanned<Value>>),
    Table(Table),
}

impl Value {
    /// The kind of value, for "expected a string, found an integer".
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Bool => "a boolean",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// A table: its entries in source order.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub entries: Vec<(Spanned<String>, Spanned<Value>)>,
}

impl Table {
    pub fn get(&self, key: &str) -> Option<&Spanned<Value>> {
        self.entries
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(_, v)| v)
    }
}

/// A syntax error: a message and the byte span it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Option<Range<usize>>,
}

/// Parses a whole document into its root table; on errors, all of them in file order.
pub fn parse(text: &str) -> Result<Table, Vec<SyntaxError>> {
    let (doc, syntax) = DeTable::parse_recoverable(text);
    let mut errors: Vec<SyntaxError> = syntax
        .iter()
        .map(|e| SyntaxError {
            message: tidy(e.message()),
            span: e
                .span()
                .map(|s| s.start.min(text.len())..s.end.min(text.len())),
        })
        .collect();
    let root = if errors.is_empty() {
        table(text, doc.get_ref(), &mut errors)
    } else {
        Table::default()
    };
    if errors.is_empty() {
        Ok(root)
    } else {
        errors.sort_by_key(|e| e.span.as_ref().map(|s| (s.start, s.end)));
        errors.dedup();
        Err(errors)
    }
}

/// Lowercases the first letter and drops a trailing period, to match our wording (as
/// `addralloc-runtime` does for schema files).
fn tidy(msg: &str) -> String {
    let msg = msg.trim().trim_end_matches('.');
    let msg = msg.replace('\n', "; ");
    let mut c = msg.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A table's entries, sorted into source order (toml's map is sorted by key).
fn table(text: &str, t: &DeTable<'_>, errors: &mut Vec<SyntaxError>) -> Table {
    let mut entries: Vec<(Spanned<String>, Spanned<Value>)> = Vec::with_capacity(t.len());
    for (k, v) in t.iter() {
        let Some(value) = value(text, v.get_ref(), v.span(), errors) else {
            continue;
        };
        entries.push((
            Spanned {
                value: k.get_ref().to_string(),
                span: k.span(),
            },
            value,
        ));
    }
    entries.sort_by_key(|(k, _)| k.span.start);
    Table { entries }
}

fn value(
    text: &str,
    v: &DeValue<'_>,
    span: Range<usize>,
    errors: &mut Vec<SyntaxError>,
) -> Option<Spanned<Value>> {
    let source = || text.get(span.clone()).unwrap_or("");
    let value = match v {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => match i128::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Int(n),
            Err(_) => {
                errors.push(SyntaxError {
                    message: format!("`{}` is too large", source()),
                    span: Some(span),
                });
                return None;
            }
        },
        DeValue::Float(_) | DeValue::Datetime(_) => {
            errors.push(SyntaxError {
                message: format!(
                    "`{}` is not an integer: plan files use no floats or dates",
                    source()
                ),
                span: Some(span),
            });
            return None;
        }
        DeValue::Boolean(_) => Value::Bool,
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .filter_map(|item| value(text, item.get_ref(), item.span(), errors))
                .collect(),
        ),
        DeValue::Table(t) => Value::Table(table(text, t, errors)),
    };
    Some(Spanned { value, span })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &Spanned<Value>) -> &str {
        match &v.value {
            Value::Str(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plan_like() {
        let src = "# c\nname = \"x\" # c\n[[space]]\nname = 'pci'\n[[space.pool]]\npattern = \"slot=1..=31\"\ntags = [\"a\", 'b',]\n[[space]]\nname = \"b\"\nn = 0x1f\nm = { a = 1, b.c = true }\nz = -1_000\n";
        let t = parse(src).unwrap();
        assert_eq!(s(t.get("name").unwrap()), "x");
        let keys: Vec<&str> = t.entries.iter().map(|(k, _)| k.value.as_str()).collect();
        assert_eq!(keys, ["name", "space"], "source order");
        let Value::Array(spaces) = &t.get("space").unwrap().value else {
            panic!()
        };
        assert_eq!(spaces.len(), 2);
        assert_eq!(&src[spaces[0].span.clone()], "[[space]]");
        let Value::Table(first) = &spaces[0].value else {
            panic!()
        };
        let Value::Array(pools) = &first.get("pool").unwrap().value else {
            panic!()
        };
        let Value::Table(pool) = &pools[0].value else {
            panic!()
        };
        let pattern = pool.get("pattern").unwrap();
        assert_eq!(s(pattern), "slot=1..=31");
        assert_eq!(&src[pattern.span.clone()], "\"slot=1..=31\"");
        let Value::Table(second) = &spaces[1].value else {
            panic!()
        };
        assert!(matches!(second.get("n").unwrap().value, Value::Int(31)));
        assert!(matches!(second.get("z").unwrap().value, Value::Int(-1000)));
        assert!(matches!(second.get("m").unwrap().value, Value::Table(_)));
    }

    #[test]
    fn errors() {
        for (src, msg) in [
            ("a = 1\na = 2", "duplicate key"),
            ("a = ", "string values must be quoted"),
            ("a = \"x", "invalid basic string"),
            (
                "a = 1.5",
                "`1.5` is not an integer: plan files use no floats or dates",
            ),
            ("a = 1979-05-27", "`1979-05-27` is not an integer"),
            ("a = [1, 2.5]", "`2.5` is not an integer"),
            (
                "a = 99999999999999999999999999999999999999999",
                "is too large",
            ),
            ("[a]\n[a]", "duplicate key"),
            ("[[a]\n", "unclosed array table"),
            ("a = \"\\q\"", "missing escaped value"),
            ("a = 1\n[[a]]", "duplicate key"),
        ] {
            let e = parse(src).unwrap_err();
            assert!(e[0].message.contains(msg), "{src:?}: {:?}", e);
            let span = e[0].span.clone().expect("a span");
            assert!(span.end <= src.len(), "{src:?}");
        }
    }

    /// Every fifth prefix of a plan, and the plan with a TOML-special character inserted every
    /// 13 characters, parses or fails without a panic, with spans inside the text.
    #[test]
    fn no_panic_on_mangled_plans() {
        let plan = include_str!("../../examples/plans/q35.toml");
        let check = |text: &str| match parse(text) {
            Err(errors) => {
                for e in errors {
                    if let Some(s) = e.span {
                        assert!(s.start <= s.end && s.end <= text.len(), "{text:?}");
                    }
                }
            }
            Ok(t) => {
                let _ = super::super::model::read(&t);
            }
        };
        for n in (0..=plan.len()).step_by(5) {
            if plan.is_char_boundary(n) {
                check(&plan[..n]);
            }
        }
        let specials = [
            '[', ']', '"', '\'', '=', '{', '}', ',', '.', '#', '\n', '\\', 'é',
        ];
        for (i, _) in plan.char_indices().step_by(13) {
            for c in specials {
                let mut t = String::from(&plan[..i]);
                t.push(c);
                t.push_str(&plan[i..]);
                check(&t);
            }
        }
    }
}
