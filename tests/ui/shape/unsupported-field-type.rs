use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
struct Port {
    bus: i32,
    port: u8,
    name: &'static str,
}

fn main() {}
