//! What is emitted beside the errors, so that uses of the type elsewhere in the crate
//! (`A::new`, `a.to_string()`, `s.parse::<A>()`, `Allocator<A>`) do not cascade into
//! more errors (after thiserror's `impl/src/fallback.rs`). Bodies are unreachable: the
//! crate does not compile.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields};

use crate::ast;

/// Stubs for a derive input that failed to check.
pub fn derive(input: &DeriveInput) -> TokenStream {
    stubs(input, true)
}

/// Stubs, without `Display` and `FromStr` unless `text` (`include_schema!`'s
/// `text = "custom"`: the crate has its own, which stubs would clash with).
pub fn stubs(input: &DeriveInput, text: bool) -> TokenStream {
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return quote!();
    }
    let krate = ast::crate_path(&input.attrs);
    let name = &input.ident;
    let vis = &input.vis;
    let pat = format_ident!("{}Pattern", name);
    let block = format_ident!("{}Block", name);
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(n) => Some(n),
            _ => None,
        },
        _ => None,
    };
    let text_stubs = if text {
        quote! {
            #[automatically_derived]
            impl ::core::fmt::Display for #name {
                fn fmt(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    ::core::unreachable!()
                }
            }
            #[automatically_derived]
            impl ::core::str::FromStr for #name {
                type Err = #krate::Error;
                fn from_str(_: &str) -> ::core::result::Result<Self, #krate::Error> {
                    ::core::unreachable!()
                }
            }
        }
    } else {
        quote!()
    };
    let mut out = quote! {
        const _: () = {
            #[automatically_derived]
            impl #krate::Address for #name {
                const FIELDS: &'static [#krate::Field] = &[];
                fn field(&self, _: usize) -> u128 {
                    ::core::unreachable!()
                }
                fn from_fields(_: &[u128]) -> Self {
                    ::core::unreachable!()
                }
            }
            #text_stubs
        };
    };
    let Some(named) = named else {
        return out;
    };
    let idents: Vec<_> = named.named.iter().filter_map(|f| f.ident.clone()).collect();
    let tys: Vec<_> = named
        .named
        .iter()
        .filter(|f| f.ident.is_some())
        .map(|f| &f.ty)
        .collect();
    out.extend(quote! {
        #[allow(missing_docs)]
        #vis struct #pat;
        #[allow(missing_docs)]
        #vis struct #block;
        const _: () = {
            #[allow(missing_docs, clippy::too_many_arguments)]
            impl #name {
                pub fn new(#(_: #tys),*) -> ::core::result::Result<Self, #krate::Error> {
                    ::core::unreachable!()
                }
                pub fn pattern() -> #pat {
                    ::core::unreachable!()
                }
                pub fn block() -> #block {
                    ::core::unreachable!()
                }
            }
            #[allow(missing_docs)]
            impl #pat {
                #(pub fn #idents<__T>(self, _: __T) -> Self { ::core::unreachable!() })*
            }
            #[allow(missing_docs)]
            impl #block {
                #(pub fn #idents(self, _: u128) -> Self { ::core::unreachable!() })*
            }
            #[automatically_derived]
            impl ::core::convert::From<#pat> for #krate::Pattern<#name> {
                fn from(_: #pat) -> Self {
                    ::core::unreachable!()
                }
            }
            #[automatically_derived]
            impl ::core::convert::From<#block> for #krate::Block<#name> {
                fn from(_: #block) -> Self {
                    ::core::unreachable!()
                }
            }
        };
    });
    out
}
