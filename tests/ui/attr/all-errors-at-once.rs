// Every error of one derive is reported in one pass, and uses of the type elsewhere
// do not cascade into more errors.
use addralloc::{AddressSpace, Allocator};

#[derive(AddressSpace, Clone, Copy, Debug)]
#[address(format = "{bus}:{prot}", colour = "blue")]
struct Port {
    #[address(range = 3..=1)]
    bus: u8,
    port: i8,
}

fn main() {
    let p = Port::new(0, 1).unwrap();
    let _ = p.to_string();
    let _ = "0:1".parse::<Port>();
    let mut a = Allocator::<Port>::new();
    let _ = a.add_pool(Port::pattern().bus(0).port(1..));
    let _ = a.reserve_block(Port::pattern(), Port::block().port(4));
}
