//! Schema fields as the site shows them: the readable field tree of `mesh_schema::fields`
//! (names, dotted paths, readable types, docs, defaults, enum symbols, nested records), made
//! serializable for `catalog.json` and the search index.

use serde::Serialize;
use serde_json::Value;

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct FieldView {
    pub name: String,
    pub path: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub doc: Option<String>,
    pub default: Option<Value>,
    pub optional: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub symbols: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<FieldView>,
}

/// The fields of a schema text, or why they cannot be listed.
pub fn schema_fields(format: mesh_schema::Format, text: &str) -> Result<Vec<FieldView>, String> {
    mesh_schema::fields::fields(format, text).map(|fs| fs.into_iter().map(view).collect())
}

fn view(f: mesh_schema::fields::Field) -> FieldView {
    FieldView {
        name: f.name,
        path: f.path,
        type_name: f.type_name,
        doc: f.doc,
        default: f.default,
        optional: f.optional,
        symbols: f.symbols,
        children: f.children.into_iter().map(view).collect(),
    }
}

/// Every field of a tree, depth first.
pub fn flatten(fields: &[FieldView]) -> Vec<&FieldView> {
    let mut out = Vec::new();
    let mut stack: Vec<&FieldView> = fields.iter().rev().collect();
    while let Some(f) = stack.pop() {
        out.push(f);
        stack.extend(f.children.iter().rev());
    }
    out
}
