use addralloc::AddressSpace;

// 0 means absent, so an optional field's range must include it.
#[derive(AddressSpace, Clone, Copy)]
#[address(format = "{bus}-{p1}.{p2?}")]
struct NoZero {
    bus: u8,
    p1: u8,
    #[address(range = 1..=15)]
    p2: u8,
}

fn main() {}
