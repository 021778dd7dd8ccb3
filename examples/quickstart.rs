//! Allocates PCI and IPv4 addresses with the typed allocator and prints them.
//!
//! Run: `cargo run --example quickstart`

use std::fmt;

use addralloc::{Address, Allocator, Block, Field, Pattern};

/// A PCI address, `domain:bus:slot.function`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pci {
    domain: u16,
    bus: u8,
    slot: u8,
    function: u8,
}

impl Address for Pci {
    const FIELDS: &'static [Field] = &[
        Field::new("domain", 0, 0xffff),
        Field::new("bus", 0, 0xff),
        Field::new("slot", 0, 31),
        Field::new("function", 0, 7),
    ];
    fn field(&self, i: usize) -> u128 {
        match i {
            0 => self.domain as u128,
            1 => self.bus as u128,
            2 => self.slot as u128,
            _ => self.function as u128,
        }
    }
    fn from_fields(v: &[u128]) -> Self {
        Pci {
            domain: v[0] as u16,
            bus: v[1] as u8,
            slot: v[2] as u8,
            function: v[3] as u8,
        }
    }
}

impl fmt::Display for Pci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }
}

/// An IPv4 address as four octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ipv4([u8; 4]);

impl Address for Ipv4 {
    const FIELDS: &'static [Field] = &[
        Field::new("a", 0, 255),
        Field::new("b", 0, 255),
        Field::new("c", 0, 255),
        Field::new("d", 0, 255),
    ];
    fn field(&self, i: usize) -> u128 {
        self.0[i] as u128
    }
    fn from_fields(v: &[u128]) -> Self {
        Ipv4([v[0] as u8, v[1] as u8, v[2] as u8, v[3] as u8])
    }
}

impl fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

fn main() -> Result<(), addralloc::Error> {
    // An i440fx-style PCI bus: slot 0 is the host bridge, slot 1 the chipset.
    let mut pci = Allocator::<Pci>::new();
    pci.add_pool("domain=0, bus=0, slot=1..=31".parse::<Pattern<Pci>>()?)?;
    for (function, owner) in [(0, "isa-bridge"), (1, "ide"), (2, "usb"), (3, "acpi")] {
        let addr = Pci {
            domain: 0,
            bus: 0,
            slot: 1,
            function,
        };
        pci.owned_by(owner).reserve(addr)?;
        println!("{owner:<12} {addr}  (fixed)");
    }
    let whole_slot = Block::single().extent(3, 8);
    for dev in ["net0", "disk0", "disk1", "balloon"] {
        let slot = pci
            .owned_by(dev)
            .reserve_block(Pattern::any(), whole_slot)?;
        println!(
            "{dev:<12} {}  (slot {}..={})",
            slot.first(),
            slot.first(),
            slot.last()
        );
    }
    if let Err(e) = pci.reserve(Pci {
        domain: 0,
        bus: 0,
        slot: 2,
        function: 0,
    }) {
        println!("conflict     {e}");
    }
    println!(
        "pci: {} free in {} pool addresses",
        pci.free_count(),
        pci.capacity()
    );

    // IPAM: a /24 with the router at .254, hosts from .2 to .240.
    let mut ipam = Allocator::<Ipv4>::new();
    ipam.add_pool("a=192, b=168, c=1, d=2..=240".parse::<Pattern<Ipv4>>()?)?;
    ipam.add_pool_tagged(
        "a=192, b=168, c=1, d=254".parse::<Pattern<Ipv4>>()?,
        &["router"],
    )?;
    let router = ipam
        .requiring(&["router"])
        .owned_by("router")
        .reserve_any()?;
    println!("router       {router}");
    for host in ["web", "db", "cache"] {
        let ip = ipam.owned_by(host).reserve_any()?;
        println!("{host:<12} {ip}");
    }
    let subnet = ipam.reserve_block(Pattern::any(), Block::single().extent(3, 8))?;
    println!("/29 block    {}..={}", subnet.first(), subnet.last());
    println!("ipv4: {} free", ipam.free_count());
    Ok(())
}
