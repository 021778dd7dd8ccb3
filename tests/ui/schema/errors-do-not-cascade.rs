// A schema with errors still defines its types (with stub impls), so that their uses
// elsewhere report nothing more.
addralloc::include_schema!("tests/ui/schema/errors-do-not-cascade.toml");

fn main() {
    let p = Port::new(0, 1).unwrap();
    let _ = (p.bus, p.port, p.to_string());
    let _ = "0-1".parse::<Port>();
    let mut a = addralloc::Allocator::<Port>::new();
    let _ = a.add_pool(Port::pattern().bus(0).port(1..));
}
