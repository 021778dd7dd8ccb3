//! Compile-time errors of `#[derive(AddressSpace)]` and `include_schema!`, one case per
//! message (`tests/ui/<topic>/<case>.rs` with its `.stderr`), and pass cases compiled
//! under `#![no_implicit_prelude]` and `#![deny(warnings, missing_docs)]`.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test --test ui`.
//!
//! trybuild compiles each case in `target/tests/trybuild/addralloc`, which is the
//! `CARGO_MANIFEST_DIR` that `include_schema!` resolves against; the schema cases reach
//! their TOML files with `../../../../tests/ui/schema/<case>.toml`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
    t.pass("tests/pass/*.rs");
}
