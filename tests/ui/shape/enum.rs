use addralloc::AddressSpace;

#[derive(AddressSpace, Clone, Copy)]
enum Slot {
    A,
    B,
}

fn main() {
    let _ = Slot::A.to_string();
}
