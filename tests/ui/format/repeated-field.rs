use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
#[address(format = "{bus}.{port}.{bus}")]
struct Port {
    bus: u8,
    port: u8,
}

fn main() {}
