addralloc::include_schema!("schemas/no-such-file.toml");

fn main() {}
