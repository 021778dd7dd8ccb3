//! The format language: checks of format strings, printing, parsing, round trips.

use addralloc_runtime::format::__private::{parse_pieces, write_pieces, PieceRef, Radix, Spec};
use addralloc_runtime::format::Format;
use addralloc_runtime::Error;
use proptest::prelude::*;

type Fields = [(&'static str, u128, u128)];

const PCI: &Fields = &[
    ("domain", 0, 0xffff),
    ("bus", 0, 0xff),
    ("slot", 0, 31),
    ("function", 0, 7),
];
const PCI_FMT: &str = "{domain:04x}:{bus:02x}:{slot:02x}.{function:x}";

fn errors(text: &str, fields: &Fields) -> Vec<(String, core::ops::Range<usize>)> {
    Format::parse(text, fields)
        .unwrap_err()
        .into_iter()
        .map(|e| (e.message, e.span))
        .collect()
}

fn messages(text: &str, fields: &Fields) -> Vec<String> {
    errors(text, fields).into_iter().map(|e| e.0).collect()
}

fn parse_err(f: &Format, text: &str, fields: &Fields) -> String {
    f.parse_values(text, fields).unwrap_err().to_string()
}

// ----- checks of format strings ------------------------------------------------------

#[test]
fn unknown_field_with_suggestion() {
    let e = errors("{domain:04x}:{bux:02x}:{slot:02x}.{function:x}", PCI);
    assert_eq!(
        e,
        [(
            "format names unknown field `bux`; did you mean `bus`?".to_string(),
            14..17
        )]
    );
}

#[test]
fn unknown_field_without_suggestion_lists_fields() {
    assert_eq!(
        messages("{zzzzzz}:{bus}:{slot}.{function}:{domain}", PCI),
        ["format names unknown field `zzzzzz`; the fields are `domain`, `bus`, `slot`, `function`"]
    );
}

#[test]
fn omitted_and_repeated_fields() {
    let e = errors("{bus}:{bus}.{function}", PCI);
    assert_eq!(
        e,
        [
            ("format repeats field `bus`".to_string(), 7..10),
            ("format omits field `domain`".to_string(), 0..22),
            ("format omits field `slot`".to_string(), 0..22),
        ]
    );
}

#[test]
fn unknown_specifier() {
    let e = errors("{domain:q}:{bus}:{slot}.{function}", PCI);
    assert_eq!(
        e,
        [(
            "unknown format specifier `q` for field `domain`; expected `x`, `X`, `a`, a width like `04x` or none"
                .to_string(),
            8..9
        )]
    );
    assert_eq!(
        messages("{domain:x4}:{bus}:{slot}.{function}", PCI),
        ["unknown format specifier `x4` for field `domain`; expected `x`, `X`, `a`, a width like `04x` or none"]
    );
}

#[test]
fn letters_cannot_be_zero_padded() {
    assert_eq!(
        messages("sd{disk:03a}", &[("disk", 0, 1000)]),
        ["field `disk` is written in letters, which cannot be zero-padded; drop the leading `0`"]
    );
}

#[test]
fn all_errors_are_collected() {
    let m = messages("{bux}{slot:q}:{slot}", PCI);
    assert_eq!(
        m,
        [
            "format names unknown field `bux`; did you mean `bus`?",
            "unknown format specifier `q` for field `slot`; expected `x`, `X`, `a`, a width like `04x` or none",
            "format repeats field `slot`",
            "format omits field `domain`",
            "format omits field `function`",
        ]
    );
}

#[test]
fn braces() {
    assert_eq!(
        messages("{bus", &[("bus", 0, 1)]),
        ["unclosed `{` in format; write `{{` for a literal brace"]
    );
    assert_eq!(
        messages("{bus}}", &[("bus", 0, 1)]),
        ["unmatched `}` in format; write `}}` for a literal brace"]
    );
    assert_eq!(
        messages("{}{bus}", &[("bus", 0, 1)]),
        ["format has an empty placeholder; name a field, like `{bus}`"]
    );
    let f = Format::parse("{{{bus}}}", &[("bus", 0, 9)]).unwrap();
    assert_eq!(f.to_string(&[7]), "{7}");
    assert_eq!(f.parse_values("{7}", &[("bus", 0, 9)]).unwrap(), [7]);
}

#[test]
fn adjacent_fields() {
    let ab = &[("a", 0, 255), ("b", 0, 255)];
    assert_eq!(
        errors("{a}{b}", ab),
        [(
            "fields `a` and `b` are adjacent and cannot be told apart; put literal text between them"
                .to_string(),
            0..6
        )]
    );
    // Fixed widths tell them apart.
    let f = Format::parse("{a:02x}{b:02x}", ab).unwrap();
    assert_eq!(f.to_string(&[10, 31]), "0a1f");
    assert_eq!(f.parse_values("0a1F", ab).unwrap(), [10, 31]);
    assert_eq!(
        parse_err(&f, "0a", ab),
        "invalid address `0a` at column 3 (field `b`): expected a hexadecimal digit, found the end"
    );
    assert_eq!(
        parse_err(&f, "0g1f", ab),
        "invalid address `0g1f` at column 2 (field `a`): expected a hexadecimal digit"
    );
    // A zero-padded width too small for the range is not fixed.
    assert_eq!(
        messages("{a:01x}{b:02x}", ab),
        ["fields `a` and `b` are adjacent and cannot be told apart; put literal text between them"]
    );
    // Letters then decimal digits are disjoint.
    let disk = &[("disk", 0, 10_000), ("part", 1, 128)];
    let f = Format::parse("sd{disk:a}{part}", disk).unwrap();
    assert_eq!(f.to_string(&[27, 3]), "sdab3");
    assert_eq!(f.parse_values("sdab3", disk).unwrap(), [27, 3]);
    // Hex then letters overlap.
    assert_eq!(
        messages("{a:x}{b:a}", ab),
        ["fields `a` and `b` are adjacent and cannot be told apart; put literal text between them"]
    );
    // A literal starting with a possible digit does not separate.
    assert_eq!(
        messages("{a:x}b{b}", ab),
        ["field `a` is followed by `b`, which can be read as one of its digits; start the literal text with another character or give the field a fixed width"]
    );
    // ... unless the field has a fixed width.
    let f = Format::parse("{a:02x}b{b}", ab).unwrap();
    assert_eq!(f.parse_values("0bb12", ab).unwrap(), [11, 12]);
    // Ranges that print at one width are fixed without padding.
    let f = Format::parse("{a}{b}", &[("a", 0, 9), ("b", 0, 255)]).unwrap();
    assert_eq!(
        f.parse_values("7255", &[("a", 0, 9), ("b", 0, 255)])
            .unwrap(),
        [7, 255]
    );
}

#[test]
fn default_format() {
    let f = Format::default_for(PCI);
    assert_eq!(f.to_string(&[0, 1, 2, 3]), "0:1:2:3");
    assert_eq!(f.parse_values("0:1:31:7", PCI).unwrap(), [0, 1, 31, 7]);
    assert_eq!(f.source(PCI), "{domain}:{bus}:{slot}:{function}");
}

#[test]
fn source_round_trips() {
    for text in [
        PCI_FMT,
        "{domain:4}-{bus:X}/{slot:3x}.{function}",
        "x{{{domain}}}{bus:03}{slot:02}{function}",
    ] {
        let f = Format::parse(text, PCI).unwrap();
        assert_eq!(f.source(PCI), text);
        assert_eq!(Format::parse(&f.source(PCI), PCI).unwrap(), f);
    }
}

// ----- printing and parsing ----------------------------------------------------------

#[test]
fn pci_print_and_parse() {
    let f = Format::parse(PCI_FMT, PCI).unwrap();
    let mut s = String::new();
    f.write(&[0, 0, 3, 1], &mut s).unwrap();
    assert_eq!(s, "0000:00:03.1");
    assert_eq!(f.parse_values("0000:00:03.1", PCI).unwrap(), [0, 0, 3, 1]);
    // Either case, fewer and more digits than the padded width.
    assert_eq!(
        f.parse_values("ABCD:Fe:1f.7", PCI).unwrap(),
        [0xabcd, 0xfe, 31, 7]
    );
    assert_eq!(f.parse_values("0:0:3.1", PCI).unwrap(), [0, 0, 3, 1]);
    assert_eq!(
        f.parse_values("00000:000:003.1", PCI).unwrap(),
        [0, 0, 3, 1]
    );
    // A missing value cannot be written.
    assert!(f.write(&[0, 0, 3], &mut String::new()).is_err());
}

#[test]
fn pci_parse_errors() {
    let f = Format::parse("{bus:02x}:{slot:02x}.{function:x}", &PCI[1..]).unwrap();
    let fl = &PCI[1..];
    assert_eq!(
        parse_err(&f, "00:1g.0", fl),
        "invalid address `00:1g.0` at column 5 (field `slot`): expected a hexadecimal digit"
    );
    assert_eq!(
        parse_err(&f, "00:20.0", fl),
        "invalid address `00:20.0` at column 4 (field `slot`): `20` is out of range 0x0..=0x1f"
    );
    assert_eq!(
        parse_err(&f, "00::0", fl),
        "invalid address `00::0` at column 4 (field `slot`): expected a hexadecimal digit"
    );
    assert_eq!(
        parse_err(&f, "00:01.", fl),
        "invalid address `00:01.` at column 7 (field `function`): expected a hexadecimal digit, found the end"
    );
    assert_eq!(
        parse_err(&f, "00:01.0 ", fl),
        "invalid address `00:01.0 ` at column 8: unexpected trailing text ` `"
    );
    assert_eq!(
        parse_err(&f, "00:01g.0", fl),
        "invalid address `00:01g.0` at column 6: expected `.`, found `g`"
    );
    assert_eq!(
        parse_err(&f, "00:01.7x", fl),
        "invalid address `00:01.7x` at column 8: unexpected trailing text `x`"
    );
    assert_eq!(
        parse_err(&f, "00:01,0", fl),
        "invalid address `00:01,0` at column 6: expected `.`, found `,`"
    );
    assert_eq!(
        parse_err(&f, "00:01", fl),
        "invalid address `00:01` at column 6: expected `.`, found the end"
    );
    assert_eq!(
        parse_err(&f, "", fl),
        "invalid address `` at column 1 (field `bus`): expected a hexadecimal digit, found the end"
    );
    assert_eq!(
        parse_err(&f, "00:01.8", fl),
        "invalid address `00:01.8` at column 7 (field `function`): `8` is out of range 0x0..=0x7"
    );
    // Overflow of u128 is out of range, not a panic.
    let err = f
        .parse_values("1000000000000000000000000000000000000:01.0", fl)
        .unwrap_err();
    assert!(matches!(err, Error::Parse { column: 1, .. }), "{err}");
    // Columns count characters.
    assert_eq!(
        parse_err(&f, "00:é", fl),
        "invalid address `00:é` at column 4 (field `slot`): expected a hexadecimal digit"
    );
}

#[test]
fn error_fields() {
    let f = Format::parse(PCI_FMT, PCI).unwrap();
    match f.parse_values("0000:00:1g.0", PCI) {
        Err(Error::Parse {
            input,
            field,
            column,
            reason,
        }) => {
            assert_eq!(input, "0000:00:1g.0");
            assert_eq!(field.as_deref(), Some("slot"));
            assert_eq!(column, 10);
            assert_eq!(reason, "expected a hexadecimal digit");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn decimal_width_and_space_padding() {
    let fl = &[("a", 0, 255), ("b", 0, 255)];
    let f = Format::parse("{a:3}|{b:03}", fl).unwrap();
    assert_eq!(f.to_string(&[7, 7]), "  7|007");
    assert_eq!(f.parse_values("  7|007", fl).unwrap(), [7, 7]);
    assert_eq!(f.parse_values("7|7", fl).unwrap(), [7, 7]);
    assert_eq!(f.parse_values("255|255", fl).unwrap(), [255, 255]);
    assert_eq!(
        parse_err(&f, "256|0", fl),
        "invalid address `256|0` at column 1 (field `a`): `256` is out of range 0..=255"
    );
}

#[test]
fn upper_hex() {
    let fl = &[("a", 0, 0xffff)];
    let f = Format::parse("0x{a:X}", fl).unwrap();
    assert_eq!(f.to_string(&[0xbeef]), "0xBEEF");
    assert_eq!(f.parse_values("0xbeef", fl).unwrap(), [0xbeef]);
}

#[test]
fn bijective_letters() {
    let fl = &[("disk", 0, u128::MAX)];
    let f = Format::parse("sd{disk:a}", fl).unwrap();
    for (v, s) in [
        (0, "sda"),
        (1, "sdb"),
        (25, "sdz"),
        (26, "sdaa"),
        (51, "sdaz"),
        (52, "sdba"),
        (701, "sdzz"),
        (702, "sdaaa"),
        (18277, "sdzzz"),
        (18278, "sdaaaa"),
    ] {
        assert_eq!(f.to_string(&[v]), s, "{v}");
        assert_eq!(f.parse_values(s, fl).unwrap(), [v], "{s}");
    }
    let max = f.to_string(&[u128::MAX]);
    assert_eq!(f.parse_values(&max, fl).unwrap(), [u128::MAX]);
    let err = f.parse_values(&format!("{max}a"), fl).unwrap_err();
    assert!(matches!(err, Error::Parse { column: 3, .. }), "{err}");
    let small = &[("disk", 0, 25)];
    let f = Format::parse("vd{disk:a}", small).unwrap();
    assert_eq!(
        parse_err(&f, "vdaa", small),
        "invalid address `vdaa` at column 3 (field `disk`): `aa` is out of range `a`..=`z`"
    );
    assert_eq!(
        parse_err(&f, "vxa", small),
        "invalid address `vxa` at column 2: expected `vd`, found `x`"
    );
    assert_eq!(
        parse_err(&f, "v", small),
        "invalid address `v` at column 2: expected `vd`, found the end"
    );
    assert_eq!(
        parse_err(&f, "vdA", small),
        "invalid address `vdA` at column 3 (field `disk`): expected a lower case letter"
    );
}

#[test]
fn nonzero_minimum() {
    let fl = &[("port", 1, 31)];
    let f = Format::parse("p{port}", fl).unwrap();
    assert_eq!(
        parse_err(&f, "p0", fl),
        "invalid address `p0` at column 2 (field `port`): `0` is out of range 1..=31"
    );
    assert_eq!(f.parse_values("p31", fl).unwrap(), [31]);
}

#[test]
fn static_pieces() {
    const PIECES: &[PieceRef<'static>] = &[
        PieceRef::Field(Spec {
            field: 0,
            radix: Radix::Decimal,
            width: 0,
            zero_pad: false,
        }),
        PieceRef::Literal("."),
        PieceRef::Field(Spec {
            field: 1,
            radix: Radix::LowerHex,
            width: 2,
            zero_pad: true,
        }),
    ];
    let fl = &[("a", 0, 255), ("b", 0, 255)];
    let mut s = String::new();
    write_pieces(PIECES, &[3, 10], &mut s).unwrap();
    assert_eq!(s, "3.0a");
    assert_eq!(parse_pieces(PIECES, "3.0a", fl).unwrap(), [3, 10]);
    let f = Format::parse("{a}.{b:02x}", fl).unwrap();
    assert_eq!(f.piece_refs(), PIECES);
}

// ----- properties --------------------------------------------------------------------

type FieldList = Vec<(&'static str, u128, u128)>;

fn formats() -> Vec<(&'static str, FieldList)> {
    vec![
        (PCI_FMT, PCI.to_vec()),
        (
            "{a}.{b}.{c}.{d}",
            vec![("a", 0, 255), ("b", 0, 255), ("c", 0, 255), ("d", 0, 255)],
        ),
        (
            "{a:02x}{b:02X}{c:02x}-{d:x}",
            vec![
                ("a", 0, 255),
                ("b", 0, 255),
                ("c", 0, 255),
                ("d", 0, u128::MAX),
            ],
        ),
        (
            "sd{disk:a}{part}",
            vec![("disk", 0, 100_000), ("part", 1, 128)],
        ),
        (
            "{a:5}|{b:3a}|{c:08X}",
            vec![
                ("a", 3, 70_000),
                ("b", 0, 1 << 20),
                ("c", 0, u64::MAX as u128),
            ],
        ),
        ("{a}{b:03}{{x}}", vec![("a", 0, 9), ("b", 100, 999)]),
        ("ip6-{a:x}:{b:x}", vec![("a", 0, u128::MAX), ("b", 5, 6)]),
    ]
}

fn value_in(min: u128, max: u128) -> impl Strategy<Value = u128> {
    prop_oneof![
        Just(min),
        Just(max),
        any::<u128>().prop_map(move |x| match (max - min).checked_add(1) {
            Some(n) => min + x % n,
            None => x,
        }),
        (0u128..1000).prop_map(move |x| min.saturating_add(x).min(max)),
    ]
}

fn case() -> impl Strategy<Value = (usize, Vec<u128>)> {
    (0..formats().len()).prop_flat_map(|k| {
        let fields = formats()[k].1.clone();
        let values: Vec<_> = fields.iter().map(|&(_, lo, hi)| value_in(lo, hi)).collect();
        (Just(k), values)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_inverts_write((k, values) in case()) {
        let (text, fields) = &formats()[k];
        let f = Format::parse(text, fields).unwrap();
        let s = f.to_string(&values);
        prop_assert_eq!(f.parse_values(&s, fields).unwrap(), values.clone());
        // Hex in the other case parses too.
        if k == 0 || k == 2 {
            let upper = s.to_uppercase();
            prop_assert_eq!(f.parse_values(&upper, fields).unwrap(), values);
        }
    }

    #[test]
    fn random_text_never_panics(k in 0..7usize, s in ".{0,40}") {
        let (text, fields) = &formats()[k];
        let f = Format::parse(text, fields).unwrap();
        if let Ok(v) = f.parse_values(&s, fields) {
            // Anything accepted is in range and prints to something that parses the same.
            for (x, &(_, lo, hi)) in v.iter().zip(fields.iter()) {
                prop_assert!(*x >= lo && *x <= hi);
            }
            prop_assert_eq!(f.parse_values(&f.to_string(&v), fields).unwrap(), v);
        }
    }

    #[test]
    fn random_address_like_text_never_panics(k in 0..7usize, s in "[0-9a-fA-F:.|{}x -]{0,40}") {
        let (text, fields) = &formats()[k];
        let f = Format::parse(text, fields).unwrap();
        let _ = f.parse_values(&s, fields);
    }

    #[test]
    fn random_format_strings_never_panic(s in "[{}a-d:0-9xXq.]{0,24}") {
        let fields = [("a", 0, 255), ("b", 0, 7), ("c", 0, u128::MAX), ("d", 10, 20)];
        if let Ok(f) = Format::parse(&s, &fields) {
            let s2 = f.source(&fields);
            prop_assert_eq!(Format::parse(&s2, &fields).unwrap(), f.clone());
            let text = f.to_string(&[1, 2, 3, 15]);
            prop_assert_eq!(f.parse_values(&text, &fields).unwrap(), vec![1, 2, 3, 15]);
        }
    }

    /// Formats built from random specifiers and separators: whatever the checker
    /// accepts must read back every value it prints.
    #[test]
    fn accepted_formats_round_trip(
        order in Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        specs in proptest::collection::vec(0..SPECS.len(), 4),
        seps in proptest::collection::vec(0..SEPS.len(), 5),
        raw in proptest::collection::vec(any::<u128>(), 4),
    ) {
        let fields = [("a", 0, 255), ("b", 0, 7), ("c", 0, u128::MAX), ("d", 10, 20)];
        let mut text = String::from(SEPS[seps[0]]);
        for (k, &i) in order.iter().enumerate() {
            text.push_str(&format!("{{{}{}}}", fields[i].0, SPECS[specs[k]]));
            text.push_str(SEPS[seps[k + 1]]);
        }
        if let Ok(f) = Format::parse(&text, &fields) {
            let values: Vec<u128> = fields
                .iter()
                .zip(&raw)
                .map(|(&(_, lo, hi), x)| match (hi - lo).checked_add(1) {
                    Some(n) => lo + x % n,
                    None => *x,
                })
                .collect();
            let printed = f.to_string(&values);
            prop_assert_eq!(f.parse_values(&printed, &fields).unwrap(), values, "{} printed {}", text, printed);
        }
    }
}

const SPECS: &[&str] = &[
    "", ":x", ":X", ":a", ":02x", ":3", ":04", ":2a", ":03X", ":1", ":40",
];
const SEPS: &[&str] = &["", ":", ".", "-", "b", "{{", "9", " ", "x", "g"];

// ----- optional trailing fields --------------------------------------------------------

const USB: &Fields = &[
    ("bus", 0, 255),
    ("p1", 1, 15),
    ("p2", 0, 15),
    ("p3", 0, 15),
    ("p4", 0, 15),
];
const USB_FMT: &str = "{bus}-{p1}.{p2?}.{p3?}.{p4?}";

#[test]
fn optional_fields_print_up_to_the_last_present() {
    let f = Format::parse(USB_FMT, USB).unwrap();
    assert!(f.has_optional());
    assert_eq!(f.source(USB), USB_FMT);
    for (values, text) in [
        ([0, 1, 0, 0, 0], "0-1"),
        ([0, 1, 2, 0, 0], "0-1.2"),
        ([3, 15, 2, 7, 0], "3-15.2.7"),
        ([255, 4, 1, 2, 3], "255-4.1.2.3"),
    ] {
        assert_eq!(f.to_string(&values), text);
        let mut s = String::new();
        f.write(&values, &mut s).unwrap();
        assert_eq!(s, text);
        assert_eq!(f.parse_values(text, USB).unwrap(), values);
        assert!(f.check_present(&values, USB).is_ok());
    }
    // A gap is not an address; printing it shows the zero, which does not parse back.
    let gap = [0, 1, 0, 5, 0];
    assert_eq!(f.to_string(&gap), "0-1.0.5");
    assert_eq!(
        f.check_present(&gap, USB).unwrap_err(),
        Error::AbsentBefore {
            field: "p3".into(),
            value: 5,
            absent: "p2".into()
        }
    );
    assert!(f.parse_values("0-1.0.5", USB).is_err());
    // Formats without optional fields accept every value.
    let pci = Format::parse(PCI_FMT, PCI).unwrap();
    assert!(!pci.has_optional());
    assert!(pci.check_present(&[0, 0, 0, 0], PCI).is_ok());
}

#[test]
fn optional_fields_bad_text() {
    let f = Format::parse(USB_FMT, USB).unwrap();
    for (text, message) in [
        (
            "0-1.0",
            "invalid address `0-1.0` at column 5 (field `p2`): 0 means the optional field `p2` is absent; leave it out, with the text before it",
        ),
        (
            "0-1.",
            "invalid address `0-1.` at column 5 (field `p2`): expected a decimal digit, found the end",
        ),
        (
            "0-1.2.16",
            "invalid address `0-1.2.16` at column 7 (field `p3`): `16` is out of range 0..=15",
        ),
        (
            "0-1.2.3.4.5",
            "invalid address `0-1.2.3.4.5` at column 10: unexpected trailing text `.5`",
        ),
        (
            "0-1:2",
            "invalid address `0-1:2` at column 4: expected `.`, found `:`",
        ),
        (
            "0-",
            "invalid address `0-` at column 3 (field `p1`): expected a decimal digit, found the end",
        ),
        (
            "0-0",
            "invalid address `0-0` at column 3 (field `p1`): `0` is out of range 1..=15",
        ),
        (
            "0-1.x",
            "invalid address `0-1.x` at column 5 (field `p2`): expected a decimal digit",
        ),
        (
            "0-1.00",
            "invalid address `0-1.00` at column 5 (field `p2`): 0 means the optional field `p2` is absent; leave it out, with the text before it",
        ),
    ] {
        assert_eq!(parse_err(&f, text, USB), message, "{text}");
    }
}

#[test]
fn optional_field_layout_errors() {
    let two = &[("a", 0, 9), ("b", 1, 9)][..];
    assert_eq!(
        errors("{a}.{b?}", two),
        [(
            "optional field `b` must have 0 in its range (0 means absent); its range is 1..=9"
                .to_string(),
            4..8
        )]
    );
    let ab = &[("a", 0, 9), ("b", 0, 9), ("c", 0, 9)][..];
    assert_eq!(
        errors("{a}{b?:x}.{c}", ab),
        [
            (
                "optional field `b` must come after a field and literal text, which is printed only when it is present, like `{bus}.{b?}`"
                    .to_string(),
                3..9
            ),
            (
                "field `c` follows the optional field `b`; optional fields must be trailing: mark it `{c?}` or move it before"
                    .to_string(),
                10..13
            ),
        ]
    );
    assert_eq!(
        messages("x{a?}.{b}.{c}", ab),
        [
            "optional field `a` must come after a field and literal text, which is printed only when it is present, like `{bus}.{a?}`",
            "field `b` follows the optional field `a`; optional fields must be trailing: mark it `{b?}` or move it before",
            "field `c` follows the optional field `a`; optional fields must be trailing: mark it `{c?}` or move it before",
        ]
    );
    assert_eq!(
        errors("{a}.{b?}.{c?}]", ab),
        [(
            "literal text `]` after the optional field `b` would be printed only with it; end the format with the last optional field"
                .to_string(),
            13..14
        )]
    );
    // The name is checked without its `?`.
    assert_eq!(
        messages("{a}.{bb?}.{c?}", ab),
        ["format names unknown field `bb`; did you mean `b`?"]
    );
    // Hexadecimal, padded and letter optional fields are fine.
    let ab = &[("a", 0, 9), ("b", 0, 255), ("c", 0, 100)][..];
    let f = Format::parse("{a}.{b?:02x}-{c?:a}", ab).expect("optional hex and letters");
    assert_eq!(f.source(ab), "{a}.{b?:02x}-{c?:a}");
    assert_eq!(f.to_string(&[1, 10, 0]), "1.0a");
    assert_eq!(f.to_string(&[1, 0, 0]), "1");
    assert_eq!(f.to_string(&[1, 1, 2]), "1.01-c");
    assert_eq!(f.parse_values("1.0A", ab).unwrap(), [1, 10, 0]);
}

fn usb_values() -> impl Strategy<Value = Vec<u128>> {
    (
        0u128..=255,
        1u128..=15,
        0usize..=3,
        proptest::collection::vec(1u128..=15, 3),
    )
        .prop_map(|(bus, p1, depth, deeper)| {
            let mut v = vec![bus, p1, 0, 0, 0];
            for (i, p) in deeper.into_iter().take(depth).enumerate() {
                v[2 + i] = p;
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn optional_fields_round_trip(values in usb_values()) {
        let f = Format::parse(USB_FMT, USB).unwrap();
        prop_assert!(f.check_present(&values, USB).is_ok());
        let text = f.to_string(&values);
        prop_assert_eq!(f.parse_values(&text, USB).unwrap(), values);
    }

    #[test]
    fn optional_fields_random_text_never_panics(s in "[0-9.x-]{0,16}") {
        let f = Format::parse(USB_FMT, USB).unwrap();
        if let Ok(values) = f.parse_values(&s, USB) {
            prop_assert!(f.check_present(&values, USB).is_ok());
            prop_assert_eq!(f.parse_values(&f.to_string(&values), USB).unwrap(), values);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Random format strings with optional fields never panic; those accepted print
    /// and parse back every value without a gap.
    #[test]
    fn random_optional_formats(
        s in "[{}a-c?:0-9x.\\-]{0,20}",
        raw in proptest::collection::vec(any::<u128>(), 3),
    ) {
        let fields = [("a", 0, 300), ("b", 0, 15), ("c", 0, 99)];
        let Ok(f) = Format::parse(&s, &fields) else {
            return Ok(());
        };
        let mut values: Vec<u128> = raw
            .iter()
            .zip(&fields)
            .map(|(r, (_, lo, hi))| lo + r % (hi - lo + 1))
            .collect();
        while let Err(Error::AbsentBefore { field, .. }) = f.check_present(&values, &fields) {
            let i = fields.iter().position(|x| x.0 == field).unwrap();
            values[i] = 0;
        }
        let text = f.to_string(&values);
        prop_assert_eq!(f.parse_values(&text, &fields), Ok(values), "{} -> {}", s, text);
        prop_assert_eq!(Format::parse(&f.source(&fields), &fields), Ok(f.clone()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Built formats `{x}<sep>{y?:spec}<sep>{z?:spec}` with any field order, specifier
    /// and separator: accepted ones round-trip every value without a gap.
    #[test]
    fn built_optional_formats_round_trip(
        order in Just(vec![0usize, 1, 2]).prop_shuffle(),
        specs in proptest::collection::vec(0..5usize, 3),
        seps in proptest::collection::vec(0..4usize, 2),
        optional in 1..=2usize,
        raw in proptest::collection::vec(any::<u128>(), 3),
    ) {
        const NAMES: [&str; 3] = ["a", "b", "c"];
        const SPECS: [&str; 5] = ["", ":x", ":02X", ":a", ":3"];
        const SEPS: [&str; 4] = [".", "-", "/", ":"];
        let fields = [("a", 0, 300), ("b", 0, 15), ("c", 0, 99)];
        let mut s = String::new();
        for (i, &field) in order.iter().enumerate() {
            if i > 0 {
                s.push_str(SEPS[seps[i - 1]]);
            }
            let q = if i >= 3 - optional { "?" } else { "" };
            s.push_str(&format!("{{{}{q}{}}}", NAMES[field], SPECS[specs[i]]));
        }
        let f = match Format::parse(&s, &fields) {
            Ok(f) => f,
            // Only the adjacency rule (a letters field before `-`... none here) or a
            // space-padded field may be refused; never the optional layout.
            Err(e) => {
                prop_assert!(!e.iter().any(|e| e.message.contains("optional")), "{}: {:?}", s, e);
                return Ok(());
            }
        };
        prop_assert!(f.has_optional());
        let mut values: Vec<u128> = raw
            .iter()
            .zip(&fields)
            .map(|(r, (_, lo, hi))| lo + r % (hi - lo + 1))
            .collect();
        while let Err(Error::AbsentBefore { field, .. }) = f.check_present(&values, &fields) {
            let i = fields.iter().position(|x| x.0 == field).unwrap();
            values[i] = 0;
        }
        let text = f.to_string(&values);
        prop_assert_eq!(f.parse_values(&text, &fields), Ok(values), "{} -> {}", s, text);
    }
}
