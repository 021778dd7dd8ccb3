use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
#[address(fromat = "{bus}.{port}")]
struct Port {
    bus: u8,
    #[address(rnage = 0..=31)]
    port: u8,
}

fn main() {}
