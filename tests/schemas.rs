//! Every type of the bundled schema library (`addralloc::schemas`, `schemas/*.toml`):
//! text round trips on random in-range addresses, no panic on random text, the same
//! answers through the run-time path (`DynSchema`), the network conversions and CIDR
//! pools, and the RFC 5952 text of `Ipv6Address`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use addralloc::dynamic::{DynSchema, DynType};
use addralloc::schemas::*;
use addralloc::{Address, Allocator, Error, Pattern};
use proptest::prelude::*;

/// Reduces one raw value per field into the field's range.
fn in_range<A: Address>(raw: &[u128]) -> Vec<u128> {
    A::FIELDS
        .iter()
        .zip(raw)
        .map(|(f, r)| match (f.max - f.min).checked_add(1) {
            Some(n) => f.min + r % n,
            None => *r,
        })
        .collect()
}

/// The run-time type `name` of a bundled schema file.
fn dyn_type(toml: &str, name: &str) -> Arc<DynType> {
    let schema = DynSchema::from_toml(toml).expect("bundled schema loads");
    Arc::clone(schema.get(name).expect("type in schema"))
}

/// Random text: near misses of address text, and anything at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-fA-Fx:.\\-/ sdhvz]{0,40}",
        "(0x)?[0-9a-f]{0,5}([:.\\-][0-9a-fA-F]{0,5}){0,9}",
        any::<String>(),
    ]
}

/// Whether the facade type's `Display`/`FromStr` are the schema format's (every type
/// but `Ipv6Address`, whose text is RFC 5952).
trait SchemaText {
    const GENERATED: bool = true;
}
impl SchemaText for Ipv6Address {
    const GENERATED: bool = false;
}

macro_rules! schema_tests {
    ($($module:ident: $ty:ident in $file:literal;)*) => {
        /// Every `[[address]]` of every `schemas/*.toml` file has tests here.
        #[test]
        fn every_bundled_type_is_tested() {
            let tested: Vec<(&str, &str)> = vec![$(($file, stringify!($ty))),*];
            let mut found = Vec::new();
            for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas")).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "toml") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let schema = DynSchema::from_toml(&text).unwrap();
                    let file = path.file_name().unwrap().to_str().unwrap().to_string();
                    for t in schema.types() {
                        found.push((file.clone(), t.name().to_string()));
                    }
                }
            }
            found.sort();
            let mut tested: Vec<(String, String)> =
                tested.into_iter().map(|(f, t)| (f.to_string(), t.to_string())).collect();
            tested.sort();
            assert_eq!(found, tested);
        }

        $(
            mod $module {
                use super::*;

                const TOML: &str = include_str!(concat!("../schemas/", $file));

                #[test]
                fn fields_match_the_run_time_schema() {
                    let ty = dyn_type(TOML, stringify!($ty));
                    let dyn_fields: Vec<(String, u128, u128)> = ty
                        .fields()
                        .iter()
                        .map(|f| (f.name.clone(), f.min, f.max))
                        .collect();
                    let fields: Vec<(String, u128, u128)> = <$ty as Address>::FIELDS
                        .iter()
                        .map(|f| (f.name.to_string(), f.min, f.max))
                        .collect();
                    assert_eq!(fields, dyn_fields);
                }

                proptest! {
                    #[test]
                    fn round_trip(raw in proptest::collection::vec(any::<u128>(), <$ty as Address>::FIELDS.len())) {
                        let mut values = in_range::<$ty>(&raw);
                        // Optional fields (`UsbAddress`): nothing present after an absent one.
                        let ty = dyn_type(TOML, stringify!($ty));
                        while let Err(Error::AbsentBefore { field, .. }) = ty.address(&values) {
                            values[ty.field_index(&field).unwrap()] = 0;
                        }
                        let a = <$ty>::try_from_fields(&values).unwrap();
                        prop_assert_eq!(a.to_string().parse::<$ty>(), Ok(a));
                        // The run-time path prints the schema format; the compiled type
                        // parses it to the same address, and the run-time type parses its
                        // own text back.
                        let ty = dyn_type(TOML, stringify!($ty));
                        let schema_text = ty.format_values(&values);
                        prop_assert_eq!(schema_text.parse::<$ty>(), Ok(a));
                        let d = ty.parse_address(&schema_text).unwrap();
                        prop_assert_eq!(d.values(), &values[..]);
                        if <$ty as SchemaText>::GENERATED {
                            prop_assert_eq!(a.to_string(), schema_text);
                        }
                    }

                    #[test]
                    fn random_text_never_panics_and_agrees(s in text()) {
                        let ty = dyn_type(TOML, stringify!($ty));
                        let compiled = s.parse::<$ty>();
                        let run_time = ty.parse_address(&s);
                        match (&compiled, &run_time) {
                            (Ok(a), Ok(d)) => {
                                let values: Vec<u128> = (0..<$ty as Address>::FIELDS.len())
                                    .map(|i| a.field(i))
                                    .collect();
                                prop_assert_eq!(d.values(), &values[..]);
                            }
                            (Err(e), Err(f)) => {
                                if <$ty as SchemaText>::GENERATED {
                                    prop_assert_eq!(e, f);
                                }
                            }
                            // RFC 4291 text (`fe80::1`) is more than the schema format.
                            (Ok(_), Err(_)) => prop_assert!(!<$ty as SchemaText>::GENERATED),
                            (Err(e), Ok(_)) => prop_assert!(false, "only the run-time type parses {:?}: {}", s, e),
                        }
                    }
                }
            }
        )*
    };
}

impl SchemaText for PciAddress {}
impl SchemaText for DriveAddress {}
impl SchemaText for VirtioSerialAddress {}
impl SchemaText for CcwAddress {}
impl SchemaText for Ipv4Address {}
impl SchemaText for MacAddress {}
impl SchemaText for UsbAddress {}
impl SchemaText for UsbPortAddress {}
impl SchemaText for UsbHubPortAddress {}
impl SchemaText for SpaprVioAddress {}
impl SchemaText for DimmSlotAddress {}
impl SchemaText for ScsiDiskName {}
impl SchemaText for IdeDiskName {}
impl SchemaText for VirtioDiskName {}
impl SchemaText for XenDiskName {}
impl SchemaText for VlanId {}
impl SchemaText for VxlanVni {}

schema_tests! {
    pci: PciAddress in "pci.toml";
    drive: DriveAddress in "drive.toml";
    virtio_serial: VirtioSerialAddress in "virtio-serial.toml";
    ccw: CcwAddress in "ccw.toml";
    ipv4: Ipv4Address in "ipv4.toml";
    ipv6: Ipv6Address in "ipv6.toml";
    mac: MacAddress in "mac.toml";
    usb: UsbAddress in "usb.toml";
    usb_port: UsbPortAddress in "usb.toml";
    usb_hub_port: UsbHubPortAddress in "usb.toml";
    spapr_vio: SpaprVioAddress in "spapr-vio.toml";
    dimm: DimmSlotAddress in "dimm.toml";
    scsi_disk: ScsiDiskName in "disk-name.toml";
    ide_disk: IdeDiskName in "disk-name.toml";
    virtio_disk: VirtioDiskName in "disk-name.toml";
    xen_disk: XenDiskName in "disk-name.toml";
    vlan: VlanId in "vlan.toml";
    vxlan: VxlanVni in "vlan.toml";
}

// ---------------------------------------------------------------------------------------
// Conversions

proptest! {
    #[test]
    fn ipv4_conversions(bits in any::<u32>()) {
        let std = Ipv4Addr::from(bits);
        let a = Ipv4Address::from(std);
        prop_assert_eq!(Ipv4Addr::from(a), std);
        prop_assert_eq!(a.to_string(), std.to_string());
        prop_assert_eq!(std.to_string().parse::<Ipv4Address>(), Ok(a));
    }

    #[test]
    fn ipv6_conversions_and_rfc5952(bits in any::<u128>(), zeros in any::<u8>()) {
        // Zero some groups so that runs of zeros (and `::`) are common.
        let mut segments = Ipv6Addr::from(bits).segments();
        for (i, s) in segments.iter_mut().enumerate() {
            if zeros & (1 << i) != 0 {
                *s = 0;
            }
        }
        let std = Ipv6Addr::from(segments);
        let a = Ipv6Address::from(std);
        prop_assert_eq!(Ipv6Addr::from(a), std);
        prop_assert_eq!(a.to_string(), std.to_string());
        prop_assert_eq!(std.to_string().parse::<Ipv6Address>(), Ok(a));
        // Uppercase and fully written forms parse too.
        prop_assert_eq!(std.to_string().to_uppercase().parse::<Ipv6Address>(), Ok(a));
        let full = segments.map(|s| format!("{s:04x}")).join(":");
        prop_assert_eq!(full.parse::<Ipv6Address>(), Ok(a));
    }

    #[test]
    fn mac_conversions(bytes in any::<[u8; 6]>()) {
        let m = MacAddress::from(bytes);
        prop_assert_eq!(<[u8; 6]>::from(m), bytes);
        let text = bytes.map(|b| format!("{b:02x}")).join(":");
        prop_assert_eq!(m.to_string(), text);
    }
}

#[test]
fn conversions_examples() {
    let a: Ipv4Address = "192.168.1.254".parse().unwrap();
    assert_eq!(Ipv4Addr::from(a), Ipv4Addr::new(192, 168, 1, 254));
    assert_eq!(
        Ipv4Address::from(Ipv4Addr::LOCALHOST),
        Ipv4Address::new(127, 0, 0, 1).unwrap()
    );
    let m: MacAddress = "52:54:00:12:34:56".parse().unwrap();
    assert_eq!(<[u8; 6]>::from(m), [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    let v6 = Ipv6Address::from(Ipv6Addr::LOCALHOST);
    assert_eq!(v6.to_string(), "::1");
    assert_eq!(Ipv6Addr::from(v6), Ipv6Addr::LOCALHOST);
}

// ---------------------------------------------------------------------------------------
// RFC 5952 text of Ipv6Address

#[test]
fn ipv6_prints_rfc5952() {
    let cases = [
        ("fe80:0:0:0:0:0:0:1", "fe80::1"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), // first of two equal runs
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),       // the longest run
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"), // one zero group stays
        ("2001:DB8:0:0:0:0:0:0", "2001:db8::"),        // lowercase
        ("0:0:0:0:0:ffff:c000:201", "::ffff:192.0.2.1"), // IPv4-mapped
    ];
    for (input, printed) in cases {
        let a: Ipv6Address = input.parse().unwrap();
        assert_eq!(a.to_string(), printed, "{input}");
        assert_eq!(printed.parse::<Ipv6Address>(), Ok(a), "{printed}");
    }
    let a: Ipv6Address = "fe80::1".parse().unwrap();
    assert_eq!(format!("[{a:>10}]"), "[   fe80::1]");
    assert!(format!("{a:?}").starts_with("Ipv6Address {"));
}

#[test]
fn ipv6_parses_any_valid_text_and_the_schema_format() {
    let expect = Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).unwrap();
    for text in [
        "fe80::1",
        "FE80::1",
        "fe80::0:1",
        "fe80:0::1",
        "fe80:0:0:0:0:0:0:1",
        "fe80:0000:0000:0000:0000:0000:0000:0001",
        "000fe80:0:0:0:0:0:0:1", // leading zeros beyond four digits: the schema format
    ] {
        assert_eq!(text.parse::<Ipv6Address>(), Ok(expect), "{text}");
    }
    // The schema's `text = "ipv6"`: run-time types print and read RFC 5952 too.
    let dyn_ty = dyn_type(include_str!("../schemas/ipv6.toml"), "Ipv6Address");
    assert_eq!(
        dyn_ty.format_values(&[0xfe80, 0, 0, 0, 0, 0, 0, 1]),
        "fe80::1"
    );
    assert_eq!(
        dyn_ty.parse_address("fe80::1").unwrap().to_string(),
        "fe80::1"
    );
    assert_eq!(
        dyn_ty
            .parse_address("000fe80:0:0:0:0:0:0:1")
            .unwrap()
            .to_string(),
        "fe80::1"
    );
}

#[test]
fn ipv6_parse_errors() {
    let err = |s: &str| s.parse::<Ipv6Address>().unwrap_err().to_string();
    let rfc = "expected an IPv6 address: up to eight groups of one to four hexadecimal \
               digits separated by `:`, one `::` for a run of zero groups, optionally ending \
               in a dotted IPv4 address";
    assert_eq!(
        err("fe80::1::2"),
        format!("invalid address `fe80::1::2` at column 1: {rfc}")
    );
    assert_eq!(
        err("::ffff:1.2.3"),
        format!("invalid address `::ffff:1.2.3` at column 1: {rfc}")
    );
    assert_eq!(
        err("fe80:0:0:0:0:0:0:1:2"),
        "invalid address `fe80:0:0:0:0:0:0:1:2` at column 19: unexpected trailing text `:2`"
    );
    assert_eq!(
        err("fe80:0:0:0:0:0:0:g"),
        "invalid address `fe80:0:0:0:0:0:0:g` at column 18 (field `h`): expected a hexadecimal digit"
    );
    assert_eq!(
        err("10000:0:0:0:0:0:0:1"),
        "invalid address `10000:0:0:0:0:0:0:1` at column 1 (field `a`): `10000` is out of range 0x0..=0xffff"
    );
    assert!(matches!(
        "".parse::<Ipv6Address>(),
        Err(Error::Parse { column: 1, .. })
    ));
}

// ---------------------------------------------------------------------------------------
// CIDR

fn v4_pattern(text: &str) -> String {
    match Ipv4Address::cidr(text) {
        Ok(p) => p.to_string(),
        Err(e) => e.to_string(),
    }
}

fn v6_pattern(text: &str) -> String {
    match Ipv6Address::cidr(text) {
        Ok(p) => p.to_string(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn ipv4_cidr() {
    assert_eq!(v4_pattern("192.168.1.0/24"), "a=192, b=168, c=1");
    assert_eq!(v4_pattern("10.0.0.0/8"), "a=10");
    assert_eq!(v4_pattern("10.0.16.0/20"), "a=10, b=0, c=16..=31");
    assert_eq!(v4_pattern("192.168.1.8/29"), "a=192, b=168, c=1, d=8..=15");
    assert_eq!(v4_pattern("192.168.1.7/32"), "a=192, b=168, c=1, d=7");
    assert_eq!(v4_pattern("0.0.0.0/0"), "*");
    assert_eq!(
        Ipv4Address::cidr("192.168.1.0/24").unwrap(),
        Ipv4Address::pattern().a(192).b(168).c(1).into()
    );
    let p: Pattern<Ipv4Address> = Ipv4Address::cidr("10.0.16.0/20").unwrap();
    assert!(p.matches(&"10.0.31.255".parse().unwrap()));
    assert!(!p.matches(&"10.0.32.0".parse().unwrap()));
    assert!(!p.matches(&"10.0.15.255".parse().unwrap()));
}

#[test]
fn ipv4_cidr_errors() {
    assert_eq!(
        v4_pattern("192.168.1.5/24"),
        "invalid pattern `192.168.1.5/24`: host bits are set; the /24 network is 192.168.1.0/24"
    );
    assert_eq!(
        v4_pattern("10.0.17.0/20"),
        "invalid pattern `10.0.17.0/20`: host bits are set; the /20 network is 10.0.16.0/20"
    );
    assert_eq!(
        v4_pattern("192.168.1.0/33"),
        "invalid pattern `192.168.1.0/33`: the prefix length 33 is longer than the 32 bits of an IPv4 address"
    );
    assert_eq!(
        v4_pattern("192.168.1.0"),
        "invalid pattern `192.168.1.0`: expected an IPv4 network `address/prefix-length`, such as `192.168.1.0/24`"
    );
    assert_eq!(
        v4_pattern("192.168.1.0/"),
        "invalid pattern `192.168.1.0/`: the prefix length `` is not a number from 0 to 32"
    );
    assert_eq!(
        v4_pattern("192.168.1.0/+4"),
        "invalid pattern `192.168.1.0/+4`: the prefix length `+4` is not a number from 0 to 32"
    );
    assert_eq!(
        v4_pattern("192.168.1.0/99999999999999999999"),
        "invalid pattern `192.168.1.0/99999999999999999999`: the prefix length `99999999999999999999` is not a number from 0 to 32"
    );
    assert_eq!(
        v4_pattern("192.168.1/24"),
        "invalid pattern `192.168.1/24`: invalid address `192.168.1` at column 10: expected `.`, found the end"
    );
    assert_eq!(
        v4_pattern("256.0.0.0/8"),
        "invalid pattern `256.0.0.0/8`: invalid address `256.0.0.0` at column 1 (field `a`): `256` is out of range 0..=255"
    );
    assert!(matches!(
        Ipv4Address::cidr("garbage"),
        Err(Error::BadPattern { pattern, .. }) if pattern == "garbage"
    ));
}

#[test]
fn ipv6_cidr() {
    assert_eq!(v6_pattern("2001:db8::/64"), "a=0x2001, b=0xdb8, c=0, d=0");
    assert_eq!(
        Ipv6Address::cidr("2001:db8::/64").unwrap(),
        Ipv6Address::pattern().a(0x2001).b(0xdb8).c(0).d(0).into()
    );
    assert_eq!(v6_pattern("2001:db8::/32"), "a=0x2001, b=0xdb8");
    assert_eq!(
        v6_pattern("2001:db8::/36"),
        "a=0x2001, b=0xdb8, c=0..=0xfff"
    );
    assert_eq!(v6_pattern("fe80::/10"), "a=0xfe80..=0xfebf");
    assert_eq!(v6_pattern("::/0"), "*");
    assert_eq!(
        v6_pattern("::1/128"),
        "a=0, b=0, c=0, d=0, e=0, f=0, g=0, h=1"
    );
    assert_eq!(
        v6_pattern("2001:db8::1/64"),
        "invalid pattern `2001:db8::1/64`: host bits are set; the /64 network is 2001:db8::/64"
    );
    assert_eq!(
        v6_pattern("::/129"),
        "invalid pattern `::/129`: the prefix length 129 is longer than the 128 bits of an IPv6 address"
    );
    assert_eq!(
        v6_pattern("2001:db8::"),
        "invalid pattern `2001:db8::`: expected an IPv6 network `address/prefix-length`, such as `2001:db8::/64`"
    );
}

#[test]
fn prefix_blocks() {
    assert_eq!(Ipv4Address::prefix_block(29).unwrap().to_string(), "d=8");
    assert_eq!(
        Ipv4Address::prefix_block(29).unwrap(),
        Ipv4Address::block().d(8).into()
    );
    assert_eq!(
        Ipv4Address::prefix_block(20).unwrap().to_string(),
        "c=16, d=256"
    );
    assert_eq!(Ipv4Address::prefix_block(32).unwrap().to_string(), "1");
    assert_eq!(
        Ipv4Address::prefix_block(33).unwrap_err().to_string(),
        "invalid pattern `/33`: the prefix length 33 is longer than the 32 bits of an IPv4 address"
    );
    assert_eq!(
        Ipv6Address::prefix_block(64).unwrap().to_string(),
        "e=65536, f=65536, g=65536, h=65536"
    );
    assert_eq!(Ipv6Address::prefix_block(120).unwrap().to_string(), "h=256");
    assert_eq!(
        Ipv6Address::prefix_block(129).unwrap_err().to_string(),
        "invalid pattern `/129`: the prefix length 129 is longer than the 128 bits of an IPv6 address"
    );
}

proptest! {
    /// A CIDR pattern holds exactly the addresses `std` puts in the network, and its
    /// block shape has as many addresses.
    #[test]
    fn ipv4_cidr_matches_the_network(bits in any::<u32>(), prefix in 0u32..=32, probe in any::<u32>()) {
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
        let net = Ipv4Addr::from(bits & mask);
        let p = Ipv4Address::cidr(&format!("{net}/{prefix}")).unwrap();
        let inside = |x: u32| x & mask == bits & mask;
        for x in [probe, bits & mask, (bits & mask) | !mask, probe ^ 1] {
            prop_assert_eq!(p.matches(&Ipv4Address::from(Ipv4Addr::from(x))), inside(x));
        }
        let b = Ipv4Address::prefix_block(prefix).unwrap();
        let size: u128 = (0..4).map(|i| b.get(i)).product();
        prop_assert_eq!(size, 1u128 << (32 - prefix));
        if bits & !mask != 0 {
            let text = format!("{}/{prefix}", Ipv4Addr::from(bits));
            let host_bits_set = matches!(
                Ipv4Address::cidr(&text),
                Err(Error::BadPattern { reason, .. }) if reason.starts_with("host bits are set")
            );
            prop_assert!(host_bits_set);
        }
    }

    #[test]
    fn ipv6_cidr_matches_the_network(bits in any::<u128>(), prefix in 0u32..=128, probe in any::<u128>()) {
        let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
        let net = Ipv6Addr::from(bits & mask);
        let p = Ipv6Address::cidr(&format!("{net}/{prefix}")).unwrap();
        let inside = |x: u128| x & mask == bits & mask;
        for x in [probe, bits & mask, (bits & mask) | !mask, probe ^ 1] {
            prop_assert_eq!(p.matches(&Ipv6Address::from(Ipv6Addr::from(x))), inside(x));
        }
    }

    #[test]
    fn cidr_never_panics(s in "[0-9a-fA-F:./+ ]{0,48}") {
        let _ = Ipv4Address::cidr(&s);
        let _ = Ipv6Address::cidr(&s);
    }
}

#[test]
fn cidr_pools_in_an_allocator() {
    let mut ipam = Allocator::<Ipv4Address>::new();
    ipam.add_pool(Ipv4Address::cidr("10.0.16.0/20").unwrap())
        .unwrap();
    assert_eq!(ipam.free_count(), 4096u128);
    let block = ipam
        .reserve_block(Pattern::any(), Ipv4Address::prefix_block(24).unwrap())
        .unwrap();
    assert_eq!(block.to_string(), "10.0.16.0..=10.0.16.255");

    let mut v6 = Allocator::<Ipv6Address>::new();
    v6.add_pool(Ipv6Address::cidr("2001:db8::/64").unwrap())
        .unwrap();
    assert_eq!(v6.reserve_any().unwrap().to_string(), "2001:db8::");
    let b = v6
        .reserve_block(Pattern::any(), Ipv6Address::prefix_block(120).unwrap())
        .unwrap();
    assert_eq!(b.to_string(), "2001:db8::100..=2001:db8::1ff");
}
