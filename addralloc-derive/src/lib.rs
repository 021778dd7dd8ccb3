//! Procedural macros for addralloc. The schema compiler (`#[derive(AddressSpace)]`,
//! `include_schema!`) lands here; this crate exports nothing yet.
