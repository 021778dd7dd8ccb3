//! Problems of a plan are the runtime's [`Diagnostic`]s, rendered by the runtime's
//! [`Source`]: one report format for schema files, plan files and state files.

pub use crate::schema::{quote, render, Diagnostic as Problem, Note, Source, QUOTE_LIMIT};

/// 1-based line and column (in characters) of byte offset `at` in `source`.
pub fn line_col(source: &str, at: usize) -> (usize, usize) {
    Source::new(source).line_col(at)
}
