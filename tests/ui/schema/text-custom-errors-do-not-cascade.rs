// With `text = "custom"`, a schema with errors gets stub impls without `Display` and
// `FromStr`, so the crate's own do not clash with them.
addralloc::include_schema!(
    "tests/ui/schema/errors-do-not-cascade.toml",
    text = "custom"
);

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.bus, self.port)
    }
}

impl std::str::FromStr for Port {
    type Err = addralloc::Error;
    fn from_str(_: &str) -> Result<Port, addralloc::Error> {
        Port::new(0, 1)
    }
}

fn main() {
    let p = Port::new(0, 1).unwrap();
    let _ = (p.bus, p.port, p.to_string());
    let _ = "0/1".parse::<Port>();
}
