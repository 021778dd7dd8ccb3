use addralloc::AddressSpace;

// No literal text after the last optional field: it would be printed only with it.
#[derive(AddressSpace, Clone, Copy)]
#[address(format = "[{bus}.{p1?}]")]
struct TextAfter {
    bus: u8,
    p1: u8,
}

fn main() {}
