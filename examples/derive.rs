//! `#[derive(AddressSpace)]`: a PCI address type described once, then allocated, printed
//! and parsed.
//!
//! Run: `cargo run --example derive`

use addralloc::{AddressSpace, Allocator, Error};

/// A PCI address, `domain:bus:slot.function`.
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

fn main() -> Result<(), Error> {
    // The default pool from the attribute: root bus, slots 1 to 31.
    let mut pci: Allocator<PciAddress> = PciAddress::default_allocator()?;

    // The chipset at a fixed place, with owners.
    for (function, owner) in [(0, "isa-bridge"), (1, "ide"), (3, "acpi")] {
        let addr = PciAddress::new(0, 0, 1, function)?;
        pci.owned_by(owner).reserve(addr)?;
        println!("{owner:<12} {addr}  (fixed)");
    }

    // Whole slots for multifunction devices: a block of eight functions.
    for dev in ["net0", "gpu0"] {
        let slot = pci
            .owned_by(dev)
            .reserve_block(PciAddress::pattern(), PciAddress::block().function(8))?;
        println!("{dev:<12} {}..={}", slot.first(), slot.last());
    }

    // Hot-pluggable devices from slot 16 up.
    let hotplug = pci
        .owned_by("disk0")
        .reserve_first(PciAddress::pattern().slot(16..))?;
    println!("{:<12} {hotplug}", "disk0");

    // Parsing and its errors.
    let parsed: PciAddress = "0000:00:1F.7".parse()?;
    println!("parsed       {parsed} = {parsed:?}");
    for bad in ["0000:00:20.0", "0000:00:1f", "0000:00:1f.0x"] {
        println!("rejected     {}", bad.parse::<PciAddress>().unwrap_err());
    }
    println!("rejected     {}", PciAddress::new(0, 0, 32, 0).unwrap_err());

    // A duplicate says who holds the address.
    if let Err(e) = pci.reserve(PciAddress::new(0, 0, 1, 0)?) {
        println!("conflict     {e}");
    }
    println!("pci: {} free of {}", pci.free_count(), pci.capacity());
    Ok(())
}
