// trybuild builds each case in target/tests/trybuild/addralloc, which is the
// CARGO_MANIFEST_DIR that include_schema! resolves against.
addralloc::include_schema!("../../../../tests/ui/schema/syntax-error.toml");

fn main() {}
