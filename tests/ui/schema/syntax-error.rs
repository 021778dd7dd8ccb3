// The schema is copied (by tests/ui.rs) into the project that trybuild builds each
// case in: its CARGO_MANIFEST_DIR, which include_schema! resolves against.
addralloc::include_schema!("tests/ui/schema/syntax-error.toml");

fn main() {}
