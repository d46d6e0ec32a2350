//! `mesh catalog --out DIR`: the static catalog site (mesh-catalog builds it). With `--env`,
//! the cheap live facts are read first — partition counts, the latest registered schema
//! versions, the consumer groups on each topic — and any failure to read them is a warning:
//! the site is then complete minus those facts, and says why.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use mesh_catalog::{GroupFact, Input, LiveFacts, SubjectFact};
use mesh_kafka::KafkaCluster;
use mesh_plan::{ClusterReader, ReadRequest};

use crate::{RepoArgs, live};

pub fn run(repo: &RepoArgs, out: &Path) -> Result<ExitCode, String> {
    let report = crate::check(repo)?;
    if crate::report_problems(&report)? {
        return Err("the mesh has errors; fix them to build its catalog (see above)".into());
    }
    let facts = report.mesh.environment().map(|env| {
        let facts = read_live(&report, env);
        if let Some(reason) = &facts.unavailable {
            eprintln!(
                "warning: live facts unavailable: {reason}; the catalog is written without them"
            );
        }
        for note in &facts.notes {
            eprintln!("warning: {note}");
        }
        facts
    });
    let site = mesh_catalog::build(&Input {
        report: &report,
        live: facts.as_ref(),
    });
    mesh_catalog::write_site(&site, out).map_err(|e| e.to_string())?;
    crate::print(&format!(
        "Wrote the catalog of {} products in {} domains to {}\nOpen {} in a browser (no server needed).\n",
        report.mesh.products.len(),
        report.mesh.domains.len(),
        out.display(),
        out.join("index.html").display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// What the environment's cluster and registry say now. Never fails: what cannot be read is
/// the reason the facts are unavailable (the cluster), or a note (the registry, the groups).
fn read_live(report: &mesh_check::Report, env: &mesh_model::Environment) -> LiveFacts {
    let mut facts = LiveFacts::default();
    let lookup = |v: &str| std::env::var(v).ok();
    let mesh = &report.mesh;
    let desired = mesh_plan::desired(mesh, None);
    let topics: BTreeSet<String> = desired.topics.keys().cloned().collect();
    let cluster = live::client_settings(env, lookup)
        .and_then(|props| KafkaCluster::connect(&props, live::TIMEOUT).map_err(|e| e.to_string()));
    let state = cluster.and_then(|cluster| {
        let state = cluster
            .read(&ReadRequest {
                topics: topics.clone(),
                principals: BTreeSet::new(),
                catalog_topic: mesh.settings.catalog_topic.clone(),
                connectors: BTreeSet::new(),
                config_keys: None,
            })
            .map_err(|e| e.to_string())?;
        match cluster.group_activity(&topics) {
            Ok(groups) => {
                for (topic, list) in groups {
                    facts.groups.insert(
                        topic,
                        list.into_iter()
                            .map(|g| GroupFact {
                                group: g.group,
                                state: g.state,
                                members: g.members,
                                last_commit: g
                                    .last_commit_ms
                                    .filter(|_| !g.never_committed)
                                    .map(mesh_plan::lifecycle::rfc3339),
                                never_committed: g.never_committed,
                            })
                            .collect(),
                    );
                }
            }
            Err(e) => facts
                .notes
                .push(format!("consumer groups could not be read: {e}")),
        }
        Ok(state)
    });
    let state = match state {
        Ok(s) => s,
        Err(reason) => {
            facts.unavailable = Some(reason);
            facts.groups.clear();
            facts.notes.clear();
            return facts;
        }
    };
    for (name, t) in &state.topics {
        facts.partitions.insert(name.clone(), t.partitions);
    }
    let subjects: BTreeSet<String> = desired.subjects.keys().cloned().collect();
    if subjects.is_empty() {
        return facts;
    }
    let registry = match live::registry_of(env, lookup) {
        Ok(Some(r)) => r,
        Ok(None) => {
            facts.notes.push(format!(
                "environment `{}` has no schema_registry_url: no registered schema versions",
                env.name
            ));
            return facts;
        }
        Err(e) => {
            facts
                .notes
                .push(format!("the schema registry could not be reached: {e}"));
            return facts;
        }
    };
    match registry.read_subjects(&subjects) {
        Ok(live_subjects) => {
            for (subject, s) in live_subjects {
                let Some(latest) = s.latest else { continue };
                // When: the apply that recorded this very schema, if the catalog says so.
                let fingerprint =
                    mesh_plan::drift::schema_fingerprint(&latest.schema, &latest.schema_type);
                let registered_at = desired
                    .subjects
                    .get(&subject)
                    .and_then(|d| state.catalog.get(&d.product))
                    .filter(|r| {
                        r.applied
                            .as_ref()
                            .and_then(|a| a.subjects.get(&subject))
                            .is_some_and(|a| a.schema_sha256 == fingerprint)
                    })
                    .map(|r| r.applied_at.clone())
                    .filter(|t| !t.is_empty());
                facts.subjects.insert(
                    subject,
                    SubjectFact {
                        version: latest.version,
                        id: latest.id,
                        registered_at,
                    },
                );
            }
        }
        Err(e) => facts
            .notes
            .push(format!("the schema registry could not be read: {e}")),
    }
    facts
}
