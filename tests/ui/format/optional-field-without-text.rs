use addralloc::AddressSpace;

// An optional field follows a field and literal text, printed only when it is present.
#[derive(AddressSpace, Clone, Copy)]
#[address(format = "{bus}-{p1}{p2?:02x}")]
struct NoText {
    bus: u8,
    #[address(range = 0..=9)]
    p1: u8,
    p2: u8,
}

fn main() {}
