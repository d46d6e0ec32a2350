//! What the site shows, as one value: every product and domain with the facts of its pages,
//! built once from the mesh (and the live facts) and then rendered as HTML, search data and
//! `catalog.json`. Everything is sorted so the output is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use mesh_model::{Mesh, Product, SchemaFormat, Visibility};
use serde::Serialize;
use serde_json::Value;

use crate::fields::{FieldView, schema_fields};
use crate::{Input, LiveFacts};

/// The version of `catalog.json`'s shape; raised on any incompatible change.
pub const CATALOG_VERSION: u32 = 1;

#[derive(Serialize)]
pub struct Catalog {
    pub mesh: String,
    /// The environment whose topic settings are shown (`--env`), if any.
    pub env: Option<String>,
    /// How to reach the environment's cluster, for the client config snippet.
    pub connection: Option<Connection>,
    /// `None` without `--env`.
    pub live: Option<LiveStatus>,
    /// Every product rule in force (global, and each domain's own), by id; products name theirs.
    pub rules: Vec<PolicyView>,
    pub domains: Vec<DomainView>,
    pub products: Vec<ProductView>,
}

#[derive(Serialize)]
pub struct Connection {
    pub bootstrap_servers: String,
    pub schema_registry_url: Option<String>,
    pub security_protocol: Option<String>,
    pub sasl_mechanism: Option<String>,
}

#[derive(Serialize)]
pub struct LiveStatus {
    pub available: bool,
    /// Why not, when not available.
    pub reason: Option<String>,
    pub notes: Vec<String>,
}

#[derive(Serialize)]
pub struct DomainView {
    pub name: String,
    pub description: String,
    pub owners: Vec<String>,
    pub contacts: Vec<String>,
    pub products: Vec<String>,
    /// What this domain reads (its `[[consumes]]`).
    pub consumes: Vec<ConsumeView>,
}

#[derive(Serialize, Clone)]
pub struct ConsumeView {
    pub product: String,
    pub domain: String,
    pub principal: String,
    pub kafka_principal: Option<String>,
    pub group: String,
    pub purpose: Option<String>,
    /// A sink connector reads it (its name on Connect), not a `[[consumes]]` entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
}

/// A Kafka Connect connector at one end of a product: a sink reads it, a source writes it.
#[derive(Serialize, Clone)]
pub struct ConnectorView {
    pub name: String,
    pub domain: String,
    /// `sink` or `source`.
    pub kind: String,
    pub class: String,
    pub principal: String,
    pub purpose: Option<String>,
    /// `running`, `paused` or `stopped`, as declared.
    pub state: String,
    pub file: String,
}

#[derive(Serialize)]
pub struct ProductView {
    pub id: String,
    pub domain: String,
    pub name: String,
    pub file: String,
    pub description: String,
    pub owners: Vec<String>,
    pub contacts: Vec<String>,
    pub quality: String,
    pub sla: String,
    pub status: String,
    pub tags: Vec<String>,
    pub visibility: String,
    pub allow_domains: Vec<String>,
    /// Domains that may consume it (`["*"]` for a public product).
    pub may_consume: Vec<String>,
    pub deprecation: Option<DeprecationView>,
    pub topic: TopicView,
    pub schema: Option<SchemaView>,
    pub producers: Vec<PrincipalView>,
    pub consumers: Vec<ConsumeView>,
    /// Connectors that read (sinks) or write (sources) it.
    pub connectors: Vec<ConnectorView>,
    pub inputs: Vec<String>,
    pub downstream: Vec<String>,
    pub acls: Vec<AclView>,
    /// Ids of the product rules that bind it (see `Catalog::rules`).
    pub policies: Vec<String>,
    pub exemptions: Vec<ExemptionView>,
    /// Validation warnings about its file (errors never reach a catalog).
    pub findings: Vec<String>,
    pub live: Option<ProductLive>,
}

#[derive(Serialize)]
pub struct DeprecationView {
    pub since: Option<String>,
    pub sunset: Option<String>,
    pub replacement: Option<String>,
    pub reason: Option<String>,
}

#[derive(Serialize)]
pub struct TopicView {
    pub name: String,
    pub partitions: i64,
    pub replication_factor: i64,
    pub config: BTreeMap<String, String>,
}

#[derive(Serialize)]
pub struct SchemaView {
    pub compatibility: String,
    pub key: Option<SchemaPart>,
    pub value: Option<SchemaPart>,
}

#[derive(Serialize)]
pub struct SchemaPart {
    pub subject: String,
    pub file: String,
    pub format: String,
    pub fields: Vec<FieldView>,
    /// Why the fields could not be listed (the raw text is still shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields_error: Option<String>,
    #[serde(skip)]
    pub raw: String,
}

#[derive(Serialize)]
pub struct PrincipalView {
    pub name: String,
    pub kafka_principal: Option<String>,
}

#[derive(Serialize)]
pub struct AclView {
    pub principal: String,
    pub resource_type: String,
    pub resource_name: String,
    pub pattern: String,
    pub operation: String,
}

#[derive(Serialize)]
pub struct PolicyView {
    pub rule: String,
    pub description: String,
    pub severity: String,
    /// `global`, or `domain` for a domain's own rule.
    pub scope: String,
    /// The domain a `domain` rule binds.
    pub domain: Option<String>,
    pub exemptible: bool,
}

#[derive(Serialize)]
pub struct ExemptionView {
    pub rule: String,
    pub reason: String,
    pub expires: String,
}

#[derive(Serialize)]
pub struct ProductLive {
    pub partitions: Option<i32>,
    /// Subject → its latest registered version.
    pub subjects: BTreeMap<String, SubjectLive>,
    pub groups: Vec<GroupLive>,
}

#[derive(Serialize)]
pub struct SubjectLive {
    pub version: i32,
    pub id: i32,
    pub registered_at: Option<String>,
}

#[derive(Serialize)]
pub struct GroupLive {
    pub group: String,
    pub state: String,
    pub members: usize,
    pub last_commit: Option<String>,
    pub never_committed: bool,
}

/// `catalog.json`: the catalog with its format version first.
pub fn catalog_json(c: &Catalog) -> Value {
    let mut doc = serde_json::Map::new();
    doc.insert("version".into(), CATALOG_VERSION.into());
    if let Ok(Value::Object(rest)) = serde_json::to_value(c) {
        doc.extend(rest);
    }
    Value::Object(doc)
}

impl Catalog {
    pub fn of(input: &Input) -> Catalog {
        let report = input.report;
        let mesh = &report.mesh;
        let desired = mesh_plan::desired(mesh, None);
        let consumers = consumers_by_product(mesh);
        let mut downstream: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for p in &mesh.products {
            for i in &p.inputs {
                downstream.entry(&i.value).or_default().insert(&p.id);
            }
        }
        let live = input.live.filter(|l| l.unavailable.is_none());
        let rules = product_rules(&report.policies);
        let mut products: Vec<ProductView> = mesh
            .products
            .iter()
            .map(|p| {
                let acls = desired
                    .catalog
                    .get(&p.id)
                    .and_then(|r| r.applied.as_ref())
                    .map(|a| a.acls.iter().map(acl_view).collect())
                    .unwrap_or_default();
                ProductView {
                    acls,
                    consumers: consumers.get(p.id.as_str()).cloned().unwrap_or_default(),
                    connectors: mesh
                        .connectors
                        .iter()
                        .filter(|c| c.product().value == p.id)
                        .map(connector_view)
                        .collect(),
                    downstream: downstream
                        .get(p.id.as_str())
                        .map(|s| s.iter().map(|s| s.to_string()).collect())
                        .unwrap_or_default(),
                    policies: policies_of(&rules, p),
                    exemptions: report
                        .policies
                        .exemptions
                        .iter()
                        .filter(|e| e.product == p.id)
                        .map(|e| ExemptionView {
                            rule: e.rule.clone(),
                            reason: e.reason.clone(),
                            expires: e.expires.to_string(),
                        })
                        .collect(),
                    findings: report
                        .diagnostics
                        .iter()
                        .filter(|d| d.file == p.file)
                        .map(|d| format!("{}: {}", d.code, d.message))
                        .collect(),
                    live: live.map(|l| product_live(l, p)),
                    ..product_view(mesh, p)
                }
            })
            .collect();
        products.sort_by(|a, b| a.id.cmp(&b.id));
        let mut domains: Vec<DomainView> = mesh
            .domains
            .iter()
            .map(|d| DomainView {
                name: d.name.clone(),
                description: d.description.clone(),
                owners: d.owners.clone(),
                contacts: d.contacts.clone(),
                products: {
                    let mut ids: Vec<String> = mesh
                        .products
                        .iter()
                        .filter(|p| p.domain == d.name)
                        .map(|p| p.id.clone())
                        .collect();
                    ids.sort();
                    ids
                },
                consumes: d.consumes.iter().map(|c| consume_view(d, c)).collect(),
            })
            .collect();
        domains.sort_by(|a, b| a.name.cmp(&b.name));
        let environment = mesh.environment();
        Catalog {
            mesh: mesh.settings.name.clone(),
            env: mesh.env.clone(),
            connection: environment.and_then(|e| {
                Some(Connection {
                    bootstrap_servers: e.bootstrap_servers.as_ref()?.value.clone(),
                    schema_registry_url: e
                        .schema_registry_url
                        .as_ref()
                        .map(|u| without_userinfo(&u.value)),
                    security_protocol: e.kafka.get("security.protocol").map(|v| v.value.clone()),
                    sasl_mechanism: e.kafka.get("sasl.mechanism").map(|v| v.value.clone()),
                })
            }),
            live: input.live.map(|l| LiveStatus {
                available: l.unavailable.is_none(),
                reason: l.unavailable.clone(),
                notes: l.notes.clone(),
            }),
            rules,
            domains,
            products,
        }
    }
}

/// A URL without any `user:password@` part: the site is for everyone, credentials are not.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

fn consume_view(d: &mesh_model::Domain, c: &mesh_model::Consume) -> ConsumeView {
    reader_view(
        d,
        &c.product.value,
        &c.principal.value,
        &c.group.value,
        &c.purpose,
        None,
    )
}

/// One reader of a product: a `[[consumes]]` entry, or a sink connector (`connector`).
fn reader_view(
    d: &mesh_model::Domain,
    product: &str,
    principal: &str,
    group: &str,
    purpose: &Option<String>,
    connector: Option<&str>,
) -> ConsumeView {
    ConsumeView {
        product: product.to_owned(),
        domain: d.name.clone(),
        principal: principal.to_owned(),
        kafka_principal: d.principals.get(principal).map(|p| p.value.clone()),
        group: group.to_owned(),
        purpose: purpose.clone(),
        connector: connector.map(str::to_owned),
    }
}

fn connector_view(c: &mesh_model::Connector) -> ConnectorView {
    ConnectorView {
        name: c.name.clone(),
        domain: c.domain.clone(),
        kind: if c.is_sink() { "sink" } else { "source" }.into(),
        class: c.class.value.clone(),
        principal: c.principal.value.clone(),
        purpose: c.purpose.clone(),
        state: c.state.as_str().into(),
        file: c.file.clone(),
    }
}

fn consumers_by_product(mesh: &Mesh) -> BTreeMap<&str, Vec<ConsumeView>> {
    let mut out: BTreeMap<&str, Vec<ConsumeView>> = BTreeMap::new();
    for (d, c) in mesh.consumers() {
        out.entry(c.product.value.as_str())
            .or_default()
            .push(consume_view(d, c));
    }
    // A sink connector is a consumer of its product, with its group `connect-<name>`.
    for c in mesh.connectors.iter().filter(|c| c.is_sink()) {
        let Some(d) = mesh.domain(&c.domain) else {
            continue;
        };
        out.entry(c.product().value.as_str())
            .or_default()
            .push(reader_view(
                d,
                &c.product().value,
                &c.principal.value,
                &c.group(),
                &c.purpose,
                Some(&c.name),
            ));
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| (&a.domain, &a.principal).cmp(&(&b.domain, &b.principal)));
    }
    out
}

fn acl_view(b: &mesh_plan::AclBinding) -> AclView {
    AclView {
        principal: b.principal.to_string(),
        resource_type: serde_name(&b.resource_type),
        resource_name: b.resource_name.to_string(),
        pattern: serde_name(&b.pattern),
        operation: serde_name(&b.operation),
    }
}

/// The serde name of a unit enum value (`read`, `topic`, `prefixed`), as plans print them.
fn serde_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The rules about products, sorted by id.
fn product_rules(policies: &mesh_policy::Policies) -> Vec<PolicyView> {
    let mut out: Vec<PolicyView> = policies
        .rules
        .iter()
        .filter(|r| r.applies_to == "product")
        .map(|r| PolicyView {
            rule: r.id.clone(),
            description: r.description.clone(),
            severity: match r.severity {
                mesh_diagnostics::Severity::Error => "error".into(),
                mesh_diagnostics::Severity::Warning => "warning".into(),
            },
            scope: match &r.scope {
                mesh_policy::Scope::Global => "global".into(),
                mesh_policy::Scope::Domain(_) => "domain".into(),
            },
            domain: match &r.scope {
                mesh_policy::Scope::Global => None,
                mesh_policy::Scope::Domain(d) => Some(d.clone()),
            },
            exemptible: r.exemptible,
        })
        .collect();
    out.sort_by(|a, b| a.rule.cmp(&b.rule));
    out
}

/// The ids of the rules that bind a product: the global ones and its domain's own.
fn policies_of(rules: &[PolicyView], p: &Product) -> Vec<String> {
    rules
        .iter()
        .filter(|r| r.domain.as_ref().is_none_or(|d| *d == p.domain))
        .map(|r| r.rule.clone())
        .collect()
}

fn product_live(l: &LiveFacts, p: &Product) -> ProductLive {
    let mut subjects = BTreeMap::new();
    for suffix in ["key", "value"] {
        let subject = format!("{}-{suffix}", p.topic.name);
        if let Some(s) = l.subjects.get(&subject) {
            subjects.insert(
                subject,
                SubjectLive {
                    version: s.version,
                    id: s.id,
                    registered_at: s.registered_at.clone(),
                },
            );
        }
    }
    ProductLive {
        partitions: l.partitions.get(&p.topic.name).copied(),
        subjects,
        groups: l
            .groups
            .get(&p.topic.name)
            .map(|gs| {
                gs.iter()
                    .map(|g| GroupLive {
                        group: g.group.clone(),
                        state: g.state.clone(),
                        members: g.members,
                        last_commit: g.last_commit.clone(),
                        never_committed: g.never_committed,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The parts of a product's view that come from its file alone.
fn product_view(mesh: &Mesh, p: &Product) -> ProductView {
    let domain = mesh.domain(&p.domain);
    let principal = |name: &str| {
        domain
            .and_then(|d| d.principals.get(name))
            .map(|v| v.value.clone())
    };
    let allow: Vec<String> = p
        .access
        .allow_domains
        .iter()
        .map(|d| d.value.clone())
        .collect();
    let may_consume = match p.access.visibility {
        Visibility::Public => vec!["*".to_string()],
        Visibility::Private => vec![p.domain.clone()],
        Visibility::Restricted => {
            let mut v: BTreeSet<String> = allow.iter().cloned().collect();
            v.insert(p.domain.clone());
            v.into_iter().collect()
        }
    };
    let schema = p.schema.as_ref().map(|s| SchemaView {
        compatibility: s.compatibility.as_str().to_string(),
        key: s
            .key
            .as_ref()
            .map(|r| schema_part(mesh, r, &format!("{}-key", p.topic.name))),
        value: s
            .value
            .as_ref()
            .map(|r| schema_part(mesh, r, &format!("{}-value", p.topic.name))),
    });
    ProductView {
        id: p.id.clone(),
        domain: p.domain.clone(),
        name: p.name.clone(),
        file: p.file.clone(),
        description: p.description.clone(),
        owners: p.owners.clone(),
        contacts: p.contacts.clone(),
        quality: p.quality.to_string(),
        sla: p.sla.to_string(),
        status: p.status.to_string(),
        tags: p.tags.clone(),
        visibility: p.access.visibility.to_string(),
        allow_domains: allow,
        may_consume,
        deprecation: p.deprecation.as_ref().map(|d| DeprecationView {
            since: d.since.map(|d| d.to_string()),
            sunset: d.sunset.map(|d| d.to_string()),
            replacement: d.replacement.as_ref().map(|r| r.value.clone()),
            reason: d.reason.clone(),
        }),
        topic: TopicView {
            name: p.topic.name.clone(),
            partitions: p.topic.partitions,
            replication_factor: p.topic.replication_factor,
            config: p.topic.config.clone().into(),
        },
        schema,
        producers: p
            .producers
            .iter()
            .map(|n| PrincipalView {
                name: n.value.clone(),
                kafka_principal: principal(&n.value),
            })
            .collect(),
        consumers: Vec::new(),
        connectors: Vec::new(),
        inputs: p.inputs.iter().map(|i| i.value.clone()).collect(),
        downstream: Vec::new(),
        acls: Vec::new(),
        policies: Vec::new(),
        exemptions: Vec::new(),
        findings: Vec::new(),
        live: None,
    }
}

fn schema_part(mesh: &Mesh, r: &mesh_model::SchemaRef, subject: &str) -> SchemaPart {
    let raw = mesh
        .sources
        .get(&r.file)
        .map(|s| s.text().to_string())
        .unwrap_or_default();
    let format = match r.format {
        SchemaFormat::Avro => mesh_schema::Format::Avro,
        SchemaFormat::Json => mesh_schema::Format::Json,
        SchemaFormat::Protobuf => mesh_schema::Format::Protobuf,
    };
    let (fields, fields_error) = match schema_fields(format, &raw) {
        Ok(f) => (f, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    SchemaPart {
        subject: subject.to_string(),
        file: r.file.clone(),
        format: r.format.to_string(),
        fields,
        fields_error,
        raw,
    }
}

#[cfg(test)]
mod unit {
    #[test]
    fn urls_lose_their_credentials() {
        use super::without_userinfo as w;
        assert_eq!(w("https://u:p@sr.example/apis"), "https://sr.example/apis");
        assert_eq!(w("https://sr.example/a@b"), "https://sr.example/a@b");
        assert_eq!(w("http://127.0.0.1:18081"), "http://127.0.0.1:18081");
        assert_eq!(w("${SR_URL}"), "${SR_URL}");
    }
}
