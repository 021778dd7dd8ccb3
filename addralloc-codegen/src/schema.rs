//! The TOML front end: `include_schema!("schemas/pci.toml")`.
//!
//! The file is read at compile time relative to `CARGO_MANIFEST_DIR`, parsed and checked
//! by the runtime's [`Schema::from_toml`] (the same loader and words as the dynamic
//! path and the CLI), and every error is reported on the path literal as
//! `file:line:col: message`.

use std::path::PathBuf;

use addralloc_runtime::schema::{Diagnostic, Schema, TypeDef};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::LitStr;

use crate::ctxt::Ctxt;
use crate::expand;
use crate::lower;
use crate::model::AddressType;

/// The facade's path in generated code.
fn default_krate() -> TokenStream {
    quote!(::addralloc)
}

/// The macro's input: `"path"`, then the options `crate = "::path::to::addralloc"` and
/// `text = "custom"` (each at most once, in any order).
struct Input {
    path: LitStr,
    krate: Option<syn::Path>,
    /// `text = "custom"`: no generated `Display`/`FromStr`; the user writes both.
    custom_text: bool,
}

const OPTIONS: [&str; 2] = ["crate", "text"];

impl syn::parse::Parse for Input {
    fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
        let path: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!(
                    "{e}; expected the path of a schema file as a string literal: `include_schema!(\"schemas/pci.toml\")`"
                ),
            )
        })?;
        let mut krate = None;
        let mut text: Option<LitStr> = None;
        while input.parse::<Option<syn::Token![,]>>()?.is_some() && !input.is_empty() {
            let key: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
            if !OPTIONS.iter().any(|o| key == o) {
                let msg = match crate::suggest::suggest(&key.to_string(), OPTIONS) {
                    Some(s) => {
                        format!("unknown `include_schema!` option `{key}`; did you mean `{s}`?")
                    }
                    None => format!(
                        "unknown `include_schema!` option `{key}`; expected `crate` or `text`"
                    ),
                };
                return Err(syn::Error::new(key.span(), msg));
            }
            if (key == "crate" && krate.is_some()) || (key == "text" && text.is_some()) {
                return Err(syn::Error::new(
                    key.span(),
                    format!("duplicate `include_schema!` option `{key}`"),
                ));
            }
            input.parse::<syn::Token![=]>()?;
            let lit: LitStr = input.parse()?;
            if key == "crate" {
                krate = Some(lit.parse()?);
            } else {
                if lit.value() != "custom" {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!(
                            "unknown `text` value `{}`; expected `\"custom\"` (no generated `Display` and `FromStr`: the crate writes its own)",
                            lit.value()
                        ),
                    ));
                }
                text = Some(lit);
            }
        }
        Ok(Input {
            path,
            krate,
            custom_text: text.is_some(),
        })
    }
}

/// Reads the path literal and the file.
fn read(input: TokenStream) -> syn::Result<(LitStr, Option<syn::Path>, bool, PathBuf, String)> {
    let Input {
        path: lit,
        krate,
        custom_text,
    } = syn::parse2(input)?;
    let rel = lit.value();
    let base = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = base.join(&rel);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((lit, krate, custom_text, path, text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(syn::Error::new(
            lit.span(),
            format!(
                "schema file `{rel}` not found (looked for `{}`; paths are relative to the crate's `CARGO_MANIFEST_DIR`)",
                path.display()
            ),
        )),
        Err(e) => Err(syn::Error::new(
            lit.span(),
            format!("cannot read schema file `{rel}`: {}", lowercase(&e.to_string())),
        )),
    }
}

fn lowercase(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f
            .to_lowercase()
            .chain(c)
            .collect::<String>()
            .trim_end_matches('.')
            .to_string(),
        None => String::new(),
    }
}

/// Every diagnostic as `file:line:col: message` on `span`, notes included.
fn report(cx: &mut Ctxt, span: Span, rel: &str, text: &str, diags: &[Diagnostic]) {
    for d in diags {
        cx.error(span, d.render(rel, text));
        for n in &d.notes {
            let note = Diagnostic::new(n.message.clone(), n.span.clone());
            cx.error(span, note.render(rel, text));
        }
    }
}

/// The struct definition of a schema type: derives, rustdoc, public fields.
fn definition(td: &TypeDef, ty: &AddressType) -> TokenStream {
    let name = &ty.ident;
    let doc = td.doc.clone().unwrap_or_else(|| {
        format!(
            "The `{}` address type, printed `{}`.",
            td.name, ty.format_text
        )
    });
    let doc_lines = doc_attrs(&doc);
    let fields = ty.fields.iter().map(|f| {
        let ident = &f.ident;
        let t = match f.ty {
            crate::model::UInt::U8 => quote!(u8),
            crate::model::UInt::U16 => quote!(u16),
            crate::model::UInt::U32 => quote!(u32),
            crate::model::UInt::U64 => quote!(u64),
            crate::model::UInt::U128 => quote!(u128),
        };
        let doc = f.doc.clone().unwrap_or_else(|| format!("Field `{ident}`."));
        let full = f.min == 0 && f.max == f.ty.max();
        let doc = if full {
            doc
        } else {
            format!("{doc}\n\nRange: `{}..={}`.", f.min, f.max)
        };
        let d = doc_attrs(&doc);
        quote! {
            #d
            pub #ident: #t
        }
    });
    quote! {
        #doc_lines
        #[derive(
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::fmt::Debug,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash,
            ::core::cmp::PartialOrd,
            ::core::cmp::Ord,
        )]
        pub struct #name {
            #(#fields,)*
        }
    }
}

/// `#[doc = " line"]` per line, as rustdoc writes `///` comments.
fn doc_attrs(text: &str) -> TokenStream {
    let lines = text.lines().map(|l| format!(" {l}"));
    quote!(#(#[doc = #lines])*)
}

/// The expansion of every type of a checked schema, or the diagnostics of the pools
/// the model rejects (none after a clean check: it reads pools the same way).
/// With `custom_text`, no `Display` and `FromStr` are generated (and the rustdoc says
/// so): the crate that includes the schema writes both.
fn expand_schema(
    schema: &Schema,
    krate: &TokenStream,
    span: Span,
    custom_text: bool,
) -> Result<TokenStream, Vec<Diagnostic>> {
    let mut out = TokenStream::new();
    let mut errors = Vec::new();
    for td in &schema.types {
        let ident = format_ident!("{}", td.name, span = span);
        let mut ty = match lower::address_type(td, ident, None, quote!(pub), krate.clone(), span) {
            Ok(ty) => ty,
            Err(d) => {
                errors.extend(d);
                continue;
            }
        };
        let mut td = td.clone();
        if custom_text {
            let note = format!(
                "Text: `Display` and `FromStr` are written by hand for this type (`include_schema!` \
                 option `text = \"custom\"`), not generated from the schema format `{}`.",
                ty.format_text
            );
            td.doc = Some(match td.doc.take() {
                Some(d) => format!("{d}\n\n{note}"),
                None => note,
            });
            ty.doc = td.doc.clone();
        }
        let def = definition(&td, &ty);
        out.extend(expand::expand(&ty, def, !custom_text));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// `include_schema!`.
pub fn include(input: TokenStream) -> TokenStream {
    let (lit, krate, custom_text, path, text) = match read(input) {
        Ok(r) => r,
        Err(e) => return e.into_compile_error(),
    };
    let krate = krate.map_or_else(default_krate, |p| quote!(#p));
    let abs = path.to_string_lossy().into_owned();
    let rebuild = quote!(
        const _: &str = ::core::include_str!(#abs);
    );
    let rel = lit.value();
    match Schema::from_toml(&text)
        .and_then(|schema| expand_schema(&schema, &krate, lit.span(), custom_text))
    {
        Ok(body) => quote!(#rebuild #body),
        Err(diags) => {
            let mut cx = Ctxt::new();
            report(&mut cx, lit.span(), &rel, &text, &diags);
            let err = cx.check().err().map(syn::Error::into_compile_error);
            let stubs = stubs(&text, &krate, lit.span(), custom_text);
            quote!(#rebuild #err #stubs)
        }
    }
}

/// For a schema with errors: the types that can still be made out (a valid name, fields
/// with a valid name and type), defined with stub impls so that their uses elsewhere do
/// not cascade into more errors.
fn stubs(text: &str, krate: &TokenStream, span: Span, custom_text: bool) -> TokenStream {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return TokenStream::new();
    };
    let Some(toml::Value::Array(types)) = doc.get("address") else {
        return TokenStream::new();
    };
    let mut out = TokenStream::new();
    let mut seen = Vec::new();
    for t in types {
        let Some(name) = t.get("name").and_then(toml::Value::as_str) else {
            continue;
        };
        if !addralloc_runtime::schema::is_rust_identifier(name) || seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let mut names = Vec::new();
        let fields = t
            .get("field")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| {
                let n = f.get("name")?.as_str()?;
                let ty = crate::model::UInt::from_name(f.get("type")?.as_str()?)?;
                if !addralloc_runtime::schema::is_rust_identifier(n) || names.contains(&n) {
                    return None;
                }
                names.push(n);
                let ident = format_ident!("{}", n, span = span);
                let ty = format_ident!("{}", ty.name(), span = span);
                Some(quote!(#[allow(missing_docs)] pub #ident: #ty))
            })
            .collect::<Vec<_>>();
        let ident = format_ident!("{}", name, span = span);
        let krate_text = krate.to_string();
        let def = quote! {
            #[allow(missing_docs)]
            #[derive(
                ::core::clone::Clone,
                ::core::marker::Copy,
                ::core::fmt::Debug,
                ::core::cmp::PartialEq,
                ::core::cmp::Eq,
                ::core::hash::Hash,
                ::core::cmp::PartialOrd,
                ::core::cmp::Ord,
            )]
            #[address(crate = #krate_text)]
            pub struct #ident {
                #(#fields,)*
            }
        };
        let Ok(input) = syn::parse2::<syn::DeriveInput>(def.clone()) else {
            continue;
        };
        let mut def = input.clone();
        def.attrs.retain(|a| !a.path().is_ident("address"));
        let stub = crate::fallback::stubs(&input, !custom_text);
        out.extend(quote!(#def #stub));
    }
    out
}

/// The expansion of a schema text, for the CLI's `gen`.
pub fn generate(text: &str, krate: &str) -> Result<TokenStream, Vec<String>> {
    let krate: TokenStream = syn::parse_str::<syn::Path>(krate)
        .map(|p| quote!(#p))
        .map_err(|e| vec![format!("invalid crate path `{krate}`: {e}")])?;
    match Schema::from_toml(text)
        .and_then(|schema| expand_schema(&schema, &krate, Span::call_site(), false))
    {
        Ok(body) => Ok(body),
        Err(diags) => Err(diags
            .iter()
            .map(|d| match d.line_col(text) {
                Some((l, c)) => format!("{l}:{c}: {}", d.message),
                None => d.message.clone(),
            })
            .collect()),
    }
}

/// `__expand_schema!("path")`: the expansion as a string literal.
pub fn expand_to_string(input: TokenStream) -> TokenStream {
    let (lit, _, custom_text, _, text) = match read(input) {
        Ok(r) => r,
        Err(e) => return e.into_compile_error(),
    };
    match Schema::from_toml(&text)
        .and_then(|schema| expand_schema(&schema, &default_krate(), Span::call_site(), custom_text))
    {
        Ok(body) => {
            let s = crate::source_text(&body);
            quote!(#s)
        }
        Err(diags) => {
            let mut cx = Ctxt::new();
            report(&mut cx, lit.span(), &lit.value(), &text, &diags);
            cx.check()
                .err()
                .map(syn::Error::into_compile_error)
                .unwrap_or_default()
        }
    }
}
