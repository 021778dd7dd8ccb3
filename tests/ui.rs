//! Compile-time errors of `#[derive(AddressSpace)]` and `include_schema!`, one case per
//! message (`tests/ui/<topic>/<case>.rs` with its `.stderr`), and pass cases compiled
//! under `#![no_implicit_prelude]` and `#![deny(warnings, missing_docs)]`.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test --test ui`.
//!
//! trybuild compiles each case in `<target dir>/tests/trybuild/addralloc`, which is the
//! `CARGO_MANIFEST_DIR` that `include_schema!` resolves against, wherever the target
//! directory is (inside the checkout or not). So the schema files the cases name are
//! copied there first, to the same relative paths as in this crate
//! (`tests/ui/schema/<case>.toml`, `schemas/ipv4.toml`), and the cases name them as a
//! user would.

use std::path::Path;

/// Copies the schema files the UI cases name (every `.toml` of `tests/ui/schema/` and
/// `schemas/`) into trybuild's project directory.
fn stage_schemas() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // `CARGO_TARGET_TMPDIR` is `<target dir>/tmp`; trybuild's project is beside it.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory");
    let project = target.join("tests/trybuild/addralloc");
    for from in ["tests/ui/schema", "schemas"] {
        let dir = project.join(from);
        std::fs::create_dir_all(&dir).expect("trybuild's project directory");
        for entry in std::fs::read_dir(root.join(from)).expect("a schema directory") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let name = path.file_name().expect("a file name");
                std::fs::copy(&path, dir.join(name)).expect("a schema file copied");
            }
        }
    }
}

#[test]
fn ui() {
    stage_schemas();
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
    t.pass("tests/pass/*.rs");
}
