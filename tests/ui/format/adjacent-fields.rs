use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
#[address(format = "{bus}{port}")]
struct Port {
    bus: u8,
    port: u8,
}

#[derive(AddressSpace, Clone, Copy)]
#[address(format = "{bus:x}b{port}")]
struct Hex {
    bus: u16,
    port: u8,
}

fn main() {}
