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

// Optional fields are trailing, each after literal text.
#[derive(AddressSpace, Clone, Copy)]
#[address(format = "{bus}-{p1?}.{p2}")]
struct NotTrailing {
    bus: u8,
    p1: u8,
    p2: u8,
}

// No literal text after the last optional field.
#[derive(AddressSpace, Clone, Copy)]
#[address(format = "[{bus}.{p1?}]")]
struct TextAfter {
    bus: u8,
    p1: u8,
}

fn main() {}
