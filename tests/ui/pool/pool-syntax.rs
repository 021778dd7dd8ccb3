// Pools the model's one pattern parser rejects are errors on the pattern, all of them,
// never silently left out of the generated `default_pools`.
use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
#[address(pool = "bus=0, slot")]
#[address(pool = "bus=0, slot=1_000")]
#[address(pool = "bus=0, slot=4..2")]
#[address(pool = "bus=0, bus=1")]
struct Pci {
    bus: u8,
    #[address(range = 0..=31)]
    slot: u8,
}

fn main() {}
