//! Each planned action as governance sees it (the `change` subject of SPEC §2): what kind of
//! change, to which resource, of which product, with the values before and after.

use serde_json::{Value, json};

use crate::plan::{Action, Plan};
use crate::state::{AclBinding, DesiredState, LiveState, ResourceType};

/// The product a topic belongs to: the repo's, else the catalog's (a product being retired).
pub fn product_of_topic(desired: &DesiredState, live: &LiveState, topic: &str) -> Option<String> {
    desired
        .topics
        .get(topic)
        .map(|t| t.product.clone())
        .or_else(|| {
            live.catalog
                .values()
                .find(|r| r.topic == topic)
                .map(|r| r.product.clone())
        })
}

/// One action of a plan, described for `change` policies.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedChange {
    /// `create`, `update` or `delete`.
    pub kind: &'static str,
    /// `topic`, `config`, `partitions`, `schema`, `acl`, `connector` or `catalog`.
    pub resource: &'static str,
    pub product: String,
    pub before: Value,
    pub after: Value,
}

/// The plan's actions that belong to a product, in plan order. An ACL belongs to the product
/// whose topic it is on; a group ACL or the catalog topic belongs to none and is left out.
pub fn planned_changes(
    plan: &Plan,
    desired: &DesiredState,
    live: &LiveState,
) -> Vec<PlannedChange> {
    changes_of(&plan.actions, desired, live)
}

/// [`planned_changes`] of some of a plan's actions (a large plan is described a part at a time,
/// so that its descriptions are never all in memory at once).
pub fn changes_of(
    actions: &[Action],
    desired: &DesiredState,
    live: &LiveState,
) -> Vec<PlannedChange> {
    let acl = |b: &AclBinding| {
        json!({
            "principal": b.principal,
            "resource_type": b.resource_type,
            "resource_name": b.resource_name,
            "pattern": b.pattern,
            "operation": b.operation,
            "permission": b.permission,
        })
    };
    let mut out = Vec::new();
    for a in actions {
        let (kind, resource, product, before, after) = match a {
            Action::CreateCatalogTopic { .. } => continue,
            Action::CreateTopic {
                product,
                topic,
                partitions,
                replication_factor,
                config,
            } => (
                "create",
                "topic",
                product.clone(),
                json!({}),
                json!({"name": topic, "partitions": partitions, "replication_factor": replication_factor, "config": config}),
            ),
            Action::AlterConfig {
                product, changes, ..
            } => {
                let before: serde_json::Map<String, Value> = changes
                    .iter()
                    .map(|c| (c.key.clone(), json!(c.before)))
                    .collect();
                let after: serde_json::Map<String, Value> = changes
                    .iter()
                    .map(|c| (c.key.clone(), json!(c.after)))
                    .collect();
                (
                    "update",
                    "config",
                    product.clone(),
                    Value::Object(before),
                    Value::Object(after),
                )
            }
            Action::AddPartitions {
                product, from, to, ..
            } => (
                "update",
                "partitions",
                product.clone(),
                json!({"partitions": from}),
                json!({"partitions": to}),
            ),
            Action::SetCompatibility {
                product,
                subject,
                before,
                after,
            } => (
                if before.is_none() { "create" } else { "update" },
                "schema",
                product.clone(),
                json!({"subject": subject, "compatibility": before}),
                json!({"subject": subject, "compatibility": after}),
            ),
            Action::RegisterSchema {
                product,
                subject,
                schema_type,
                file,
                schema,
                previous,
            } => (
                if previous.is_none() {
                    "create"
                } else {
                    "update"
                },
                "schema",
                product.clone(),
                json!({"subject": subject, "schema": previous}),
                json!({"subject": subject, "schema": schema, "schema_type": schema_type, "file": file}),
            ),
            Action::CreateAcl { binding } | Action::DeleteAcl { binding } => {
                if binding.resource_type != ResourceType::Topic {
                    continue;
                }
                let Some(product) = product_of_topic(desired, live, &binding.resource_name) else {
                    continue;
                };
                if matches!(a, Action::CreateAcl { .. }) {
                    ("create", "acl", product, json!({}), acl(binding))
                } else {
                    ("delete", "acl", product, acl(binding), json!({}))
                }
            }
            Action::DeleteSubject { product, subject } => (
                "delete",
                "schema",
                product.clone(),
                json!({"subject": subject}),
                json!({}),
            ),
            Action::DeleteTopic { product, topic } => {
                let before = live.topics.get(topic).map_or_else(
                    || json!({"name": topic}),
                    |t| {
                        let config: serde_json::Map<String, Value> = t
                            .configs
                            .iter()
                            .filter(|(_, c)| c.source == crate::state::ConfigSource::DynamicTopic)
                            .map(|(k, c)| (k.clone(), json!(c.value)))
                            .collect();
                        json!({"name": topic, "partitions": t.partitions, "replication_factor": t.replication_factor, "config": config})
                    },
                );
                ("delete", "topic", product.clone(), before, json!({}))
            }
            Action::RetireProduct { product, previous } => (
                "delete",
                "catalog",
                product.clone(),
                json!(previous),
                json!({}),
            ),
            Action::CreateConnector {
                connector,
                product,
                class,
                config,
                state,
                ..
            } => (
                "create",
                "connector",
                product.clone(),
                json!({}),
                json!({"name": connector, "class": class, "config": config, "state": state}),
            ),
            Action::UpdateConnector {
                connector,
                product,
                changes,
                ..
            } => {
                let side = |after: bool| -> serde_json::Map<String, Value> {
                    changes
                        .iter()
                        .map(|c| {
                            (
                                c.key.clone(),
                                json!(if after { &c.after } else { &c.before }),
                            )
                        })
                        .collect()
                };
                (
                    "update",
                    "connector",
                    product.clone(),
                    json!({"name": connector, "config": side(false)}),
                    json!({"name": connector, "config": side(true)}),
                )
            }
            Action::SetConnectorState {
                connector,
                product,
                from,
                to,
            } => (
                "update",
                "connector",
                product.clone(),
                json!({"name": connector, "state": from.to_ascii_lowercase()}),
                json!({"name": connector, "state": to}),
            ),
            Action::DeleteConnector { connector, product } => (
                "delete",
                "connector",
                product.clone(),
                json!({"name": connector}),
                json!({}),
            ),
            Action::UpsertCatalog {
                product,
                record,
                previous,
            } => (
                if previous.is_none() {
                    "create"
                } else {
                    "update"
                },
                "catalog",
                product.clone(),
                previous.as_ref().map_or(json!({}), |p| json!(p)),
                json!(record),
            ),
        };
        out.push(PlannedChange {
            kind,
            resource,
            product,
            before,
            after,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{DesiredTopic, Operation, PatternType};

    #[test]
    fn actions_become_changes_with_their_product() {
        let mut desired = DesiredState::default();
        desired.topics.insert(
            "sales.orders".into(),
            DesiredTopic {
                product: "sales.orders".into(),
                name: "sales.orders".into(),
                partitions: 6,
                replication_factor: 3,
                config: Default::default(),
            },
        );
        let read = |resource_type, name: &str| {
            AclBinding::allow(
                "User:x",
                resource_type,
                name,
                PatternType::Literal,
                Operation::Read,
            )
        };
        let plan = Plan {
            actions: vec![
                Action::CreateCatalogTopic {
                    topic: "_mesh-catalog".into(),
                    partitions: 1,
                    replication_factor: 1,
                },
                Action::AddPartitions {
                    product: "sales.orders".into(),
                    topic: "sales.orders".into(),
                    from: 6,
                    to: 12,
                },
                Action::DeleteAcl {
                    binding: read(ResourceType::Topic, "sales.orders"),
                },
                Action::CreateAcl {
                    binding: read(ResourceType::Group, "sales.job"),
                },
            ],
            ..Plan::default()
        };
        let changes = planned_changes(&plan, &desired, &LiveState::default());
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(
            (changes[0].kind, changes[0].resource),
            ("update", "partitions")
        );
        assert_eq!(changes[0].before["partitions"], 6);
        assert_eq!(changes[0].after["partitions"], 12);
        assert_eq!((changes[1].kind, changes[1].resource), ("delete", "acl"));
        assert_eq!(changes[1].product, "sales.orders");
        assert_eq!(changes[1].before["operation"], "read");
    }
}
