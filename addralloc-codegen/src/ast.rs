//! The derive front end: a `syn::DeriveInput` and its `#[address(..)]` attributes
//! straight into the runtime's schema model, a [`TypeDef`] (the one TOML schemas load
//! into), with a [`SpanMap`] that takes the model's diagnostics back to the tokens.
//! Problems only the Rust syntax can have are recorded in the [`Ctxt`] with their span.

use addralloc_runtime::schema::{FieldDef, FieldType, PoolDef, TypeDef};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, Ident, Lit, LitStr, RangeLimits, Type, UnOp};

use crate::ctxt::Ctxt;
use crate::spans::SpanMap;
use crate::suggest::suggest;

const STRUCT_KEYS: &[&str] = &["format", "crate", "pool"];
const FIELD_KEYS: &[&str] = &["range"];

/// A default pool as written in an attribute.
struct PoolAttr {
    /// The pattern text.
    pattern: LitStr,
    /// The tags.
    tags: Vec<String>,
}

/// The struct-level attributes.
#[derive(Default)]
struct StructAttrs {
    /// `format = "..."`
    format: Option<LitStr>,
    /// `crate = "..."`
    krate: Option<TokenStream>,
    /// `pool = "..."` / `pool(pattern = "...", tags = [..])`
    pools: Vec<PoolAttr>,
}

/// What the derive front end produces: the model, where each of its facts came from,
/// and what the model does not hold (identifiers with their spans, visibility, the
/// facade's path).
pub struct Parsed {
    /// The type as the shared model; not yet checked.
    pub td: TypeDef,
    /// The tokens behind the model's spans.
    pub spans: SpanMap,
    /// The struct's name.
    pub ident: Ident,
    /// The fields' own identifiers, in order.
    pub idents: Vec<Ident>,
    /// The struct's visibility.
    pub vis: TokenStream,
    /// The path of the `addralloc` facade (`::addralloc` unless overridden).
    pub krate: TokenStream,
}

/// Records a duplicate key at both places.
fn duplicate(cx: &mut Ctxt, key: &str, first: Span, again: Span) {
    cx.error(again, format!("duplicate `address` attribute key `{key}`"));
    cx.error(first, format!("`{key}` is first given here"));
}

fn unknown_key(cx: &mut Ctxt, path: &syn::Path, keys: &[&str], what: &str) {
    let name = path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_else(|| tokens_text(path));
    let misplaced = if what == "a struct" && FIELD_KEYS.contains(&name.as_str()) {
        Some("a field")
    } else if what == "a field" && STRUCT_KEYS.contains(&name.as_str()) {
        Some("the struct")
    } else {
        None
    };
    if let Some(place) = misplaced {
        cx.error(
            path.span(),
            format!("`address` attribute `{name}` is not allowed on {what}; put it on {place}"),
        );
        return;
    }
    let msg = match suggest(&name, keys.iter().copied()) {
        Some(s) => format!("unknown `address` attribute `{name}`; did you mean `{s}`?"),
        None => {
            let list: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
            format!(
                "unknown `address` attribute `{name}` on {what}; expected {}",
                list.join(", ")
            )
        }
    };
    cx.error(path.span(), msg);
}

fn is_address(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("address")
}

/// Parses the struct attributes.
fn struct_attrs(cx: &mut Ctxt, attrs: &[syn::Attribute]) -> StructAttrs {
    let mut out = StructAttrs::default();
    let mut format_span: Option<Span> = None;
    let mut crate_span: Option<Span> = None;
    for attr in attrs.iter().filter(|a| is_address(a)) {
        let r = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("format") {
                let lit: LitStr = meta.value()?.parse()?;
                if let Some(first) = format_span {
                    duplicate(cx, "format", first, meta.path.span());
                } else {
                    format_span = Some(meta.path.span());
                    out.format = Some(lit);
                }
            } else if meta.path.is_ident("crate") {
                let lit: LitStr = meta.value()?.parse()?;
                let path: syn::Path = lit.parse()?;
                if let Some(first) = crate_span {
                    duplicate(cx, "crate", first, meta.path.span());
                } else {
                    crate_span = Some(meta.path.span());
                    out.krate = Some(path.into_token_stream());
                }
            } else if meta.path.is_ident("pool") {
                if meta.input.peek(syn::Token![=]) {
                    let lit: LitStr = meta.value()?.parse()?;
                    out.pools.push(PoolAttr {
                        pattern: lit,
                        tags: Vec::new(),
                    });
                } else {
                    let mut pattern: Option<LitStr> = None;
                    let mut tags: Option<Vec<String>> = None;
                    let span = meta.path.span();
                    meta.parse_nested_meta(|inner| {
                        if inner.path.is_ident("pattern") {
                            let lit: LitStr = inner.value()?.parse()?;
                            if pattern.is_some() {
                                cx.error(
                                    inner.path.span(),
                                    "duplicate `address` attribute key `pattern`",
                                );
                            }
                            pattern = Some(lit);
                        } else if inner.path.is_ident("tags") {
                            let value = inner.value()?;
                            let content;
                            syn::bracketed!(content in value);
                            let list = content.parse_terminated(
                                <LitStr as syn::parse::Parse>::parse,
                                syn::Token![,],
                            )?;
                            if tags.is_some() {
                                cx.error(
                                    inner.path.span(),
                                    "duplicate `address` attribute key `tags`",
                                );
                            }
                            tags = Some(list.iter().map(LitStr::value).collect());
                        } else {
                            unknown_key(cx, &inner.path, &["pattern", "tags"], "a pool");
                            skip_value(&inner)?;
                        }
                        Ok(())
                    })?;
                    match pattern {
                        Some(pattern) => out.pools.push(PoolAttr {
                            pattern,
                            tags: tags.unwrap_or_default(),
                        }),
                        None => cx.error(span, "`pool(..)` needs `pattern = \"...\"`"),
                    }
                }
            } else {
                unknown_key(cx, &meta.path, STRUCT_KEYS, "a struct");
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(e) = r {
            cx.syn_error(e);
        }
    }
    out
}

/// Skips `= value` or `(..)` after an unknown key so the next keys are still read.
fn skip_value(meta: &syn::meta::ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
        let _: TokenStream = _content.parse()?;
    }
    Ok(())
}

/// An unsigned integer literal, possibly in parentheses.
fn int(cx: &mut Ctxt, e: &Expr) -> Option<u128> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => match i.base10_parse::<u128>() {
                Ok(v) => Some(v),
                Err(err) => {
                    cx.syn_error(err);
                    None
                }
            },
            other => {
                cx.error(other.span(), "expected an unsigned integer literal");
                None
            }
        },
        Expr::Paren(p) => int(cx, &p.expr),
        Expr::Group(g) => int(cx, &g.expr),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => {
            cx.error(e.span(), "a field range cannot be negative");
            None
        }
        other => {
            cx.error(other.span(), "expected an unsigned integer literal");
            None
        }
    }
}

/// `range = A..=B` or `A..B`: `(min, max, span)`; `max < min` for an empty range.
fn field_range(cx: &mut Ctxt, attrs: &[syn::Attribute]) -> Option<(u128, u128, (Span, Span))> {
    let mut out: Option<(u128, u128, (Span, Span))> = None;
    let mut first: Option<Span> = None;
    for attr in attrs.iter().filter(|a| is_address(a)) {
        let r = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("range") {
                let e: Expr = meta.value()?.parse()?;
                if let Some(f) = first {
                    duplicate(cx, "range", f, meta.path.span());
                    return Ok(());
                }
                first = Some(meta.path.span());
                let span = e.span();
                let last = e
                    .to_token_stream()
                    .into_iter()
                    .last()
                    .map_or(span, |t| t.span());
                let Expr::Range(r) = &e else {
                    cx.error(span, "expected a range such as `0..=31` or `0..32`");
                    return Ok(());
                };
                let (Some(a), Some(b)) = (&r.start, &r.end) else {
                    cx.error(
                        span,
                        "a field range needs both ends, such as `0..=31` or `0..32`",
                    );
                    return Ok(());
                };
                let (Some(lo), Some(hi)) = (int(cx, a), int(cx, b)) else {
                    return Ok(());
                };
                // Empty and too-wide ranges are reported by the model's check, in the
                // same words as for TOML schemas.
                let (lo, hi) = match r.limits {
                    RangeLimits::Closed(_) => (lo, hi),
                    RangeLimits::HalfOpen(_) => match hi.checked_sub(1) {
                        Some(hi) => (lo, hi),
                        None => (lo.max(1), 0),
                    },
                };
                out = Some((lo, hi, (span, last)));
            } else {
                unknown_key(cx, &meta.path, FIELD_KEYS, "a field");
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(e) = r {
            cx.syn_error(e);
        }
    }
    out
}

/// The type of a field: one of the unsigned integer types.
fn field_type(cx: &mut Ctxt, ty: &Type) -> Option<FieldType> {
    let found = match ty {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .filter(|s| s.arguments.is_empty())
            .and_then(|s| FieldType::from_name(&s.ident.to_string())),
        Type::Group(g) => return field_type(cx, &g.elem),
        _ => None,
    };
    if found.is_none() {
        cx.error(
            ty.span(),
            format!(
                "unsupported field type `{}`; expected `u8`, `u16`, `u32`, `u64` or `u128`",
                tokens_text(ty)
            ),
        );
    }
    found
}

/// Reads the derive input. `None` when the input is no struct with named fields (the
/// error is in `cx`).
pub fn parse(cx: &mut Ctxt, input: &DeriveInput) -> Option<Parsed> {
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(n) => Some(n),
            Fields::Unnamed(u) => {
                cx.error(
                    u.span(),
                    "`AddressSpace` cannot be derived for a tuple struct; name the fields",
                );
                None
            }
            Fields::Unit => {
                cx.error(
                    input.ident.span(),
                    "`AddressSpace` cannot be derived for a unit struct; an address type needs at least one field",
                );
                None
            }
        },
        Data::Enum(e) => {
            cx.error(
                e.enum_token.span(),
                "`AddressSpace` cannot be derived for an enum; an address type is a struct with named fields",
            );
            None
        }
        Data::Union(u) => {
            cx.error(
                u.union_token.span(),
                "`AddressSpace` cannot be derived for a union; an address type is a struct with named fields",
            );
            None
        }
    };
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        cx.error(
            input.generics.span(),
            "`AddressSpace` cannot be derived for a generic struct; address types have no generic parameters",
        );
    }
    let attrs = struct_attrs(cx, &input.attrs);
    let named = named?;
    if !input.generics.params.is_empty() {
        // The fields' types would only repeat the error.
        return None;
    }
    if named.named.is_empty() {
        cx.error(
            input.ident.span(),
            "`AddressSpace` needs at least one field",
        );
    }
    // Spans are added in source order (the type, its format, each field and its range,
    // the pools): the model sorts its diagnostics by them.
    let mut spans = SpanMap::new(input.ident.span());
    let mut td = TypeDef::new(input.ident.to_string());
    td.span = Some(spans.add(input.ident.span(), 1));
    if let Some(lit) = &attrs.format {
        let text = lit.value();
        td.format_span = Some(spans.add(lit.span(), text.len() + 2));
        td.format = Some(text);
    }
    let mut idents = Vec::new();
    for f in &named.named {
        let ty = field_type(cx, &f.ty);
        let range = field_range(cx, &f.attrs);
        let Some(ident) = f.ident.clone() else {
            continue;
        };
        // An unsupported type (reported above) stands in as a `u128` of one value, so
        // that no range or width error follows from it and the format and pool checks
        // do not cascade.
        let mut def = match ty {
            Some(ty) => FieldDef::new(ident.to_string(), ty),
            None => FieldDef::new(ident.to_string(), FieldType::U128).with_range(0, 0),
        };
        def.span = Some(spans.add(ident.span(), 1));
        if let Some((lo, hi, (first, last))) = range {
            def = def.with_range(lo, hi);
            def.range_span = Some(spans.add_tokens(first, last, 1));
        }
        td.fields.push(def);
        idents.push(ident);
    }
    for p in &attrs.pools {
        let mut pool = PoolDef::new(p.pattern.value()).with_tags(p.tags.iter().cloned());
        pool.span = Some(spans.add(p.pattern.span(), 1));
        td.pools.push(pool);
    }
    let krate = attrs.krate.clone().unwrap_or_else(|| quote!(::addralloc));
    Some(Parsed {
        td,
        spans,
        ident: input.ident.clone(),
        idents,
        vis: input.vis.to_token_stream(),
        krate,
    })
}

/// The `crate = "..."` override, read on its own for the fallback (errors ignored).
pub fn crate_path(attrs: &[syn::Attribute]) -> TokenStream {
    let mut out = None;
    for attr in attrs.iter().filter(|a| is_address(a)) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let lit: LitStr = meta.value()?.parse()?;
                out = Some(lit.parse::<syn::Path>()?.into_token_stream());
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        });
    }
    out.unwrap_or_else(|| quote!(::addralloc))
}

/// Source-like text of tokens: `&'static str`, `Vec<u8>`, `a::b`.
fn tokens_text(t: &impl ToTokens) -> String {
    let s = t.to_token_stream().to_string();
    let mut out = s
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& ", "&")
        .replace("[ ", "[")
        .replace(" ]", "]")
        .replace(" ;", ";");
    if out.starts_with(" ") {
        out = out.trim_start().to_string();
    }
    out
}
