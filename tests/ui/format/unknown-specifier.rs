use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
#[address(format = "{bus:o}.{port:x4}")]
struct Port {
    bus: u8,
    port: u8,
}

fn main() {}
