// `text` takes one value: "custom" (the crate writes `Display` and `FromStr`).
addralloc::include_schema!("schemas/ipv4.toml", text = "generated");

fn main() {}
