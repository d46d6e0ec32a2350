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
    let mut path = Vec::new();
    for (key, node) in &table.entries {
        path.push(key.name.as_str());
        walk(file, &mut path, node, ds);
        path.pop();
    }
}

/// `path` is the dotted field's parts, joined only when a placeholder is found (every value of
/// every file is walked).
fn walk<'t>(file: &str, path: &mut Vec<&'t str>, node: &'t Node, ds: &mut Diagnostics) {
    match &node.kind {
        Kind::Str(s) if is_placeholder(s) => ds.push(
            Diagnostic::error(
                "import-placeholder",
                file,
                node.span.clone(),
                format!(
                    "`{}` is still the placeholder left by mesh import",
                    path.join(".")
                ),
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
                walk(file, path, item, ds);
            }
        }
        Kind::Table(t) => {
            for (key, node) in &t.entries {
                path.push(key.name.as_str());
                walk(file, path, node, ds);
                path.pop();
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
        let text = "name = \"x\"\nowners = [\"TODO(mesh import): the owning team\"]\n[a]\nb = \"TODO(mesh import): one of raw, curated\"\n[a.c]\nd = [[\"TODO(mesh import)\"]]\n";
        let table = crate::doc::parse("f.toml", text).unwrap();
        let mut ds = Diagnostics::default();
        check("f.toml", &table, &mut ds);
        let all: Vec<_> = ds.iter().map(|d| d.message.clone()).collect();
        assert_eq!(
            all,
            [
                "`owners` is still the placeholder left by mesh import",
                "`a.b` is still the placeholder left by mesh import",
                "`a.c.d` is still the placeholder left by mesh import"
            ]
        );
        assert!(
            ds.iter()
                .all(|d| d.help.as_deref().unwrap().contains("mesh import"))
        );
    }
}
