//! Error reports that point into a source file: the file, line and column, the line
//! itself and a caret under the offending text, as rustc prints them.

use std::fmt::Write as _;
use std::ops::Range;

/// One problem in a file, optionally with notes pointing elsewhere.
#[derive(Clone, Debug)]
pub struct Problem {
    pub message: String,
    pub span: Option<Range<usize>>,
    pub notes: Vec<Note>,
}

/// A secondary pointer: "`disk0` reserves it here".
#[derive(Clone, Debug)]
pub struct Note {
    pub message: String,
    pub span: Option<Range<usize>>,
}

impl Problem {
    pub fn new(message: impl Into<String>, span: Option<Range<usize>>) -> Problem {
        Problem {
            message: message.into(),
            span,
            notes: Vec::new(),
        }
    }

    pub fn at(message: impl Into<String>, span: Range<usize>) -> Problem {
        Problem::new(message, Some(span))
    }

    pub fn note(mut self, message: impl Into<String>, span: Option<Range<usize>>) -> Problem {
        self.notes.push(Note {
            message: message.into(),
            span,
        });
        self
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `source`.
pub fn line_col(source: &str, at: usize) -> (usize, usize) {
    let at = floor_char_boundary(source, at.min(source.len()));
    let before = &source[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..at].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders a problem found in `path`, whose text is `source`.
pub fn render(path: &str, source: &str, p: &Problem) -> String {
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

fn snippet(out: &mut String, path: &str, source: &str, span: &Range<usize>, label: &str) {
    let start = floor_char_boundary(source, span.start.min(source.len()));
    let end = floor_char_boundary(source, span.end.clamp(start, source.len()));
    let (line, col) = line_col(source, start);
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
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
