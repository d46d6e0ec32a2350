//! From a validated `Mesh` to the `DesiredState`: topics, derived ACLs (SPEC §1) and catalog records.

use std::collections::{BTreeMap, BTreeSet};

use mesh_model::{Mesh, PrincipalKind, Status};

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
    for domain in &mesh.domains {
        application_acls(domain, &mut d.acls);
    }
    // Gathered in lists and built into maps in one pass at the end (see `build`).
    let mut topics = Vec::with_capacity(mesh.products.len());
    let mut catalog = Vec::with_capacity(mesh.products.len());
    let mut subjects = Vec::new();
    for p in &mesh.products {
        topics.push((
            p.topic.name.clone(),
            DesiredTopic {
                product: p.id.clone(),
                name: p.topic.name.clone(),
                partitions: p.topic.partitions as i32,
                replication_factor: p.topic.replication_factor as i32,
                config: p.topic.config.clone(),
            },
        ));
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
        catalog.push((p.id.clone(), record(p, revision)));
        if let Some(schema) = &p.schema {
            for (suffix, r) in [("value", &schema.value), ("key", &schema.key)] {
                let Some(r) = r else { continue };
                let Some(src) = mesh.sources.get(&r.file) else {
                    continue;
                };
                let subject = format!("{}-{suffix}", p.topic.name);
                subjects.push((
                    subject.clone(),
                    DesiredSubject {
                        product: p.id.clone(),
                        subject,
                        schema_type: r.format.registry_type().to_string(),
                        schema: src.shared_text(),
                        file: r.file.clone(),
                        compatibility: schema.compatibility.as_str().to_string(),
                    },
                ));
            }
        }
    }
    d.topics = build(topics);
    d.catalog = build(catalog);
    d.subjects = build(subjects);
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
    for c in &mesh.connectors {
        connector_acls(mesh, c, &mut d);
        if let Some(want) = desired_connector(mesh, c) {
            d.connectors.insert(want.name.clone(), want);
        }
    }
    // The ACL set is rebuilt there in one pass too.
    crate::drift::record_applied(&mut d);
    d
}

/// A map built in one pass from its entries (a later entry wins over an earlier one with the
/// same key, as with inserts). A B-tree filled one insert at a time in key order keeps its
/// nodes a little over half full; built in one pass, every node is full. A plan holds the
/// desired state until it ends, next to what it read from the cluster: at 10,000 products the
/// catalog's nodes alone (entries of ~440 bytes) are megabytes.
fn build<V>(entries: Vec<(String, V)>) -> BTreeMap<String, V> {
    entries.into_iter().collect()
}

/// A connector's principal reads (sink: topic and the group `connect-<name>`) or writes
/// (source) its product's topic; a sink is a consumer of the product, for retirement blockers
/// and impact.
fn connector_acls(mesh: &Mesh, c: &mesh_model::Connector, d: &mut DesiredState) {
    let (Some(domain), Some(product)) = (mesh.domain(&c.domain), mesh.product(&c.product().value))
    else {
        return;
    };
    let Some(principal) = domain.principals.get(&c.principal.value) else {
        return;
    };
    let ops: &[Operation] = if c.is_sink() {
        &[Operation::Read, Operation::Describe]
    } else {
        &[Operation::Write, Operation::Describe]
    };
    for &op in ops {
        d.acls.insert(AclBinding::allow(
            &principal.value,
            ResourceType::Topic,
            &product.topic.name,
            PatternType::Literal,
            op,
        ));
    }
    if c.is_sink() {
        d.acls.insert(AclBinding::allow(
            &principal.value,
            ResourceType::Group,
            &c.group(),
            PatternType::Literal,
            Operation::Read,
        ));
        d.consumers.push(DesiredConsumer {
            product: product.id.clone(),
            domain: domain.name.clone(),
            principal: c.principal.value.clone(),
            group: c.group(),
            owners: domain.owners.clone(),
            file: c.file.clone(),
            line: 1,
        });
    }
}

/// The connector as Connect gets it: mesh's keys (`name`, `connector.class`, `tasks.max`, a
/// sink's `topics`) and its `[config]` as written.
fn desired_connector(
    mesh: &Mesh,
    c: &mesh_model::Connector,
) -> Option<crate::connect::DesiredConnector> {
    let product = mesh.product(&c.product().value)?;
    let mut config: BTreeMap<String, String> = c
        .config
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    config.insert("name".into(), c.name.clone());
    config.insert("connector.class".into(), c.class.value.clone());
    config.insert("tasks.max".into(), c.tasks_max.to_string());
    if c.is_sink() {
        config.insert("topics".into(), product.topic.name.clone());
    }
    Some(crate::connect::DesiredConnector {
        name: c.name.clone(),
        domain: c.domain.clone(),
        product: product.id.clone(),
        sink: c.is_sink(),
        file: c.file.clone(),
        class: c.class.value.clone(),
        state: c.state,
        config,
        resolved: None,
    })
}

/// What a principal's kind and transactional id imply (SPEC §1): a `streams` application
/// READs its group (the application id), holds ALL on its internal topics and WRITEs and
/// DESCRIBEs its transactional ids (both prefixed `<application_id>-`); a declared
/// `transactional_id` gets WRITE and DESCRIBE (prefixed for `name*`).
fn application_acls(domain: &mesh_model::Domain, acls: &mut BTreeSet<AclBinding>) {
    for (name, spec) in &domain.principal_specs {
        let Some(principal) = domain.principals.get(name) else {
            continue;
        };
        let mut allow = |resource, name: &str, pattern, op| {
            acls.insert(AclBinding::allow(
                &principal.value,
                resource,
                name,
                pattern,
                op,
            ));
        };
        if let (PrincipalKind::Streams, Some(app)) = (spec.kind, &spec.application_id) {
            let prefix = format!("{}-", app.value);
            allow(
                ResourceType::Group,
                &app.value,
                PatternType::Literal,
                Operation::Read,
            );
            allow(
                ResourceType::Topic,
                &prefix,
                PatternType::Prefixed,
                Operation::All,
            );
            for op in [Operation::Write, Operation::Describe] {
                allow(
                    ResourceType::TransactionalId,
                    &prefix,
                    PatternType::Prefixed,
                    op,
                );
            }
        }
        if let Some(t) = &spec.transactional_id {
            let (id, pattern) = match t.value.strip_suffix('*') {
                Some(prefix) => (prefix, PatternType::Prefixed),
                None => (t.value.as_str(), PatternType::Literal),
            };
            for op in [Operation::Write, Operation::Describe] {
                allow(ResourceType::TransactionalId, id, pattern, op);
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Built in one pass, a map holds what inserting the entries in turn would.
    #[test]
    fn a_map_built_in_one_pass_keeps_the_last_entry_of_a_key() {
        let entries = vec![
            ("b".to_string(), 1),
            ("a".to_string(), 2),
            ("b".to_string(), 3),
        ];
        let mut inserted = BTreeMap::new();
        for (k, v) in entries.clone() {
            inserted.insert(k, v);
        }
        assert_eq!(build(entries), inserted);
        assert_eq!(inserted["b"], 3);
    }

    fn mesh(domain_toml: &str) -> Mesh {
        let files: BTreeMap<String, Vec<u8>> = [
            (
                "mesh.toml",
                "[mesh]\nname = \"m\"\n[defaults.topic]\npartitions = 1\nreplication_factor = 1\n",
            ),
            ("domains/sales/domain.toml", domain_toml),
            (
                "domains/sales/products/orders.toml",
                "description = \"d\"\nquality = \"raw\"\nsla = \"tier-3\"\nproducers = [\"pay\"]\n",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
        let (mesh, ds) = mesh_model::load(&files, None);
        assert!(!ds.has_errors(), "{ds:?}");
        mesh
    }

    fn bindings(
        d: &DesiredState,
        principal: &str,
    ) -> Vec<(ResourceType, String, PatternType, Operation)> {
        d.acls
            .iter()
            .filter(|b| &*b.principal == principal)
            .map(|b| {
                (
                    b.resource_type,
                    b.resource_name.to_string(),
                    b.pattern,
                    b.operation,
                )
            })
            .collect()
    }

    #[test]
    fn streams_applications_and_transactional_ids_get_exactly_their_acls() {
        let m = mesh(
            r#"name = "sales"
owners = ["@a/sales"]
[principals]
app = { principal = "User:app", kind = "streams", application_id = "sales.app" }
pay = { principal = "User:pay", transactional_id = "sales.pay-*" }
one = { principal = "User:one", transactional_id = "sales.one" }
[[consumes]]
product = "sales.orders"
principal = "app"
"#,
        );
        let d = desired(&m, None);
        use Operation::*;
        use PatternType::*;
        use ResourceType::*;
        let s = |x: &str| x.to_string();
        assert_eq!(
            bindings(&d, "User:app"),
            [
                (Topic, s("sales.app-"), Prefixed, All),
                (Topic, s("sales.orders"), Literal, Read),
                (Topic, s("sales.orders"), Literal, Describe),
                (Group, s("sales.app"), Literal, Read),
                (TransactionalId, s("sales.app-"), Prefixed, Write),
                (TransactionalId, s("sales.app-"), Prefixed, Describe),
            ]
        );
        assert_eq!(
            bindings(&d, "User:pay"),
            [
                (Topic, s("sales.orders"), Literal, Write),
                (Topic, s("sales.orders"), Literal, Describe),
                (TransactionalId, s("sales.pay-"), Prefixed, Write),
                (TransactionalId, s("sales.pay-"), Prefixed, Describe),
            ]
        );
        assert_eq!(
            bindings(&d, "User:one"),
            [
                (TransactionalId, s("sales.one"), Literal, Write),
                (TransactionalId, s("sales.one"), Literal, Describe),
            ]
        );
        assert!(d.principals.contains("User:app") && d.principals.contains("User:one"));
        // What apply records for drift: the applications' bindings beyond the topic, with the
        // product they read or write.
        let applied = &d.catalog["sales.orders"].applied.as_ref().unwrap().acls;
        for (principal, resource, name) in [
            ("User:app", Topic, "sales.app-"),
            ("User:app", Group, "sales.app"),
            ("User:app", TransactionalId, "sales.app-"),
            ("User:pay", TransactionalId, "sales.pay-"),
        ] {
            assert!(
                applied.iter().any(|b| &*b.principal == principal
                    && b.resource_type == resource
                    && &*b.resource_name == name),
                "{principal} {resource:?} {name}: {applied:?}"
            );
        }
    }
}
