//! The import generation on an in-memory cluster: the files it writes, and the promise that the
//! imported repo (placeholders filled in) plans no change against the same cluster.

use std::collections::BTreeMap;

use mesh_plan::registry::RegisteredSchema;
use mesh_plan::{Action, LiveConfig, LiveState, Permission};

use super::*;

fn topic(name: &str, partitions: i32, configs: &[(&str, &str, ConfigSource)]) -> LiveTopic {
    LiveTopic {
        name: name.into(),
        partitions,
        replication_factor: 1,
        configs: configs
            .iter()
            .map(|(k, v, s)| {
                (
                    k.to_string(),
                    LiveConfig {
                        value: Some(v.to_string()),
                        source: *s,
                    },
                )
            })
            .collect(),
    }
}

fn acl(p: &str, rt: ResourceType, name: &str, pat: PatternType, op: Operation) -> AclBinding {
    AclBinding::allow(p, rt, name, pat, op)
}

fn inventory() -> Inventory {
    use ConfigSource::*;
    use Operation::*;
    use PatternType::*;
    use ResourceType::*;
    let mut inv = Inventory::default();
    for t in [
        topic(
            "sales.orders",
            6,
            &[
                ("retention.ms", "86400000", DynamicTopic),
                ("cleanup.policy", "delete", Default),
            ],
        ),
        topic("sales.Order_Lines", 2, &[]),
        topic("clicks", 1, &[("cleanup.policy", "compact", DynamicTopic)]),
        topic("__consumer_offsets", 50, &[]),
        topic("_schemas", 1, &[]),
        topic("_mesh-catalog", 1, &[]),
    ] {
        inv.topics.insert(t.name.clone(), t);
    }
    inv.acls = [
        acl("User:order-svc", Topic, "sales.orders", Literal, Write),
        acl("User:order-svc", Topic, "sales.orders", Literal, Describe),
        acl("User:order-svc", Topic, "sales.Order_Lines", Literal, Write),
        acl(
            "User:order-svc",
            Topic,
            "sales.Order_Lines",
            Literal,
            Describe,
        ),
        acl("User:finance-job", Topic, "sales.orders", Literal, Read),
        acl("User:finance-job", Topic, "sales.orders", Literal, Describe),
        acl("User:finance-job", Topic, "clicks", Literal, Read),
        acl("User:finance-job", Topic, "clicks", Literal, Describe),
        acl("User:finance-job", Group, "finance.", Prefixed, Read),
        acl("User:finance-job", Group, "finance-audit", Literal, Read),
        // Not something mesh derives: this principal stays unmanaged.
        acl("User:admin-tool", Cluster, "kafka-cluster", Literal, Alter),
        acl("User:admin-tool", Topic, "sales.orders", Literal, Read),
        AclBinding {
            permission: Permission::Deny,
            ..acl("User:mallory", Topic, "sales.orders", Literal, Read)
        },
    ]
    .into();
    let avro = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;
    inv.subjects.insert(
        "sales.orders-value".into(),
        LiveSubject {
            latest: Some(RegisteredSchema {
                version: 3,
                id: 7,
                schema_type: "AVRO".into(),
                schema: avro.into(),
            }),
            history: vec![],
            compatibility: Some("FULL".into()),
            soft_deleted: false,
        },
    );
    inv.subjects
        .insert("orphan-value".into(), LiveSubject::default());
    inv
}

const SOURCE_MESH: &str = r#"
[mesh]
name = "acme"
policy_packs = ["baseline"]
catalog_topic = "_mesh-catalog"

[defaults.topic.config]
"min.insync.replicas" = 2

[environments.prod]
bootstrap_servers = "${KAFKA_BOOTSTRAP}"
schema_registry_url = "https://registry.example"
[environments.prod.kafka]
"security.protocol" = "SASL_SSL"
"sasl.password" = "${KAFKA_PASSWORD}"
[environments.prod.topic]
replication_factor = 3
"#;

fn settings() -> Settings {
    settings_from_mesh_toml(SOURCE_MESH, "prod").unwrap()
}

fn bytes(files: &BTreeMap<String, String>) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect()
}

/// What a person does after the import: every placeholder replaced by a real answer.
fn fill_in(files: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(k, v)| {
            let mut out = String::new();
            for line in v.lines() {
                let line = if line.starts_with("quality =") {
                    "quality = \"raw\"".to_string()
                } else if line.starts_with("sla =") {
                    "sla = \"tier-3\"".to_string()
                } else if line.starts_with("owners =") {
                    "owners = [\"@acme/team\"]".to_string()
                } else if line.starts_with("description =") {
                    "description = \"filled in\"".to_string()
                } else {
                    line.to_string()
                };
                out.push_str(&line);
                out.push('\n');
            }
            (k.clone(), out)
        })
        .collect()
}

fn today() -> mesh_model::doc::Date {
    mesh_model::doc::Date::parse("2026-11-22").unwrap()
}

#[test]
fn the_layout_follows_the_topic_prefixes() {
    let out = import(&inventory(), &settings());
    let paths: Vec<&str> = out.files.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "domains/finance/domain.toml",
            "domains/imported/domain.toml",
            "domains/imported/products/clicks.toml",
            "domains/sales/domain.toml",
            "domains/sales/products/order-lines.toml",
            "domains/sales/products/orders.toml",
            "domains/sales/schemas/orders-value.avsc",
            "mesh.toml",
        ]
    );
    assert_eq!((out.products, out.domains), (3, 3));
    let lines = &out.files["domains/sales/products/order-lines.toml"];
    assert!(lines.contains("name = \"sales.Order_Lines\""), "{lines}");
    let orders = &out.files["domains/sales/products/orders.toml"];
    assert!(
        !orders.contains("name ="),
        "the id is the topic name: {orders}"
    );
    assert!(orders.contains("partitions = 6"), "{orders}");
    assert!(
        orders.contains("\"retention.ms\" = \"86400000\""),
        "{orders}"
    );
    assert!(
        !orders.contains("cleanup.policy"),
        "broker defaults are not imported"
    );
    assert!(orders.contains("producers = [\"order-svc\"]"), "{orders}");
    assert!(
        orders.contains("value = \"schemas/orders-value.avsc\""),
        "{orders}"
    );
    assert!(orders.contains("compatibility = \"FULL\""), "{orders}");
    let finance = &out.files["domains/finance/domain.toml"];
    assert!(
        finance.contains("finance-job = \"User:finance-job\""),
        "{finance}"
    );
    assert!(finance.contains("group = \"finance.*\""), "{finance}");
    assert!(finance.contains("group = \"finance-audit\""), "{finance}");
    assert!(
        !out.files
            .values()
            .any(|f| f.contains("admin-tool") || f.contains("mallory"))
    );
    let notes = out.notes.join("\n");
    assert!(notes.contains("User:admin-tool not declared"), "{notes}");
    assert!(notes.contains("User:mallory not declared"), "{notes}");
    assert!(notes.contains("orphan-value not imported"), "{notes}");
    assert!(
        notes.contains("[environments.prod.topic] was not carried over"),
        "{notes}"
    );
}

#[test]
fn mesh_toml_keeps_references_and_drops_what_would_change_the_topics() {
    let out = import(&inventory(), &settings());
    let m = &out.files["mesh.toml"];
    assert!(
        m.contains("${KAFKA_PASSWORD}") && m.contains("${KAFKA_BOOTSTRAP}"),
        "{m}"
    );
    assert!(m.contains("[environments.prod.kafka]"), "{m}");
    assert!(
        !m.contains("replication_factor") && !m.contains("min.insync"),
        "{m}"
    );
    assert!(m.contains("catalog_topic = \"_mesh-catalog\""), "{m}");
    let err = settings_from_mesh_toml(SOURCE_MESH, "staging").unwrap_err();
    assert!(
        err.contains("no environment `staging`") && err.contains("prod"),
        "{err}"
    );
    assert!(settings_from_mesh_toml("[mesh", "prod").is_err());
}

#[test]
fn placeholders_fail_validation_until_filled_in_then_the_plan_changes_nothing() {
    let inv = inventory();
    let out = import(&inv, &settings());
    let report = mesh_check::validate(&bytes(&out.files), Some("prod"), today());
    let codes: BTreeSet<&str> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(
        codes,
        ["import-placeholder"].into(),
        "{:#?}",
        report.diagnostics
    );
    let placeholders = report.diagnostics.iter().filter(|d| d.is_error()).count();
    // 3 domains × (description, owners) + 3 products × (description, quality, sla)
    assert_eq!(placeholders, 15);

    let filled = fill_in(&out.files);
    let report = mesh_check::validate(&bytes(&filled), Some("prod"), today());
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);

    // The same cluster, as a plan would read it.
    let desired = mesh_plan::desired(&report.mesh, None);
    let live = LiveState {
        brokers: 1,
        topics: inv
            .topics
            .iter()
            .filter(|(n, _)| desired.topics.contains_key(*n))
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect(),
        acls: inv
            .acls
            .iter()
            .filter(|b| desired.principals.contains(&*b.principal))
            .cloned()
            .collect(),
        catalog_topic_exists: true,
        catalog: BTreeMap::new(),
        subjects: inv.subjects.clone(),
        groups: BTreeMap::new(),
        connectors: None,
    };
    let plan = mesh_plan::plan(&desired, &live);
    assert!(plan.errors.is_empty(), "{:#?}", plan.errors);
    let not_catalog: Vec<&Action> = plan
        .actions
        .iter()
        .filter(|a| !matches!(a, Action::UpsertCatalog { .. }))
        .collect();
    assert!(not_catalog.is_empty(), "{not_catalog:#?}");
    assert_eq!(plan.actions.len(), out.products);
}

#[test]
fn names_are_made_legal_and_unique() {
    assert_eq!(legal("Order_Lines"), "order-lines");
    assert_eq!(legal("2024.events"), "t-2024-events");
    assert_eq!(legal("__"), "unnamed");
    assert_eq!(legal(&"x".repeat(80)).len(), 64);
    let mut inv = Inventory::default();
    for name in ["a.b_c", "a.b-c", "a.B.C"] {
        inv.topics.insert(name.into(), topic(name, 1, &[]));
    }
    let out = import(&inv, &settings());
    let products: Vec<&str> = out
        .files
        .keys()
        .filter(|k| k.contains("/products/"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        products,
        [
            "domains/a/products/b-c-2.toml",
            "domains/a/products/b-c-3.toml",
            "domains/a/products/b-c.toml"
        ]
    );
    let report = mesh_check::validate(&bytes(&fill_in(&out.files)), Some("prod"), today());
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
}

#[test]
fn a_consumer_without_a_group_or_a_producer_without_describe_stays_unmanaged() {
    use Operation::*;
    let mut inv = Inventory::default();
    inv.topics.insert("s.t".into(), topic("s.t", 1, &[]));
    inv.acls = [
        acl(
            "User:r",
            ResourceType::Topic,
            "s.t",
            PatternType::Literal,
            Read,
        ),
        acl(
            "User:r",
            ResourceType::Topic,
            "s.t",
            PatternType::Literal,
            Describe,
        ),
        acl(
            "User:w",
            ResourceType::Topic,
            "s.t",
            PatternType::Literal,
            Write,
        ),
    ]
    .into();
    let out = import(&inv, &settings());
    let notes = out.notes.join("\n");
    assert!(
        notes.contains("User:r not declared") && notes.contains("no consumer group"),
        "{notes}"
    );
    assert!(
        notes.contains("User:w not declared") && notes.contains("not exactly"),
        "{notes}"
    );
    assert!(!out.files["domains/s/domain.toml"].contains("[principals]"));
}

#[test]
fn streams_internal_topics_are_left_to_their_application() {
    assert_eq!(
        streams_internal("sales.enricher-counts-store-changelog"),
        Some("changelog")
    );
    assert_eq!(
        streams_internal("sales.enricher-KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition"),
        Some("repartition")
    );
    assert_eq!(
        streams_internal("app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic"),
        Some("foreign-key join subscription")
    );
    for product_like in [
        "changelog",
        "sales.changelog",
        "sales.orders",
        "orders-topic",
    ] {
        assert_eq!(streams_internal(product_like), None, "{product_like}");
    }
    let mut inv = Inventory::default();
    for name in ["sales.orders", "sales.enricher-counts-changelog"] {
        inv.topics.insert(name.into(), topic(name, 3, &[]));
    }
    let out = import(&inv, &settings());
    assert_eq!(out.products, 1);
    assert!(
        !out.files.keys().any(|f| f.contains("changelog")),
        "{:?}",
        out.files.keys()
    );
    assert!(
        out.notes.iter().any(|n| n.contains(
            "topic sales.enricher-counts-changelog not imported: named like a Kafka Streams"
        )),
        "{:?}",
        out.notes
    );
}

#[test]
fn connectors_of_imported_topics_become_connector_files_without_their_secrets() {
    let mut inv = inventory();
    inv.topics
        .insert("connect-offsets".into(), topic("connect-offsets", 25, &[]));
    let config = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    inv.connectors.insert(
        "orders-to-dwh".into(),
        mesh_plan::connect::LiveConnector {
            config: config(&[
                ("name", "orders-to-dwh"),
                ("connector.class", "io.example.JdbcSink"),
                ("tasks.max", "2"),
                ("topics", "sales.orders"),
                ("connection.url", "jdbc:postgresql://dwh/x"),
                ("connection.password", "hunter2"),
                ("connection.user", "${file:/etc/dwh.properties:user}"),
            ]),
            state: "PAUSED".into(),
            kind: "sink".into(),
            failed_tasks: 0,
        },
    );
    inv.connectors.insert(
        "many".into(),
        mesh_plan::connect::LiveConnector {
            config: config(&[
                ("connector.class", "io.example.S3Sink"),
                ("topics", "sales.orders,clicks"),
            ]),
            state: "RUNNING".into(),
            kind: "sink".into(),
            failed_tasks: 0,
        },
    );
    let out = import(&inv, &settings());
    assert!(
        !out.files
            .contains_key("domains/imported/products/connect-offsets.toml")
    );
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("connect-offsets") && n.contains("Kafka Connect worker"))
    );
    let text = &out.files["domains/sales/connectors/orders-to-dwh.toml"];
    assert!(text.contains("consumes = \"sales.orders\""), "{text}");
    assert!(text.contains("class = \"io.example.JdbcSink\""), "{text}");
    assert!(
        text.contains("tasks_max = 2") && text.contains("state = \"paused\""),
        "{text}"
    );
    assert!(text.contains(PLACEHOLDER), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.contains("\"connection.password\" = \"${CONNECT_ORDERS_TO_DWH_CONNECTION_PASSWORD}\""),
        "{text}"
    );
    assert!(text.contains("${file:/etc/dwh.properties:user}"), "{text}");
    assert!(
        !text.contains("\"topics\""),
        "mesh sets a sink's topics: {text}"
    );
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("CONNECT_ORDERS_TO_DWH_CONNECTION_PASSWORD")
                && !n.contains("hunter2"))
    );
    assert!(!out.files.keys().any(|f| f.contains("many")));
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("connector many not imported"))
    );
    assert!(out.notes.iter().all(|n| !n.contains("hunter2")));
}
