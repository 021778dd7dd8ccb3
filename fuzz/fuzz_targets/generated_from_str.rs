//! `FromStr` of the generated PCI, IPv6 and MAC types (straight-line parsers made by
//! `include_schema!`) on arbitrary text: never a panic, the same answer as the
//! run-time format parser, and what parses prints back to the same value.
#![no_main]

use std::sync::OnceLock;

use addralloc::format::Format;
use addralloc::{Address, Error};
use libfuzzer_sys::fuzz_target;

mod pci {
    addralloc::include_schema!("../schemas/pci.toml");
}
mod ipv6 {
    addralloc::include_schema!("../schemas/ipv6.toml");
}
mod mac {
    addralloc::include_schema!("../schemas/mac.toml");
}

fn check<A>(format: &'static OnceLock<Format>, source: &str, text: &str)
where
    A: Address + std::str::FromStr<Err = Error> + PartialEq + std::fmt::Debug,
{
    let fields: Vec<(&str, u128, u128)> = A::FIELDS.iter().map(|f| (f.name, f.min, f.max)).collect();
    let f = format.get_or_init(|| Format::parse(source, &fields).expect("bundled format"));
    let got = text.parse::<A>();
    let expected = f.parse_values(text, &fields).map(|v| A::from_fields(&v));
    assert_eq!(got, expected, "input {text:?}");
    if let Ok(a) = got {
        assert_eq!(a.to_string().parse::<A>(), Ok(a));
    }
}

static PCI: OnceLock<Format> = OnceLock::new();
static IPV6: OnceLock<Format> = OnceLock::new();
static MAC: OnceLock<Format> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    check::<pci::PciAddress>(&PCI, "{domain:04x}:{bus:02x}:{slot:02x}.{function:x}", text);
    check::<ipv6::Ipv6Address>(&IPV6, "{a:x}:{b:x}:{c:x}:{d:x}:{e:x}:{f:x}:{g:x}:{h:x}", text);
    check::<mac::MacAddress>(&MAC, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}", text);
});
