//! The mesh as other tools read it (`mesh export`): one Open Data Contract Standard v3 contract
//! per product ([`odcs`]), Backstage catalog entities ([`backstage`]), and design-time lineage as
//! OpenLineage job events ([`openlineage`]).
//!
//! Each export is a pure function from a valid [`Mesh`] (loaded for one environment, or none) to
//! the files it consists of, as `(relative path, content)` sorted by path. Output is
//! deterministic: everything is ordered (products by id, domains and entities by name), and the
//! only timestamp, OpenLineage's `eventTime`, is an argument (the CLI passes the commit time of
//! `--rev`, else `SOURCE_DATE_EPOCH`, else the Unix epoch). The mapping of every mesh field to
//! each format's fields is in docs/export.md.
//!
//! Architecture invariant: pure — no I/O, no clock, no process environment; the CLI reads the
//! repo and writes the files. Schema files are read through `mesh_schema::fields`, the same field
//! tree the catalog site shows.

mod backstage;
mod odcs;
mod openlineage;
mod yaml;

pub use backstage::{backstage, entity_name, group_name};
pub use odcs::{ODCS_API_VERSION, odcs};
pub use openlineage::{PRODUCER, openlineage};

use mesh_model::{Mesh, Product, SchemaFormat, SchemaRef};
use mesh_schema::Field;

/// The files of one export: `(path relative to the output folder, content)`, sorted by path.
pub type Files = Vec<(String, String)>;

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// OpenLineage names datasets by cluster: it needs an environment with bootstrap servers.
    #[error(
        "{0} (help: pass --env ENV, an environment of mesh.toml with bootstrap_servers: datasets are named kafka://<first bootstrap server>/<topic>)"
    )]
    NoCluster(String),
}

pub(crate) fn schema_format(f: SchemaFormat) -> mesh_schema::Format {
    match f {
        SchemaFormat::Avro => mesh_schema::Format::Avro,
        SchemaFormat::Json => mesh_schema::Format::Json,
        SchemaFormat::Protobuf => mesh_schema::Format::Protobuf,
    }
}

/// The text of a schema file the product references (validation made sure it is there).
pub(crate) fn schema_text<'a>(mesh: &'a Mesh, r: &SchemaRef) -> Option<&'a str> {
    mesh.sources.get(&r.file).map(|s| s.text())
}

/// The field tree of a schema file; empty when it has none or cannot be read.
pub(crate) fn fields_of(mesh: &Mesh, r: &SchemaRef) -> Vec<Field> {
    schema_text(mesh, r)
        .and_then(|text| mesh_schema::fields(schema_format(r.format), text).ok())
        .unwrap_or_default()
}

/// The fields of a product's value schema.
pub(crate) fn value_fields(mesh: &Mesh, p: &Product) -> Vec<Field> {
    p.schema
        .as_ref()
        .and_then(|s| s.value.as_ref())
        .map(|r| fields_of(mesh, r))
        .unwrap_or_default()
}

/// The products that list `id` among their inputs, sorted.
pub(crate) fn downstream<'a>(mesh: &'a Mesh, id: &str) -> Vec<&'a str> {
    mesh.products
        .iter()
        .filter(|p| p.inputs.iter().any(|i| i.value == id))
        .map(|p| p.id.as_str())
        .collect()
}

/// The first of a comma-separated list of bootstrap servers.
pub(crate) fn first_server(servers: &str) -> Option<&str> {
    servers.split(',').map(str::trim).find(|s| !s.is_empty())
}

/// A YAML document from a JSON value (keys in the value's order); see `yaml.rs` for why not a
/// serde YAML crate.
pub(crate) fn yaml(v: &serde_json::Value) -> String {
    yaml::to_string(v)
}

/// FNV-1a, for short stable suffixes of shortened names.
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Splits `s` at `sep` where it is not inside `<…>` (type names such as `map<string, int64>`).
pub(crate) fn split_top<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' | b'(' => depth += 1,
            b'>' | b')' => depth -= 1,
            _ => {}
        }
        if depth == 0 && s.is_char_boundary(i) && s[i..].starts_with(sep) {
            out.push(&s[start..i]);
            i += sep.len();
            start = i;
            continue;
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_top_respects_nesting() {
        assert_eq!(split_top("null | string", " | "), ["null", "string"]);
        assert_eq!(
            split_top("null | array<null | string>", " | "),
            ["null", "array<null | string>"]
        );
        assert_eq!(
            split_top("string, map<string, int64>", ", "),
            ["string", "map<string, int64>"]
        );
        assert_eq!(split_top("", " | "), [""]);
        assert_eq!(split_top("ref é | x", " | "), ["ref é", "x"]);
        assert_eq!(first_server(" a:1 , b:2"), Some("a:1"));
        assert_eq!(first_server(" , "), None);
    }
}
