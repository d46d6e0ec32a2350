//! Backstage catalog entities: one multi-document `catalog-info.yaml` a Backstage catalog
//! ingests through one location.
//!
//! The mesh in Backstage's system model: a `Domain` and a `System` per domain (the system holds
//! the domain's products and services); a `Group` per owner team; per product a `Resource` of
//! type `kafka-topic` (depending on the products it is derived from) and, when it has a value
//! schema, an `API` whose type is the schema format and whose definition is the schema text;
//! per principal of a domain a `Component` of type `service` that provides the APIs of the
//! products it produces, consumes those of the products it reads, and depends on both topics.
//! Entity names follow Backstage's rules ([`entity_name`]).

use std::collections::{BTreeMap, BTreeSet};

use mesh_model::{Mesh, Product, Status};
use serde_json::{Map, Value, json};

use crate::{Files, fnv, schema_text, yaml};

const API_VERSION: &str = "backstage.io/v1alpha1";
const MAX_NAME: usize = 63;

/// A valid Backstage entity name for `raw` (catalog-model's `isValidObjectName`: 1 to 63
/// characters of `[A-Za-z0-9-_.]`, beginning and ending with a letter or digit). Other
/// characters become `-` and anything but letters and digits goes from either end; a name
/// longer than 63 keeps its first 54 characters and ends with `-` and 8 hex digits of a hash of
/// `raw`, so shortened names stay distinct.
pub fn entity_name(raw: &str) -> String {
    let mapped: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut out = mapped
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    if out.is_empty() {
        out.push_str("unnamed");
    }
    if out.len() > MAX_NAME {
        // All ASCII: any byte index is a character boundary.
        let head = out[..54].trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        out = format!("{head}-{:08x}", fnv(raw.as_bytes()) as u32);
    }
    out
}

/// The Group entity name of an owner team: `@acme/sales-data` → `acme-sales-data`.
pub fn group_name(owner: &str) -> String {
    entity_name(owner.trim_start_matches('@'))
}

/// A Backstage tag (`[a-z0-9:+#]` words joined by `-`, at most 63 characters), or none.
fn tag(raw: &str) -> Option<String> {
    let mut out = String::new();
    for c in raw.to_ascii_lowercase().chars() {
        if c.is_ascii_alphanumeric() || matches!(c, ':' | '+' | '#') {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.len() > MAX_NAME || out.ends_with('-') {
        out.pop();
    }
    (!out.is_empty()).then_some(out)
}

fn owner_ref(owners: &[String]) -> String {
    let name = owners
        .first()
        .map_or_else(|| "unknown".to_owned(), |o| group_name(o));
    format!("group:default/{name}")
}

fn resource_ref(id: &str) -> String {
    format!("resource:default/{}", entity_name(id))
}

fn api_ref(id: &str) -> String {
    format!("api:default/{}", entity_name(id))
}

fn links(contacts: &[String]) -> Vec<Value> {
    contacts
        .iter()
        .map(|url| {
            let title = match url.strip_prefix("mailto:") {
                Some(address) => format!("E-mail {address}"),
                None => url
                    .split_once("://")
                    .map_or(url.as_str(), |(_, rest)| rest)
                    .trim_end_matches('/')
                    .to_owned(),
            };
            json!({"url": url, "title": title})
        })
        .collect()
}

fn entity(kind: &str, metadata: Map<String, Value>, spec: Map<String, Value>) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
    })
}

fn metadata(name: String, title: Option<&str>, description: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), name.into());
    if let Some(t) = title {
        m.insert("title".into(), t.into());
    }
    if !description.is_empty() {
        m.insert("description".into(), description.into());
    }
    m
}

fn strings(v: impl IntoIterator<Item = String>) -> Value {
    let set: BTreeSet<String> = v.into_iter().collect();
    Value::Array(set.into_iter().map(Value::String).collect())
}

fn has_api(p: &Product) -> bool {
    p.schema.as_ref().is_some_and(|s| s.value.is_some())
}

fn lifecycle(p: &Product) -> &'static str {
    match p.status {
        Status::Active => "production",
        Status::Deprecated => "deprecated",
    }
}

/// `catalog-info.yaml`: every entity, grouped by kind (Domain, System, Group, Component,
/// Resource, API) and sorted by name.
pub fn backstage(mesh: &Mesh) -> Files {
    let mut docs: Vec<(&str, String, Value)> = Vec::new();

    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    for owner in mesh
        .domains
        .iter()
        .flat_map(|d| &d.owners)
        .chain(mesh.products.iter().flat_map(|p| &p.owners))
    {
        groups
            .entry(group_name(owner))
            .or_insert_with(|| owner.clone());
    }

    for d in &mesh.domains {
        let name = entity_name(&d.name);
        let mut m = metadata(name.clone(), None, &d.description);
        if !d.contacts.is_empty() {
            m.insert("links".into(), Value::Array(links(&d.contacts)));
        }
        let mut spec = Map::new();
        spec.insert("owner".into(), owner_ref(&d.owners).into());
        docs.push(("Domain", name.clone(), entity("Domain", m, spec)));

        let mut m = metadata(
            name.clone(),
            None,
            &format!("The data products and services of the {} domain.", d.name),
        );
        m.insert("annotations".into(), json!({"mesh/domain": d.name}));
        let mut spec = Map::new();
        spec.insert("owner".into(), owner_ref(&d.owners).into());
        spec.insert("domain".into(), format!("domain:default/{name}").into());
        docs.push(("System", name.clone(), entity("System", m, spec)));

        for (short, principal) in &d.principals {
            // A connector running as the principal produces (a source) or consumes (a sink)
            // its product like the principal's own code would.
            let runs = |sink: bool| {
                mesh.connectors
                    .iter()
                    .filter(move |c| {
                        c.domain == d.name && c.principal.value == *short && c.is_sink() == sink
                    })
                    .filter_map(|c| mesh.product(&c.product().value))
            };
            let mut produced: Vec<&Product> = mesh
                .products
                .iter()
                .filter(|p| p.domain == d.name && p.producers.iter().any(|x| x.value == *short))
                .chain(runs(false))
                .collect();
            let mut consumed: Vec<&Product> = d
                .consumes
                .iter()
                .filter(|c| c.principal.value == *short)
                .filter_map(|c| mesh.product(&c.product.value))
                .chain(runs(true))
                .collect();
            for list in [&mut produced, &mut consumed] {
                list.sort_by(|a, b| a.id.cmp(&b.id));
                list.dedup_by(|a, b| a.id == b.id);
            }
            let id = format!("{}.{short}", d.name);
            let cname = entity_name(&id);
            let mut m = metadata(cname.clone(), Some(&id), "");
            let purposes: Vec<&str> = d
                .consumes
                .iter()
                .filter(|c| c.principal.value == *short)
                .filter_map(|c| c.purpose.as_deref())
                .chain(
                    mesh.connectors
                        .iter()
                        .filter(|c| c.domain == d.name && c.principal.value == *short)
                        .filter_map(|c| c.purpose.as_deref()),
                )
                .collect();
            if !purposes.is_empty() {
                m.insert("description".into(), purposes.join(" ").into());
            }
            m.insert(
                "annotations".into(),
                json!({"mesh/principal": principal.value, "mesh/domain": d.name}),
            );
            let mut spec = Map::new();
            spec.insert("type".into(), "service".into());
            spec.insert("lifecycle".into(), "production".into());
            spec.insert("owner".into(), owner_ref(&d.owners).into());
            spec.insert("system".into(), format!("system:default/{name}").into());
            let provides: Vec<String> = produced
                .iter()
                .filter(|p| has_api(p))
                .map(|p| api_ref(&p.id))
                .collect();
            if !provides.is_empty() {
                spec.insert("providesApis".into(), strings(provides));
            }
            let consumes: Vec<String> = consumed
                .iter()
                .filter(|p| has_api(p))
                .map(|p| api_ref(&p.id))
                .collect();
            if !consumes.is_empty() {
                spec.insert("consumesApis".into(), strings(consumes));
            }
            let depends: Vec<String> = produced
                .iter()
                .chain(&consumed)
                .map(|p| resource_ref(&p.id))
                .collect();
            if !depends.is_empty() {
                spec.insert("dependsOn".into(), strings(depends));
            }
            docs.push(("Component", cname, entity("Component", m, spec)));
        }
    }

    for (name, owner) in &groups {
        let m = metadata(
            name.clone(),
            None,
            &format!("The team {owner}, owner of data products in the mesh."),
        );
        let spec = json!({"type": "team", "profile": {"displayName": owner}, "children": []});
        let Value::Object(spec) = spec else {
            continue;
        };
        docs.push(("Group", name.clone(), entity("Group", m, spec)));
    }

    for p in &mesh.products {
        let name = entity_name(&p.id);
        let mut m = metadata(name.clone(), Some(&p.id), &p.description);
        let tags: BTreeSet<String> = p.tags.iter().filter_map(|t| tag(t)).collect();
        if !tags.is_empty() {
            m.insert("tags".into(), json!(tags));
        }
        m.insert(
            "labels".into(),
            json!({"mesh/quality": p.quality.as_str(), "mesh/sla": p.sla.as_str()}),
        );
        m.insert(
            "annotations".into(),
            json!({"mesh/product": p.id, "mesh/topic": p.topic.name, "mesh/file": p.file}),
        );
        if !p.contacts.is_empty() {
            m.insert("links".into(), Value::Array(links(&p.contacts)));
        }
        let mut spec = Map::new();
        spec.insert("type".into(), "kafka-topic".into());
        spec.insert("owner".into(), owner_ref(&p.owners).into());
        spec.insert(
            "system".into(),
            format!("system:default/{}", entity_name(&p.domain)).into(),
        );
        if !p.inputs.is_empty() {
            spec.insert(
                "dependsOn".into(),
                strings(p.inputs.iter().map(|i| resource_ref(&i.value))),
            );
        }
        docs.push((
            "Resource",
            name.clone(),
            entity("Resource", m.clone(), spec),
        ));

        let Some(value) = p.schema.as_ref().and_then(|s| s.value.as_ref()) else {
            continue;
        };
        let Some(text) = schema_text(mesh, value) else {
            continue;
        };
        m.insert(
            "annotations".into(),
            json!({"mesh/product": p.id, "mesh/topic": p.topic.name, "mesh/schema": value.file}),
        );
        let mut spec = Map::new();
        spec.insert("type".into(), value.format.as_str().into());
        spec.insert("lifecycle".into(), lifecycle(p).into());
        spec.insert("owner".into(), owner_ref(&p.owners).into());
        spec.insert(
            "system".into(),
            format!("system:default/{}", entity_name(&p.domain)).into(),
        );
        spec.insert("definition".into(), text.into());
        docs.push(("API", name, entity("API", m, spec)));
    }

    let rank = |kind: &str| {
        ["Domain", "System", "Group", "Component", "Resource", "API"]
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(usize::MAX)
    };
    docs.sort_by(|a, b| (rank(a.0), &a.1).cmp(&(rank(b.0), &b.1)));

    let mut text = String::from(
        "# Backstage catalog entities of the mesh — written by `mesh export --format backstage` from the mesh repo; edit the repo, not this file.\n",
    );
    for (_, _, doc) in &docs {
        text.push_str("---\n");
        text.push_str(&yaml(doc));
    }
    vec![("catalog-info.yaml".to_owned(), text)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backstage's rule for entity names: catalog-model's `isValidObjectName`, the regular
    /// expression `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$` and 1 to 63 characters.
    fn is_valid_name(s: &str) -> bool {
        let b = s.as_bytes();
        (1..=63).contains(&b.len())
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    }

    #[test]
    fn entity_names_follow_backstages_rules() {
        assert_eq!(entity_name("sales.orders"), "sales.orders");
        assert_eq!(group_name("@acme/sales-data"), "acme-sales-data");
        assert_eq!(entity_name("a--b..c-"), "a--b..c");
        assert_eq!(entity_name("-x"), "x");
        assert_eq!(entity_name("@@@"), "unnamed");
        assert_eq!(entity_name("ünï code"), "n--code");
        let long = format!("{}.{}", "d".repeat(64), "p".repeat(64));
        let a = entity_name(&long);
        let b = entity_name(&format!("{}.{}q", "d".repeat(64), "p".repeat(63)));
        assert_eq!(a.len(), 63);
        assert_ne!(a, b, "shortened names stay distinct");
        for raw in [
            "sales.orders",
            "@acme/sales-data",
            "a--b",
            "x.",
            "_a_",
            "é",
            "",
            &long,
            &format!("{}-.-{}", "a".repeat(53), "b".repeat(20)),
            "group:default/x",
        ] {
            let n = entity_name(raw);
            assert!(is_valid_name(&n), "{raw:?} → {n:?}");
        }
    }

    #[test]
    fn tags_follow_backstages_rules() {
        assert_eq!(tag("finance-relevant").as_deref(), Some("finance-relevant"));
        assert_eq!(tag("PII").as_deref(), Some("pii"));
        assert_eq!(tag("two words_here").as_deref(), Some("two-words-here"));
        assert_eq!(tag("---"), None);
    }
}
