use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
#[address(pool = "bus=0, slot=32")]
#[address(pool(pattern = "bus=0, slott=1..=4", tags = ["hotplug"]))]
struct Pci {
    bus: u8,
    #[address(range = 0..=31)]
    slot: u8,
}

fn main() {}
