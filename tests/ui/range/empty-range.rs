use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
struct Port {
    #[address(range = 8..=3)]
    bus: u8,
    #[address(range = 0..0)]
    port: u8,
}

fn main() {}
