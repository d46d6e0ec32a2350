//! What a rule sees: the JSON-shaped views of products, domains and consumers (SPEC §2), and the
//! shape of each, used to reject a rule that names a field no subject has.

use std::collections::HashMap;

use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString,
};
use cel::common::value::Val;
use serde_json::{Map, Value, json};

use mesh_model::{Connector, Consume, Domain, Mesh, Product, SchemaRef};

pub fn product(p: &Product) -> Value {
    let schema_ref = |r: &Option<SchemaRef>| r.as_ref().map(|r| r.path.value.clone());
    let schema_format = |r: &Option<SchemaRef>| r.as_ref().map(|r| r.format.as_str());
    json!({
        "id": p.id,
        "domain": p.domain,
        "name": p.name,
        "description": p.description,
        "owners": p.owners,
        "contacts": p.contacts,
        "quality": p.quality.as_str(),
        "sla": p.sla.as_str(),
        "tags": p.tags,
        "status": p.status.as_str(),
        "inputs": p.inputs.iter().map(|i| &i.value).collect::<Vec<_>>(),
        "producers": p.producers.iter().map(|i| &i.value).collect::<Vec<_>>(),
        "topic": {
            "name": p.topic.name,
            "partitions": p.topic.partitions,
            "replication_factor": p.topic.replication_factor,
            "config": p.topic.config,
        },
        "schema": p.schema.as_ref().map(|s| json!({
            "value": schema_ref(&s.value),
            "key": schema_ref(&s.key),
            "value_format": schema_format(&s.value),
            "key_format": schema_format(&s.key),
            "compatibility": s.compatibility.as_str(),
        })),
        "access": {
            "visibility": p.access.visibility.as_str(),
            "allow_domains": p.access.allow_domains.iter().map(|d| &d.value).collect::<Vec<_>>(),
        },
        "deprecation": p.deprecation.as_ref().map(|d| json!({
            "since": d.since.map(|x| x.to_string()),
            "sunset": d.sunset.map(|x| x.to_string()),
            "replacement": d.replacement.as_ref().map(|r| &r.value),
            "reason": d.reason,
        })),
    })
}

pub fn consumer(d: &Domain, c: &Consume) -> Value {
    json!({
        "product": c.product.value,
        "principal": c.principal.value,
        "principal_name": d.principals.get(&c.principal.value).map(|p| &p.value),
        "principal_kind": d.principal_spec(&c.principal.value).kind.as_str(),
        "group": c.group.value,
        "purpose": c.purpose.clone().unwrap_or_default(),
        "domain": d.name,
    })
}

/// A connector (SPEC §1): its fields, `config` as written (references unexpanded), and the
/// product it reads or writes, as a `product` rule sees it (`null` when it does not exist).
pub fn connector(mesh: &Mesh, c: &Connector) -> Value {
    let domain = mesh.domain(&c.domain);
    json!({
        "name": c.name,
        "domain": c.domain,
        "class": c.class.value,
        "kind": if c.is_sink() { "sink" } else { "source" },
        "principal": c.principal.value,
        "principal_name": domain.and_then(|d| d.principals.get(&c.principal.value)).map(|p| &p.value),
        "product_id": c.product().value,
        "product": mesh.product(&c.product().value).map(product),
        "purpose": c.purpose.clone().unwrap_or_default(),
        "tasks_max": c.tasks_max,
        "config": c.config.iter().map(|(k, v)| (k.clone(), Value::String(v.value.clone()))).collect::<Map<String, Value>>(),
    })
}

/// A domain; `products` are the ids of its products (in the mesh's order).
pub fn domain(d: &Domain, products: &[&String]) -> Value {
    let principals: Map<String, Value> = d
        .principals
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.value.clone())))
        .collect();
    let kinds: Map<String, Value> = d
        .principals
        .keys()
        .map(|k| {
            let spec = d.principal_spec(k);
            let text =
                |s: &Option<mesh_model::doc::Spanned<String>>| s.as_ref().map(|s| s.value.clone());
            let v = json!({
                "kind": spec.kind.as_str(),
                "application_id": text(&spec.application_id),
                "transactional_id": text(&spec.transactional_id),
            });
            (k.clone(), v)
        })
        .collect();
    json!({
        "name": d.name,
        "description": d.description,
        "owners": d.owners,
        "contacts": d.contacts,
        "principals": principals,
        "principal_kinds": kinds,
        "consumes": d.consumes.iter().map(|c| consumer(d, c)).collect::<Vec<_>>(),
        "products": products,
    })
}

pub fn environment(mesh: &Mesh) -> Value {
    json!({
        "name": mesh.env.clone().unwrap_or_default(),
        "local": mesh.environment().is_some_and(|e| e.local),
    })
}

/// The fields a subject has, for checking rules before they run.
#[derive(Debug)]
pub enum Shape {
    /// An object with exactly these fields.
    Object(&'static [(&'static str, Shape)]),
    /// A map with any keys (topic configs, principals).
    Map,
    List(&'static Shape),
    Scalar,
}

use Shape::*;

const CONSUMER: Shape = Object(&[
    ("product", Scalar),
    ("principal", Scalar),
    ("principal_name", Scalar),
    ("principal_kind", Scalar),
    ("group", Scalar),
    ("purpose", Scalar),
    ("domain", Scalar),
]);

pub const PRODUCT: Shape = Object(&[
    ("id", Scalar),
    ("domain", Scalar),
    ("name", Scalar),
    ("description", Scalar),
    ("owners", List(&Scalar)),
    ("contacts", List(&Scalar)),
    ("quality", Scalar),
    ("sla", Scalar),
    ("tags", List(&Scalar)),
    ("status", Scalar),
    ("inputs", List(&Scalar)),
    ("producers", List(&Scalar)),
    (
        "topic",
        Object(&[
            ("name", Scalar),
            ("partitions", Scalar),
            ("replication_factor", Scalar),
            ("config", Map),
        ]),
    ),
    (
        "schema",
        Object(&[
            ("value", Scalar),
            ("key", Scalar),
            ("value_format", Scalar),
            ("key_format", Scalar),
            ("compatibility", Scalar),
        ]),
    ),
    (
        "access",
        Object(&[("visibility", Scalar), ("allow_domains", List(&Scalar))]),
    ),
    (
        "deprecation",
        Object(&[
            ("since", Scalar),
            ("sunset", Scalar),
            ("replacement", Scalar),
            ("reason", Scalar),
        ]),
    ),
]);

pub const CONNECTOR: Shape = Object(&[
    ("name", Scalar),
    ("domain", Scalar),
    ("class", Scalar),
    ("kind", Scalar),
    ("principal", Scalar),
    ("principal_name", Scalar),
    ("product_id", Scalar),
    ("product", PRODUCT),
    ("purpose", Scalar),
    ("tasks_max", Scalar),
    ("config", Map),
]);

pub const DOMAIN: Shape = Object(&[
    ("name", Scalar),
    ("description", Scalar),
    ("owners", List(&Scalar)),
    ("contacts", List(&Scalar)),
    ("principals", Map),
    ("principal_kinds", Map),
    ("consumes", List(&CONSUMER)),
    ("products", List(&Scalar)),
]);

pub const CHANGE: Shape = Object(&[
    ("kind", Scalar),
    ("resource", Scalar),
    ("product", PRODUCT),
    ("before", Map),
    ("after", Map),
]);

pub const ENVIRONMENT: Shape = Object(&[("name", Scalar), ("local", Scalar)]);

/// The variables a rule about `subject` may use, with their shapes.
pub fn variables(subject: &str) -> Vec<(&'static str, &'static Shape)> {
    let mut vars: Vec<(&'static str, &'static Shape)> =
        vec![("env", &Scalar), ("environment", &ENVIRONMENT)];
    match subject {
        "product" => vars.push(("product", &PRODUCT)),
        "domain" => vars.push(("domain", &DOMAIN)),
        "consumer" => vars.push(("consumer", &CONSUMER)),
        "connector" => vars.push(("connector", &CONNECTOR)),
        "change" => vars.push(("change", &CHANGE)),
        _ => {}
    }
    vars
}

impl Shape {
    pub fn field(&self, name: &str) -> Option<&Shape> {
        match self {
            Object(fields) => fields.iter().find(|(n, _)| *n == name).map(|(_, s)| s),
            Map => Some(&Scalar),
            List(_) | Scalar => None,
        }
    }

    pub fn field_names(&self) -> Vec<&'static str> {
        match self {
            Object(fields) => fields.iter().map(|(n, _)| *n).collect(),
            _ => Vec::new(),
        }
    }
}

/// A JSON value as CEL sees it.
pub fn to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(f)) => cel::Value::Float(f),
            _ => cel::Value::Null,
        },
        Value::String(s) => cel::Value::String(s.clone().into()),
        Value::Array(items) => {
            cel::Value::List(items.iter().map(to_cel).collect::<Vec<_>>().into())
        }
        Value::Object(o) => {
            let map: std::collections::HashMap<String, cel::Value> =
                o.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            map.into()
        }
    }
}

/// A JSON view as the CEL value a rule reads, borrowing its strings from the view.
///
/// The same value `Context::add_variable_from_value(to_cel(v))` binds (numbers as in
/// [`to_cel`]; maps keyed by string), built in one pass: going through `cel::Value` copied every
/// string and map twice, which was most of the cost of evaluating the rules.
pub fn to_val(v: &Value) -> Box<dyn Val + '_> {
    match v {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Box::new(CelInt::from(i)),
            (None, Some(f)) => Box::new(CelDouble::from(f)),
            _ => Box::new(CelNull),
        },
        Value::String(s) => Box::new(CelString::from(s.as_str())),
        Value::Array(items) => {
            Box::new(CelList::from(items.iter().map(to_val).collect::<Vec<_>>()))
        }
        Value::Object(o) => {
            let map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = o
                .iter()
                .map(|(k, v)| (CelMapKey::from(k.as_str()), to_val(v)))
                .collect();
            Box::new(CelMap::from(map))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `to_val` binds what converting `to_cel`'s value did: every JSON kind, nested, with
    /// integers, a float, a number beyond i64 and a map key that needs no escaping.
    #[test]
    fn to_val_is_to_cel_converted() {
        let v = json!({
            "id": "sales.orders",
            "n": 3, "neg": -7, "big": u64::MAX, "f": 1.5, "t": true, "none": null,
            "tags": ["a", "b", 1, [null, {"x": "y"}]],
            "config": {"retention.ms": "604800000", "min.insync.replicas": 2},
            "empty": {}, "list": [],
        });
        let direct: cel::Value = to_val(&v)
            .as_ref()
            .try_into()
            .expect("a plain value converts");
        assert_eq!(direct, to_cel(&v));
    }
}
