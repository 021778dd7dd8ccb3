//! Optional trailing fields (`{p2?}`) agree across the three paths: a
//! `#[derive(AddressSpace)]` type, the bundled TOML type compiled by `include_schema!`
//! (`addralloc::schemas::UsbAddress`) and the run-time type (`DynSchema`), on good and
//! bad text, the checked constructors, and format-then-parse of every valid value.

use std::sync::Arc;

use addralloc::dynamic::{DynSchema, DynType};
use addralloc::schemas::UsbAddress;
use addralloc::{Address, AddressSpace, Error};
use proptest::prelude::*;

/// The same layout as `schemas/usb.toml`'s `UsbAddress`, derived.
#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[address(format = "{bus}-{p1}.{p2?}.{p3?}.{p4?}")]
struct UsbPath {
    bus: u8,
    #[address(range = 1..=15)]
    p1: u8,
    #[address(range = 0..=15)]
    p2: u8,
    #[address(range = 0..=15)]
    p3: u8,
    #[address(range = 0..=15)]
    p4: u8,
}

fn dyn_usb() -> Arc<DynType> {
    let schema = DynSchema::from_toml(include_str!("../schemas/usb.toml")).expect("usb.toml");
    Arc::clone(schema.get("UsbAddress").expect("UsbAddress"))
}

fn values<A: Address>(a: &A) -> Vec<u128> {
    (0..A::FIELDS.len()).map(|i| a.field(i)).collect()
}

/// Parses `text` three ways; the answers (values or error text) must agree.
fn parse3(text: &str) -> Result<Vec<u128>, String> {
    let derived = text.parse::<UsbPath>().map(|a| values(&a));
    let compiled = text.parse::<UsbAddress>().map(|a| values(&a));
    let run_time = dyn_usb().parse_address(text).map(|a| a.values().to_vec());
    let derived = derived.map_err(|e| e.to_string());
    assert_eq!(derived, compiled.map_err(|e| e.to_string()), "{text}");
    assert_eq!(derived, run_time.map_err(|e| e.to_string()), "{text}");
    derived
}

#[test]
fn good_text_agrees() {
    for (text, v) in [
        ("0-1", [0, 1, 0, 0, 0]),
        ("0-1.2", [0, 1, 2, 0, 0]),
        ("0-1.2.3", [0, 1, 2, 3, 0]),
        ("2-15.8.1.4", [2, 15, 8, 1, 4]),
    ] {
        assert_eq!(parse3(text), Ok(v.to_vec()));
        let a =
            UsbAddress::new(v[0] as u8, v[1] as u8, v[2] as u8, v[3] as u8, v[4] as u8).unwrap();
        assert_eq!(a.to_string(), text);
        let d = UsbPath::new(v[0] as u8, v[1] as u8, v[2] as u8, v[3] as u8, v[4] as u8).unwrap();
        assert_eq!(d.to_string(), text);
        assert_eq!(dyn_usb().format_values(&v), text);
    }
}

#[test]
fn bad_text_agrees() {
    for (text, message) in [
        ("0-1.0", "invalid address `0-1.0` at column 5 (field `p2`): 0 means the optional field `p2` is absent; leave it out, with the text before it"),
        ("0-1.0.5", "invalid address `0-1.0.5` at column 5 (field `p2`): 0 means the optional field `p2` is absent; leave it out, with the text before it"),
        ("0-1.", "invalid address `0-1.` at column 5 (field `p2`): expected a decimal digit, found the end"),
        ("0-1.2.3.4.5", "invalid address `0-1.2.3.4.5` at column 10: unexpected trailing text `.5`"),
        ("0-16", "invalid address `0-16` at column 3 (field `p1`): `16` is out of range 1..=15"),
        ("0", "invalid address `0` at column 2: expected `-`, found the end"),
        ("", "invalid address `` at column 1 (field `bus`): expected a decimal digit, found the end"),
        ("0-1 ", "invalid address `0-1 ` at column 4: expected `.`, found ` `"),
    ] {
        assert_eq!(parse3(text), Err(message.to_string()), "{text}");
    }
}

#[test]
fn checked_constructors_refuse_a_gap() {
    let message = "field `p3` is 5 but the optional field `p2` before it is 0 (absent); an absent optional field makes every later one absent";
    let gap = Error::AbsentBefore {
        field: "p3".into(),
        value: 5,
        absent: "p2".into(),
    };
    assert_eq!(UsbAddress::new(0, 1, 0, 5, 0), Err(gap.clone()));
    assert_eq!(UsbPath::new(0, 1, 0, 5, 0), Err(gap.clone()));
    assert_eq!(dyn_usb().address(&[0, 1, 0, 5, 0]).unwrap_err(), gap);
    assert_eq!(gap.to_string(), message);
    assert!(matches!(
        UsbAddress::new(0, 1, 2, 0, 4),
        Err(Error::AbsentBefore { .. })
    ));
    // Built without the checks, a gap prints its zero (and does not parse back).
    let raw = UsbPath {
        bus: 0,
        p1: 1,
        p2: 0,
        p3: 5,
        p4: 0,
    };
    assert_eq!(raw.to_string(), "0-1.0.5");
    assert!("0-1.0.5".parse::<UsbPath>().is_err());
}

fn valid() -> impl Strategy<Value = [u8; 5]> {
    (
        any::<u8>(),
        1u8..=15,
        0usize..=3,
        [1u8..=15, 1u8..=15, 1u8..=15],
    )
        .prop_map(|(bus, p1, depth, deeper)| {
            let mut v = [bus, p1, 0, 0, 0];
            v[2..2 + depth].copy_from_slice(&deeper[..depth]);
            v
        })
}

proptest! {
    #[test]
    fn every_valid_value_round_trips([bus, p1, p2, p3, p4] in valid()) {
        let a = UsbAddress::new(bus, p1, p2, p3, p4).unwrap();
        let d = UsbPath::new(bus, p1, p2, p3, p4).unwrap();
        let text = a.to_string();
        prop_assert_eq!(d.to_string(), text.clone());
        prop_assert_eq!(dyn_usb().format_values(&values(&a)), text.clone());
        prop_assert_eq!(text.parse::<UsbAddress>(), Ok(a));
        prop_assert_eq!(parse3(&text), Ok(values(&a)));
    }

    #[test]
    fn random_text_agrees(s in "[0-9.\\-x ]{0,14}") {
        let _ = parse3(&s);
    }
}

/// Optional fields in hexadecimal, zero-padded and letters, after a fixed-width field:
/// the generated parser and printer agree with the runtime's.
#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[address(format = "{a:02x}.{b?:02X}-{c?:a}")]
struct Mixed {
    a: u8,
    #[address(range = 0..=300)]
    b: u16,
    #[address(range = 0..=1000)]
    c: u32,
}

fn mixed_runtime() -> addralloc::format::Format {
    addralloc::format::Format::parse(
        "{a:02x}.{b?:02X}-{c?:a}",
        &[("a", 0, 255), ("b", 0, 300), ("c", 0, 1000)],
    )
    .expect("the format checks")
}

#[test]
fn mixed_optional_fields() {
    let fields = [("a", 0, 255), ("b", 0, 300), ("c", 0, 1000)];
    for (text, v) in [
        ("0a", [10, 0, 0]),
        ("ff.0A", [255, 10, 0]),
        ("00.12C-b", [0, 300, 1]),
    ] {
        let m: Mixed = text.parse().unwrap();
        assert_eq!(values(&m), v);
        assert_eq!(mixed_runtime().parse_values(text, &fields).unwrap(), v);
        assert_eq!(m.to_string(), text);
    }
}

proptest! {
    #[test]
    fn mixed_fast_path_agrees_with_the_runtime(s in "[0-9a-fA-F.\\- ]{0,12}") {
        let fields = [("a", 0, 255), ("b", 0, 300), ("c", 0, 1000)];
        let derived = s.parse::<Mixed>().map(|m| values(&m)).map_err(|e| e.to_string());
        let run_time = mixed_runtime().parse_values(&s, &fields).map_err(|e| e.to_string());
        prop_assert_eq!(&derived, &run_time);
        if let Ok(v) = derived {
            let m = Mixed::new(v[0] as u8, v[1] as u16, v[2] as u32).unwrap();
            prop_assert_eq!(m.to_string(), mixed_runtime().to_string(&v));
        }
    }

    #[test]
    fn mixed_round_trips(a in any::<u8>(), depth in 0usize..=2, b in 1u16..=300, c in 1u32..=1000) {
        let (b, c) = match depth { 0 => (0, 0), 1 => (b, 0), _ => (b, c) };
        let m = Mixed::new(a, b, c).unwrap();
        prop_assert_eq!(m.to_string().parse::<Mixed>(), Ok(m));
        prop_assert_eq!(m.to_string(), mixed_runtime().to_string(&values(&m)));
    }
}
