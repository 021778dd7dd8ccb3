use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
#[address(format = "{bux}.{port}")]
struct Port {
    bus: u8,
    port: u8,
}

fn main() {}
