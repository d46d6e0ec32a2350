//! Design-time lineage as OpenLineage `JobEvent`s (spec 2-0-2: static lineage, no run), one
//! JSON object per line of `openlineage.jsonl`.
//!
//! Two kinds of jobs, in the job namespace named after the mesh (`[mesh] name`):
//! - per product, its producing job `<product id>`: inputs are the topics of the products it is
//!   derived from (`inputs`), its output is the product's topic, with the value schema's field
//!   tree (schema facet), the owners (ownership facet) and the description (documentation
//!   facet);
//! - per principal of a domain that reads products (`[[consumes]]`), the job
//!   `<domain>/<principal>`: inputs are the topics it reads, outputs the topics of the products
//!   it produces. (A `/` never appears in a product id, so the two kinds never share a name.)
//!
//! Datasets are named as OpenLineage's naming spec says for Kafka: namespace
//! `kafka://<first bootstrap server>` of the selected environment, name = the topic.

use mesh_model::{Mesh, Product};
use mesh_schema::Field;
use serde_json::{Map, Value, json};

use crate::{ExportError, Files, first_server, value_fields};

/// The `producer` of every event and facet: this tool.
pub const PRODUCER: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/tree/v",
    env!("CARGO_PKG_VERSION")
);

const EVENT_SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent";
const JOB_TYPE: &str =
    "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet";
const JOB_OWNERSHIP: &str =
    "https://openlineage.io/spec/facets/1-0-1/OwnershipJobFacet.json#/$defs/OwnershipJobFacet";
const JOB_DOCUMENTATION: &str = "https://openlineage.io/spec/facets/1-1-0/DocumentationJobFacet.json#/$defs/DocumentationJobFacet";
const DATASET_SCHEMA: &str =
    "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet";
const DATASET_OWNERSHIP: &str = "https://openlineage.io/spec/facets/1-0-1/OwnershipDatasetFacet.json#/$defs/OwnershipDatasetFacet";
const DATASET_DOCUMENTATION: &str = "https://openlineage.io/spec/facets/1-1-0/DocumentationDatasetFacet.json#/$defs/DocumentationDatasetFacet";

/// `openlineage.jsonl`: one `JobEvent` per line, producing jobs first (by product id), then the
/// reading principals (by domain and principal). `event_time` is the RFC 3339 time every event
/// carries (deterministic: the caller chooses it).
pub fn openlineage(mesh: &Mesh, event_time: &str) -> Result<Files, ExportError> {
    let env = match (&mesh.env, mesh.environment()) {
        (None, _) => {
            return Err(ExportError::NoCluster(
                "OpenLineage export needs an environment".into(),
            ));
        }
        (Some(name), None) => {
            return Err(ExportError::NoCluster(format!(
                "mesh.toml has no environment `{name}`"
            )));
        }
        (Some(_), Some(env)) => env,
    };
    let server = env
        .bootstrap_servers
        .as_ref()
        .and_then(|s| first_server(&s.value))
        .ok_or_else(|| {
            ExportError::NoCluster(format!(
                "environment `{}` names no bootstrap_servers",
                env.name
            ))
        })?;
    let namespace = format!("kafka://{server}");
    let job_namespace = if mesh.settings.name.is_empty() {
        "mesh".to_owned()
    } else {
        mesh.settings.name.clone()
    };
    let ctx = Ctx {
        mesh,
        namespace,
        job_namespace,
        event_time,
    };

    let mut lines = String::new();
    for p in &mesh.products {
        let inputs: Vec<Value> = p
            .inputs
            .iter()
            .filter_map(|i| mesh.product(&i.value))
            .map(|i| ctx.dataset_ref(i))
            .collect();
        let job = ctx.job(
            &p.id,
            "PRODUCER",
            &p.owners,
            &format!("Produces {}: {}", p.id, p.description),
        );
        push(&mut lines, ctx.event(job, inputs, vec![ctx.output(p)]));
    }
    for d in &mesh.domains {
        for short in d.principals.keys() {
            let reads: Vec<&Product> = d
                .consumes
                .iter()
                .filter(|c| c.principal.value == *short)
                .filter_map(|c| mesh.product(&c.product.value))
                .collect();
            if reads.is_empty() {
                continue;
            }
            let mut read_ids: Vec<&str> = reads.iter().map(|p| p.id.as_str()).collect();
            read_ids.sort();
            read_ids.dedup();
            let writes: Vec<&Product> = mesh
                .products
                .iter()
                .filter(|p| p.domain == d.name && p.producers.iter().any(|x| x.value == *short))
                .collect();
            let purposes: Vec<&str> = d
                .consumes
                .iter()
                .filter(|c| c.principal.value == *short)
                .filter_map(|c| c.purpose.as_deref())
                .collect();
            let mut doc = format!(
                "{short} of the {} domain reads {}.",
                d.name,
                read_ids.join(", ")
            );
            if !purposes.is_empty() {
                doc.push(' ');
                doc.push_str(&purposes.join(" "));
            }
            let job = ctx.job(&format!("{}/{short}", d.name), "CONSUMER", &d.owners, &doc);
            let inputs = read_ids
                .iter()
                .filter_map(|id| mesh.product(id))
                .map(|p| ctx.dataset_ref(p))
                .collect();
            let outputs = writes.iter().map(|p| ctx.dataset_ref(p)).collect();
            push(&mut lines, ctx.event(job, inputs, outputs));
        }
    }
    Ok(vec![("openlineage.jsonl".to_owned(), lines)])
}

fn push(lines: &mut String, event: Value) {
    lines.push_str(&event.to_string());
    lines.push('\n');
}

struct Ctx<'a> {
    mesh: &'a Mesh,
    namespace: String,
    job_namespace: String,
    event_time: &'a str,
}

fn facet(schema_url: &str, body: Value) -> Value {
    let mut m = Map::new();
    m.insert("_producer".into(), PRODUCER.into());
    m.insert("_schemaURL".into(), schema_url.into());
    if let Value::Object(b) = body {
        m.extend(b);
    }
    Value::Object(m)
}

fn owners(list: &[String]) -> Value {
    Value::Array(
        list.iter()
            .map(|o| json!({"name": o, "type": "team"}))
            .collect(),
    )
}

/// A field of the tree as a schema facet field (nested records as `fields`).
fn schema_field(f: &Field) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), f.name.clone().into());
    m.insert("type".into(), f.type_name.clone().into());
    if let Some(doc) = &f.doc {
        m.insert("description".into(), doc.clone().into());
    }
    if !f.children.is_empty() {
        m.insert(
            "fields".into(),
            Value::Array(f.children.iter().map(schema_field).collect()),
        );
    }
    Value::Object(m)
}

impl Ctx<'_> {
    fn event(&self, job: Value, inputs: Vec<Value>, outputs: Vec<Value>) -> Value {
        json!({
            "eventTime": self.event_time,
            "producer": PRODUCER,
            "schemaURL": EVENT_SCHEMA,
            "job": job,
            "inputs": inputs,
            "outputs": outputs,
        })
    }

    fn job(&self, name: &str, job_type: &str, owner_list: &[String], doc: &str) -> Value {
        let mut facets = Map::new();
        facets.insert(
            "jobType".into(),
            facet(
                JOB_TYPE,
                json!({"processingType": "STREAMING", "integration": "KAFKA", "jobType": job_type}),
            ),
        );
        if !owner_list.is_empty() {
            facets.insert(
                "ownership".into(),
                facet(JOB_OWNERSHIP, json!({"owners": owners(owner_list)})),
            );
        }
        facets.insert(
            "documentation".into(),
            facet(JOB_DOCUMENTATION, json!({"description": doc})),
        );
        json!({"namespace": self.job_namespace, "name": name, "facets": facets})
    }

    fn dataset_ref(&self, p: &Product) -> Value {
        json!({"namespace": self.namespace, "name": p.topic.name})
    }

    /// A product's topic as an output, with what is known of it.
    fn output(&self, p: &Product) -> Value {
        let mut facets = Map::new();
        let fields = value_fields(self.mesh, p);
        if !fields.is_empty() {
            facets.insert(
                "schema".into(),
                facet(
                    DATASET_SCHEMA,
                    json!({"fields": fields.iter().map(schema_field).collect::<Vec<_>>()}),
                ),
            );
        }
        if !p.owners.is_empty() {
            facets.insert(
                "ownership".into(),
                facet(DATASET_OWNERSHIP, json!({"owners": owners(&p.owners)})),
            );
        }
        facets.insert(
            "documentation".into(),
            facet(DATASET_DOCUMENTATION, json!({"description": p.description})),
        );
        json!({"namespace": self.namespace, "name": p.topic.name, "facets": facets})
    }
}
