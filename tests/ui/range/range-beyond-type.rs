use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
struct Port {
    #[address(range = 0..=0x1ff)]
    bus: u8,
    #[address(range = 0..65537)]
    port: u16,
}

fn main() {}
