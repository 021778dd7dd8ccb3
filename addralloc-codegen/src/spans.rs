//! [`SpanMap`]: the derive front end gives the model's byte spans made-up offsets, one
//! window per token, so that diagnostics from [`TypeDef::check`] map back to the
//! `proc_macro2::Span` of the token they are about.
//!
//! [`TypeDef::check`]: addralloc_runtime::schema::TypeDef::check

use std::ops::Range;

use proc_macro2::{Ident, Span, TokenStream, TokenTree};

/// Windows are this far apart: a span inside window `k` belongs to token `k`.
const STRIDE: usize = 1 << 24;

/// Tokens with their made-up byte windows: the first and last span of each.
pub struct SpanMap {
    spans: Vec<(Span, Span)>,
    fallback: Span,
}

impl SpanMap {
    /// An empty map; spans it cannot resolve go to `fallback`.
    pub fn new(fallback: Span) -> SpanMap {
        SpanMap {
            spans: Vec::new(),
            fallback,
        }
    }

    /// A window of `len` bytes standing for `span`.
    pub fn add(&mut self, span: Span, len: usize) -> Range<usize> {
        self.add_tokens(span, span, len)
    }

    /// A window of `len` bytes standing for the tokens from `first` to `last`.
    pub fn add_tokens(&mut self, first: Span, last: Span, len: usize) -> Range<usize> {
        let start = self.spans.len() * STRIDE;
        self.spans.push((first, last));
        start..start + len.min(STRIDE - 1)
    }

    /// The tokens a model span is about, as an error with `message`.
    pub fn error(&self, range: Option<&Range<usize>>, message: &str) -> syn::Error {
        let (first, last) = range
            .and_then(|r| self.spans.get(r.start / STRIDE))
            .copied()
            .unwrap_or((self.fallback, self.fallback));
        // `new_spanned` spans from the first token to the last, on stable too.
        let tokens: TokenStream = [first, last]
            .into_iter()
            .map(|s| TokenTree::Ident(Ident::new("span", s)))
            .collect();
        syn::Error::new_spanned(tokens, message)
    }
}
