//! Between the front ends and the shared model: a derived struct into a
//! [`TypeDef`] (with a [`SpanMap`]), and a checked [`TypeDef`] into the expander's
//! [`AddressType`].

use addralloc_runtime::schema::{FieldDef, FieldType, PoolDef, TypeDef};
use proc_macro2::{Span, TokenStream};
use syn::Ident;

use crate::ast::StructAttrs;
use crate::model::{AddressType, FieldModel, UInt};
use crate::spans::SpanMap;

fn field_type(t: UInt) -> FieldType {
    match t {
        UInt::U8 => FieldType::U8,
        UInt::U16 => FieldType::U16,
        UInt::U32 => FieldType::U32,
        UInt::U64 => FieldType::U64,
        UInt::U128 => FieldType::U128,
    }
}

fn uint(t: FieldType) -> UInt {
    UInt::from_name(t.name()).unwrap_or(UInt::U128)
}

/// The model of a derived struct, every token it mentions in `spans`.
pub fn typedef(ty: &AddressType, attrs: &StructAttrs, spans: &mut SpanMap) -> TypeDef {
    let mut td = TypeDef::new(ty.ident.to_string());
    td.span = Some(spans.add(ty.ident.span(), 1));
    if let Some(lit) = &attrs.format {
        let text = lit.value();
        td.format_span = Some(spans.add(lit.span(), text.len() + 2));
        td.format = Some(text);
    }
    for f in &ty.fields {
        let mut def = FieldDef::new(f.ident.to_string(), field_type(f.ty)).with_range(f.min, f.max);
        def.span = Some(spans.add(f.ident.span(), 1));
        if f.has_range {
            def.range_span = Some(spans.add_tokens(f.span.0, f.span.1, 1));
        }
        td.fields.push(def);
    }
    for p in &attrs.pools {
        let mut pool = PoolDef::new(p.pattern.value()).with_tags(p.tags.iter().cloned());
        pool.span = Some(spans.add(p.pattern.span(), 1));
        td.pools.push(pool);
    }
    td
}

/// The expander's model of a checked type. `idents` are the fields' own identifiers
/// (derive) or `None` to make them (TOML).
pub fn address_type(
    td: &TypeDef,
    ident: Ident,
    idents: Option<Vec<Ident>>,
    vis: TokenStream,
    krate: TokenStream,
    span: Span,
) -> AddressType {
    let fields: Vec<FieldModel> = td
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let ident = idents
                .as_ref()
                .and_then(|v| v.get(i).cloned())
                .unwrap_or_else(|| Ident::new(&f.name, span));
            FieldModel {
                ident,
                ty: uint(f.ty),
                min: f.min,
                max: f.max,
                doc: f.doc.clone(),
                span: (span, span),
                has_range: true,
            }
        })
        .collect();
    let pools = td
        .pools
        .iter()
        .filter_map(|p| crate::check::pool(&p.pattern, p.tags.clone(), &fields).ok())
        .collect();
    let format = td.format();
    let tuples = td.field_tuples();
    AddressType {
        ident,
        vis,
        krate,
        doc: td.doc.clone(),
        format_text: format.source(&tuples),
        format,
        fields,
        pools,
    }
}
