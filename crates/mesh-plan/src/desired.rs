//! From a validated `Mesh` to the `DesiredState`: topics, derived ACLs (SPEC §1) and catalog records.

use std::collections::BTreeMap;

use mesh_model::{Mesh, Status};

use crate::state::*;

/// Derives what the cluster should hold. `revision` is the git revision being applied, if known.
pub fn desired(mesh: &Mesh, revision: Option<&str>) -> DesiredState {
    let mut d = DesiredState {
        catalog_topic: mesh.settings.catalog_topic.clone(),
        retire_idle_days: mesh.settings.retire_idle_days,
        ..DesiredState::default()
    };
    for domain in &mesh.domains {
        d.principals
            .extend(domain.principals.values().map(|p| p.value.clone()));
        for (name, p) in &domain.principals {
            d.principal_owners.insert(
                p.value.clone(),
                PrincipalOwner {
                    domain: domain.name.clone(),
                    name: name.clone(),
                    owners: domain.owners.clone(),
                },
            );
        }
    }
    for p in &mesh.products {
        d.topics.insert(
            p.topic.name.clone(),
            DesiredTopic {
                product: p.id.clone(),
                name: p.topic.name.clone(),
                partitions: p.topic.partitions as i32,
                replication_factor: p.topic.replication_factor as i32,
                config: p.topic.config.clone(),
            },
        );
        let domain = mesh.domain(&p.domain);
        for producer in &p.producers {
            if let Some(principal) = domain.and_then(|d| d.principals.get(&producer.value)) {
                for op in [Operation::Write, Operation::Describe] {
                    d.acls.insert(AclBinding::allow(
                        &principal.value,
                        ResourceType::Topic,
                        &p.topic.name,
                        PatternType::Literal,
                        op,
                    ));
                }
            }
        }
        d.catalog.insert(p.id.clone(), record(p, revision));
        if let Some(schema) = &p.schema {
            for (suffix, r) in [("value", &schema.value), ("key", &schema.key)] {
                let Some(r) = r else { continue };
                let Some(src) = mesh.sources.get(&r.file) else {
                    continue;
                };
                let subject = format!("{}-{suffix}", p.topic.name);
                d.subjects.insert(
                    subject.clone(),
                    DesiredSubject {
                        product: p.id.clone(),
                        subject,
                        schema_type: r.format.registry_type().to_string(),
                        schema: src.text().to_string(),
                        file: r.file.clone(),
                        compatibility: schema.compatibility.as_str().to_string(),
                    },
                );
            }
        }
    }
    for (domain, c) in mesh.consumers() {
        let line = mesh
            .sources
            .get(&domain.file)
            .map_or(0, |src| src.line_col(c.span.start).0);
        d.consumers.push(DesiredConsumer {
            product: c.product.value.clone(),
            domain: domain.name.clone(),
            principal: c.principal.value.clone(),
            group: c.group.value.clone(),
            owners: domain.owners.clone(),
            file: domain.file.clone(),
            line,
        });
        let (Some(principal), Some(product)) = (
            domain.principals.get(&c.principal.value),
            mesh.product(&c.product.value),
        ) else {
            continue;
        };
        for op in [Operation::Read, Operation::Describe] {
            d.acls.insert(AclBinding::allow(
                &principal.value,
                ResourceType::Topic,
                &product.topic.name,
                PatternType::Literal,
                op,
            ));
        }
        let (group, pattern) = match c.group.value.strip_suffix('*') {
            Some(prefix) => (prefix, PatternType::Prefixed),
            None => (c.group.value.as_str(), PatternType::Literal),
        };
        d.acls.insert(AclBinding::allow(
            &principal.value,
            ResourceType::Group,
            group,
            pattern,
            Operation::Read,
        ));
    }
    crate::drift::record_applied(&mut d);
    d
}

fn record(p: &mesh_model::Product, revision: Option<&str>) -> CatalogRecord {
    let deprecation = (p.status == Status::Deprecated).then(|| {
        let mut m = BTreeMap::new();
        if let Some(dep) = &p.deprecation {
            if let Some(s) = dep.since {
                m.insert("since".to_string(), s.to_string());
            }
            if let Some(s) = dep.sunset {
                m.insert("sunset".to_string(), s.to_string());
            }
            if let Some(r) = &dep.replacement {
                m.insert("replacement".to_string(), r.value.clone());
            }
            if let Some(r) = &dep.reason {
                m.insert("reason".to_string(), r.clone());
            }
        }
        m
    });
    CatalogRecord {
        product: p.id.clone(),
        domain: p.domain.clone(),
        topic: p.topic.name.clone(),
        description: p.description.clone(),
        owners: p.owners.clone(),
        quality: p.quality.to_string(),
        sla: p.sla.to_string(),
        status: p.status.to_string(),
        tags: p.tags.clone(),
        inputs: p.inputs.iter().map(|i| i.value.clone()).collect(),
        declared_configs: p.topic.config.keys().cloned().collect(),
        deprecation,
        revision: revision.map(str::to_string),
        applied_at: String::new(),
        applied: None,
    }
}
