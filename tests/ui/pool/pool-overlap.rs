// Two default pools that share addresses: reported at the second, with a note at the first.
use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
#[address(pool = "bus=0, slot=0..=15")]
#[address(pool(pattern = "bus=0, slot=8..=31", tags = ["hotplug"]))]
struct Pci {
    bus: u8,
    #[address(range = 0..=31)]
    slot: u8,
}

fn main() {}
