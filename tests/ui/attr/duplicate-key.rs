use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
#[address(format = "{bus}.{port}")]
#[address(format = "{bus}:{port}")]
struct Port {
    bus: u8,
    #[address(range = 0..=31, range = 0..=15)]
    port: u8,
}

fn main() {}
