//! `mesh drift`: what changed on managed resources outside mesh since the last apply. Reads the
//! catalog (what each apply recorded), the recorded topics, the ACLs of the recorded principals
//! the recorded subjects and the recorded connectors; the comparison is
//! `mesh_plan::drift::drift`.

use std::collections::BTreeSet;
use std::process::ExitCode;

use mesh_kafka::KafkaCluster;
use mesh_plan::connect::ConnectReader;
use mesh_plan::drift::{DriftChange, DriftReport, drift, managed_principals};
use mesh_plan::{ClusterReader, ReadRequest};
use serde_json::json;

use crate::live;
use crate::plan_render::acl_text;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum DriftFormat {
    Human,
    Json,
}

/// Exit 0: no drift; 2: drift; errors are returned (exit 1).
pub fn run(report: &mesh_check::Report, format: DriftFormat) -> Result<ExitCode, String> {
    let mesh = &report.mesh;
    // Only mesh.toml matters here (the environment, the catalog topic): unapplied edits of
    // products may be in any state.
    if report
        .diagnostics
        .iter()
        .any(|d| d.is_error() && d.file == "mesh.toml")
    {
        crate::report_problems(report)?;
        return Err("mesh.toml has errors (see above); nothing was read".into());
    }
    let Some(env) = mesh.environment() else {
        return Err(format!(
            "drift needs --env ENV (help: declared environments: {})",
            crate::live::declared_environments(mesh)
        ));
    };
    let lookup = |v: &str| std::env::var(v).ok();
    let props = live::client_settings(env, lookup)?;
    let registry = live::registry_of(env, lookup)?;
    let bootstrap = props.get("bootstrap.servers").cloned().unwrap_or_default();
    let catalog_topic = &mesh.settings.catalog_topic;

    let cluster =
        KafkaCluster::connect(&props, live::kafka_timeout()).map_err(|e| e.to_string())?;
    // With no topics and no principals asked for, the reader reads the catalog and the topics
    // it records: exactly what was applied.
    let mut state = cluster
        .read(&ReadRequest {
            catalog_topic: catalog_topic.clone(),
            ..ReadRequest::default()
        })
        .map_err(|e| e.to_string())?;
    if !state.catalog_topic_exists {
        return Err(format!(
            "environment `{}` has no catalog topic {catalog_topic}: nothing was applied there yet, so there is nothing to drift from (help: run mesh apply --env {} first)",
            env.name, env.name
        ));
    }
    state.acls = cluster
        .acls_of(&managed_principals(&state.catalog))
        .map_err(|e| e.to_string())?;
    let subjects: BTreeSet<String> = state
        .catalog
        .values()
        .filter_map(|r| r.applied.as_ref())
        .flat_map(|a| a.subjects.keys().cloned())
        .collect();
    if !subjects.is_empty() {
        let Some(r) = &registry else {
            return Err(format!(
                "the catalog records schemas, but environment `{}` has no schema_registry_url (help: add it under [environments.{}] in mesh.toml)",
                env.name, env.name
            ));
        };
        state.subjects = r.read_subjects(&subjects).map_err(|e| e.to_string())?;
    }
    let recorded = mesh_plan::connect::recorded(&state);
    if !recorded.is_empty() {
        match live::connect_of(env, lookup)? {
            Some(c) => {
                let mut all = c.connectors().map_err(|e| e.to_string())?;
                all.retain(|name, _| recorded.contains_key(name.as_str()));
                state.connectors = Some(all);
            }
            None => eprintln!(
                "note: the catalog records {} connector(s), but environment `{}` names no Kafka Connect cluster, so they were not compared (help: add [environments.{}.connect] with its url to mesh.toml)",
                recorded.len(),
                env.name,
                env.name
            ),
        }
    }
    let result = drift(&state.catalog, &state);
    let target = format!("environment `{}` ({bootstrap})", env.name);
    match format {
        DriftFormat::Human => crate::print(&human(&result, &target, state.catalog.len()))?,
        DriftFormat::Json => crate::print(&format!("{:#}\n", to_json(&result, &env.name)))?,
    }
    Ok(if result.drift.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// One line per change.
pub fn line(d: &mesh_plan::drift::Drift) -> String {
    match &d.change {
        DriftChange::TopicDeleted { topic } => format!("- topic {topic}: deleted outside mesh"),
        DriftChange::Partitions {
            topic,
            applied,
            live,
        } => format!("~ topic {topic}: partitions {applied} → {live}"),
        DriftChange::ReplicationFactor {
            topic,
            applied,
            live,
        } => format!("~ topic {topic}: replication factor {applied} → {live}"),
        DriftChange::Config {
            topic,
            key,
            applied,
            live: Some(live),
        } => format!("~ topic {topic}: {key} is {live}, applied {applied}"),
        DriftChange::Config {
            topic,
            key,
            applied,
            live: None,
        } => format!("~ topic {topic}: {key} is no longer set, applied {applied}"),
        DriftChange::AclRemoved { binding } => {
            format!("- ACL removed outside mesh: {}", acl_text(binding))
        }
        DriftChange::AclAdded { binding } => format!(
            "+ ACL added outside mesh for a managed principal: {}",
            acl_text(binding)
        ),
        DriftChange::SubjectDeleted { subject } => {
            format!("- subject {subject}: deleted outside mesh")
        }
        DriftChange::SchemaVersion {
            subject,
            live_version,
        } => format!(
            "~ subject {subject}: a version was registered outside mesh (latest is version {live_version})"
        ),
        DriftChange::Compatibility {
            subject,
            applied,
            live,
        } => format!(
            "~ subject {subject}: compatibility is {}, applied {applied}",
            live.as_deref().unwrap_or("not set")
        ),
        DriftChange::ConnectorDeleted { connector } => {
            format!("- connector {connector}: deleted outside mesh")
        }
        DriftChange::ConnectorConfig {
            connector,
            key,
            applied,
            live,
        } => match (applied, live) {
            (Some(a), Some(l)) => format!("~ connector {connector}: {key} is {l}, applied {a}"),
            (Some(a), None) => {
                format!("~ connector {connector}: {key} is no longer set, applied {a}")
            }
            (None, Some(l)) => format!("~ connector {connector}: {key} = {l} set outside mesh"),
            (None, None) => format!("~ connector {connector}: {key} changed"),
        },
        DriftChange::ConnectorState {
            connector,
            applied,
            live,
        } => format!(
            "~ connector {connector}: {live} outside mesh, applied {}",
            applied.connect_name()
        ),
    }
}

fn human(r: &DriftReport, target: &str, products: usize) -> String {
    let mut out = String::new();
    if r.drift.is_empty() {
        out.push_str(&format!(
            "No drift: the {products} applied product(s) on {target} are as mesh left them.\n"
        ));
    } else {
        out.push_str(&format!(
            "Drift on {target}: {} change(s) made outside mesh since the last apply\n",
            r.drift.len()
        ));
        for d in &r.drift {
            out.push_str(&format!("  {}\n", line(d)));
        }
        out.push_str(
            "`mesh plan` shows how an apply would set them back; or change the repo to match.\n",
        );
    }
    if !r.unrecorded.is_empty() {
        out.push_str(&format!(
            "note: {} product(s) were applied before mesh recorded applied state ({}); they are compared after their next apply\n",
            r.unrecorded.len(),
            r.unrecorded.join(", ")
        ));
    }
    out
}

/// The JSON document (docs/json-output.md, version 1).
pub fn to_json(r: &DriftReport, env: &str) -> serde_json::Value {
    let drift: Vec<serde_json::Value> = r
        .drift
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap_or_default();
            v["message"] = line(d)[2..].into();
            v
        })
        .collect();
    json!({
        "version": 1,
        "environment": env,
        "drift": drift,
        "unrecorded": r.unrecorded,
    })
}

#[cfg(test)]
mod tests {
    use mesh_plan::drift::Drift;
    use mesh_plan::{AclBinding, Operation, PatternType, ResourceType};

    use super::*;

    #[test]
    fn every_kind_has_a_line_and_json_says_version_1() {
        let b = AclBinding::allow(
            "User:x",
            ResourceType::Topic,
            "s.o",
            PatternType::Literal,
            Operation::Read,
        );
        let t = || "s.o".to_string();
        let changes = [
            DriftChange::TopicDeleted { topic: t() },
            DriftChange::Partitions {
                topic: t(),
                applied: 12,
                live: 16,
            },
            DriftChange::ReplicationFactor {
                topic: t(),
                applied: 3,
                live: 2,
            },
            DriftChange::Config {
                topic: t(),
                key: "retention.ms".into(),
                applied: "1".into(),
                live: Some("2".into()),
            },
            DriftChange::Config {
                topic: t(),
                key: "retention.ms".into(),
                applied: "1".into(),
                live: None,
            },
            DriftChange::AclRemoved { binding: b.clone() },
            DriftChange::AclAdded { binding: b },
            DriftChange::SubjectDeleted {
                subject: "s.o-value".into(),
            },
            DriftChange::SchemaVersion {
                subject: "s.o-value".into(),
                live_version: 3,
            },
            DriftChange::Compatibility {
                subject: "s.o-value".into(),
                applied: "FULL".into(),
                live: None,
            },
        ];
        let report = DriftReport {
            drift: changes
                .into_iter()
                .map(|change| Drift {
                    product: Some("s.o".into()),
                    change,
                })
                .collect(),
            unrecorded: vec!["s.old".into()],
        };
        let text = human(&report, "environment `local`", 2);
        let expected = "\
Drift on environment `local`: 10 change(s) made outside mesh since the last apply
  - topic s.o: deleted outside mesh
  ~ topic s.o: partitions 12 → 16
  ~ topic s.o: replication factor 3 → 2
  ~ topic s.o: retention.ms is 2, applied 1
  ~ topic s.o: retention.ms is no longer set, applied 1
  - ACL removed outside mesh: allow User:x read on topic s.o (literal)
  + ACL added outside mesh for a managed principal: allow User:x read on topic s.o (literal)
  - subject s.o-value: deleted outside mesh
  ~ subject s.o-value: a version was registered outside mesh (latest is version 3)
  ~ subject s.o-value: compatibility is not set, applied FULL
`mesh plan` shows how an apply would set them back; or change the repo to match.
note: 1 product(s) were applied before mesh recorded applied state (s.old); they are compared after their next apply
";
        assert_eq!(text, expected);
        let json = to_json(&report, "local");
        assert_eq!(json["version"], 1);
        assert_eq!(json["drift"][1]["kind"], "partitions");
        assert_eq!(json["drift"][1]["message"], "topic s.o: partitions 12 → 16");
        assert_eq!(json["unrecorded"][0], "s.old");
        let none = human(&DriftReport::default(), "environment `local`", 2);
        assert!(
            none.starts_with("No drift: the 2 applied product(s)"),
            "{none}"
        );
    }
}
