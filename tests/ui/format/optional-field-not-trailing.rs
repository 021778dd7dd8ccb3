use addralloc::AddressSpace;

// Optional fields are trailing: no required field after one.
#[derive(AddressSpace, Clone, Copy)]
#[address(format = "{bus}-{p1?}.{p2}")]
struct NotTrailing {
    bus: u8,
    p1: u8,
    p2: u8,
}

fn main() {}
