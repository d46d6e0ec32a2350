//! The Avro specification's rules for names, checked before a schema reaches apache-avro: its
//! parser panics on an illegal name (`Invoice-Status`, `In voice`) instead of returning an error,
//! and a diagnostic can point at the name's line.
//!
//! Names of records, enums and fixed types and of fields, and enum symbols, match
//! `[A-Za-z_][A-Za-z0-9_]*`; a namespace (and a full name's namespace part) is such names joined
//! by dots, or empty.

use serde_json::Value;

/// An illegal name: what it names (e.g. "enum name", "field name") and the name itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadName {
    pub what: &'static str,
    pub name: String,
}

pub(crate) fn is_simple(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn is_namespace(ns: &str) -> bool {
    ns.is_empty() || ns.split('.').all(is_simple)
}

/// A full name's namespace (what precedes the last dot: `Some("")` for a leading dot, `None`
/// without a dot) and its simple name (what follows).
pub(crate) fn split_full_name(full: &str) -> (Option<&str>, &str) {
    match full.rsplit_once('.') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, full),
    }
}

/// A type's `name`, which may be a full name (`namespace.Name`).
pub(crate) fn is_full_name(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((ns, simple)) => is_simple(simple) && ns.split('.').all(is_simple),
        None => is_simple(name),
    }
}

/// Every illegal name in an Avro schema, in document order.
pub fn bad_names(schema: &Value) -> Vec<BadName> {
    let mut out = Vec::new();
    walk(schema, &mut out);
    out
}

fn walk(v: &Value, out: &mut Vec<BadName>) {
    fn bad(out: &mut Vec<BadName>, what: &'static str, name: &str) {
        out.push(BadName {
            what,
            name: name.to_owned(),
        });
    }
    match v {
        Value::Array(branches) => {
            for b in branches {
                walk(b, out);
            }
        }
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
            let named = matches!(kind, "record" | "error" | "enum" | "fixed");
            if named {
                let what = match kind {
                    "enum" => "enum name",
                    "fixed" => "fixed name",
                    _ => "record name",
                };
                if let Some(name) = o.get("name").and_then(Value::as_str) {
                    if !is_full_name(name) {
                        bad(out, what, name);
                    }
                }
                if let Some(ns) = o.get("namespace").and_then(Value::as_str) {
                    if !is_namespace(ns) {
                        bad(out, "namespace", ns);
                    }
                }
                for alias in o
                    .get("aliases")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(a) = alias.as_str().filter(|a| !is_full_name(a)) {
                        bad(out, "alias", a);
                    }
                }
            }
            if kind == "enum" {
                for s in o
                    .get("symbols")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(s) = s.as_str().filter(|s| !is_simple(s)) {
                        bad(out, "enum symbol", s);
                    }
                }
            }
            if matches!(kind, "record" | "error") {
                for field in o
                    .get("fields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(name) = field.get("name").and_then(Value::as_str) {
                        if !is_simple(name) {
                            bad(out, "field name", name);
                        }
                    }
                    for alias in field
                        .get("aliases")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(a) = alias.as_str().filter(|a| !is_simple(a)) {
                            bad(out, "field alias", a);
                        }
                    }
                    if let Some(t) = field.get("type") {
                        walk(t, out);
                    }
                }
            }
            for key in ["items", "values"] {
                if let Some(t) = o.get(key) {
                    walk(t, out);
                }
            }
            // `{"type": {...}}`: a type wrapped in an object.
            if let Some(t @ (Value::Object(_) | Value::Array(_))) = o.get("type") {
                walk(t, out);
            }
        }
        _ => {}
    }
}

/// apache-avro's name checks, without its regular expressions.
///
/// apache-avro checks every name, namespace, field name and enum symbol with a regex (regex-lite's
/// backtracking-free VM), which was a third of the time it took to parse a schema. Its
/// `validator` module lets an application register its own checks; these accept exactly what
/// its regexes accept (the rules above) and fail with the same errors, built from the same
/// regexes, so messages do not change. Registration is once per process: when something else
/// registered first, its checks stay in force.
pub(crate) fn install_fast_validators() {
    use apache_avro::validator::{
        set_enum_symbol_name_validator, set_record_field_name_validator, set_schema_name_validator,
        set_schema_namespace_validator,
    };
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Each `set_*` fails only when a validator is already registered; that one then stays.
        let _ = set_schema_name_validator(Box::new(Fast));
        let _ = set_schema_namespace_validator(Box::new(Fast));
        let _ = set_enum_symbol_name_validator(Box::new(Fast));
        let _ = set_record_field_name_validator(Box::new(Fast));
    });
}

/// The specification's name rules as plain character tests.
struct Fast;

impl apache_avro::validator::SchemaNameValidator for Fast {
    /// apache-avro's regex: an optional namespace (dotted names, possibly empty) and a dot,
    /// then a simple name. The name is what follows the last dot; the namespace is what
    /// precedes it (`Some("")` for a leading dot), or `None` without a dot.
    fn validate(
        &self,
        full: &str,
    ) -> apache_avro::AvroResult<(String, apache_avro::schema::Namespace)> {
        let (ns, name) = split_full_name(full);
        if is_simple(name) && ns.is_none_or(is_namespace) {
            return Ok((name.to_owned(), ns.map(str::to_owned)));
        }
        let regex = apache_avro::validator::SchemaNameValidator::regex(self);
        Err(apache_avro::error::Details::InvalidSchemaName(full.to_owned(), regex.as_str()).into())
    }
}

impl apache_avro::validator::SchemaNamespaceValidator for Fast {
    fn validate(&self, ns: &str) -> apache_avro::AvroResult<()> {
        if is_namespace(ns) {
            return Ok(());
        }
        let regex = apache_avro::validator::SchemaNamespaceValidator::regex(self);
        Err(apache_avro::error::Details::InvalidNamespace(ns.to_owned(), regex.as_str()).into())
    }
}

impl apache_avro::validator::EnumSymbolNameValidator for Fast {
    fn validate(&self, symbol: &str) -> apache_avro::AvroResult<()> {
        if is_simple(symbol) {
            return Ok(());
        }
        Err(apache_avro::error::Details::EnumSymbolName(symbol.to_owned()).into())
    }
}

impl apache_avro::validator::RecordFieldNameValidator for Fast {
    fn validate(&self, name: &str) -> apache_avro::AvroResult<()> {
        if is_simple(name) {
            return Ok(());
        }
        Err(apache_avro::error::Details::FieldName(name.to_owned()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(&'static str, String)> {
        bad_names(&serde_json::from_str(text).unwrap())
            .into_iter()
            .map(|b| (b.what, b.name))
            .collect()
    }

    #[test]
    fn legal_names_pass() {
        let ok = r#"{"type":"record","name":"acme.sales.Order","namespace":"acme.sales","aliases":["Old_Order"],
            "fields":[{"name":"_id","type":"string","aliases":["id2"]},
                      {"name":"status","type":{"type":"enum","name":"Status","symbols":["OPEN","_X1"]}},
                      {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[]}}},
                      {"name":"h","type":["null",{"type":"fixed","name":"Hash","size":16}]}]}"#;
        assert_eq!(names(ok), vec![]);
        assert_eq!(names(r#""string""#), vec![]);
    }

    #[test]
    fn every_kind_of_illegal_name_is_found() {
        let bad = r#"{"type":"record","name":"In voice","namespace":"acme..x",
            "fields":[{"name":"1st","type":"string"},
                      {"name":"status","type":{"type":"enum","name":"Invoice-Status","symbols":["OPEN","not-ok"]}},
                      {"name":"m","type":{"type":"map","values":{"type":"fixed","name":"Ha sh","size":1}}}]}"#;
        assert_eq!(
            names(bad),
            vec![
                ("record name", "In voice".to_owned()),
                ("namespace", "acme..x".to_owned()),
                ("field name", "1st".to_owned()),
                ("enum name", "Invoice-Status".to_owned()),
                ("enum symbol", "not-ok".to_owned()),
                ("fixed name", "Ha sh".to_owned()),
            ]
        );
    }

    /// The character tests accept and reject exactly what apache-avro's own regexes do.
    #[test]
    fn fast_validators_agree_with_the_regexes() {
        use apache_avro::validator::{
            EnumSymbolNameValidator, RecordFieldNameValidator, SchemaNameValidator,
            SchemaNamespaceValidator,
        };
        let names = [
            "",
            ".",
            "..",
            "a",
            "_",
            "A1",
            "1a",
            "a-b",
            "a b",
            "é",
            "a.b",
            "a.b.C",
            ".C",
            "a..C",
            "a.",
            ".a.",
            "a.1b.C",
            "_._._",
            "a.b.c.d.E_9",
            "ab\n",
            "a\n",
            " a",
            "a.b ",
        ];
        for n in names {
            let name_re = SchemaNameValidator::regex(&Fast);
            let expected = name_re.captures(n).map(|c| {
                (
                    c["name"].to_string(),
                    c.name("namespace").map(|m| m.as_str().to_string()),
                )
            });
            let got = SchemaNameValidator::validate(&Fast, n).ok();
            assert_eq!(got, expected, "schema name {n:?}");
            let ns_ok = SchemaNamespaceValidator::regex(&Fast).is_match(n);
            assert_eq!(
                SchemaNamespaceValidator::validate(&Fast, n).is_ok(),
                ns_ok,
                "namespace {n:?}"
            );
            let simple_ok = EnumSymbolNameValidator::regex(&Fast).is_match(n);
            assert_eq!(
                EnumSymbolNameValidator::validate(&Fast, n).is_ok(),
                simple_ok,
                "symbol {n:?}"
            );
            assert_eq!(
                RecordFieldNameValidator::validate(&Fast, n).is_ok(),
                simple_ok,
                "field {n:?}"
            );
        }
    }

    /// A rejected name reads as apache-avro's own error did.
    #[test]
    fn fast_validator_errors_read_as_apache_avros() {
        use apache_avro::validator::SchemaNameValidator;
        let err = SchemaNameValidator::validate(&Fast, "a-b")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Invalid schema name a-b. It must match the regex '^"),
            "{err}"
        );
    }
}
