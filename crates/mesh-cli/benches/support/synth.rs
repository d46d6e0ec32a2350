//! The synthetic mesh of the scale bench (`benches/scale.rs`) and of `bench/compare.sh` (through
//! `examples/bench_mesh.rs`): N products, each one topic with four configs, one producer and one
//! consumer from the next domain with its own literal group — five ACL bindings per product —
//! and, when asked, an Avro value schema (and an Avro key for every fifth product: 1.2 subjects
//! per product). The same products are listed as plain rows ([`Row`]) so that other tools
//! (Kafka's CLI, a batched AdminClient) can create exactly what `mesh apply` creates.
//!
//! Included with `#[path]` by a bench and an example; not every user calls every item.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// The environment the synthetic mesh is applied in.
pub const ENV: &str = "bench";

const AREAS: &[&str] = &[
    "sales",
    "finance",
    "logistics",
    "marketing",
    "customers",
    "inventory",
    "support",
    "pricing",
    "risk",
    "catalog",
];
const NOUNS: &[&str] = &[
    "orders",
    "payments",
    "shipments",
    "profiles",
    "clicks",
    "invoices",
    "tickets",
    "prices",
    "alerts",
    "items",
];
/// Writers and readers per domain (principals `writer-k`, `reader-k`).
const PRINCIPALS: usize = 5;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Synth {
    pub products: usize,
    pub per_domain: usize,
    pub partitions: i32,
    pub replication: i32,
    pub schemas: bool,
    /// Put in front of every domain name (`TAG-sales-000`) and of the catalog topic's
    /// (`_mesh-catalog-TAG`), so that several meshes can share one cluster; empty for none.
    pub tag: String,
}

/// One product as another tool would create it: its topic with partitions, replication and
/// configs (as Kafka takes them: durations in ms, sizes in bytes), the producer (WRITE +
/// DESCRIBE on the topic) and the consumer (READ + DESCRIBE on the topic, READ on its literal
/// group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub topic: String,
    pub partitions: i32,
    pub replication: i32,
    pub config: Vec<(String, String)>,
    pub producer: String,
    pub consumer: String,
    pub group: String,
}

impl Row {
    /// A tab-separated line: topic, partitions, replication, `k=v,k=v`, producer, consumer, group.
    pub fn tsv(&self) -> String {
        let config: Vec<String> = self
            .config
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.topic,
            self.partitions,
            self.replication,
            config.join(","),
            self.producer,
            self.consumer,
            self.group
        )
    }
}

fn product_name(j: usize) -> String {
    format!("{}-{j:02}", NOUNS[j % NOUNS.len()])
}

impl Synth {
    fn domain_name(&self, d: usize) -> String {
        let area = AREAS[d % AREAS.len()];
        if self.tag.is_empty() {
            format!("{area}-{d:03}")
        } else {
            format!("{}-{area}-{d:03}", self.tag)
        }
    }

    fn catalog_topic(&self) -> String {
        if self.tag.is_empty() {
            "_mesh-catalog".to_string()
        } else {
            format!("_mesh-catalog-{}", self.tag)
        }
    }

    /// At least two domains, so that every product has a consumer from another domain.
    pub fn domains(&self) -> usize {
        self.products.div_ceil(self.per_domain.max(1)).max(2)
    }

    /// Product `i` (0-based): its domain index and index within the domain. Products fill the
    /// domains in turn, so every domain has some even when N is small.
    fn place(&self, i: usize) -> (usize, usize) {
        let domains = self.domains();
        (i % domains, i / domains)
    }

    fn min_insync(&self) -> i32 {
        if self.replication >= 3 { 2 } else { 1 }
    }

    /// Every product as a [`Row`], in generation order.
    pub fn rows(&self) -> Vec<Row> {
        let domains = self.domains();
        (0..self.products)
            .map(|i| {
                let (d, j) = self.place(i);
                let dom = self.domain_name(d);
                let name = product_name(j);
                let cdom = self.domain_name((d + 1) % domains);
                let days = 1 + j % 14;
                Row {
                    topic: format!("{dom}.{name}"),
                    partitions: self.partitions,
                    replication: self.replication,
                    config: vec![
                        ("cleanup.policy".into(), "delete".into()),
                        ("max.message.bytes".into(), "1048576".into()),
                        ("min.insync.replicas".into(), self.min_insync().to_string()),
                        (
                            "retention.ms".into(),
                            (days as u64 * 86_400_000).to_string(),
                        ),
                    ],
                    producer: format!("User:{dom}-writer-{}", j % PRINCIPALS),
                    consumer: format!("User:{cdom}-reader-{}", j % PRINCIPALS),
                    group: format!("{cdom}.{dom}-{name}"),
                }
            })
            .collect()
    }

    /// `mesh.toml` for `bootstrap`, with `schema_registry_url` when `registry` is given.
    pub fn mesh_toml(&self, bootstrap: &str, registry: Option<&str>) -> String {
        let registry = registry
            .map(|r| format!("schema_registry_url = \"{r}\"\n"))
            .unwrap_or_default();
        format!(
            r#"# Synthetic mesh of {n} products (crates/mesh-cli/benches/support/synth.rs).
[mesh]
name = "bench"
policy_packs = ["baseline"]
catalog_topic = "{catalog}"

[defaults.topic]
partitions = {partitions}
replication_factor = {replication}

[defaults.topic.config]
"min.insync.replicas" = {min_insync}

[environments.{ENV}]
local = true
bootstrap_servers = "{bootstrap}"
{registry}
[environments.{ENV}.kafka]
"security.protocol" = "SASL_PLAINTEXT"
"sasl.mechanism" = "PLAIN"
"sasl.username" = "admin"
"sasl.password" = "admin-secret"
"#,
            n = self.products,
            partitions = self.partitions,
            replication = self.replication,
            min_insync = self.min_insync(),
            catalog = self.catalog_topic(),
        )
    }

    /// Writes the whole mesh into `repo` (which it creates).
    pub fn write(&self, repo: &Path, bootstrap: &str, registry: Option<&str>) -> io::Result<()> {
        let write = |rel: &str, text: &str| -> io::Result<()> {
            let path = repo.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, text)
        };
        write("mesh.toml", &self.mesh_toml(bootstrap, registry))?;
        let domains = self.domains();
        let mut consumes = vec![String::new(); domains];
        for i in 0..self.products {
            let (d, j) = self.place(i);
            let dom = self.domain_name(d);
            let name = product_name(j);
            let id = format!("{dom}.{name}");
            let c = (d + 1) % domains;
            let cdom = self.domain_name(c);
            let _ = write!(
                consumes[c],
                "\n[[consumes]]\nproduct = \"{id}\"\nprincipal = \"reader-{r}\"\ngroup = \"{cdom}.{dom}-{name}\"\npurpose = \"Join {id} into {cdom}'s own reporting\"\n",
                r = j % PRINCIPALS
            );
            let schema = if self.schemas {
                let (files, level) = schemas_of(&dom, &name, j);
                let mut s = String::from("\n[schema]\n");
                for (kind, rel, text) in files {
                    let _ = writeln!(s, "{kind} = \"{rel}\"");
                    write(&format!("domains/{dom}/{rel}"), &text)?;
                }
                let _ = writeln!(s, "compatibility = \"{level}\"");
                s
            } else {
                String::new()
            };
            let product = format!(
                r#"description = "Synthetic product {id}: one record per {noun} event, keyed by its id"
quality = "raw"
sla = "tier-3"
producers = ["writer-{w}"]

[topic.config]
"cleanup.policy" = "delete"
"retention.ms" = "{days}d"
"max.message.bytes" = "1MiB"
{schema}
[access]
visibility = "public"
"#,
                noun = NOUNS[j % NOUNS.len()],
                w = j % PRINCIPALS,
                days = 1 + j % 14,
            );
            write(&format!("domains/{dom}/products/{name}.toml"), &product)?;
        }
        for (d, consumes) in consumes.iter().enumerate() {
            let dom = self.domain_name(d);
            let mut text = format!(
                "name = \"{dom}\"\ndescription = \"Synthetic domain {dom}\"\nowners = [\"@bench/{dom}\"]\n\n[principals]\n"
            );
            for k in 0..PRINCIPALS {
                let _ = writeln!(text, "writer-{k} = \"User:{dom}-writer-{k}\"");
                let _ = writeln!(text, "reader-{k} = \"User:{dom}-reader-{k}\"");
            }
            text.push_str(consumes);
            write(&format!("domains/{dom}/domain.toml"), &text)?;
        }
        Ok(())
    }
}

/// The schema files of a product (relative to its domain folder) and their text: an Avro value
/// schema, and an Avro key for every fifth product; plus its compatibility level.
#[allow(clippy::type_complexity)]
fn schemas_of(
    dom: &str,
    name: &str,
    j: usize,
) -> (Vec<(&'static str, String, String)>, &'static str) {
    let ns = format!("bench.{dom}.{name}").replace('-', "_");
    let noun = NOUNS[j % NOUNS.len()];
    let record = format!("{}{j:02}", capitalised(noun));
    let mut out = vec![(
        "value",
        format!("schemas/{name}-value.avsc"),
        format!(
            r#"{{
  "type": "record",
  "name": "{record}",
  "namespace": "{ns}",
  "doc": "One {noun} event of {ns}.",
  "fields": [
    {{"name": "id", "type": "string", "doc": "The event's id."}},
    {{"name": "at_ms", "type": "long", "doc": "When it happened, epoch ms."}},
    {{"name": "amount_{j}", "type": ["null", "double"], "default": null, "doc": "A field distinct per product."}}
  ]
}}
"#
        ),
    )];
    if j % 5 == 0 {
        out.push((
            "key",
            format!("schemas/{name}-key.avsc"),
            format!(
                r#"{{"type": "record", "name": "{record}Key", "namespace": "{ns}", "doc": "Key of {ns}.", "fields": [{{"name": "id", "type": "string", "doc": "The event's id."}}]}}
"#
            ),
        ));
    }
    let level = ["BACKWARD", "FULL", "BACKWARD_TRANSITIVE"][j % 3];
    (out, level)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// Checks that `rows` are exactly what `mesh` derives from the mesh in `report`: the same topics
/// (partitions, replication, configs) and the same ACL bindings. Returns what differs.
pub fn differences(rows: &[Row], desired: &mesh_plan::DesiredState) -> Vec<String> {
    use mesh_plan::{AclBinding, Operation, PatternType, ResourceType};
    let mut out = Vec::new();
    let mut acls = std::collections::BTreeSet::new();
    for r in rows {
        match desired.topics.get(&r.topic) {
            None => out.push(format!("{}: not a topic of the mesh", r.topic)),
            Some(t) => {
                let config: Vec<(String, String)> = t
                    .config
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if t.partitions != r.partitions
                    || t.replication_factor != r.replication
                    || config != r.config
                {
                    out.push(format!(
                        "{}: mesh wants {} partitions, replication {}, {config:?}",
                        r.topic, t.partitions, t.replication_factor
                    ));
                }
            }
        }
        let topic = |p: &str, op| {
            AclBinding::allow(p, ResourceType::Topic, &r.topic, PatternType::Literal, op)
        };
        acls.insert(topic(&r.producer, Operation::Write));
        acls.insert(topic(&r.producer, Operation::Describe));
        acls.insert(topic(&r.consumer, Operation::Read));
        acls.insert(topic(&r.consumer, Operation::Describe));
        acls.insert(AclBinding::allow(
            &r.consumer,
            ResourceType::Group,
            &r.group,
            PatternType::Literal,
            Operation::Read,
        ));
    }
    if desired.topics.len() != rows.len() {
        out.push(format!(
            "mesh has {} topics, the rows {}",
            desired.topics.len(),
            rows.len()
        ));
    }
    if acls != desired.acls {
        out.push(format!(
            "ACLs differ: mesh {}, rows {}; e.g. mesh only: {:?}; rows only: {:?}",
            desired.acls.len(),
            acls.len(),
            desired.acls.difference(&acls).next(),
            acls.difference(&desired.acls).next()
        ));
    }
    out
}
