//! Error reports that point into a source file: the file, line and column, the line
//! itself and a caret under the offending text, as rustc prints them.

use std::fmt::Write as _;
use std::ops::Range;

/// One problem in a plan, optionally with notes pointing elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong, in lowercase words.
    pub message: String,
    /// The byte span in the plan's text it concerns, if any.
    pub span: Option<Range<usize>>,
    /// Secondary pointers.
    pub notes: Vec<Note>,
}

/// A secondary pointer: "`disk0` reserves it here".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The note's words.
    pub message: String,
    /// The byte span in the plan's text it points at, if any.
    pub span: Option<Range<usize>>,
}

impl Problem {
    /// A problem; long values quoted in backticks in `message` are shortened.
    pub fn new(message: impl Into<String>, span: Option<Range<usize>>) -> Problem {
        Problem {
            message: shorten_quoted(message.into()),
            span,
            notes: Vec::new(),
        }
    }

    /// A problem at `span`.
    pub fn at(message: impl Into<String>, span: Range<usize>) -> Problem {
        Problem::new(message, Some(span))
    }

    /// Adds a note.
    pub fn note(mut self, message: impl Into<String>, span: Option<Range<usize>>) -> Problem {
        self.notes.push(Note {
            message: shorten_quoted(message.into()),
            span,
        });
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

/// The longest value quoted whole in a message, in characters.
pub const QUOTE_LIMIT: usize = 60;

/// `value` in backticks; a value longer than [`QUOTE_LIMIT`] characters is shortened
/// to its start and end around `…`, with its length.
///
/// ```
/// use addralloc::plan::quote;
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
fn shorten_quoted(message: String) -> String {
    if message.len() <= QUOTE_LIMIT + 2 {
        return message;
    }
    let parts: Vec<&str> = message.split('`').collect();
    // Odd indices are inside backticks (when the backticks pair up).
    if parts.len().is_multiple_of(2) {
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
/// use addralloc::plan::{Problem, Source};
///
/// let source = Source::new("a = 1\nslot = 40\n");
/// assert_eq!(source.line_col(13), (2, 8));
/// let p = Problem::at("field `slot` value 40 is out of range 0..=31", 13..15);
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
    pub fn render(&self, path: &str, p: &Problem) -> String {
        render_with(self, path, p)
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `source`.
pub fn line_col(source: &str, at: usize) -> (usize, usize) {
    Source::new(source).line_col(at)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders a problem found in `path`, whose text is `source` (to render many, use
/// [`Source::render`], which reads the text once).
pub fn render(path: &str, source: &str, p: &Problem) -> String {
    render_with(&Source::new(source), path, p)
}

fn render_with(source: &Source<'_>, path: &str, p: &Problem) -> String {
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
        let p = Problem::at("field `slot` value 40 is out of range 0..=31", 13..15);
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
            let _ = render("x", src, &Problem::at("m", span));
        }
        assert_eq!(line_col("a\nbé", 5), (2, 3));
    }
}
