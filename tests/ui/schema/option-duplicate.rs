// An `include_schema!` option given twice.
addralloc::include_schema!(
    "schemas/ipv4.toml",
    text = "custom",
    text = "custom"
);

fn main() {}
