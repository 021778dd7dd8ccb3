//! From the shared model to the expander's: a checked [`TypeDef`] into an
//! [`AddressType`], the default pools read by the model's own pool parser.

use addralloc_runtime::schema::{Diagnostic, FieldType, TypeDef};
use proc_macro2::{Span, TokenStream};
use syn::Ident;

use crate::model::{AddressType, FieldModel, PoolModel, UInt};

fn uint(t: FieldType) -> UInt {
    match t {
        FieldType::U8 => UInt::U8,
        FieldType::U16 => UInt::U16,
        FieldType::U32 => UInt::U32,
        FieldType::U64 => UInt::U64,
        FieldType::U128 => UInt::U128,
    }
}

/// The expander's model of a checked type. `idents` are the fields' own identifiers
/// (derive) or `None` to make them (TOML). A pool the model rejects is an error (the
/// diagnostic of [`TypeDef::check`], at the pool's span), never left out.
pub fn address_type(
    td: &TypeDef,
    ident: Ident,
    idents: Option<Vec<Ident>>,
    vis: TokenStream,
    krate: TokenStream,
    span: Span,
) -> Result<AddressType, Vec<Diagnostic>> {
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
            }
        })
        .collect();
    let mut pools = Vec::new();
    let mut errors = Vec::new();
    for p in &td.pools {
        match td.pool_ranges(p) {
            Ok(ranges) => pools.push(PoolModel {
                text: p.pattern.clone(),
                ranges: ranges
                    .into_iter()
                    .map(|r| r.map(|r| (*r.start(), *r.end())))
                    .collect(),
                tags: p.tags.clone(),
            }),
            Err(d) => errors.push(d),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let format = td.format();
    let tuples = td.field_tuples();
    Ok(AddressType {
        ident,
        vis,
        krate,
        doc: td.doc.clone(),
        format_text: format.source(&tuples),
        format,
        fields,
        pools,
    })
}
