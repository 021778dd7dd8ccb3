use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
struct Port<T> {
    bus: T,
    port: u8,
}

fn main() {}
