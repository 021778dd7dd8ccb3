//! Reports that point into a source file, as rustc prints them: the message,
//! `--> file:line:col`, the line and carets under the span, then the notes. Shared by
//! the schema loader, the plan library and the command-line tool.

use std::fmt::Write as _;
use std::format;
use std::ops::Range;
use std::string::String;
use std::vec::Vec;

use super::Diagnostic;

/// The longest value quoted whole in a message, in characters.
pub const QUOTE_LIMIT: usize = 60;

/// `value` in backticks; a value longer than [`QUOTE_LIMIT`] characters is shortened
/// to its start and end around `…`, with its length.
///
/// ```
/// use addralloc_runtime::schema::quote;
/// assert_eq!(quote("bus=0"), "`bus=0`");
/// let long = format!("slot={}", "1".repeat(100));
/// assert_eq!(quote(&long), format!("`slot={}…{}` (105 characters)", "1".repeat(35), "1".repeat(12)));
/// ```
pub fn quote(value: &str) -> String {
    let n = value.chars().count();
    if n <= QUOTE_LIMIT {
        return format!("`{value}`");
    }
    let head: String = value.chars().take(QUOTE_LIMIT - 20).collect();
    let tail: String = value.chars().skip(n - 12).collect();
    format!("`{head}…{tail}` ({n} characters)")
}

/// Shortens every backtick-quoted part of a message longer than [`QUOTE_LIMIT`], and
/// a message of more than 16 quoted parts to its first 16.
pub(crate) fn shorten_quoted(message: String) -> String {
    if message.len() <= QUOTE_LIMIT + 2 {
        return message;
    }
    let parts: Vec<&str> = message.split('`').collect();
    // Odd indices are inside backticks (when the backticks pair up).
    if parts.len() % 2 == 0 {
        return message;
    }
    let quoted = parts.len() / 2;
    let long = parts
        .iter()
        .skip(1)
        .step_by(2)
        .any(|p| p.chars().count() > QUOTE_LIMIT);
    if !long && quoted <= 16 {
        return message;
    }
    let mut out = String::with_capacity(message.len().min(4096));
    let mut shown = 0;
    for (i, p) in parts.iter().enumerate() {
        if i % 2 == 1 {
            shown += 1;
            if shown > 16 {
                out.push_str(&format!("… ({} more)", quoted - 16));
                // Keep the text after the last quoted part.
                if let Some(last) = parts.last() {
                    out.push_str(last);
                }
                return out;
            }
            out.push_str(&quote(p));
        } else {
            out.push_str(p);
        }
    }
    out
}

/// A text with its line starts, to turn byte offsets into lines and columns in
/// logarithmic time (a report of many problems reads the text once).
///
/// ```
/// use addralloc_runtime::schema::{Diagnostic, Source};
///
/// let source = Source::new("a = 1\nslot = 40\n");
/// assert_eq!(source.line_col(13), (2, 8));
/// let p = Diagnostic::at("field `slot` value 40 is out of range 0..=31", 13..15);
/// assert_eq!(
///     source.render("x.toml", &p),
///     "error: field `slot` value 40 is out of range 0..=31\n --> x.toml:2:8\n  |\n2 | slot = 40\n  |        ^^\n"
/// );
/// ```
#[derive(Clone, Debug)]
pub struct Source<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Source<'a> {
    /// Indexes `text`'s lines.
    pub fn new(text: &'a str) -> Source<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source { text, starts }
    }

    /// The text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// 1-based line and column (in characters) of byte offset `at`.
    pub fn line_col(&self, at: usize) -> (usize, usize) {
        let at = floor_char_boundary(self.text, at.min(self.text.len()));
        let line = self.starts.partition_point(|&s| s <= at);
        let start = self.starts[line - 1];
        (line, self.text[start..at].chars().count() + 1)
    }

    /// The start of the line holding byte offset `at`, and its end (before `\n`).
    fn line_bounds(&self, at: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= at);
        let start = self.starts[line - 1];
        let end = self
            .starts
            .get(line)
            .map_or(self.text.len(), |&next| next - 1);
        (start, end)
    }

    /// Renders a problem found in the file `path` whose text this is, as rustc prints
    /// errors: the message, `--> path:line:col`, the line and carets under the span,
    /// then the notes.
    pub fn render(&self, path: &str, p: &Diagnostic) -> String {
        render_with(self, path, p)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders a problem found in `path`, whose text is `source` (to render many, use
/// [`Source::render`], which reads the text once).
pub fn render(path: &str, source: &str, p: &Diagnostic) -> String {
    render_with(&Source::new(source), path, p)
}

fn render_with(source: &Source<'_>, path: &str, p: &Diagnostic) -> String {
    let mut out = format!("error: {}\n", p.message);
    match &p.span {
        Some(span) => snippet(&mut out, path, source, span, ""),
        None => {
            let _ = writeln!(out, "  --> {path}");
        }
    }
    for n in &p.notes {
        match &n.span {
            Some(span) => {
                let _ = writeln!(out, "note: {}", n.message);
                snippet(&mut out, path, source, span, "");
            }
            None => {
                let _ = writeln!(out, "  = note: {}", n.message);
            }
        }
    }
    out
}

fn snippet(out: &mut String, path: &str, src: &Source<'_>, span: &Range<usize>, label: &str) {
    let source = src.text;
    let start = floor_char_boundary(source, span.start.min(source.len()));
    let end = floor_char_boundary(source, span.end.clamp(start, source.len()));
    let (line, col) = src.line_col(start);
    let (line_start, line_end) = src.line_bounds(start);
    let text = source[line_start..line_end].trim_end_matches('\r');
    let width = line.to_string().len();
    let pad = " ".repeat(width);
    let _ = writeln!(out, "{pad}--> {path}:{line}:{col}");
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{line} | {text}");
    // Carets under the span's part on this line, at least one.
    let shown_end = end.min(line_start + text.len()).max(start);
    let carets = source[start..shown_end].chars().count().max(1);
    // Tabs in the indentation stay tabs so that the caret lines up.
    let indent: String = source[line_start..start]
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let _ = write!(out, "{pad} | {indent}{}", "^".repeat(carets));
    if !label.is_empty() {
        let _ = write!(out, " {label}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_under_the_span() {
        let src = "a = 1\nslot = 40\n";
        let p = Diagnostic::at("field `slot` value 40 is out of range 0..=31", 13..15);
        assert_eq!(
            render("x.toml", src, &p),
            "error: field `slot` value 40 is out of range 0..=31\n \
             --> x.toml:2:8\n  |\n2 | slot = 40\n  |        ^^\n"
        );
    }

    #[test]
    fn spans_past_the_end_do_not_panic() {
        let src = "é";
        #[allow(clippy::reversed_empty_ranges)]
        let spans = [0..0, 0..1, 1..2, 5..9, 2..1];
        for span in spans {
            let _ = render("x", src, &Diagnostic::at("m", span));
        }
        assert_eq!(Source::new("a\nbé").line_col(5), (2, 3));
    }
}
