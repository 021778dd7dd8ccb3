//! Allocates PCI and IPv4 addresses with typed allocators and prints them.
//!
//! Run: `cargo run --example quickstart`

use addralloc::{Allocator, Pattern};

// The bundled schemas: `PciAddress` (`0000:00:1f.7`) and `Ipv4Address` (`192.168.1.254`),
// with their parsers, formatters, pattern and block builders, generated at compile time.
addralloc::include_schema!("schemas/pci.toml");
addralloc::include_schema!("schemas/ipv4.toml");

fn main() -> Result<(), addralloc::Error> {
    // An i440fx-style PCI bus: slot 0 is the host bridge, slot 1 the chipset.
    let mut pci = Allocator::<PciAddress>::new();
    pci.add_pool(PciAddress::pattern().domain(0).bus(0).slot(1..=31))?;
    for (function, owner) in [(0, "isa-bridge"), (1, "ide"), (2, "usb"), (3, "acpi")] {
        let addr = PciAddress::new(0, 0, 1, function)?;
        pci.owned_by(owner).reserve(addr)?;
        println!("{owner:<12} {addr}  (fixed)");
    }
    let whole_slot = PciAddress::block().function(8);
    for dev in ["net0", "disk0", "disk1", "balloon"] {
        let slot = pci
            .owned_by(dev)
            .reserve_block(PciAddress::pattern(), whole_slot)?;
        println!(
            "{dev:<12} {}  (slot {}..={})",
            slot.first(),
            slot.first(),
            slot.last()
        );
    }
    if let Err(e) = pci.reserve("0000:00:02.0".parse()?) {
        println!("conflict     {e}");
    }
    println!(
        "pci: {} free in {} pool addresses",
        pci.free_count(),
        pci.capacity()
    );

    // IPAM: a /24 with the router at .254, hosts from .2 to .240.
    let mut ipam = Allocator::<Ipv4Address>::new();
    ipam.add_pool("a=192, b=168, c=1, d=2..=240".parse::<Pattern<Ipv4Address>>()?)?;
    ipam.add_pool_tagged(
        Ipv4Address::pattern().a(192).b(168).c(1).d(254),
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
    let subnet = ipam.reserve_block(Pattern::any(), Ipv4Address::block().d(8))?;
    println!("/29 block    {}..={}", subnet.first(), subnet.last());
    println!("ipv4: {} free", ipam.free_count());
    Ok(())
}
