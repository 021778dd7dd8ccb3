//! The generated API of `#[derive(AddressSpace)]`, end to end with a real allocator.

use addralloc::{Address, AddressSpace, Allocator, Block, Error, Field, Pattern};

/// The PCI address of DESIGN.md.
#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[address(format = "{domain:04x}:{bus:02x}:{slot:02x}.{function:x}")]
#[address(pool(pattern = "domain=0, bus=0, slot=1..=31", tags = ["pci"]))]
pub struct PciAddress {
    pub domain: u16,
    pub bus: u8,
    #[address(range = 0..=31)]
    pub slot: u8,
    #[address(range = 0..=7)]
    pub function: u8,
}

fn pci(domain: u16, bus: u8, slot: u8, function: u8) -> PciAddress {
    PciAddress {
        domain,
        bus,
        slot,
        function,
    }
}

#[test]
fn address_metadata() {
    assert_eq!(
        PciAddress::FIELDS,
        &[
            Field::new("domain", 0, 0xffff),
            Field::new("bus", 0, 0xff),
            Field::new("slot", 0, 31),
            Field::new("function", 0, 7),
        ]
    );
    let a = pci(1, 2, 3, 4);
    assert_eq!((0..4).map(|i| a.field(i)).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(PciAddress::from_fields(&[1, 2, 3, 4]), a);
    assert_eq!(PciAddress::try_from_fields(&[1, 2, 3, 4]), Ok(a));
}

#[test]
fn display_and_from_str_round_trip() {
    let a = pci(0, 0, 0x1f, 7);
    assert_eq!(a.to_string(), "0000:00:1f.7");
    assert_eq!("0000:00:1f.7".parse::<PciAddress>(), Ok(a));
    assert_eq!("0000:00:1F.7".parse::<PciAddress>(), Ok(a));
    // Fewer digits than the padded width, and more.
    assert_eq!("0:0:1f.7".parse::<PciAddress>(), Ok(a));
    assert_eq!("00000:000:01f.7".parse::<PciAddress>(), Ok(a));
    for a in [
        pci(0xffff, 0xff, 31, 7),
        pci(0, 0, 0, 0),
        pci(0x1234, 0xab, 9, 3),
    ] {
        assert_eq!(a.to_string().parse::<PciAddress>(), Ok(a));
    }
}

fn parse_err(s: &str) -> String {
    s.parse::<PciAddress>().unwrap_err().to_string()
}

#[test]
fn from_str_errors() {
    assert_eq!(
        parse_err("0000:00:1g.0"),
        "invalid address `0000:00:1g.0` at column 10 (field `slot`): expected a hexadecimal digit"
    );
    assert_eq!(
        parse_err("0000:00:20.0"),
        "invalid address `0000:00:20.0` at column 9 (field `slot`): `20` is out of range 0x0..=0x1f"
    );
    assert_eq!(
        parse_err("0000:00:1f.8"),
        "invalid address `0000:00:1f.8` at column 12 (field `function`): `8` is out of range 0x0..=0x7"
    );
    assert_eq!(
        parse_err("0000:00:1f"),
        "invalid address `0000:00:1f` at column 11: expected `.`, found the end"
    );
    assert_eq!(
        parse_err("0000::1f.0"),
        "invalid address `0000::1f.0` at column 6 (field `bus`): expected a hexadecimal digit"
    );
    assert_eq!(
        parse_err("0000:00:1f.0 "),
        "invalid address `0000:00:1f.0 ` at column 13: unexpected trailing text ` `"
    );
    assert_eq!(
        parse_err(""),
        "invalid address `` at column 1 (field `domain`): expected a hexadecimal digit, found the end"
    );
    assert!(matches!(
        "10000:00:00.0".parse::<PciAddress>(),
        Err(Error::Parse { field: Some(f), column: 1, .. }) if f == "domain"
    ));
}

#[test]
fn from_str_never_panics() {
    for s in [
        "",
        ":",
        "::.",
        "ffffffffffffffffffffffffffffffffffffffffffff:0:0.0",
        "é",
        "0:0:0.é",
        "0:0:0.0é",
        "\u{0}",
        "0:0:0.",
        "0:0:.0",
        "0:0:0.0.0",
        "{}",
        "0x0:0:0.0",
    ] {
        let _ = s.parse::<PciAddress>();
    }
}

#[test]
fn new_checks_ranges() {
    assert_eq!(PciAddress::new(0, 0, 31, 7), Ok(pci(0, 0, 31, 7)));
    let e = PciAddress::new(0, 0, 32, 0).unwrap_err();
    assert_eq!(
        e,
        Error::OutOfRange {
            field: "slot".into(),
            value: 32,
            min: 0,
            max: 31
        }
    );
    assert_eq!(
        e.to_string(),
        "field `slot` value 32 is out of range 0..=31"
    );
    assert_eq!(
        PciAddress::new(0, 0, 0, 9).unwrap_err().to_string(),
        "field `function` value 9 is out of range 0..=7"
    );
}

#[test]
fn pattern_builder() {
    let p: Pattern<PciAddress> = PciAddress::pattern().bus(0).slot(1..=31).into();
    assert_eq!(p, "bus=0, slot=1..=31".parse().unwrap());
    // Hex fields print in hex (values below 10 are the same digits).
    assert_eq!(p.to_string(), "bus=0, slot=1..=0x1f");
    let p: Pattern<PciAddress> = PciAddress::pattern().slot(4..8).function(..=3).into();
    assert_eq!(p.to_string(), "slot=4..=7, function=0..=3");
    let p: Pattern<PciAddress> = PciAddress::pattern().slot(40).into();
    assert_eq!(
        p.check().unwrap_err().to_string(),
        "field `slot` value 40 is out of range 0..=31"
    );
}

#[test]
fn block_builder() {
    let b: Block<PciAddress> = PciAddress::block().function(8).into();
    assert_eq!(b, Block::single().extent(3, 8));
    assert_eq!(b.to_string(), "function=8");
}

#[test]
fn allocator_end_to_end() -> Result<(), Error> {
    let mut alloc = Allocator::<PciAddress>::new();
    alloc.add_pool(PciAddress::pattern().domain(0).bus(0).slot(1..=31))?;
    alloc.owned_by("isa-bridge").reserve(pci(0, 0, 1, 0))?;
    assert_eq!(
        alloc.reserve(pci(0, 0, 1, 0)).unwrap_err().to_string(),
        "address 0000:00:01.0 is already reserved by `isa-bridge`"
    );
    let slot = alloc.reserve_block(PciAddress::pattern(), PciAddress::block().function(8))?;
    assert_eq!(slot.first().to_string(), "0000:00:02.0");
    assert_eq!(slot.last().to_string(), "0000:00:02.7");
    assert_eq!(alloc.reserve_any()?, pci(0, 0, 1, 1));
    let a = alloc.reserve_first(PciAddress::pattern().slot(10..))?;
    assert_eq!(a.to_string(), "0000:00:0a.0");
    alloc.release(a)?;
    assert!(!alloc.is_reserved(a));
    Ok(())
}

#[test]
fn default_pools() -> Result<(), Error> {
    let pools = PciAddress::default_pools();
    assert_eq!(pools.len(), 1);
    assert_eq!(pools[0].0.to_string(), "domain=0, bus=0, slot=1..=0x1f");
    assert_eq!(pools[0].1, &["pci"]);
    let mut alloc = PciAddress::default_allocator()?;
    assert_eq!(alloc.requiring(&["pci"]).reserve_any()?, pci(0, 0, 1, 0));
    Ok(())
}

/// Default format, full ranges, wide and offset fields, letters.
#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq)]
struct Plain {
    a: u8,
    #[address(range = 10..20)]
    b: u32,
    #[address(range = 0..=0xff_ffff_ffff_ffff_ffff_ffff_ffff)]
    c: u128,
}

const C_MAX: u128 = 0xff_ffff_ffff_ffff_ffff_ffff_ffff;

#[test]
fn default_format() {
    let p = Plain::new(1, 19, C_MAX).unwrap();
    assert_eq!(p.to_string(), format!("1:19:{C_MAX}"));
    assert_eq!(p.to_string().parse::<Plain>(), Ok(p));
    assert_eq!(
        "1:9:0".parse::<Plain>().unwrap_err().to_string(),
        "invalid address `1:9:0` at column 3 (field `b`): `9` is out of range 10..=19"
    );
    assert_eq!(
        Plain::new(0, 20, 0).unwrap_err().to_string(),
        "field `b` value 20 is out of range 10..=19"
    );
    assert!(format!("1:10:{C_MAX}0").parse::<Plain>().is_err());
    assert!(format!("1:10:{}0", u128::MAX).parse::<Plain>().is_err());
    assert!(Plain::new(0, 10, C_MAX + 1).is_err());
}

#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq)]
#[address(format = "sd{index:a}{partition}")]
#[address(pool = "index=0..=25, partition=1..")]
struct Partition {
    index: u32,
    #[address(range = 1..=15)]
    partition: u8,
}

#[test]
fn letters() {
    for (index, s) in [
        (0, "sda1"),
        (25, "sdz1"),
        (26, "sdaa1"),
        (701, "sdzz1"),
        (702, "sdaaa1"),
    ] {
        let p = Partition::new(index, 1).unwrap();
        assert_eq!(p.to_string(), s);
        assert_eq!(s.parse::<Partition>(), Ok(p));
    }
    assert_eq!(
        "sdA1".parse::<Partition>().unwrap_err().to_string(),
        "invalid address `sdA1` at column 3 (field `index`): expected a lower case letter"
    );
    let p = Partition::default_pools();
    assert_eq!(p[0].0.to_string(), "index=0..=25, partition=1..=15");
}

/// Fixed-width fields next to each other.
#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq)]
#[address(format = "{hi:02X}{lo:02x}")]
struct Word {
    hi: u8,
    lo: u8,
}

#[test]
fn fixed_width() {
    let w = Word::new(0xab, 0x0c).unwrap();
    assert_eq!(w.to_string(), "AB0c");
    assert_eq!("ab0C".parse::<Word>(), Ok(w));
    // The last field reads greedily: fewer digits than the width.
    assert_eq!("ab0".parse::<Word>(), Ok(Word { hi: 0xab, lo: 0 }));
    assert!("a".parse::<Word>().is_err());
    assert!("g0c".parse::<Word>().is_err());
    assert!("ab1cd".parse::<Word>().is_err());
}

/// The generated straight-line parser agrees with the runtime's format parser on any
/// input: same values, same errors.
mod agrees_with_runtime {
    use super::*;
    use addralloc::format::Format;
    use proptest::prelude::*;

    fn check<A: Address + std::str::FromStr<Err = Error> + std::fmt::Debug>(format: &str, s: &str) {
        let fields: Vec<(&str, u128, u128)> =
            A::FIELDS.iter().map(|f| (f.name, f.min, f.max)).collect();
        let f = Format::parse(format, &fields).unwrap();
        let expected = f.parse_values(s, &fields).map(|v| A::from_fields(&v));
        let got = s.parse::<A>();
        assert_eq!(
            got.map(|a| a.to_string()),
            expected.map(|a| a.to_string()),
            "input {s:?}"
        );
    }

    const PCI: &str = "{domain:04x}:{bus:02x}:{slot:02x}.{function:x}";

    /// `Display` prints what the runtime's formatter prints.
    fn check_display<A: Address + std::fmt::Debug>(format: &str, values: &[u128]) {
        let fields: Vec<(&str, u128, u128)> =
            A::FIELDS.iter().map(|f| (f.name, f.min, f.max)).collect();
        let f = Format::parse(format, &fields).unwrap();
        let values: Vec<u128> = values
            .iter()
            .zip(A::FIELDS)
            .map(|(v, f)| f.min + v % (f.max - f.min).saturating_add(1).max(1))
            .collect();
        let a = A::try_from_fields(&values).unwrap();
        assert_eq!(a.to_string(), f.to_string(&values), "{a:?}");
    }

    proptest! {
        #[test]
        fn pci(s in "[0-9a-fA-FgG:. ]{0,16}") {
            check::<PciAddress>(PCI, &s);
        }

        #[test]
        fn pci_near_valid(d in 0u32..0x1ffff, b in 0u32..0x1ff, sl in 0u32..40, f in 0u32..10) {
            check::<PciAddress>(PCI, &format!("{d:04x}:{b:02x}:{sl:02x}.{f:x}"));
            check::<PciAddress>(PCI, &format!("{d:X}:{b:X}:{sl:X}.{f:X}"));
        }

        #[test]
        fn partition(s in "(sd|s|)[a-zA-Z]{0,8}[0-9]{0,3}") {
            check::<Partition>("sd{index:a}{partition}", &s);
        }

        #[test]
        fn word(s in "[0-9a-fA-Fg]{0,6}") {
            check::<Word>("{hi:02X}{lo:02x}", &s);
        }

        #[test]
        fn plain(s in "[0-9]{0,3}:[0-9]{0,3}:[0-9]{0,40}") {
            check::<Plain>("{a}:{b}:{c}", &s);
        }

        #[test]
        fn display(v in proptest::collection::vec(any::<u128>(), 5)) {
            check_display::<PciAddress>(PCI, &v);
            check_display::<Partition>("sd{index:a}{partition}", &v);
            check_display::<Word>("{hi:02X}{lo:02x}", &v);
            check_display::<Plain>("{a}:{b}:{c}", &v);
            check_display::<Big>("{x}", &v);
            check_display::<BigLetters>("{x:a}", &v);
            check_display::<Padded>("<{a:5}|{b:3X}|{c:06}>", &v);
        }
    }
}

/// `crate = "..."`: the generated code reaches the facade through another path.
mod renamed {
    pub mod reexport {
        pub use addralloc as inner;
    }

    #[derive(addralloc::AddressSpace, Clone, Copy, Debug, PartialEq, Eq)]
    #[address(crate = "crate::renamed::reexport::inner", format = "{a}/{b}")]
    pub struct Pair {
        pub a: u8,
        pub b: u8,
    }

    pub mod ipv4 {
        addralloc::include_schema!(
            "schemas/ipv4.toml",
            crate = "crate::renamed::reexport::inner"
        );
    }
}

#[test]
fn crate_path_override() {
    let p = renamed::Pair::new(1, 2).unwrap();
    assert_eq!(p.to_string(), "1/2");
    assert_eq!("1/2".parse::<renamed::Pair>(), Ok(p));
    let ip: renamed::ipv4::Ipv4Address = "10.0.0.1".parse().unwrap();
    assert_eq!(ip.to_string(), "10.0.0.1");
}

/// A whole 128-bit field, in decimal and in letters.
#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq)]
struct Big {
    x: u128,
}

#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq)]
#[address(format = "{x:a}")]
struct BigLetters {
    x: u128,
}

#[test]
fn full_128_bit_fields() {
    let max = Big::new(u128::MAX).unwrap();
    assert_eq!(max.to_string().parse::<Big>(), Ok(max));
    assert_eq!("0".parse::<Big>(), Ok(Big { x: 0 }));
    assert!("340282366920938463463374607431768211456"
        .parse::<Big>()
        .is_err());
    assert!("3402823669209384634633746074317682114550"
        .parse::<Big>()
        .is_err());
    for x in [0, 25, 26, u128::MAX - 1, u128::MAX] {
        let b = BigLetters { x };
        assert_eq!(b.to_string().parse::<BigLetters>(), Ok(b), "{x}");
    }
    let too_big = format!("{}a", BigLetters { x: u128::MAX });
    assert!(too_big.parse::<BigLetters>().is_err());
}

/// Space padding and alignment of the whole address.
#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq)]
#[address(format = "<{a:5}|{b:3X}|{c:06}>")]
struct Padded {
    a: u16,
    b: u8,
    c: u64,
}

#[test]
fn padding_and_alignment() {
    let p = Padded::new(42, 0xab, 7).unwrap();
    assert_eq!(p.to_string(), "<   42| AB|000007>");
    assert_eq!(p.to_string().parse::<Padded>(), Ok(p));
    assert_eq!(format!("{p:>22}"), "    <   42| AB|000007>");
    assert_eq!(
        format!("{:<14}|", PciAddress::new(0, 0, 1, 0).unwrap()),
        "0000:00:01.0  |"
    );
}
