//! TOML schemas and the model checks: every validation with its message and position.

use addralloc_runtime::schema::{
    is_rust_identifier, Diagnostic, FieldDef, FieldType, PoolDef, Schema, TypeDef,
};

const PCI: &str = r#"# schemas/pci.toml
[[address]]
name = "PciAddress"
doc = "A PCI address: `domain:bus:slot.function`."
format = "{domain:04x}:{bus:02x}:{slot:02x}.{function:x}"

[[address.field]]
name = "domain"
type = "u16"
doc = "PCI domain (segment)."

[[address.field]]
name = "bus"
type = "u8"

[[address.field]]
name = "slot"
type = "u8"
range = "0..=31"

[[address.field]]
name = "function"
type = "u8"
range = "0..8"

[[address.pool]]
pattern = "domain=0, bus=0, slot=1..=31"
tags = ["pci", "hotplug"]
"#;

/// `(line, col, message)` of every diagnostic.
fn diags(src: &str) -> Vec<(usize, usize, String)> {
    let errs = Schema::from_toml(src).expect_err("the schema should be rejected");
    errs.iter()
        .map(|d: &Diagnostic| {
            let (l, c) = d.line_col(src).unwrap_or((0, 0));
            (l, c, d.message.clone())
        })
        .collect()
}

fn one(src: &str) -> (usize, usize, String) {
    let mut d = diags(src);
    assert_eq!(d.len(), 1, "{d:#?}");
    d.remove(0)
}

/// The PCI schema with `from` replaced by `to`.
fn pci_with(from: &str, to: &str) -> String {
    assert!(PCI.contains(from), "{from}");
    PCI.replacen(from, to, 1)
}

#[test]
fn pci_schema_loads() {
    let s = Schema::from_toml(PCI).unwrap();
    assert_eq!(s.types.len(), 1);
    let t = s.get("PciAddress").unwrap();
    assert_eq!(
        t.doc.as_deref(),
        Some("A PCI address: `domain:bus:slot.function`.")
    );
    let names: Vec<&str> = t.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["domain", "bus", "slot", "function"]);
    assert_eq!(
        (t.fields[0].ty, t.fields[0].min, t.fields[0].max),
        (FieldType::U16, 0, 0xffff)
    );
    assert_eq!(t.fields[0].doc.as_deref(), Some("PCI domain (segment)."));
    assert_eq!((t.fields[2].min, t.fields[2].max), (0, 31));
    assert_eq!((t.fields[3].min, t.fields[3].max), (0, 7));
    assert_eq!(t.pools.len(), 1);
    assert_eq!(t.pools[0].pattern, "domain=0, bus=0, slot=1..=31");
    assert_eq!(t.pools[0].tags, ["pci", "hotplug"]);
    assert_eq!(t.format().to_string(&[0, 0, 3, 1]), "0000:00:03.1");
    assert_eq!(t.total_bits(), 16 + 8 + 5 + 3);
    // Spans point at the entries.
    let span = t.span.clone().unwrap();
    assert_eq!(&PCI[span], "[[address]]");
    let range = t.fields[2].range_span.clone().unwrap();
    assert_eq!(&PCI[range], "\"0..=31\"");
}

#[test]
fn several_types_and_defaults() {
    let src = r#"
[[address]]
name = "Port"
[[address.field]]
name = "bus"
type = "u8"
range = "0x0..=0x3"
[[address.field]]
name = "port"
type = "u8"
range = "1.."

[[address]]
name = "Ipv6"
format = "{hi:x}:{lo:x}"
[[address.field]]
name = "hi"
type = "u64"
[[address.field]]
name = "lo"
type = "u64"
"#;
    let s = Schema::from_toml(src).unwrap();
    assert_eq!(s.types.len(), 2);
    let port = &s.types[0];
    assert_eq!((port.fields[0].min, port.fields[0].max), (0, 3));
    assert_eq!((port.fields[1].min, port.fields[1].max), (1, 255));
    assert_eq!(port.format().to_string(&[2, 17]), "2:17");
    assert_eq!(s.types[1].total_bits(), 128);
}

#[test]
fn toml_syntax_error() {
    let (l, c, m) = diags("[[address]]\nname = \"Pci\nx = 1\n").remove(0);
    assert_eq!((l, c), (2, 12));
    assert!(m.starts_with("invalid TOML: "), "{m}");
    assert!(!m.ends_with('.'), "{m}");
}

#[test]
fn duplicate_toml_key() {
    let src = "[[address]]\nname = \"A\"\nname = \"B\"\n";
    let (l, c, m) = one(src);
    assert_eq!((l, c), (3, 1));
    assert_eq!(m, "invalid TOML: duplicate key");
}

#[test]
fn no_address_types() {
    assert_eq!(
        one("# nothing\n"),
        (
            1,
            1,
            "the schema defines no address types; add an `[[address]]` table".into()
        )
    );
}

#[test]
fn unknown_keys() {
    assert_eq!(
        one(&pci_with("format = ", "fromat = ")),
        (
            5,
            1,
            "unknown key `fromat` in `[[address]]`; did you mean `format`?".into()
        )
    );
    assert_eq!(
        one(&pci_with("range = \"0..=31\"", "rnage = \"0..=31\"")),
        (
            19,
            1,
            "unknown key `rnage` in `[[address.field]]`; did you mean `range`?".into()
        )
    );
    assert_eq!(
        one(&pci_with("tags = ", "tag = ")),
        (
            28,
            1,
            "unknown key `tag` in `[[address.pool]]`; did you mean `tags`?".into()
        )
    );
    assert_eq!(
        one(&format!("version = 1\n{PCI}")),
        (
            1,
            1,
            "unknown key `version` in the schema; expected one of `address`".into()
        )
    );
    assert_eq!(
        one(&pci_with("doc = \"PCI domain (segment).\"", "colour = \"red\"")),
        (
            10,
            1,
            "unknown key `colour` in `[[address.field]]`; expected one of `name`, `type`, `doc`, `range`"
                .into()
        )
    );
}

#[test]
fn missing_keys() {
    assert_eq!(
        one(&pci_with("name = \"PciAddress\"\n", "")),
        (2, 1, "missing key `name` in `[[address]]`".into())
    );
    assert_eq!(
        one(&pci_with(
            "name = \"bus\"\ntype = \"u8\"\n",
            "name = \"bus\"\n"
        )),
        (12, 1, "missing key `type` in `[[address.field]]`".into())
    );
    assert_eq!(
        one(&pci_with(
            "pattern = \"domain=0, bus=0, slot=1..=31\"\n",
            ""
        )),
        (26, 1, "missing key `pattern` in `[[address.pool]]`".into())
    );
}

#[test]
fn wrong_value_types() {
    assert_eq!(
        one(&pci_with("name = \"PciAddress\"", "name = 3")),
        (
            3,
            8,
            "`name` in `[[address]]` must be a string, found an integer".into()
        )
    );
    assert_eq!(
        one(&pci_with("range = \"0..=31\"", "range = 31")),
        (
            19,
            9,
            "`range` in `[[address.field]]` must be a string like \"0..=31\", found an integer"
                .into()
        )
    );
    assert_eq!(
        one(&pci_with(
            "tags = [\"pci\", \"hotplug\"]",
            "tags = [\"pci\", 7]"
        )),
        (28, 16, "pool tags must be strings, found an integer".into())
    );
    assert_eq!(
        one(&pci_with("tags = [\"pci\", \"hotplug\"]", "tags = \"pci\"")),
        (
            28,
            8,
            "`tags` in `[[address.pool]]` must be an array of strings, found a string".into()
        )
    );
    assert_eq!(
        one("[address]\nname = \"A\"\n"),
        (
            1,
            1,
            "`address` must be an array of tables; write `[[address]]`, not `[address]`".into()
        )
    );
    assert_eq!(
        one("address = 3\n"),
        (
            1,
            11,
            "`address` must be an array of tables, found an integer; write `[[address]]` sections"
                .into()
        )
    );
}

#[test]
fn unknown_field_type() {
    assert_eq!(
        one(&pci_with("type = \"u16\"", "type = \"u9\"")),
        (
            9,
            8,
            "unknown field type `u9`; expected `u8`, `u16`, `u32`, `u64` or `u128`".into()
        )
    );
}

#[test]
fn bad_range_text() {
    assert_eq!(
        one(&pci_with("\"0..=31\"", "\"zero..=31\"")),
        (
            19,
            9,
            "invalid range `zero..=31`: `zero` is not a number (decimal, or hexadecimal after `0x`)"
                .into()
        )
    );
    assert_eq!(
        one(&pci_with("\"0..=31\"", "\"all\"")),
        (
            19,
            9,
            "invalid range `all`: expected `lo..=hi` or `lo..hi` with decimal or `0x` hexadecimal bounds"
                .into()
        )
    );
}

#[test]
fn empty_range() {
    assert_eq!(
        one(&pci_with("\"0..=31\"", "\"5..=3\"")),
        (19, 9, "field `slot` has an empty range".into())
    );
    assert_eq!(
        one(&pci_with("\"0..=31\"", "\"0..0\"")),
        (19, 9, "field `slot` has an empty range".into())
    );
}

#[test]
fn range_beyond_type() {
    assert_eq!(
        one(&pci_with("\"0..=31\"", "\"0..=300\"")),
        (
            19,
            9,
            "range 0..=300 of field `slot` does not fit in `u8`; the largest `u8` is 255".into()
        )
    );
}

#[test]
fn duplicate_field_names() {
    let src = "[[address]]\nname = \"P\"\n\
               [[address.field]]\nname = \"bus\"\ntype = \"u8\"\n\
               [[address.field]]\nname = \"bus\"\ntype = \"u8\"\n";
    let errs = Schema::from_toml(src).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].message, "duplicate field `bus`");
    assert_eq!(errs[0].line_col(src), Some((6, 1)));
    assert_eq!(errs[0].notes.len(), 1);
    assert_eq!(
        errs[0].notes[0].message,
        "field `bus` is first declared here"
    );
    let note_span = errs[0].notes[0].span.clone().unwrap();
    assert_eq!(
        addralloc_runtime::schema::line_col(src, note_span.start),
        Some((3, 1))
    );
}

#[test]
fn duplicate_type_names() {
    let src = format!("{PCI}\n{}", &PCI[PCI.find("[[address]]").unwrap()..]);
    let d = diags(&src);
    assert_eq!(
        d,
        [(30, 1, "duplicate address type `PciAddress`".to_string())]
    );
}

#[test]
fn format_errors_point_into_the_string() {
    assert_eq!(
        one(&pci_with("{bus:02x}", "{bux:02x}")),
        (
            5,
            25,
            "format names unknown field `bux`; did you mean `bus`?".into()
        )
    );
    assert_eq!(
        one(&pci_with("{slot:02x}", "{slot:q}")),
        (
            5,
            40,
            "unknown format specifier `q` for field `slot`; expected `x`, `X`, `a`, a width like `04x` or none"
                .into()
        )
    );
    assert_eq!(
        one(&pci_with("{domain:04x}:{bus:02x}", "{domain:x}{bus:02x}")),
        (
            5,
            11,
            "fields `domain` and `bus` are adjacent and cannot be told apart; put literal text between them"
                .into()
        )
    );
    // A string with escapes: the whole string.
    assert_eq!(
        one(&pci_with(
            "\"{domain:04x}:{bus:02x}:{slot:02x}.{function:x}\"",
            "\"{domain:04x}\\u003a{bus:02x}:{slot:02x}.{function}{x}\""
        )),
        (
            5,
            10,
            "format names unknown field `x`; the fields are `domain`, `bus`, `slot`, `function`"
                .into()
        )
    );
    assert_eq!(
        one(&pci_with(".{function:x}", "")),
        (5, 11, "format omits field `function`".into())
    );
}

#[test]
fn pool_errors() {
    assert_eq!(
        one(&pci_with("slot=1..=31\"", "slot=1..=32\"")),
        (
            26,
            1,
            "invalid pool pattern `domain=0, bus=0, slot=1..=32`: field `slot` value 32 is out of range 0..=31"
                .into()
        )
    );
    assert_eq!(
        one(&pci_with("slot=1..=31\"", "solt=1\"")),
        (
            26,
            1,
            "invalid pool pattern `domain=0, bus=0, solt=1`: unknown field `solt`; did you mean `slot`?"
                .into()
        )
    );
    let src = format!("{PCI}\n[[address.pool]]\npattern = \"domain=0, bus=0, slot=31\"\n");
    let errs = Schema::from_toml(&src).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line_col(&src), Some((30, 1)));
    assert_eq!(
        errs[0].message,
        "pool `domain=0, bus=0, slot=31` overlaps pool `domain=0, bus=0, slot=1..=31`"
    );
    assert_eq!(errs[0].notes[0].message, "the other pool is declared here");
}

#[test]
fn bad_names() {
    assert_eq!(
        one(&pci_with("\"PciAddress\"", "\"Pci Address\"")),
        (
            2,
            1,
            "type name `Pci Address` is not a valid Rust identifier".into()
        )
    );
    assert_eq!(
        one(&pci_with("name = \"bus\"", "name = \"type\"")
            .replace("{bus:", "{type:")
            .replace("bus=0", "type=0")),
        (
            12,
            1,
            "field name `type` is not a valid Rust identifier".into()
        )
    );
    assert!(is_rust_identifier("PciAddress"));
    assert!(is_rust_identifier("_x1"));
    assert!(!is_rust_identifier("1x"));
    assert!(!is_rust_identifier("_"));
    assert!(!is_rust_identifier("self"));
    assert!(!is_rust_identifier(""));
}

#[test]
fn no_fields() {
    assert_eq!(
        one("[[address]]\nname = \"Empty\"\n"),
        (
            1,
            1,
            "address type `Empty` has no fields; add at least one".into()
        )
    );
}

#[test]
fn too_wide_and_too_many_fields() {
    let mut src = String::from("[[address]]\nname = \"Wide\"\n");
    for n in ["a", "b", "c"] {
        src.push_str(&format!(
            "[[address.field]]\nname = \"{n}\"\ntype = \"u64\"\n"
        ));
    }
    assert_eq!(
        one(&src),
        (
            1,
            1,
            "the fields of `Wide` need 192 bits together; at most 128 are supported".into()
        )
    );
    let mut src = String::from("[[address]]\nname = \"Many\"\n");
    for i in 0..17 {
        src.push_str(&format!(
            "[[address.field]]\nname = \"f{i}\"\ntype = \"u8\"\nrange = \"0..=1\"\n"
        ));
    }
    assert_eq!(
        one(&src),
        (
            67,
            1,
            "address type `Many` has 17 fields; at most 16 are supported".into()
        )
    );
}

#[test]
fn all_errors_are_collected() {
    let src = pci_with("format = ", "fromat = ")
        .replace("\"u8\"\nrange = \"0..=31\"", "\"u7\"\nrange = \"0..=31\"")
        .replace("tags = ", "tag = ");
    let d = diags(&src);
    let msgs: Vec<&str> = d.iter().map(|d| d.2.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "unknown key `fromat` in `[[address]]`; did you mean `format`?",
            "unknown field type `u7`; expected `u8`, `u16`, `u32`, `u64` or `u128`",
            "unknown key `tag` in `[[address.pool]]`; did you mean `tags`?",
        ]
    );
}

#[test]
fn model_built_by_hand() {
    let mut t = TypeDef::new("Drive");
    t.fields = vec![
        FieldDef::new("controller", FieldType::U8).with_range(0, 3),
        FieldDef::new("unit", FieldType::U8).with_range(0, 1),
    ];
    t.format = Some("{controller}.{unit}".into());
    t.pools.push(PoolDef::new("controller=0"));
    assert!(t.check().is_empty());
    assert_eq!(t.format().to_string(&[1, 0]), "1.0");
    // Without spans, diagnostics have none.
    t.fields.push(FieldDef::new("unit", FieldType::U8));
    let d = t.check();
    assert_eq!(d[0].message, "duplicate field `unit`");
    assert_eq!(d[0].span, None);
    assert_eq!(d[0].line_col("anything"), None);
    assert_eq!(d[0].render("x.toml", ""), "x.toml: duplicate field `unit`");
}

#[test]
fn field_types() {
    for t in FieldType::ALL {
        assert_eq!(FieldType::from_name(t.name()), Some(t));
        assert_eq!(t.max_value(), u128::MAX >> (128 - t.bits()));
    }
    assert_eq!(FieldType::from_name("i8"), None);
    assert_eq!(FieldType::narrowest_for(256), FieldType::U16);
}

#[test]
fn render_with_path() {
    let src = pci_with("format = ", "fromat = ");
    let d = &Schema::from_toml(&src).unwrap_err()[0];
    assert_eq!(
        d.render("schemas/pci.toml", &src),
        "schemas/pci.toml:5:1: unknown key `fromat` in `[[address]]`; did you mean `format`?"
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_text_never_panics(s in "(\\[\\[address(\\.field|\\.pool)?\\]\\]\n|[a-z]{1,7} = (\"[{}a-z0-9:.=, ]{0,12}\"|[0-9]{1,3}|\\[\\])\n|[\\[\\]\"=#\n a-z0-9.{}]{1,5}){0,20}") {
            let _ = Schema::from_toml(&s);
            let _ = addralloc_runtime::dynamic::DynSchema::from_toml(&s);
        }

        #[test]
        fn mutated_schema_never_panics(cut in 0..PCI.len(), len in 0usize..8, insert in "[\\[\\]\"=.{}:a-z0-9\n]{0,4}") {
            let mut s = PCI.as_bytes().to_vec();
            let end = (cut + len).min(s.len());
            s.splice(cut..end, insert.bytes());
            if let Ok(s) = String::from_utf8(s) {
                if let Err(errs) = Schema::from_toml(&s) {
                    for e in errs {
                        // Spans lie in the text; positions resolve.
                        if let Some(sp) = &e.span {
                            prop_assert!(sp.start <= sp.end && sp.end <= s.len(), "{e:?}");
                        }
                        prop_assert!(!e.message.ends_with('.'), "{}", e.message);
                        let _ = e.render("x.toml", &s);
                    }
                }
            }
        }

        #[test]
        fn random_models_never_panic(
            fields in proptest::collection::vec(("[a-c]{1,2}", 0usize..5, any::<u128>(), any::<u128>()), 0..20),
            format in "[{}a-c:0-9xa.]{0,16}",
            pools in proptest::collection::vec("[a-c=0-9., *]{0,12}", 0..3),
        ) {
            let mut t = TypeDef::new("T");
            for (name, ty, a, b) in fields {
                let ty = FieldType::ALL[ty];
                t.fields.push(FieldDef::new(name, ty).with_range(a % 300, b % 300));
            }
            t.format = Some(format);
            t.pools = pools
                .into_iter()
                .map(PoolDef::new)
                .collect();
            let d = t.check();
            let _ = t.format();
            if d.is_empty() {
                let ty = std::sync::Arc::new(addralloc_runtime::dynamic::DynType::from_def(t).unwrap());
                let mut a = addralloc_runtime::dynamic::DynAllocator::with_default_pools(ty, Default::default()).unwrap();
                let _ = a.reserve_any();
            }
        }
    }
}
