//! With the facade's `serde` feature, generated address types serialize as their
//! display string (`cargo test --features serde --test serde`; CI runs it).
#![cfg(all(feature = "serde", feature = "derive"))]

use addralloc::schemas::{Ipv6Address, PciAddress};
use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq)]
#[address(format = "{bus:02x}.{port}")]
struct Port {
    bus: u8,
    #[address(range = 1..=31)]
    port: u8,
}

#[test]
fn addresses_are_their_display_string() {
    let pci: PciAddress = "0000:00:1f.7".parse().unwrap();
    assert_eq!(serde_json::to_string(&pci).unwrap(), "\"0000:00:1f.7\"");
    assert_eq!(
        serde_json::from_str::<PciAddress>("\"0000:00:1F.7\"").unwrap(),
        pci
    );
    let p = Port::new(0x1a, 3).unwrap();
    assert_eq!(serde_json::to_string(&p).unwrap(), "\"1a.3\"");
    assert_eq!(serde_json::from_str::<Port>("\"1a.3\"").unwrap(), p);
    let v6: Ipv6Address = "fe80::1".parse().unwrap();
    assert_eq!(serde_json::to_string(&v6).unwrap(), "\"fe80::1\"");
}

#[test]
fn bad_strings_are_errors_with_the_parser_words() {
    let err = serde_json::from_str::<Port>("\"1a.32\"")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid address `1a.32` at column 4 (field `port`)"),
        "{err}"
    );
    assert!(serde_json::from_str::<PciAddress>("17").is_err());
}
