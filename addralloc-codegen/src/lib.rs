//! The addralloc schema compiler, shared by the `addralloc-derive` proc-macros and the
//! `addralloc gen` command: parse (derive input or TOML schema) → model → check →
//! expand.
//!
//! Proc-macro crates can only export macros, so the compiler lives here as a normal
//! library; the proc-macro entry points are one line each.
//!
//! - [`derive()`] — `#[derive(AddressSpace)]`
//! - [`include_schema`] — `include_schema!("schemas/pci.toml")`
//! - [`generate`] — a TOML schema's text into Rust source (the CLI's `gen`, golden files)

mod ast;
mod ctxt;
mod expand;
mod fallback;
mod lower;
pub mod model;
mod schema;
mod spans;
mod suggest;

use proc_macro2::TokenStream;
use quote::quote;

use crate::ctxt::Ctxt;

/// `#[derive(AddressSpace)]`: the generated API for the struct, or the errors (all of
/// them) beside stub impls that keep the rest of the crate from cascading.
pub fn derive(input: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(i) => i,
        Err(e) => return e.into_compile_error(),
    };
    let mut cx = Ctxt::new();
    let parsed = ast::parse(&mut cx, &input);
    let ty = parsed.and_then(|p| resolve_derive(&mut cx, p));
    match (cx.check(), ty) {
        (Ok(()), Some(ty)) => expand::expand(&ty, quote!(), true),
        (Err(e), _) => {
            let mut out = e.into_compile_error();
            out.extend(fallback::derive(&input));
            out
        }
        (Ok(()), None) => quote!(),
    }
}

/// Checks a derived type through the shared model ([`TypeDef::check`], the same checks
/// and words as for TOML schemas) and makes the expander's model of it; `None` when the
/// model has errors, which are in `cx` at the tokens they are about.
///
/// [`TypeDef::check`]: addralloc_runtime::schema::TypeDef::check
fn resolve_derive(cx: &mut Ctxt, p: ast::Parsed) -> Option<model::AddressType> {
    let ast::Parsed {
        td,
        spans,
        ident,
        idents,
        vis,
        krate,
    } = p;
    let mut diags = td.check();
    if diags.is_empty() {
        let span = ident.span();
        match lower::address_type(&td, ident, Some(idents), vis, krate, span) {
            Ok(ty) => return Some(ty),
            Err(d) => diags = d,
        }
    }
    for d in &diags {
        cx.syn_error(spans.error(d.span.as_ref(), &d.message));
        for note in &d.notes {
            cx.syn_error(spans.error(note.span.as_ref(), &note.message));
        }
    }
    None
}

/// `include_schema!("path")`: the struct(s) of a TOML schema file and their generated
/// API, or the errors on the path literal.
pub fn include_schema(input: TokenStream) -> TokenStream {
    schema::include(input)
}

/// The generated code of a TOML schema as Rust source text (not formatted), with
/// `krate` as the path of the `addralloc` facade (`::addralloc`). `Err` holds every
/// problem as `line:col: message`.
pub fn generate(toml_text: &str, krate: &str) -> Result<String, Vec<String>> {
    schema::generate(toml_text, krate).map(|t| source_text(&t))
}

/// Token text ready for `rustfmt`: `:: core :: fmt` becomes `::core::fmt`, which rustfmt
/// would leave alone inside attributes; `x : :: y` keeps its colon.
pub fn source_text(tokens: &TokenStream) -> String {
    let code = tokens.to_string();
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' || c == '\n' {
            let before = out.chars().last();
            let word: String = out
                .chars()
                .rev()
                .take_while(|p| p.is_alphanumeric() || *p == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let keyword = matches!(
                word.as_str(),
                "impl"
                    | "for"
                    | "return"
                    | "as"
                    | "in"
                    | "dyn"
                    | "mut"
                    | "const"
                    | "where"
                    | "let"
                    | "match"
                    | "if"
                    | "else"
                    | "break"
                    | "move"
                    | "ref"
                    | "pub"
            );
            let path_before =
                !keyword && before.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '>');
            let path_after = chars.get(i + 1) == Some(&':') && chars.get(i + 2) == Some(&':');
            if path_after && path_before {
                continue;
            }
            if out.ends_with("::") && !out.ends_with(":::") {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// The hidden `__expand_schema!("path")` behind the golden tests: the expansion of a
/// schema file as a string literal.
pub fn expand_schema_to_string(input: TokenStream) -> TokenStream {
    schema::expand_to_string(input)
}
