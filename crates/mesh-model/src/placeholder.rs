//! Placeholders `mesh import` leaves where only a person can answer (owners, description,
//! quality, sla): strings starting with [`PLACEHOLDER`]. Any left in a file is an error naming the
//! field, so an imported repo cannot be applied until someone filled them in.

use mesh_diagnostics::{Diagnostic, Diagnostics};

use crate::doc::{Kind, Node, Table};

/// How every placeholder value begins.
pub const PLACEHOLDER: &str = "TODO(mesh import)";

/// Whether a string value is a placeholder left by `mesh import`.
pub fn is_placeholder(s: &str) -> bool {
    s.trim_start().starts_with(PLACEHOLDER)
}

/// Reports every placeholder string in one parsed file.
pub(crate) fn check(file: &str, table: &Table, ds: &mut Diagnostics) {
    for (key, node) in &table.entries {
        walk(file, &key.name, node, ds);
    }
}

fn walk(file: &str, field: &str, node: &Node, ds: &mut Diagnostics) {
    match &node.kind {
        Kind::Str(s) if is_placeholder(s) => ds.push(
            Diagnostic::error(
                "import-placeholder",
                file,
                node.span.clone(),
                format!("`{field}` is still the placeholder left by mesh import"),
            )
            .with_help(format!(
                "mesh import could not know this; replace the value: {}",
                s.trim_start()[PLACEHOLDER.len()..]
                    .trim_start_matches(':')
                    .trim()
            )),
        ),
        Kind::Array(items) => {
            for item in items {
                walk(file, field, item, ds);
            }
        }
        Kind::Table(t) => {
            for (key, node) in &t.entries {
                walk(file, &format!("{field}.{}", key.name), node, ds);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_named_by_its_field() {
        let text = "name = \"x\"\nowners = [\"TODO(mesh import): the owning team\"]\n[a]\nb = \"TODO(mesh import): one of raw, curated\"\n";
        let table = crate::doc::parse("f.toml", text).unwrap();
        let mut ds = Diagnostics::default();
        check("f.toml", &table, &mut ds);
        let all: Vec<_> = ds.iter().map(|d| d.message.clone()).collect();
        assert_eq!(
            all,
            [
                "`owners` is still the placeholder left by mesh import",
                "`a.b` is still the placeholder left by mesh import"
            ]
        );
        assert!(
            ds.iter()
                .all(|d| d.help.as_deref().unwrap().contains("mesh import"))
        );
    }
}
