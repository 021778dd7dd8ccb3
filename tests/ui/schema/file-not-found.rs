addralloc::include_schema!("/no-such-directory/no-such-file.toml");

fn main() {}
