use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
struct Port(u8, u8);

fn main() {
    let _ = Port(0, 1).to_string();
}
