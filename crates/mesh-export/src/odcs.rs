//! Open Data Contract Standard v3 contracts: one YAML file per product, `<product id>.odcs.yaml`.
//!
//! What goes where (docs/export.md has the table): the product's id, name, domain, status, tags
//! and description at the top; each environment's cluster (or only `--env`'s) as a `kafka`
//! server; the topic as the schema object (`physicalType: topic`) whose properties are the value
//! schema's field tree, nested, with logical and physical types; owners as the team; producing
//! and consuming principals as roles; contacts as support channels; the SLA tier, retention and
//! sunset as SLA properties; quality, lineage (inputs, downstream products), access and the
//! registry subjects as custom properties, since ODCS has no place of its own for them.

use mesh_model::{Mesh, Product, Status};
use mesh_schema::Field;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::{Files, downstream, fields_of, split_top, value_fields, yaml};

/// The ODCS version the contracts declare (and are validated against in the tests).
pub const ODCS_API_VERSION: &str = "v3.2.0";

/// One contract per product, `<product id>.odcs.yaml`, sorted by id.
pub fn odcs(mesh: &Mesh) -> Files {
    let mut out = Vec::new();
    for p in &mesh.products {
        let doc = contract(mesh, p);
        let text = yaml(&doc);
        out.push((
            format!("{}.odcs.yaml", p.id),
            format!(
                "# Data contract of {} — written by `mesh export --format odcs` from the mesh repo; edit the repo, not this file.\n{text}",
                p.id
            ),
        ));
    }
    out
}

fn custom(property: &str, value: Value) -> Value {
    json!({"property": property, "value": value})
}

/// The contract's version: the first 12 hex digits of the sha256 of the files it is made from
/// (product file, schema files), so it changes exactly when the contract can have changed.
fn version(mesh: &Mesh, p: &Product) -> String {
    let mut h = Sha256::new();
    let mut files = vec![p.file.as_str()];
    if let Some(s) = &p.schema {
        files.extend(s.value.iter().chain(&s.key).map(|r| r.file.as_str()));
    }
    for f in files {
        h.update(f.as_bytes());
        h.update([0]);
        if let Some(src) = mesh.sources.get(f) {
            h.update(src.text().as_bytes());
        }
        h.update([0]);
    }
    let digest = h.finalize();
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn contract(mesh: &Mesh, p: &Product) -> Value {
    let mut doc = Map::new();
    doc.insert("apiVersion".into(), ODCS_API_VERSION.into());
    doc.insert("kind".into(), "DataContract".into());
    doc.insert("id".into(), p.id.clone().into());
    doc.insert("name".into(), p.id.clone().into());
    doc.insert("version".into(), version(mesh, p).into());
    doc.insert("status".into(), p.status.as_str().into());
    doc.insert("domain".into(), p.domain.clone().into());
    if !mesh.settings.name.is_empty() {
        doc.insert("tenant".into(), mesh.settings.name.clone().into());
    }
    if !p.tags.is_empty() {
        doc.insert("tags".into(), json!(p.tags));
    }
    doc.insert("description".into(), description(p));
    let servers = servers(mesh, p);
    if !servers.is_empty() {
        doc.insert("servers".into(), Value::Array(servers));
    }
    doc.insert("schema".into(), json!([schema_object(mesh, p)]));
    let support = support(p);
    if !support.is_empty() {
        doc.insert("support".into(), Value::Array(support));
    }
    if !p.owners.is_empty() {
        doc.insert(
            "team".into(),
            json!({
                "name": p.owners.join(", "),
                "description": format!("Owners of {}: they review its changes (CODEOWNERS) and approve who may read it.", p.id),
                "members": p.owners.iter().map(|o| json!({"username": o, "role": "owner"})).collect::<Vec<_>>(),
            }),
        );
    }
    let roles = roles(mesh, p);
    if !roles.is_empty() {
        doc.insert("roles".into(), Value::Array(roles));
    }
    doc.insert("slaProperties".into(), Value::Array(sla(p)));
    doc.insert("customProperties".into(), Value::Array(customs(mesh, p)));
    Value::Object(doc)
}

fn description(p: &Product) -> Value {
    let mut d = Map::new();
    d.insert("purpose".into(), p.description.clone().into());
    let format = p
        .schema
        .as_ref()
        .and_then(|s| s.value.as_ref())
        .map(|r| format!(" ({} values)", r.format.as_str()))
        .unwrap_or_default();
    let access = match p.access.visibility {
        mesh_model::Visibility::Public => "any domain may read it".to_owned(),
        mesh_model::Visibility::Private => format!("only the {} domain may read it", p.domain),
        mesh_model::Visibility::Restricted => {
            let allowed: Vec<&str> = p
                .access
                .allow_domains
                .iter()
                .map(|d| d.value.as_str())
                .collect();
            format!(
                "only the {} domain and {} may read it",
                p.domain,
                if allowed.is_empty() {
                    "no other domain".to_owned()
                } else {
                    allowed.join(", ")
                }
            )
        }
    };
    d.insert(
        "usage".into(),
        format!(
            "Read the Kafka topic {}{format}; {access}, after declaring a [[consumes]] entry in the reading domain's domain.toml.",
            p.topic.name
        )
        .into(),
    );
    if let Some(dep) = &p.deprecation {
        let mut text = String::from("Deprecated");
        if let Some(since) = dep.since {
            text.push_str(&format!(" since {since}"));
        }
        if let Some(sunset) = dep.sunset {
            text.push_str(&format!(", removed after {sunset}"));
        }
        if let Some(r) = &dep.replacement {
            text.push_str(&format!("; use {} instead", r.value));
        }
        if let Some(reason) = &dep.reason {
            text.push_str(&format!(" ({reason})"));
        }
        text.push('.');
        d.insert("limitations".into(), text.into());
    } else if p.status == Status::Deprecated {
        d.insert("limitations".into(), "Deprecated.".into());
    }
    Value::Object(d)
}

/// The environments' clusters: only the selected one with `--env`, else every one that names
/// its bootstrap servers.
fn servers(mesh: &Mesh, p: &Product) -> Vec<Value> {
    let format = p
        .schema
        .as_ref()
        .and_then(|s| s.value.as_ref())
        .map(|r| r.format.as_str());
    mesh.settings
        .environments
        .iter()
        .filter(|(name, _)| mesh.env.as_ref().is_none_or(|e| e == *name))
        .filter_map(|(name, env)| {
            let host = env.bootstrap_servers.as_ref()?.value.clone();
            let mut s = Map::new();
            s.insert("server".into(), name.clone().into());
            s.insert("type".into(), "kafka".into());
            s.insert(
                "description".into(),
                format!(
                    "The Kafka cluster of environment {name}; the topic is {}.",
                    p.topic.name
                )
                .into(),
            );
            s.insert("environment".into(), name.clone().into());
            s.insert("host".into(), host.into());
            if let Some(f) = format {
                s.insert("format".into(), f.into());
            }
            Some(Value::Object(s))
        })
        .collect()
}

fn schema_object(mesh: &Mesh, p: &Product) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), p.name.clone().into());
    o.insert("physicalName".into(), p.topic.name.clone().into());
    o.insert("physicalType".into(), "topic".into());
    o.insert("logicalType".into(), "object".into());
    o.insert("description".into(), p.description.clone().into());
    let key_fields: Vec<String> = p
        .schema
        .as_ref()
        .and_then(|s| s.key.as_ref())
        .map(|r| fields_of(mesh, r).into_iter().map(|f| f.name).collect())
        .unwrap_or_default();
    let props: Vec<Value> = value_fields(mesh, p)
        .iter()
        .map(|f| {
            let mut prop = property(f);
            if let (Some(pos), Value::Object(m)) =
                (key_fields.iter().position(|k| *k == f.name), &mut prop)
            {
                m.insert("primaryKey".into(), true.into());
                m.insert("primaryKeyPosition".into(), (pos as i64 + 1).into());
            }
            prop
        })
        .collect();
    if !props.is_empty() {
        o.insert("properties".into(), Value::Array(props));
    }
    let mut cp = Vec::new();
    if let Some(s) = &p.schema {
        if let Some(v) = &s.value {
            cp.push(custom("valueSchema", v.file.clone().into()));
            cp.push(custom("valueFormat", v.format.as_str().into()));
            cp.push(custom(
                "valueSubject",
                format!("{}-value", p.topic.name).into(),
            ));
        }
        if let Some(k) = &s.key {
            cp.push(custom("keySchema", k.file.clone().into()));
            cp.push(custom("keyFormat", k.format.as_str().into()));
            cp.push(custom("keySubject", format!("{}-key", p.topic.name).into()));
            if !key_fields.is_empty() {
                cp.push(custom("keyFields", json!(key_fields)));
            }
        }
        cp.push(custom("compatibility", s.compatibility.as_str().into()));
    }
    cp.push(custom("partitions", p.topic.partitions.into()));
    cp.push(custom(
        "replicationFactor",
        p.topic.replication_factor.into(),
    ));
    if !p.topic.config.is_empty() {
        cp.push(custom("topicConfig", json!(p.topic.config)));
    }
    o.insert("customProperties".into(), Value::Array(cp));
    Value::Object(o)
}

/// A field as an ODCS property: name, types, required, description, nested properties.
fn property(f: &Field) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), f.name.clone().into());
    typed(&mut m, &f.type_name, &f.children, &f.symbols);
    m.insert("required".into(), (!f.optional).into());
    if let Some(doc) = &f.doc {
        m.insert("description".into(), doc.clone().into());
    }
    if let Some(default) = &f.default {
        m.insert(
            "customProperties".into(),
            json!([custom("default", default.clone())]),
        );
    }
    Value::Object(m)
}

/// Fills in the logical type (and what it brings: nested properties, array items, map key and
/// value, enum values) and the physical type of a type name from the field tree.
fn typed(m: &mut Map<String, Value>, type_name: &str, children: &[Field], symbols: &[String]) {
    m.insert("physicalType".into(), type_name.into());
    let t = non_null(type_name);
    let Some(t) = t else { return };
    if let Some(inner) = t.strip_prefix("array<").and_then(|r| r.strip_suffix('>')) {
        m.insert("logicalType".into(), "array".into());
        let mut items = Map::new();
        typed(&mut items, inner, children, symbols);
        m.insert("items".into(), Value::Object(items));
        return;
    }
    if let Some(inner) = t.strip_prefix("map<").and_then(|r| r.strip_suffix('>')) {
        // Avro and JSON maps have string keys; Protobuf names its key type.
        let parts = split_top(inner, ", ");
        let (key, value) = match parts.as_slice() {
            [k, v] => (*k, *v),
            _ => ("string", inner),
        };
        let mut k = Map::new();
        typed(&mut k, key, &[], &[]);
        let mut v = Map::new();
        typed(&mut v, value, children, symbols);
        m.insert("logicalType".into(), "map".into());
        m.insert("map".into(), json!({"key": k, "value": v}));
        return;
    }
    if let Some((logical, options)) = logical(t) {
        m.insert("logicalType".into(), logical.into());
        if let Some(o) = options {
            m.insert("logicalTypeOptions".into(), o);
        }
        if logical == "object" && !children.is_empty() {
            m.insert(
                "properties".into(),
                Value::Array(children.iter().map(property).collect()),
            );
        }
    }
    let is_record = ["record ", "message ", "object"]
        .iter()
        .any(|k| t.starts_with(k));
    if !symbols.is_empty() && !is_record {
        let mut seen = std::collections::BTreeSet::new();
        let values: Vec<Value> = symbols
            .iter()
            .filter(|s| seen.insert(s.as_str()))
            .map(|s| json!({"value": s}))
            .collect();
        m.insert("enum".into(), Value::Array(values));
    }
}

/// The type without its `null` branches; `None` when nothing or more than one type is left
/// (ODCS has no unions: the physical type says it).
fn non_null(type_name: &str) -> Option<&str> {
    let branches: Vec<&str> = split_top(type_name, " | ")
        .into_iter()
        .filter(|b| *b != "null")
        .collect();
    match branches.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// ODCS's logical type for a (non-union, non-container) type name, with its options.
fn logical(t: &str) -> Option<(&'static str, Option<Value>)> {
    let (base, detail) = match t.split_once(" (") {
        Some((b, rest)) => (b, rest.strip_suffix(')')),
        None => (t, None),
    };
    let first = base.split(' ').next().unwrap_or(base);
    let detail_kind = detail.map(|d| d.split('(').next().unwrap_or(d));
    let time_kind = |d: &str| match d {
        "timestamp-millis"
        | "timestamp-micros"
        | "timestamp-nanos"
        | "local-timestamp-millis"
        | "local-timestamp-micros"
        | "local-timestamp-nanos"
        | "date-time" => Some("timestamp"),
        "date" => Some("date"),
        "time-millis" | "time-micros" | "time" => Some("time"),
        _ => None,
    };
    Some(match first {
        "record" | "message" | "object" => ("object", None),
        "enum" => ("string", None),
        "string" => match detail_kind {
            Some(d) => match time_kind(d) {
                Some(k) => (k, None),
                None => ("string", Some(json!({"format": d}))),
            },
            None => ("string", None),
        },
        "int" | "long" | "integer" | "int32" | "int64" | "uint32" | "uint64" | "sint32"
        | "sint64" | "fixed32" | "fixed64" | "sfixed32" | "sfixed64" => {
            (detail_kind.and_then(time_kind).unwrap_or("integer"), None)
        }
        "float" | "double" | "number" => ("number", None),
        "boolean" | "bool" => ("boolean", None),
        "bytes" | "fixed" if detail_kind == Some("decimal") => ("number", None),
        "google.protobuf.Timestamp" => ("timestamp", None),
        _ => return None,
    })
}

fn support(p: &Product) -> Vec<Value> {
    p.contacts
        .iter()
        .map(|url| {
            let (channel, tool) = match url.strip_prefix("mailto:") {
                Some(address) => (address.to_owned(), "email"),
                None => (
                    url.split_once("://")
                        .map_or(url.as_str(), |(_, rest)| rest)
                        .trim_end_matches('/')
                        .to_owned(),
                    "other",
                ),
            };
            json!({"channel": channel, "url": url, "tool": tool})
        })
        .collect()
}

/// Who may write and read the topic: the producing principals and those of every
/// `[[consumes]]` entry naming the product, as the ACLs mesh derives grant them.
fn roles(mesh: &Mesh, p: &Product) -> Vec<Value> {
    let approvers = p.owners.join(", ");
    let principal_of = |domain: &str, short: &str| {
        mesh.domain(domain)
            .and_then(|d| d.principals.get(short))
            .map_or_else(|| short.to_owned(), |v| v.value.clone())
    };
    let mut roles: Vec<(String, &str, String)> = Vec::new();
    for prod in &p.producers {
        roles.push((
            principal_of(&p.domain, &prod.value),
            "write",
            format!("Producer {} of the {} domain.", prod.value, p.domain),
        ));
    }
    for (d, c) in mesh.consumers().filter(|(_, c)| c.product.value == p.id) {
        let mut text = format!(
            "Consumer {} of the {} domain (group {})",
            c.principal.value, d.name, c.group.value
        );
        match &c.purpose {
            Some(purpose) => text.push_str(&format!(": {purpose}")),
            None => text.push('.'),
        }
        roles.push((principal_of(&d.name, &c.principal.value), "read", text));
    }
    for c in mesh.connectors.iter().filter(|c| c.product().value == p.id) {
        let (access, kind) = if c.is_sink() {
            ("read", "Sink")
        } else {
            ("write", "Source")
        };
        let mut text = format!(
            "{kind} connector {} ({}) of the {} domain, as {}",
            c.name, c.class.value, c.domain, c.principal.value
        );
        match &c.purpose {
            Some(purpose) => text.push_str(&format!(": {purpose}")),
            None => text.push('.'),
        }
        roles.push((principal_of(&c.domain, &c.principal.value), access, text));
    }
    roles.sort();
    roles.dedup();
    roles
        .into_iter()
        .map(|(role, access, description)| {
            let mut r = Map::new();
            r.insert("role".into(), role.into());
            r.insert("access".into(), access.into());
            r.insert("description".into(), description.into());
            if !approvers.is_empty() {
                r.insert("firstLevelApprovers".into(), approvers.clone().into());
            }
            Value::Object(r)
        })
        .collect()
}

fn sla(p: &Product) -> Vec<Value> {
    let mut out = vec![json!({
        "property": "tier",
        "value": p.sla.as_str(),
        "description": "The product's SLA tier in the mesh (tier-1 is the most critical).",
    })];
    if let Some(ms) = p
        .topic
        .config
        .get("retention.ms")
        .and_then(|v| v.parse::<i64>().ok())
    {
        const DAY: i64 = 86_400_000;
        out.push(if ms < 0 {
            json!({"property": "retention", "value": "unlimited", "description": "retention.ms = -1: records are kept until deleted."})
        } else if ms % DAY == 0 {
            json!({"property": "retention", "value": ms / DAY, "unit": "d"})
        } else {
            json!({"property": "retention", "value": ms, "unit": "ms"})
        });
    }
    if let Some(sunset) = p.deprecation.as_ref().and_then(|d| d.sunset) {
        out.push(json!({"property": "endOfLife", "value": sunset.to_string()}));
    }
    out
}

fn customs(mesh: &Mesh, p: &Product) -> Vec<Value> {
    let mut cp = vec![custom("quality", p.quality.as_str().into())];
    let inputs: Vec<&str> = p.inputs.iter().map(|i| i.value.as_str()).collect();
    cp.push(custom("inputs", json!(inputs)));
    cp.push(custom("downstream", json!(downstream(mesh, &p.id))));
    cp.push(custom("visibility", p.access.visibility.as_str().into()));
    if !p.access.allow_domains.is_empty() {
        let allowed: Vec<&str> = p
            .access
            .allow_domains
            .iter()
            .map(|d| d.value.as_str())
            .collect();
        cp.push(custom("allowDomains", json!(allowed)));
    }
    if let Some(dep) = &p.deprecation {
        if let Some(r) = &dep.replacement {
            cp.push(custom("replacement", r.value.clone().into()));
        }
        if let Some(since) = dep.since {
            cp.push(custom("deprecatedSince", since.to_string().into()));
        }
    }
    cp.push(custom("meshFile", p.file.clone().into()));
    cp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logical_of(t: &str) -> Option<&'static str> {
        non_null(t).and_then(logical).map(|(l, _)| l)
    }

    #[test]
    fn logical_types_from_the_field_tree() {
        assert_eq!(logical_of("string"), Some("string"));
        assert_eq!(logical_of("null | string"), Some("string"));
        assert_eq!(logical_of("long (timestamp-millis)"), Some("timestamp"));
        assert_eq!(logical_of("int (date)"), Some("date"));
        assert_eq!(logical_of("string (date-time)"), Some("timestamp"));
        assert_eq!(logical_of("string (date)"), Some("date"));
        assert_eq!(logical_of("bytes (decimal(12,2))"), Some("number"));
        assert_eq!(logical_of("fixed Money(8) (decimal)"), Some("number"));
        assert_eq!(logical_of("bytes"), None);
        assert_eq!(logical_of("record Address"), Some("object"));
        assert_eq!(logical_of("message Line"), Some("object"));
        assert_eq!(logical_of("object segment"), Some("object"));
        assert_eq!(logical_of("enum Status"), Some("string"));
        assert_eq!(logical_of("integer | null"), Some("integer"));
        assert_eq!(logical_of("string | integer"), None);
        assert_eq!(logical_of("int64"), Some("integer"));
        assert_eq!(logical_of("bool"), Some("boolean"));
        assert_eq!(logical_of("google.protobuf.Timestamp"), Some("timestamp"));
        assert_eq!(logical_of("ref https://x"), None);
        assert_eq!(
            logical("string (uuid)"),
            Some(("string", Some(json!({"format": "uuid"}))))
        );
    }

    #[test]
    fn containers_nest_items_map_values_and_properties() {
        let child = Field {
            name: "sku".into(),
            path: "lines.sku".into(),
            type_name: "string".into(),
            doc: None,
            default: None,
            optional: false,
            symbols: vec![],
            children: vec![],
        };
        let mut m = Map::new();
        typed(
            &mut m,
            "array<record Line>",
            std::slice::from_ref(&child),
            &[],
        );
        assert_eq!(m["logicalType"], "array");
        assert_eq!(m["items"]["logicalType"], "object");
        assert_eq!(m["items"]["properties"][0]["name"], "sku");
        let mut m = Map::new();
        typed(&mut m, "map<string, array<int64>>", &[], &[]);
        assert_eq!(m["map"]["key"]["logicalType"], "string");
        assert_eq!(m["map"]["value"]["items"]["logicalType"], "integer");
        let mut m = Map::new();
        typed(&mut m, "map<long>", &[], &[]);
        assert_eq!(m["map"]["key"]["physicalType"], "string");
        assert_eq!(m["map"]["value"]["logicalType"], "integer");
        let mut m = Map::new();
        typed(
            &mut m,
            "null | enum S",
            &[],
            &["A".into(), "B".into(), "A".into()],
        );
        assert_eq!(m["enum"], json!([{"value": "A"}, {"value": "B"}]));
    }
}
