//! `domains/<domain>/connectors/<name>.toml`: the Kafka Connect connectors a domain runs (SPEC
//! §1). What one file says on its own is checked here; references (its principal, its product,
//! access rules) are checked with the rest of the mesh in `validate`.

use std::collections::BTreeMap;

use mesh_diagnostics::{Diagnostic, Diagnostics};

use crate::doc::{Kind, Reader, Spanned, Table};
use crate::model::{Connector, ConnectorFlow, ConnectorState, Domain};
use crate::secrets::is_secret_key;

/// Keys mesh sets itself from the connector's fields: `[config]` may not set them.
const RESERVED: &[(&str, &str)] = &[
    ("name", "the connector's `name` (or its file name)"),
    ("connector.class", "`class`"),
    ("tasks.max", "`tasks_max`"),
];

/// Reads one connector file of `domain`; `None` when the file is too broken to name a product.
pub(crate) fn read(
    domain: &Domain,
    path: &str,
    table: &Table,
    ds: &mut Diagnostics,
) -> Option<Connector> {
    let stem = path
        .rsplit('/')
        .next()
        .unwrap_or(path)
        .trim_end_matches(".toml")
        .to_string();
    let mut r = Reader::new(path, table, 0..0, "");
    let name = match r.string("name", ds, &format!("\"{stem}\"")) {
        Some(n) => {
            if !is_connector_name(&n.value) {
                ds.push(bad_name(path, n.span.clone(), &n.value));
            }
            n.value
        }
        None => {
            if !is_connector_name(&stem) {
                ds.push(bad_name(path, 0..0, &stem));
            }
            stem
        }
    };
    let class = r.required_string(
        "class",
        ds,
        "\"org.apache.kafka.connect.file.FileStreamSinkConnector\"",
    );
    let principal = r.required_string("principal", ds, "\"warehouse-sink\"");
    let consumes = r.string("consumes", ds, "\"sales.orders\"");
    let produces = r.string("produces", ds, "\"sales.orders-cdc\"");
    let purpose = r
        .string("purpose", ds, "\"load orders into the warehouse\"")
        .map(|p| p.value);
    let tasks_max = match r.int("tasks_max", ds, "1") {
        Some(t) if t.value < 1 => {
            ds.push(
                Diagnostic::error(
                    "bad-value",
                    path,
                    t.span.clone(),
                    format!("`tasks_max` = {} must be at least 1", t.value),
                )
                .with_help("tasks_max = 1 runs the connector in one task"),
            );
            1
        }
        Some(t) => t.value,
        None => 1,
    };
    let state = match r.string("state", ds, "\"running\"") {
        None => ConnectorState::Running,
        Some(s) => match ConnectorState::ALL.iter().find(|k| k.as_str() == s.value) {
            Some(k) => *k,
            None => {
                ds.push(
                    Diagnostic::error(
                        "bad-value",
                        path,
                        s.span.clone(),
                        format!("`state` = \"{}\" is not a connector state", s.value),
                    )
                    .with_help("state is \"running\" (the default), \"paused\" or \"stopped\""),
                );
                ConnectorState::Running
            }
        },
    };
    let config = r
        .table("config", ds)
        .map(|c| read_config(path, c, ds))
        .unwrap_or_default();
    r.finish(ds);

    let flow = match (consumes, produces) {
        (Some(c), None) => ConnectorFlow::Sink(c),
        (None, Some(p)) => ConnectorFlow::Source(p),
        (Some(_), Some(p)) => {
            ds.push(
                Diagnostic::error(
                    "bad-connector",
                    path,
                    p.span.clone(),
                    "a connector either consumes a product (a sink) or produces one (a source), not both",
                )
                .with_help("keep `consumes` for a sink connector or `produces` for a source connector"),
            );
            return None;
        }
        (None, None) => {
            ds.push(
                Diagnostic::error(
                    "missing-field",
                    path,
                    0..0,
                    "a connector names the product it consumes (a sink) or produces (a source)",
                )
                .with_help("add consumes = \"<domain>.<product>\" (sink) or produces = \"<domain>.<product>\" (source)"),
            );
            return None;
        }
    };
    Some(Connector {
        name,
        domain: domain.name.clone(),
        file: path.to_string(),
        class: class?,
        principal: principal?,
        flow,
        purpose,
        tasks_max,
        state,
        config,
    })
}

/// `[config]`: strings, numbers and booleans as Connect's text values; no reserved key; no
/// literal secret.
fn read_config(
    path: &str,
    c: Reader<'_>,
    ds: &mut Diagnostics,
) -> BTreeMap<String, Spanned<String>> {
    let mut out = BTreeMap::new();
    for (k, v) in &c.table.entries {
        let text = match &v.kind {
            Kind::Str(s) => s.clone(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => f.to_string(),
            Kind::Bool(b) => b.to_string(),
            other => {
                ds.push(
                    Diagnostic::error(
                        "wrong-type",
                        path,
                        v.span.clone(),
                        format!(
                            "config `{}` is {}; Connect takes strings, numbers and booleans",
                            k.name,
                            other.type_name()
                        ),
                    )
                    .with_help("write a list as one comma-separated string, as Connect does"),
                );
                continue;
            }
        };
        if let Some((_, instead)) = RESERVED.iter().find(|(key, _)| *key == k.name) {
            ds.push(
                Diagnostic::error(
                    "reserved-config",
                    path,
                    k.span.clone(),
                    format!("`{}` is set by mesh from {instead}", k.name),
                )
                .with_help(format!("remove it from [config] and use {instead}")),
            );
            continue;
        }
        if is_secret_key(&k.name) && !is_reference(&text) {
            ds.push(
                Diagnostic::error(
                    "literal-secret",
                    path,
                    k.span.clone(),
                    format!("config `{}` holds a literal secret", k.name),
                )
                .with_help(format!(
                    "let Connect read it, \"{}\" = \"${{file:/etc/secrets/connect.properties:{}}}\" \
                     (or ${{env:VAR}}), or read it from mesh's environment: \"${{MESH_SECRET_VAR}}\"",
                    k.name, k.name
                )),
            );
            continue;
        }
        if !is_connect_reference(&text)
            && let Err(e) = crate::secrets::check_references(&text)
        {
            ds.push(
                Diagnostic::error("bad-reference", path, v.span.clone(), e).with_help(
                    "write ${VAR} or ${VAR:-default} for mesh's environment, or \
                     ${provider:path:key} for one of Connect's config providers",
                ),
            );
            continue;
        }
        out.insert(k.name.clone(), Spanned::new(text, v.span.clone()));
    }
    out
}

/// One whole-value reference: mesh's `${VAR}` or one of Connect's config providers.
fn is_reference(value: &str) -> bool {
    is_connect_reference(value) || crate::secrets::is_variable_reference(value)
}

/// Whether a value uses one of Connect's config providers — `${file:/path:key}`,
/// `${env:VAR}`, `${directory:/path:file}`: a lower-case provider name, then a colon that is
/// not mesh's `:-` default. Such values go to Connect untouched, and Connect resolves them.
pub fn is_connect_reference(value: &str) -> bool {
    let Some(body) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) else {
        return false;
    };
    let Some((provider, rest)) = body.split_once(':') else {
        return false;
    };
    !provider.is_empty()
        && provider
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && !rest.is_empty()
        && !rest.starts_with('-')
        && !body.contains('}')
}

fn is_connector_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn bad_name(path: &str, span: std::ops::Range<usize>, name: &str) -> Diagnostic {
    Diagnostic::error(
        "bad-name",
        path,
        span,
        format!("`{name}` is not a legal connector name"),
    )
    .with_help("use letters, digits, '.', '_' and '-' (e.g. \"orders-to-warehouse\")")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_references_are_told_from_mesh_references() {
        for connect in [
            "${file:/etc/secrets/db.properties:password}",
            "${env:DB_PASSWORD}",
            "${directory:/run/secrets:db-password}",
        ] {
            assert!(is_connect_reference(connect), "{connect}");
            assert!(is_reference(connect), "{connect}");
        }
        for not in [
            "${DB_PASSWORD}",
            "${DB_PASSWORD:-x}",
            "${file:}",
            "plain",
            "x${env:A}",
        ] {
            assert!(!is_connect_reference(not), "{not}");
        }
        assert!(is_reference("${DB_PASSWORD}"));
        assert!(!is_reference("hunter2"));
    }
}
