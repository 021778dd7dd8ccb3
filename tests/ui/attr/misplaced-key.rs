use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
#[address(range = 0..=3)]
struct Port {
    #[address(format = "{bus}")]
    bus: u8,
}

fn main() {}
