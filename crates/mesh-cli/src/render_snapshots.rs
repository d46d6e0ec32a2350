//! Snapshot tests of the plan renderers (human, markdown, JSON) on one plan that has a bit of
//! everything: creates, config and partition updates, a compatibility level, a schema diff, a
//! destructive ACL change and catalog records. Review a change with `cargo insta review`, or
//! accept all with `INSTA_UPDATE=always cargo test -p mesh-cli --bin mesh`.

use std::collections::BTreeMap;

use codespan_reporting::term::termcolor::NoColor;
use mesh_plan::{
    AclBinding, Action, AffectedConsumer, AffectedProduct, Blocker, CatalogRecord, ConfigDiff,
    DeprecationWarning, Impact, ImpactKind, Operation, PatternType, Plan, PlanError, RecentGroup,
    ResourceType,
};

use crate::plan_render;

fn mesh() -> mesh_model::Mesh {
    let mut m = mesh_model::Mesh::default();
    for (name, principal) in [
        ("sales", "User:sales-order-service"),
        ("finance", "User:finance-billing"),
        ("quiet", "User:quiet-job"),
    ] {
        let mut d = mesh_model::Domain {
            name: name.into(),
            owners: vec![format!("@acme/{name}")],
            ..Default::default()
        };
        d.principals.insert(
            "svc".into(),
            mesh_model::doc::Spanned::new(principal.into(), 0..0),
        );
        m.domains.push(d);
    }
    m
}

fn record(product: &str, status: &str) -> CatalogRecord {
    CatalogRecord {
        product: product.into(),
        domain: product.split('.').next().unwrap().into(),
        topic: product.into(),
        description: "Every order as it is placed".into(),
        owners: vec!["@acme/sales".into()],
        quality: "authoritative".into(),
        sla: "tier-1".into(),
        status: status.into(),
        tags: vec![],
        inputs: vec![],
        declared_configs: vec!["retention.ms".into()],
        deprecation: None,
        revision: None,
        applied_at: String::new(),
        applied: None,
    }
}

fn plan() -> Plan {
    let acl = |principal: &str, topic: &str, op| {
        AclBinding::allow(
            principal,
            ResourceType::Topic,
            topic,
            PatternType::Literal,
            op,
        )
    };
    let old_schema = "{\"type\": \"record\", \"name\": \"Order\", \"fields\": [\n  {\"name\": \"id\", \"type\": \"string\"}\n]}";
    let new_schema = "{\"type\": \"record\", \"name\": \"Order\", \"fields\": [\n  {\"name\": \"id\", \"type\": \"string\"},\n  {\"name\": \"note\", \"type\": [\"null\", \"string\"], \"default\": null}\n]}";
    Plan {
        actions: vec![
            Action::CreateTopic {
                product: "finance.invoices".into(),
                topic: "finance.invoices".into(),
                partitions: 6,
                replication_factor: 3,
                config: BTreeMap::from([("retention.ms".into(), "604800000".into())]),
            },
            Action::AlterConfig {
                product: "sales.orders".into(),
                topic: "sales.orders".into(),
                changes: vec![
                    ConfigDiff {
                        key: "retention.ms".into(),
                        before: Some("86400000".into()),
                        after: Some("604800000".into()),
                    },
                    ConfigDiff {
                        key: "max.message.bytes".into(),
                        before: Some("2097152".into()),
                        after: None,
                    },
                ],
            },
            Action::AddPartitions {
                product: "sales.orders".into(),
                topic: "sales.orders".into(),
                from: 6,
                to: 12,
            },
            Action::SetCompatibility {
                product: "finance.invoices".into(),
                subject: "finance.invoices-value".into(),
                before: None,
                after: "BACKWARD".into(),
            },
            Action::RegisterSchema {
                product: "sales.orders".into(),
                subject: "sales.orders-value".into(),
                schema_type: "AVRO".into(),
                file: "domains/sales/schemas/order.avsc".into(),
                schema: new_schema.into(),
                previous: Some(old_schema.into()),
            },
            Action::CreateAcl {
                binding: acl("User:finance-billing", "sales.orders", Operation::Read),
            },
            Action::DeleteAcl {
                binding: acl("User:quiet-job", "sales.orders", Operation::Read),
            },
            Action::DeleteSubject {
                product: "sales.legacy-orders".into(),
                subject: "sales.legacy-orders-value".into(),
            },
            Action::DeleteTopic {
                product: "sales.legacy-orders".into(),
                topic: "sales.legacy-orders".into(),
            },
            Action::UpsertCatalog {
                product: "finance.invoices".into(),
                record: Box::new(record("finance.invoices", "active")),
                previous: None,
            },
            Action::UpsertCatalog {
                product: "sales.orders".into(),
                record: Box::new(record("sales.orders", "deprecated")),
                previous: Some(Box::new(record("sales.orders", "active"))),
            },
            Action::RetireProduct {
                product: "sales.legacy-orders".into(),
                previous: Box::new(record("sales.legacy-orders", "deprecated")),
            },
            Action::CreateConnector {
                connector: "orders-to-warehouse".into(),
                domain: "sales".into(),
                product: "sales.orders".into(),
                class: "org.apache.kafka.connect.file.FileStreamSinkConnector".into(),
                config: BTreeMap::from([
                    ("name".into(), "orders-to-warehouse".into()),
                    (
                        "connector.class".into(),
                        "org.apache.kafka.connect.file.FileStreamSinkConnector".into(),
                    ),
                    ("tasks.max".into(), "1".into()),
                    ("topics".into(), "sales.orders".into()),
                    ("file".into(), "/var/lib/warehouse/orders.txt".into()),
                    (
                        "consumer.override.sasl.jaas.config".into(),
                        "${WAREHOUSE_SINK_JAAS}".into(),
                    ),
                ]),
                state: mesh_plan::connect::ConnectorState::Paused,
            },
            Action::UpdateConnector {
                connector: "invoices-to-ledger".into(),
                domain: "finance".into(),
                product: "finance.invoices".into(),
                changes: vec![
                    ConfigDiff {
                        key: "file".into(),
                        before: Some("/tmp/a.txt".into()),
                        after: Some("/tmp/b.txt".into()),
                    },
                    ConfigDiff {
                        key: "connection.password".into(),
                        before: Some("(sensitive)".into()),
                        after: Some("${file:/etc/connect/secrets.properties:password}".into()),
                    },
                    ConfigDiff {
                        key: "errors.tolerance".into(),
                        before: Some("all".into()),
                        after: None,
                    },
                ],
                config: BTreeMap::new(),
            },
            Action::SetConnectorState {
                connector: "scans-from-files".into(),
                product: "logistics.carrier-scans".into(),
                from: "PAUSED".into(),
                to: mesh_plan::connect::ConnectorState::Running,
            },
            Action::DeleteConnector {
                connector: "legacy-export".into(),
                product: "sales.legacy-orders".into(),
            },
        ],
        impacts: vec![
            Impact {
                kind: ImpactKind::Retirement,
                product: "sales.legacy-orders".into(),
                topic: "sales.legacy-orders".into(),
                change: "retired: its ACLs, subjects, topic and catalog record are deleted".into(),
                downstream: vec![],
                consumers: vec![],
                groups: vec![],
            },
            Impact {
                kind: ImpactKind::PartitionIncrease,
                product: "sales.orders".into(),
                topic: "sales.orders".into(),
                change: "partitions 6 → 12 on a keyed topic: keys move to other partitions".into(),
                downstream: vec![AffectedProduct {
                    id: "finance.invoices".into(),
                    owners: vec!["@acme/finance".into()],
                    depth: 1,
                }],
                consumers: vec![consumer("sales.orders")],
                groups: vec![RecentGroup {
                    group: "finance.billing".into(),
                    state: "Stable".into(),
                    members: 2,
                    last_commit: Some("2026-11-22T09:30:00Z".into()),
                    never_committed: false,
                }],
            },
        ],
        deprecations: vec![DeprecationWarning {
            product: "sales.orders".into(),
            sunset: Some("2027-02-01".into()),
            replacement: Some("sales.orders-v2".into()),
            consumer: consumer("sales.orders"),
        }],
        ..Plan::default()
    }
}

fn consumer(product: &str) -> AffectedConsumer {
    AffectedConsumer {
        product: product.into(),
        domain: "finance".into(),
        principal: "billing".into(),
        group: "finance.billing".into(),
        owners: vec!["@acme/finance".into()],
        file: "domains/finance/domain.toml".into(),
        line: 12,
    }
}

fn human(plan: &Plan) -> String {
    let mut out = NoColor::new(Vec::new());
    plan_render::human(plan, "environment `prod` (kafka:9093)", &mut out).unwrap();
    String::from_utf8(out.into_inner()).unwrap()
}

#[test]
fn human_plan() {
    insta::assert_snapshot!(human(&plan()));
}

#[test]
fn markdown_plan() {
    insta::assert_snapshot!(plan_render::markdown(
        &plan(),
        &mesh(),
        "environment `prod` (kafka:9093)",
        None
    ));
}

#[test]
fn json_plan() {
    insta::assert_snapshot!(format!("{:#}", plan_render::json(&plan(), "prod")));
}

#[test]
fn failed_plan_in_every_format() {
    let mut p = plan();
    p.errors.push(PlanError {
        subject: Some("sales.orders-value".into()),
        affected: vec!["consumer finance/billing (owners: @acme/finance)".into()],
        ..PlanError::new(
            Some("sales.orders"),
            "sales.orders: domains/sales/schemas/order.avsc is not BACKWARD-compatible with subject sales.orders-value: field `channel` has no default",
            "make the change compatible (e.g. give a new field a default), or publish a new product version and deprecate this one",
        )
    });
    let mut retirement = PlanError::new(
        Some("sales.old"),
        "sales.old cannot be retired yet",
        "clear every blocker below, then plan again",
    );
    retirement.blockers = vec![
        Blocker::SunsetNotPassed {
            sunset: Some("2027-02-01".into()),
            owners: vec!["@acme/sales".into()],
        },
        Blocker::Consumer(consumer("sales.old")),
        Blocker::Group(RecentGroup {
            group: "finance.billing".into(),
            state: "Empty".into(),
            members: 0,
            last_commit: Some("2026-11-21T08:00:00Z".into()),
            never_committed: false,
        }),
    ];
    p.errors.push(retirement);
    insta::assert_snapshot!("failed_human", human(&p));
    insta::assert_snapshot!(
        "failed_markdown",
        plan_render::markdown(&p, &mesh(), "environment `prod` (kafka:9093)", None)
    );
    insta::assert_snapshot!(
        "failed_json",
        format!("{:#}", plan_render::json(&p, "prod"))
    );
}

#[test]
fn markdown_plan_with_base() {
    use mesh_check::changes::{Change, ChangeSet, SchemaDiff, TouchedDomain, TouchedProduct};
    let set = ChangeSet {
        base: "main".into(),
        domains: vec![TouchedDomain {
            name: "sales".into(),
            change: Change::Changed,
            owners: vec!["@acme/sales".into()],
            files: vec!["domains/sales/schemas/order.avsc".into()],
        }],
        products: vec![TouchedProduct {
            id: "sales.orders".into(),
            domain: "sales".into(),
            change: Change::Changed,
            owners: vec!["@acme/sales-orders".into()],
            files: vec!["domains/sales/schemas/order.avsc".into()],
        }],
        global_files: vec![],
        owners_to_ask: vec!["@acme/sales-orders".into()],
        schema_diffs: vec![SchemaDiff {
            product: "sales.orders".into(),
            which: "value".into(),
            file: "domains/sales/schemas/order.avsc".into(),
            change: Change::Changed,
            diff: mesh_schema::diff::unified(
                "{\"type\": \"string\"}",
                "{\"type\": \"long\"}",
                "domains/sales/schemas/order.avsc (main)",
                "domains/sales/schemas/order.avsc",
            ),
        }],
    };
    insta::assert_snapshot!(plan_render::markdown(
        &plan(),
        &mesh(),
        "environment `prod` (kafka:9093)",
        Some(&set)
    ));
}
