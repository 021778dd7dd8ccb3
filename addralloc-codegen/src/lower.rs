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
        if let Ok(Some((first, last))) = td.pool_ends(p) {
            pools.push(PoolModel {
                text: p.pattern.clone(),
                ranges: first.into_iter().zip(last).map(Some).collect(),
                linear: true,
                tags: p.tags.clone(),
            });
            continue;
        }
        match td.pool_ranges(p) {
            Ok(ranges) => pools.push(PoolModel {
                text: p.pattern.clone(),
                ranges: ranges
                    .into_iter()
                    .map(|r| r.map(|r| (*r.start(), *r.end())))
                    .collect(),
                linear: false,
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

#[cfg(test)]
mod tests {
    use addralloc_runtime::schema::{FieldDef, PoolDef};
    use quote::quote;

    use super::*;

    fn pci() -> TypeDef {
        let mut td = TypeDef::new("Pci");
        td.fields.push(FieldDef::new("bus", FieldType::U8));
        td.fields
            .push(FieldDef::new("slot", FieldType::U8).with_range(0, 31));
        td
    }

    fn lower(td: &TypeDef) -> Result<AddressType, Vec<Diagnostic>> {
        let span = Span::call_site();
        address_type(
            td,
            Ident::new("Pci", span),
            None,
            quote!(pub),
            quote!(::addralloc),
            span,
        )
    }

    #[test]
    fn pools_are_read_by_the_model() {
        let mut td = pci();
        td.pools
            .push(PoolDef::new("bus=0, slot=1..8").with_tags(["hotplug"]));
        let ty = lower(&td).map_err(|d| d[0].message.clone()).unwrap();
        assert_eq!(ty.pools.len(), 1);
        assert_eq!(ty.pools[0].ranges, [Some((0, 0)), Some((1, 7))]);
        assert_eq!(ty.pools[0].tags, ["hotplug"]);
    }

    #[test]
    fn a_rejected_pool_is_an_error_not_left_out() {
        let mut td = pci();
        td.pools.push(PoolDef::new("bus=0"));
        let mut bad = PoolDef::new("bus=0, slot=32");
        bad.span = Some(40..54);
        td.pools.push(bad);
        td.pools.push(PoolDef::new("slott=1"));
        let errs = lower(&td).err().unwrap_or_default();
        let got: Vec<(&str, Option<std::ops::Range<usize>>)> = errs
            .iter()
            .map(|d| (d.message.as_str(), d.span.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "invalid pool pattern `bus=0, slot=32`: field `slot` value 32 is out of range 0..=31",
                    Some(40..54)
                ),
                (
                    "invalid pool pattern `slott=1`: unknown field `slott`; did you mean `slot`?",
                    None
                ),
            ]
        );
    }
}
