//! Expansion: an [`AddressType`] into the generated API.
//!
//! Everything a user names (`A`, `APattern`, `ABlock`) is emitted at the item's level;
//! every impl sits in `const _: () = { … };` with `#[automatically_derived]`, absolute
//! paths and `__`-prefixed locals, so the output compiles under
//! `#![no_implicit_prelude]` and `#![deny(warnings, missing_docs)]`. Trait impls carry
//! `#[automatically_derived]` (rustc no longer accepts it on inherent impls).
//!
//! - `Display` is one `write!` with native format specs (`{:04x}`), letters through the
//!   runtime's `Spec::write`.
//! - `FromStr` is straight-line code specialised to the format: per field a byte loop in
//!   the narrowest accumulator that cannot overflow, per literal a byte compare. It
//!   accepts exactly what the runtime's `format::parse_pieces` accepts (checked by a
//!   property test in `tests/derive.rs`, and for optional fields in
//!   `tests/optional_fields.rs`); on anything else it calls the runtime parser
//!   (`__private::parse_slow`, `#[cold]`), so every error has the runtime's words.
//!   Optional trailing groups (`.{p2?}`) sit in a labelled block that the end of the
//!   text leaves early, their variables declared 0 (absent).
//! - `Display` of optional groups prints each group up to the last present field
//!   (`__shown`), as the runtime's `write_pieces` does.
//! - serde: the expansion always invokes `$crate::__private::serde_impls!(A)`, a
//!   `macro_rules!` of the facade that expands to `Serialize`/`Deserialize` (as the
//!   display string) when the facade's `serde` feature is on and to nothing otherwise;
//!   the user's crate needs no feature or `cfg` of its own.

use addralloc_runtime::format::__private::{Piece, Radix, Spec};
use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::model::{AddressType, FieldModel, UInt};

/// A suffixed integer literal of the field's type.
fn lit(v: u128, ty: UInt) -> Literal {
    match ty {
        UInt::U8 => Literal::u8_suffixed(v as u8),
        UInt::U16 => Literal::u16_suffixed(v as u16),
        UInt::U32 => Literal::u32_suffixed(v as u32),
        UInt::U64 => Literal::u64_suffixed(v as u64),
        UInt::U128 => Literal::u128_suffixed(v),
    }
}

fn ty_tokens(ty: UInt) -> TokenStream {
    match ty {
        UInt::U8 => quote!(u8),
        UInt::U16 => quote!(u16),
        UInt::U32 => quote!(u32),
        UInt::U64 => quote!(u64),
        UInt::U128 => quote!(u128),
    }
}

fn doc(text: &str) -> TokenStream {
    quote!(#[doc = #text])
}

/// The accumulator type the parser uses for a field: the smallest of `u32`, `u64`,
/// `u128` in which `max * 26 + 25` cannot overflow.
fn acc_type(max: u128) -> UInt {
    if max < u128::from(u32::MAX >> 6) {
        UInt::U32
    } else if max < u128::from(u64::MAX >> 6) {
        UInt::U64
    } else {
        UInt::U128
    }
}

fn radix_tokens(krate: &TokenStream, r: Radix) -> TokenStream {
    match r {
        Radix::Decimal => quote!(#krate::__private::Radix::Decimal),
        Radix::LowerHex => quote!(#krate::__private::Radix::LowerHex),
        Radix::UpperHex => quote!(#krate::__private::Radix::UpperHex),
        Radix::Letters => quote!(#krate::__private::Radix::Letters),
    }
}

fn spec_tokens(krate: &TokenStream, s: &Spec) -> TokenStream {
    let field = s.field;
    let radix = radix_tokens(krate, s.radix);
    let width = s.width;
    let zero_pad = s.zero_pad;
    quote!(#krate::__private::Spec { field: #field, radix: #radix, width: #width, zero_pad: #zero_pad })
}

/// `Display`: every piece written into a stack buffer as long as the longest address,
/// handed to the formatter in one `pad` (so `{:>20}` aligns the whole address).
fn display(ty: &AddressType) -> TokenStream {
    let krate = &ty.krate;
    let mut len = 0usize;
    let mut steps = Vec::new();
    // Optional groups: `__shown` is how many are printed (up to the last present one).
    let optional: Vec<&Spec> = ty
        .format
        .pieces()
        .iter()
        .filter_map(|p| match p {
            Piece::Optional(_, s) => Some(s),
            _ => None,
        })
        .collect();
    if !optional.is_empty() {
        // `if self.p4 != 0 { 3 } else if self.p3 != 0 { 2 } … else { 0 }`
        let arms = optional.iter().enumerate().rev().filter_map(|(i, s)| {
            let ident = &ty.fields.get(s.field)?.ident;
            let n = i + 1;
            Some(quote!(if self.#ident != 0 { #n }))
        });
        steps.push(quote!(let __shown: usize = #(#arms)else* else { 0usize };));
    }
    let mut group = 0usize;
    for p in ty.format.pieces() {
        let spec = match p {
            Piece::Literal(l) => {
                len += l.len();
                steps.push(quote!(__buf.push_str(#l);));
                continue;
            }
            Piece::Field(spec) => spec,
            Piece::Optional(l, spec) => {
                len += l.len();
                group += 1;
                let mut inner = Vec::new();
                inner.push(quote!(__buf.push_str(#l);));
                if let Some(step) = field_step(ty, spec, &mut len) {
                    inner.push(step);
                }
                steps.push(quote!(if __shown >= #group { #(#inner)* }));
                continue;
            }
        };
        if let Some(step) = field_step(ty, spec, &mut len) {
            steps.push(step);
        }
    }
    let name = &ty.ident;
    quote! {
        #[automatically_derived]
        impl ::core::fmt::Display for #name {
            #[inline]
            fn fmt(&self, __f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut __buf = #krate::__private::Buf::<#len>::new();
                #(#steps)*
                __buf.finish(__f)
            }
        }
    }
}

/// The `Display` step writing one field into `__buf`; adds its longest length to `len`.
fn field_step(ty: &AddressType, spec: &Spec, len: &mut usize) -> Option<TokenStream> {
    let krate = &ty.krate;
    let f = ty.fields.get(spec.field)?;
    let ident = &f.ident;
    *len += spec.printed_len(f.max).max(spec.width);
    let width = spec.width;
    let zero = spec.zero_pad;
    let upper = spec.radix == Radix::UpperHex;
    Some(match spec.radix {
        Radix::Letters => {
            let spec = spec_tokens(krate, spec);
            quote!(__buf.push_spec(#spec, ::core::convert::From::from(self.#ident));)
        }
        radix if f.ty == UInt::U128 => {
            let base = Literal::u128_suffixed(if radix == Radix::Decimal { 10 } else { 16 });
            quote!(__buf.push_u128(self.#ident, #base, #upper, #width, #zero);)
        }
        radix => {
            let base = Literal::u64_suffixed(if radix == Radix::Decimal { 10 } else { 16 });
            let v = if f.ty == UInt::U64 {
                quote!(self.#ident)
            } else {
                quote!(::core::convert::From::from(self.#ident))
            };
            quote!(__buf.push_u64(#v, #base, #upper, #width, #zero);)
        }
    })
}

/// The digit of byte `__c` in `radix`, or `fail`.
fn digit(radix: Radix, acc: &TokenStream, fail: &TokenStream) -> TokenStream {
    match radix {
        Radix::Decimal => quote! {
            match __c {
                b'0'..=b'9' => (__c - b'0') as #acc,
                _ => #fail,
            }
        },
        Radix::LowerHex | Radix::UpperHex => quote! {
            match __c {
                b'0'..=b'9' => (__c - b'0') as #acc,
                b'a'..=b'f' => (__c - b'a' + 10) as #acc,
                b'A'..=b'F' => (__c - b'A' + 10) as #acc,
                _ => #fail,
            }
        },
        Radix::Letters => quote! {
            match __c {
                b'a'..=b'z' => (__c - b'a') as #acc,
                _ => #fail,
            }
        },
    }
}

/// `FromStr`: a straight-line parser for this format. It accepts exactly what the
/// runtime's `format::parse_pieces` accepts; on anything unusual (and on every error) it
/// hands over to the runtime parser, which says what is wrong in the shared words.
/// The fast parser's step over literal text `l`; `None` for empty text.
fn literal_step(l: &str, slow: &TokenStream) -> Option<TokenStream> {
    if l.is_empty() {
        return None;
    }
    let n = l.len();
    if let [byte] = l.as_bytes() {
        let byte = proc_macro2::Literal::byte_character(*byte);
        return Some(quote! {
            match __b.get(__p) {
                ::core::option::Option::Some(&#byte) => __p += 1,
                _ => #slow,
            }
        });
    }
    let bytes = syn::LitByteStr::new(l.as_bytes(), Span::call_site());
    Some(quote! {
        match __b.get(__p..__p + #n) {
            ::core::option::Option::Some(__t) if __t == #bytes => __p += #n,
            _ => #slow,
        }
    })
}

fn from_str(ty: &AddressType) -> TokenStream {
    let krate = &ty.krate;
    let name = &ty.ident;
    let pieces = ty.format.pieces();
    // The fast path gives up with `None`; `from_str` then asks the runtime parser.
    let slow = quote!(return ::core::option::Option::None);
    let mut body = Vec::new();
    let mut piece_consts = Vec::new();
    // Optional groups: their variables (declared 0, absent) and their steps.
    let mut opt_decls = Vec::new();
    let mut opt_body = Vec::new();
    for (k, p) in pieces.iter().enumerate() {
        let (spec, optional) = match p {
            Piece::Literal(l) => {
                piece_consts.push(quote!(#krate::__private::PieceRef::Literal(#l)));
                if let Some(step) = literal_step(l, &slow) {
                    body.push(step);
                }
                continue;
            }
            Piece::Optional(l, spec) => {
                let s = spec_tokens(krate, spec);
                piece_consts.push(quote!(#krate::__private::PieceRef::Optional(#l, #s)));
                // Where the group starts, the text may end: the rest is absent.
                opt_body.push(quote! {
                    if __p == __b.len() {
                        break '__optional;
                    }
                });
                if let Some(step) = literal_step(l, &slow) {
                    opt_body.push(step);
                }
                (spec, true)
            }
            Piece::Field(spec) => {
                piece_consts.push({
                    let s = spec_tokens(krate, spec);
                    quote!(#krate::__private::PieceRef::Field(#s))
                });
                (spec, false)
            }
        };
        let Some(f) = ty.fields.get(spec.field) else {
            continue;
        };
        let var = format_ident!("__f{}", spec.field);
        let acc_ty = acc_type(f.max);
        let acc = ty_tokens(acc_ty);
        let max = lit(f.max, acc_ty);
        let min = lit(f.min, acc_ty);
        let exact = match pieces.get(k + 1) {
            Some(Piece::Field(_)) => spec.is_fixed_width(f.min, f.max),
            Some(Piece::Literal(l) | Piece::Optional(l, _)) => {
                l.chars().next().is_some_and(|c| spec.radix.is_digit(c))
                    && spec.is_fixed_width(f.min, f.max)
            }
            None => false,
        };
        let brk = quote!(break);
        let (base, add) = match spec.radix {
            Radix::Decimal => (lit(10, acc_ty), false),
            Radix::Letters => (lit(26, acc_ty), true),
            _ => (lit(16, acc_ty), false),
        };
        let one = lit(1, acc_ty);
        let step = match (acc_ty, add) {
            (UInt::U128, false) => quote! {
                match __v.checked_mul(#base) {
                    ::core::option::Option::Some(__m) => match __m.checked_add(__d) {
                        ::core::option::Option::Some(__n) => __n,
                        ::core::option::Option::None => #slow,
                    },
                    ::core::option::Option::None => #slow,
                }
            },
            (UInt::U128, true) => quote! {
                if __p == __start {
                    __d
                } else {
                    match __v.checked_add(#one) {
                        ::core::option::Option::Some(__a) => match __a.checked_mul(#base) {
                            ::core::option::Option::Some(__m) => match __m.checked_add(__d) {
                                ::core::option::Option::Some(__n) => __n,
                                ::core::option::Option::None => #slow,
                            },
                            ::core::option::Option::None => #slow,
                        },
                        ::core::option::Option::None => #slow,
                    }
                }
            },
            (_, false) => quote!(__v * #base + __d),
            (_, true) => {
                quote!(if __p == __start { __d } else { (__v + #one) * #base + __d })
            }
        };
        let over = if acc_ty == UInt::U128 && f.max == u128::MAX {
            quote!()
        } else {
            quote!(if __v > #max { #slow })
        };
        let under = if f.min > 0 {
            quote!(if __v < #min { #slow })
        } else {
            quote!()
        };
        let space_padded = spec.width > 0 && !spec.zero_pad;
        let zero = lit(0, acc_ty);
        let block = if exact {
            let d_exact = digit(spec.radix, &acc, &slow);
            let w = spec.printed_len(f.max);
            quote! {
                {
                    let __start = __p;
                    let __end = __p + #w;
                    if __end > __b.len() { #slow }
                    let mut __v: #acc = #zero;
                    while __p < __end {
                        let __c = __b[__p];
                        let __d: #acc = #d_exact;
                        __v = #step;
                        #over
                        __p += 1;
                    }
                    let _ = __start;
                    #under
                    __v
                }
            }
        } else {
            let skip = if space_padded {
                quote!(
                    while let ::core::option::Option::Some(b' ') = __b.get(__p) {
                        __p += 1;
                    }
                )
            } else {
                quote!()
            };
            let d_greedy = digit(spec.radix, &acc, &brk);
            quote! {
                {
                    #skip
                    let __start = __p;
                    let mut __v: #acc = #zero;
                    while let ::core::option::Option::Some(&__c) = __b.get(__p) {
                        let __d: #acc = #d_greedy;
                        __v = #step;
                        #over
                        __p += 1;
                    }
                    if __p == __start { #slow }
                    #under
                    __v
                }
            }
        };
        if optional {
            opt_decls.push(quote!(let mut #var: #acc = #zero;));
            opt_body.push(quote! {
                #var = #block;
                if #var == #zero { #slow }
            });
        } else {
            body.push(quote!(let #var = #block;));
        }
    }
    if !opt_body.is_empty() {
        // Optional groups: the text may end before each; what is left out stays 0.
        body.push(quote! {
            #(#opt_decls)*
            '__optional: {
                #(#opt_body)*
            }
        });
    }
    let inits = ty.fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        let var = format_ident!("__f{}", i);
        let acc_ty = acc_type(f.max);
        if acc_ty == f.ty {
            quote!(#ident: #var)
        } else {
            let t = ty_tokens(f.ty);
            quote!(#ident: #var as #t)
        }
    });
    quote! {
        #[automatically_derived]
        impl ::core::str::FromStr for #name {
            type Err = #krate::Error;

            #[inline]
            fn from_str(__s: &str) -> ::core::result::Result<Self, #krate::Error> {
                const __PIECES: &[#krate::__private::PieceRef<'static>] = &[#(#piece_consts),*];
                #[inline(always)]
                fn __fast(__s: &str) -> ::core::option::Option<#name> {
                    let __b = __s.as_bytes();
                    let mut __p: usize = 0;
                    #(#body)*
                    if __p != __b.len() {
                        #slow
                    }
                    ::core::option::Option::Some(#name { #(#inits),* })
                }
                match __fast(__s) {
                    ::core::option::Option::Some(__a) => ::core::result::Result::Ok(__a),
                    ::core::option::Option::None => #krate::__private::parse_slow::<#name>(__PIECES, __s),
                }
            }
        }
    }
}

fn address_impl(ty: &AddressType) -> TokenStream {
    let krate = &ty.krate;
    let name = &ty.ident;
    let metas = ty.fields.iter().map(|f| {
        let n = f.ident.to_string();
        let min = Literal::u128_suffixed(f.min);
        let max = Literal::u128_suffixed(f.max);
        quote!(#krate::Field::new(#n, #min, #max))
    });
    let arms = ty.fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        quote!(#i => ::core::convert::From::from(self.#ident))
    });
    let vars: Vec<_> = (0..ty.fields.len())
        .map(|i| format_ident!("__v{}", i))
        .collect();
    let from = ty.fields.iter().zip(&vars).map(|(f, v)| {
        let ident = &f.ident;
        if f.ty == UInt::U128 {
            quote!(#ident: *#v)
        } else {
            let t = ty_tokens(f.ty);
            quote!(#ident: *#v as #t)
        }
    });
    let mins = ty.fields.iter().map(|f| {
        let ident = &f.ident;
        let v = lit(f.min, f.ty);
        quote!(#ident: #v)
    });
    // Fields written in hex in the format print their values in hex in patterns.
    let mut hex: u16 = 0;
    for p in ty.format.pieces() {
        use addralloc_runtime::format::__private::{Piece, Radix};
        if let Piece::Field(spec) = p {
            if matches!(spec.radix, Radix::LowerHex | Radix::UpperHex) && spec.field < 16 {
                hex |= 1 << spec.field;
            }
        }
    }
    let hex_fn = (hex != 0).then(|| {
        quote! {
            #[inline]
            fn hex_field(__i: usize) -> bool {
                __i < 16 && (#hex >> __i) & 1 == 1
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl #krate::Address for #name {
            const FIELDS: &'static [#krate::Field] = &[#(#metas),*];

            #hex_fn

            #[inline]
            fn field(&self, __i: usize) -> u128 {
                match __i {
                    #(#arms,)*
                    _ => 0u128,
                }
            }

            #[inline]
            fn from_fields(__values: &[u128]) -> Self {
                match __values {
                    [#(#vars,)* ..] => #name { #(#from),* },
                    // Never passed by the allocator; `try_from_fields` reports it.
                    _ => #name { #(#mins),* },
                }
            }
        }
    }
}

/// The names of the builder types.
pub fn builder_names(ty: &AddressType) -> (syn::Ident, syn::Ident) {
    (
        format_ident!("{}Pattern", ty.ident),
        format_ident!("{}Block", ty.ident),
    )
}

/// The builder types, at the item's level (public names).
fn builder_types(ty: &AddressType) -> TokenStream {
    let krate = &ty.krate;
    let name = &ty.ident;
    let vis = &ty.vis;
    let (pat, block) = builder_names(ty);
    let pat_doc = doc(&format!(
        "A pattern of [`{name}`] addresses under construction: one method per field, each \
         taking a value or a range; converts into [`Pattern<{name}>`]({krate_doc}::Pattern). \
         Made by [`{name}::pattern`].",
        krate_doc = krate_doc(krate)
    ));
    let block_doc = doc(&format!(
        "A block shape of [`{name}`] addresses under construction: one method per field, \
         each taking the field's extent; converts into [`Block<{name}>`]({krate_doc}::Block). \
         Made by [`{name}::block`].",
        krate_doc = krate_doc(krate)
    ));
    quote! {
        #pat_doc
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::cmp::Eq)]
        #[must_use]
        #vis struct #pat {
            __inner: #krate::Pattern<#name>,
        }

        #block_doc
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::cmp::Eq)]
        #[must_use]
        #vis struct #block {
            __inner: #krate::Block<#name>,
        }
    }
}

/// The intra-doc path of the crate (`::addralloc` → `addralloc`).
fn krate_doc(krate: &TokenStream) -> String {
    let s = krate.to_string().replace(' ', "");
    s.trim_start_matches("::").to_string()
}

fn builder_impls(ty: &AddressType) -> TokenStream {
    let krate = &ty.krate;
    let name = &ty.ident;
    let (pat, block) = builder_names(ty);
    let pat_methods = ty.fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        let t = ty_tokens(f.ty);
        let d = doc(&format!(
            "Constrains `{ident}` to a value or a range (`5`, `1..=31`, `8..`, `..`); \
             its declared range is {}..={}.",
            f.min, f.max
        ));
        quote! {
            #d
            #[inline]
            pub fn #ident(self, __range: impl #krate::FieldRange<#t>) -> Self {
                #pat { __inner: self.__inner.field::<#t>(#i, __range) }
            }
        }
    });
    let block_methods = ty.fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        let d = doc(&format!(
            "Sets the block's extent on `{ident}` (default 1); the block starts at a multiple of it."
        ));
        quote! {
            #d
            #[inline]
            pub fn #ident(self, __extent: u128) -> Self {
                #block { __inner: self.__inner.extent(#i, __extent) }
            }
        }
    });
    quote! {
        impl #pat {
            #(#pat_methods)*
        }

        #[automatically_derived]
        impl ::core::convert::From<#pat> for #krate::Pattern<#name> {
            #[inline]
            fn from(__p: #pat) -> Self {
                __p.__inner
            }
        }

        impl #block {
            #(#block_methods)*
        }

        #[automatically_derived]
        impl ::core::convert::From<#block> for #krate::Block<#name> {
            #[inline]
            fn from(__b: #block) -> Self {
                __b.__inner
            }
        }
    }
}

fn inherent(ty: &AddressType) -> TokenStream {
    let krate = &ty.krate;
    let name = &ty.ident;
    let (pat, block) = builder_names(ty);
    let params = ty.fields.iter().map(|f| {
        let ident = &f.ident;
        let t = ty_tokens(f.ty);
        quote!(#ident: #t)
    });
    let checks = ty
        .fields
        .iter()
        .filter(|f| f.min > 0 || f.max < f.ty.max())
        .map(|f| {
            let ident = &f.ident;
            let n = ident.to_string();
            let min = Literal::u128_suffixed(f.min);
            let max = Literal::u128_suffixed(f.max);
            quote! {
                if let ::core::result::Result::Err(__e) =
                    #krate::Field::new(#n, #min, #max).check(::core::convert::From::from(#ident))
                {
                    return ::core::result::Result::Err(__e);
                }
            }
        });
    let optional: Vec<&FieldModel> = ty
        .format
        .pieces()
        .iter()
        .filter_map(|p| match p {
            Piece::Optional(_, s) => ty.fields.get(s.field),
            _ => None,
        })
        .collect();
    let gaps = optional.windows(2).map(|w| {
        let (a, b) = (&w[0].ident, &w[1].ident);
        let (an, bn) = (a.to_string(), b.to_string());
        quote! {
            if #a == 0 && #b != 0 {
                return ::core::result::Result::Err(#krate::__private::absent_before(
                    #bn,
                    ::core::convert::From::from(#b),
                    #an,
                ));
            }
        }
    });
    let idents = ty.fields.iter().map(|f| &f.ident);
    let ranges: Vec<String> = ty
        .fields
        .iter()
        .map(|f| format!("`{}` in {}..={}", f.ident, f.min, f.max))
        .collect();
    let absent = if optional.len() > 1 {
        let names: Vec<String> = optional.iter().map(|f| format!("`{}`", f.ident)).collect();
        format!(
            "\n\n`Error::AbsentBefore` when an optional field ({}; 0 means absent) is \
             present after an absent one.",
            names.join(", ")
        )
    } else {
        String::new()
    };
    let new_doc = doc(&format!(
        "Builds a `{name}` from its fields, checking each against its declared range \
         ({}).\n\n# Errors\n\n`Error::OutOfRange` naming the first field outside its range.{absent}",
        ranges.join(", ")
    ));
    let pattern_doc = doc(&format!(
        "A typed pattern builder: one method per field, each taking a value or a range; \
         converts into `Pattern<{name}>`. Unconstrained fields take their whole range."
    ));
    let block_doc = doc(&format!(
        "A typed block shape: one method per field, each taking the field's extent \
         (default 1); converts into `Block<{name}>`."
    ));
    let pools = pools(ty);
    quote! {
        impl #name {
            #new_doc
            #[allow(clippy::too_many_arguments)]
            pub fn new(#(#params),*) -> ::core::result::Result<Self, #krate::Error> {
                #(#checks)*
                #(#gaps)*
                ::core::result::Result::Ok(#name { #(#idents),* })
            }

            #pattern_doc
            #[inline]
            pub fn pattern() -> #pat {
                #pat { __inner: #krate::Pattern::any() }
            }

            #block_doc
            #[inline]
            pub fn block() -> #block {
                #block { __inner: #krate::Block::single() }
            }

            #pools
        }
    }
}

fn pools(ty: &AddressType) -> TokenStream {
    if ty.pools.is_empty() {
        return quote!();
    }
    let krate = &ty.krate;
    let name = &ty.ident;
    let n = ty.pools.len();
    let mut listing = String::new();
    let items = ty
        .pools
        .iter()
        .map(|p| {
            listing.push_str(&format!("\n- `{}`", p.text));
            if !p.tags.is_empty() {
                let tags: Vec<String> = p.tags.iter().map(|t| format!("`{t}`")).collect();
                listing.push_str(&format!(", tagged {}", tags.join(", ")));
            }
            let calls = p.ranges.iter().enumerate().filter_map(|(i, r)| {
                let (lo, hi) = (*r)?;
                let f: &FieldModel = ty.fields.get(i)?;
                let t = ty_tokens(f.ty);
                let lo = lit(lo, f.ty);
                let hi = lit(hi, f.ty);
                Some(quote!(.field::<#t>(#i, #lo..=#hi)))
            });
            let tags = &p.tags;
            if p.linear {
                let end = |hi: bool| {
                    let v = p.ranges.iter().map(move |r| {
                        let (lo, h) = r.unwrap_or((0, 0));
                        if hi {
                            h
                        } else {
                            lo
                        }
                    });
                    quote!(<#name as #krate::Address>::from_fields(&[#(#v),*]))
                };
                let (first, last) = (end(false), end(true));
                return quote!((#krate::Pattern::<#name>::linear(#first, #last), &[#(#tags),*]));
            }
            quote!((#krate::Pattern::<#name>::any() #(#calls)*, &[#(#tags),*]))
        })
        .collect::<Vec<_>>();
    let pools_doc = doc(&format!(
        "The default pools declared for `{name}`, each with its tags:\n{listing}"
    ));
    let alloc_doc = doc(&format!(
        "A new allocator holding the default pools of `{name}` (see `{name}::default_pools`).\n\n\
         # Errors\n\nNone for a layout that compiled; the pools were checked at compile time."
    ));
    quote! {
        #pools_doc
        pub fn default_pools() -> [(#krate::Pattern<#name>, &'static [&'static str]); #n] {
            [#(#items),*]
        }

        #alloc_doc
        pub fn default_allocator() -> ::core::result::Result<#krate::Allocator<#name>, #krate::Error> {
            let mut __a = #krate::Allocator::<#name>::try_new()?;
            for (__p, __t) in #name::default_pools() {
                __a.add_pool_tagged(__p, __t)?;
            }
            ::core::result::Result::Ok(__a)
        }
    }
}

/// The whole generated API for a checked type. `definition` is the struct itself when
/// the macro defines it (TOML schemas). `Display` and `FromStr` are left out unless
/// `text` (`text = "custom"`: the crate writes both; `Address` requires `Display`, so
/// forgetting it is a compile error on the type).
pub fn expand(ty: &AddressType, definition: TokenStream, text: bool) -> TokenStream {
    let krate = &ty.krate;
    let name = &ty.ident;
    let builders = builder_types(ty);
    let address = address_impl(ty);
    let (display, from_str) = if text {
        (display(ty), from_str(ty))
    } else {
        (quote!(), quote!())
    };
    let builder_impls = builder_impls(ty);
    let inherent = inherent(ty);
    quote! {
        #definition
        #builders
        const _: () = {
            #address
            #display
            #from_str
            #builder_impls
            #inherent
            #krate::__private::serde_impls!(#name);
        };
    }
}
