// An unknown `include_schema!` option, with the closest known one suggested.
addralloc::include_schema!("schemas/ipv4.toml", txt = "custom");

fn main() {}
