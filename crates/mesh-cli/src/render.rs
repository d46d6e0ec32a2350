//! Rendering diagnostics for people (codespan-reporting: file:line:col, the source line with a
//! caret, a help line; colour only on a terminal) and for machines (versioned JSON).
//!
//! Source snippets come from [`SourceFile::redacted_text`], so a literal secret is never shown.

use codespan_reporting::diagnostic::{Diagnostic as Report, Label, Severity as Level};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::WriteColor};
use mesh_check::Report as CheckReport;
use mesh_diagnostics::{Diagnostic, Severity};
use serde_json::json;

pub fn human(report: &CheckReport, out: &mut dyn WriteColor) -> std::io::Result<()> {
    let all: Vec<&Diagnostic> = report.diagnostics.iter().collect();
    human_of(report, &all, out)
}

/// Renders some of a report's diagnostics (the report supplies the file texts).
pub fn human_of(
    report: &CheckReport,
    diagnostics: &[&Diagnostic],
    out: &mut dyn WriteColor,
) -> std::io::Result<()> {
    let mut files = SimpleFiles::new();
    let mut ids = std::collections::BTreeMap::new();
    let mut id_of = |path: &str, files: &mut SimpleFiles<String, String>| -> usize {
        *ids.entry(path.to_string()).or_insert_with(|| {
            let text = report
                .source(path)
                .map(|s| s.redacted_text())
                .unwrap_or_default();
            files.add(path.to_string(), text)
        })
    };
    let config = term::Config::default();
    for d in diagnostics {
        let file = id_of(&d.file, &mut files);
        let level = match d.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        };
        let mut labels = vec![Label::primary(
            file,
            clamp(
                &d.span,
                files.get(file).map(|f| f.source().len()).unwrap_or(0),
            ),
        )];
        for r in &d.related {
            let rf = id_of(&r.file, &mut files);
            let len = files.get(rf).map(|f| f.source().len()).unwrap_or(0);
            labels.push(Label::secondary(rf, clamp(&r.span, len)).with_message(r.message.clone()));
        }
        let mut rep = Report::new(level)
            .with_code(d.code.clone())
            .with_message(d.message.clone())
            .with_labels(labels);
        if let Some(h) = &d.help {
            rep = rep.with_notes(vec![format!("help: {h}")]);
        }
        term::emit_to_write_style(out, &config, &files, &rep).map_err(std::io::Error::other)?;
    }
    Ok(())
}

fn clamp(span: &std::ops::Range<usize>, len: usize) -> std::ops::Range<usize> {
    let start = span.start.min(len);
    start..span.end.clamp(start, len)
}

/// The summary line after the diagnostics.
pub fn summary(report: &CheckReport) -> String {
    let errors = report.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = report.diagnostics.len() - errors;
    let products = report.mesh.products.len();
    let domains = report.mesh.domains.len();
    if errors == 0 {
        format!("mesh is valid: {domains} domains, {products} products, {warnings} warning(s)")
    } else {
        format!(
            "mesh is invalid: {errors} error(s), {warnings} warning(s) in {domains} domains, {products} products"
        )
    }
}

/// `validate --format json`, schema version 1 (documented in docs/json-output.md).
pub fn json(report: &CheckReport) -> serde_json::Value {
    let position =
        |file: &str, offset: usize| report.source(file).map_or((1, 1), |s| s.line_col(offset));
    let item = |d: &Diagnostic| {
        let (line, column) = position(&d.file, d.span.start);
        let (end_line, end_column) = position(&d.file, d.span.end);
        json!({
            "severity": d.severity,
            "code": d.code,
            "message": d.message,
            "file": d.file,
            "line": line,
            "column": column,
            "end_line": end_line,
            "end_column": end_column,
            "help": d.help,
            "related": d.related.iter().map(|r| {
                let (line, column) = position(&r.file, r.span.start);
                json!({"file": r.file, "line": line, "column": column, "message": r.message})
            }).collect::<Vec<_>>(),
        })
    };
    let errors = report.diagnostics.iter().filter(|d| d.is_error()).count();
    json!({
        "version": 1,
        "valid": errors == 0,
        "errors": errors,
        "warnings": report.diagnostics.len() - errors,
        "domains": report.mesh.domains.len(),
        "products": report.mesh.products.len(),
        "diagnostics": report.diagnostics.iter().map(item).collect::<Vec<_>>(),
        "changes": report.changes,
    })
}

/// The `--base` block: what the change touches and whom to ask, for people.
pub fn changes_human(set: &mesh_check::changes::ChangeSet) -> String {
    use mesh_check::changes::Change;
    let sign = |c: Change| match c {
        Change::Added => "+",
        Change::Changed => "~",
        Change::Removed => "-",
    };
    if set.is_empty() {
        return format!("No mesh files changed since {}.\n", set.base);
    }
    let mut out = format!("Changes since {}:\n", set.base);
    for d in &set.domains {
        out.push_str(&format!(
            "  {} domain {} (owners: {})\n",
            sign(d.change),
            d.name,
            d.owners.join(", ")
        ));
        for p in set.products.iter().filter(|p| p.domain == d.name) {
            out.push_str(&format!(
                "    {} {} (owners: {})\n",
                sign(p.change),
                p.id,
                p.owners.join(", ")
            ));
        }
    }
    if !set.global_files.is_empty() {
        out.push_str(&format!(
            "  ~ repo-wide: {} (the governance team's)\n",
            set.global_files.join(", ")
        ));
    }
    if !set.owners_to_ask.is_empty() {
        out.push_str(&format!(
            "Owners to ask for review: {}\n",
            set.owners_to_ask.join(", ")
        ));
    }
    for d in &set.schema_diffs {
        out.push_str(&format!("Schema {} of {}:\n", d.which, d.product));
        for line in d.diff.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}
