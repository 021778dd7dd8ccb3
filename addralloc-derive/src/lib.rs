//! Procedural macros for [addralloc](https://docs.rs/addralloc): `#[derive(AddressSpace)]`
//! and `include_schema!`. Use them through the `addralloc` facade, which documents them
//! and provides the runtime the generated code calls; the compiler itself lives in
//! `addralloc-codegen`.

use proc_macro::TokenStream;

/// Derives the address-type API; documented at `addralloc::AddressSpace`.
#[proc_macro_derive(AddressSpace, attributes(address))]
pub fn derive_address_space(input: TokenStream) -> TokenStream {
    addralloc_codegen::derive(input.into()).into()
}

/// Defines the address types of a TOML schema file; documented at
/// `addralloc::include_schema`.
#[proc_macro]
pub fn include_schema(input: TokenStream) -> TokenStream {
    addralloc_codegen::include_schema(input.into()).into()
}

/// The expansion of a schema file as a string literal (golden tests).
#[doc(hidden)]
#[proc_macro]
pub fn __expand_schema(input: TokenStream) -> TokenStream {
    addralloc_codegen::expand_schema_to_string(input.into()).into()
}
