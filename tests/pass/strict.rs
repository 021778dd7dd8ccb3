//! Generated code compiles warning-free under `#![no_implicit_prelude]` and
//! `#![deny(warnings, missing_docs)]`, with public types in a public module.
#![no_implicit_prelude]
#![deny(warnings, missing_docs, unused_qualifications)]

/// Address types.
pub mod types {
    use ::addralloc::AddressSpace;

    /// A PCI address.
    #[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    #[address(format = "{domain:04x}:{bus:02x}:{slot:02x}.{function:x}")]
    #[address(pool(pattern = "domain=0, bus=0, slot=1..=31", tags = ["pci"]))]
    pub struct PciAddress {
        /// Domain.
        pub domain: u16,
        /// Bus.
        pub bus: u8,
        /// Slot.
        #[address(range = 0..=31)]
        pub slot: u8,
        /// Function.
        #[address(range = 0..=7)]
        pub function: u8,
    }

    /// Every field type, default format, letters, a 128-bit field.
    #[derive(AddressSpace, Clone, Copy, Debug)]
    #[address(format = "x{a:a}-{b}-{c:X}-{d:3}-{e}", crate = "::addralloc")]
    #[address(pool = "a=0..=3")]
    #[address(pool = "a=4")]
    pub struct Wide {
        /// A.
        pub a: u8,
        /// B.
        #[address(range = 1..10)]
        pub b: u16,
        /// C.
        pub c: u32,
        /// D.
        #[address(range = 0..=999)]
        pub d: u64,
        /// E.
        #[address(range = 0..=0xffff)]
        pub e: u128,
    }

    /// A USB port path: optional trailing fields, one of them 64 bits wide.
    #[derive(AddressSpace, Clone, Copy, Debug, PartialEq, Eq)]
    #[address(format = "{bus}-{p1}.{p2?}.{p3?:x}")]
    pub struct UsbPath {
        /// Bus.
        pub bus: u8,
        /// Root port.
        #[address(range = 1..=15)]
        pub p1: u8,
        /// Hub port, 0 when absent.
        #[address(range = 0..=15)]
        pub p2: u8,
        /// Deeper, 0 when absent.
        pub p3: u64,
    }

    /// Private fields and the default format.
    #[derive(AddressSpace, Clone, Copy)]
    pub struct Opaque {
        x: u8,
        y: u8,
    }

    /// A crate-private type.
    #[derive(AddressSpace, Clone, Copy)]
    pub(crate) struct Internal {
        pub(crate) x: u8,
    }
}

fn main() {
    use ::core::result::Result::Ok;
    use ::std::string::ToString;
    use types::{Internal, Opaque, PciAddress, UsbPath, Wide};

    let mut a = ::addralloc::Allocator::<PciAddress>::new();
    let _ = a.add_pool(PciAddress::pattern().bus(0).slot(1..=31));
    let _ = a.reserve_block(PciAddress::pattern(), PciAddress::block().function(8));
    let _ = PciAddress::default_allocator();
    if let Ok(p) = PciAddress::new(0, 0, 1, 0) {
        let _ = p.to_string();
    }
    let _ = "0000:00:01.0".parse::<PciAddress>();
    let _ = Wide::default_pools();
    let _ = "xa-1-0-  0-0".parse::<Wide>();
    let _ = Opaque::new(1, 2).map(|o| o.to_string());
    let _ = Internal::new(0).map(|i| i.x);
    let _ = "0-1.2.ff".parse::<UsbPath>().map(|u| u.to_string());
    let _ = UsbPath::new(0, 1, 0, 5).is_err();
}
