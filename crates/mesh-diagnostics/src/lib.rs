//! Diagnostics: what every checking stage of `mesh` reports, and the source text they point into.
//!
//! A [`Diagnostic`] names a file and a byte span in it, says what is wrong and what to do. The crate
//! knows nothing about terminals or output formats (that is the CLI's job); it only keeps the facts a
//! renderer needs: the text of each file, where its lines start, and which byte ranges hold secrets
//! that must never be shown ([`SourceFile::redacted_text`]).

mod mask;

pub use mask::{SHORT as SHORT_SECRET, mask_secrets};

use std::ops::Range;

use serde::Serialize;

/// How bad a finding is. Errors fail `validate` and `plan`; warnings are printed and pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, pointing at a place in one file of the mesh repo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable identifier of the kind of problem, e.g. `unknown-key` or a policy rule id.
    pub code: String,
    pub message: String,
    /// Repo-relative path with `/` separators.
    pub file: String,
    /// Byte range in the file; empty at offset 0 when the problem concerns the whole file.
    #[serde(skip)]
    pub span: Range<usize>,
    /// What to do about it.
    pub help: Option<String>,
    /// Further places that explain the problem (the other file of a conflict, say).
    pub related: Vec<Related>,
}

/// A secondary place a diagnostic refers to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Related {
    pub file: String,
    #[serde(skip)]
    pub span: Range<usize>,
    pub message: String,
}

impl Diagnostic {
    pub fn error(code: &str, file: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, file, span, message)
    }

    pub fn warning(code: &str, file: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, file, span, message)
    }

    pub fn new(
        severity: Severity,
        code: &str,
        file: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            code: code.to_string(),
            message: message.into(),
            file: file.to_string(),
            span,
            help: None,
            related: Vec::new(),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_related(
        mut self,
        file: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        self.related.push(Related {
            file: file.to_string(),
            span,
            message: message.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Diagnostics gathered across stages; checking never stops at the first problem.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn extend(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(ds);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Sorted by file, then position, then message, and deduplicated: output is deterministic
    /// whatever order the stages ran in.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by(|a, b| {
            (&a.file, a.span.start, a.severity, &a.code, &a.message).cmp(&(
                &b.file,
                b.span.start,
                b.severity,
                &b.code,
                &b.message,
            ))
        });
        self.items.dedup();
        self.items
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// The text of one repo file, with what a renderer needs to point into it safely.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: String,
    /// Shared, so that what is built from a file (a schema to register) need not copy it.
    text: std::sync::Arc<str>,
    /// Where each line starts, worked out on the first [`Self::line_col`]: most files of a
    /// large repo are never pointed into, and indexing them all was a tenth of loading one.
    line_starts: std::sync::OnceLock<Vec<usize>>,
    /// Byte ranges holding secret values; never shown.
    redactions: Vec<Range<usize>>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<std::sync::Arc<str>>) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
            line_starts: std::sync::OnceLock::new(),
            redactions: Vec::new(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text, shared rather than copied.
    pub fn shared_text(&self) -> std::sync::Arc<str> {
        self.text.clone()
    }

    /// Marks a byte range as secret: [`Self::redacted_text`] masks it.
    pub fn redact(&mut self, range: Range<usize>) {
        if range.end <= self.text.len() && range.start < range.end {
            self.redactions.push(range);
        }
    }

    /// The text with every secret range replaced by `*` (char for char, so spans stay valid).
    pub fn redacted_text(&self) -> String {
        if self.redactions.is_empty() {
            return self.text.to_string();
        }
        let mut out = String::with_capacity(self.text.len());
        for (i, ch) in self.text.char_indices() {
            let secret = self.redactions.iter().any(|r| r.contains(&i));
            if secret && ch != '\n' {
                // Keep byte offsets stable: one '*' per byte of the masked character.
                out.extend(std::iter::repeat_n('*', ch.len_utf8()));
            } else {
                out.push(ch);
            }
        }
        out
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line_starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let line = match line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// Byte offset ranges into a text, from 1-based line and column, for tools that report positions
/// that way (JSON parsers, CEL). Returns an empty span at the position.
pub fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let within: usize = l
                .chars()
                .take(col.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return offset + within;
        }
        offset += l.len();
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let f = SourceFile::new("a.toml", "ab\ncdé\nf");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(7), (2, 4));
        assert_eq!(f.line_col(8), (3, 1));
        assert_eq!(f.line_col(100), (3, 2));
    }

    #[test]
    fn redaction_masks_bytes_and_keeps_offsets() {
        let mut f = SourceFile::new("a.toml", "pw = \"hunter2\"\nx = 1\n");
        f.redact(6..13);
        let shown = f.redacted_text();
        assert_eq!(shown, "pw = \"*******\"\nx = 1\n");
        assert_eq!(shown.len(), f.text().len());
    }

    #[test]
    fn offset_of_line_and_column() {
        assert_eq!(offset_of("ab\ncd\n", 2, 2), 4);
        assert_eq!(offset_of("ab\ncd\n", 9, 1), 6);
    }

    #[test]
    fn sorted_diagnostics_are_deduplicated() {
        let mut ds = Diagnostics::new();
        ds.push(Diagnostic::error("x", "b", 0..1, "m"));
        ds.push(Diagnostic::error("x", "a", 5..6, "m"));
        ds.push(Diagnostic::error("x", "b", 0..1, "m"));
        let v = ds.into_sorted();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].file, "a");
    }
}
