//! The diff and the executor on in-memory states (the real cluster is tested end to end in
//! mesh-kafka and the CLI).

use std::cell::RefCell;

use mesh_plan::apply::{Outcome, Target, apply};
use mesh_plan::*;

fn topic(product: &str, name: &str, partitions: i32, config: &[(&str, &str)]) -> DesiredTopic {
    DesiredTopic {
        product: product.into(),
        name: name.into(),
        partitions,
        replication_factor: 1,
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn record(product: &str, topic: &str, declared: &[&str]) -> CatalogRecord {
    CatalogRecord {
        product: product.into(),
        domain: product.split('.').next().unwrap().into(),
        topic: topic.into(),
        description: "d".into(),
        owners: vec!["@a/b".into()],
        quality: "raw".into(),
        sla: "tier-3".into(),
        status: "active".into(),
        tags: vec![],
        inputs: vec![],
        declared_configs: declared.iter().map(|s| s.to_string()).collect(),
        deprecation: None,
        revision: None,
        applied_at: String::new(),
        applied: None,
    }
}

fn desired() -> DesiredState {
    let mut d = DesiredState {
        catalog_topic: "_mesh-catalog".into(),
        ..Default::default()
    };
    d.topics.insert(
        "sales.orders".into(),
        topic(
            "sales.orders",
            "sales.orders",
            3,
            &[("retention.ms", "86400000")],
        ),
    );
    d.principals.insert("User:svc".into());
    d.acls.insert(AclBinding::allow(
        "User:svc",
        ResourceType::Topic,
        "sales.orders",
        PatternType::Literal,
        Operation::Write,
    ));
    d.catalog.insert(
        "sales.orders".into(),
        record("sales.orders", "sales.orders", &["retention.ms"]),
    );
    d
}

/// A cluster in memory: applying writes into the live state, so convergence can be checked.
struct Fake {
    live: RefCell<LiveState>,
    fail_acls: bool,
}

impl ClusterWriter for Fake {
    fn create_topics(&self, topics: &[NewTopic]) -> Vec<Result<(), String>> {
        let mut live = self.live.borrow_mut();
        topics
            .iter()
            .map(|t| {
                if t.name == "_mesh-catalog" {
                    live.catalog_topic_exists = true;
                    return Ok(());
                }
                let configs = t
                    .config
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            LiveConfig {
                                value: Some(v.clone()),
                                source: ConfigSource::DynamicTopic,
                            },
                        )
                    })
                    .collect();
                live.topics.insert(
                    t.name.clone(),
                    LiveTopic {
                        name: t.name.clone(),
                        partitions: t.partitions,
                        replication_factor: t.replication_factor,
                        configs,
                    },
                );
                Ok(())
            })
            .collect()
    }
    fn alter_configs(&self, changes: &[ConfigChange]) -> Vec<Result<(), String>> {
        let mut live = self.live.borrow_mut();
        changes
            .iter()
            .map(|c| {
                let t = live.topics.get_mut(&c.topic).ok_or("no topic")?;
                for (k, v) in &c.set {
                    t.configs.insert(
                        k.clone(),
                        LiveConfig {
                            value: Some(v.clone()),
                            source: ConfigSource::DynamicTopic,
                        },
                    );
                }
                for k in &c.delete {
                    t.configs.insert(
                        k.clone(),
                        LiveConfig {
                            value: Some("default".into()),
                            source: ConfigSource::Default,
                        },
                    );
                }
                Ok(())
            })
            .collect()
    }
    fn create_partitions(&self, topics: &[(String, i32)]) -> Vec<Result<(), String>> {
        let mut live = self.live.borrow_mut();
        topics
            .iter()
            .map(|(n, p)| {
                live.topics
                    .get_mut(n)
                    .map(|t| t.partitions = *p)
                    .ok_or("no topic".into())
            })
            .collect()
    }
    fn create_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), String>> {
        if self.fail_acls {
            return acls
                .iter()
                .map(|_| Err("CLUSTER_AUTHORIZATION_FAILED".into()))
                .collect();
        }
        acls.iter()
            .map(|a| {
                self.live.borrow_mut().acls.insert(a.clone());
                Ok(())
            })
            .collect()
    }
    fn delete_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), String>> {
        acls.iter()
            .map(|a| {
                self.live.borrow_mut().acls.remove(a);
                Ok(())
            })
            .collect()
    }
    fn write_catalog(
        &self,
        _topic: &str,
        records: &[(String, Option<CatalogRecord>)],
    ) -> Result<(), String> {
        let mut live = self.live.borrow_mut();
        for (k, v) in records {
            match v {
                Some(r) => live.catalog.insert(k.clone(), r.clone()),
                None => live.catalog.remove(k),
            };
        }
        Ok(())
    }
}

fn empty() -> LiveState {
    LiveState {
        brokers: 1,
        ..Default::default()
    }
}

#[test]
fn from_empty_everything_is_created_in_spec_order_and_applying_converges() {
    let d = desired();
    let p = plan(&d, &empty());
    assert!(p.errors.is_empty());
    let kinds: Vec<&str> = p
        .actions
        .iter()
        .map(|a| match a {
            Action::CreateCatalogTopic { .. } => "catalog-topic",
            Action::CreateTopic { .. } => "topic",
            Action::CreateAcl { .. } => "acl",
            Action::UpsertCatalog { .. } => "record",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["catalog-topic", "topic", "acl", "record"]);
    assert_eq!(p.counts(), (4, 0, 0));

    let fake = Fake {
        live: RefCell::new(empty()),
        fail_acls: false,
    };
    let report = apply(
        &p,
        &Target {
            cluster: &fake,
            registry: None,
        },
        "_mesh-catalog",
        "2026-11-22T10:00:00Z",
        &mut |_, _, _| {},
    );
    assert_eq!(report.failed(), 0);
    let again = plan(&d, &fake.live.borrow());
    assert!(again.is_empty() && again.errors.is_empty(), "{again:?}");
    assert_eq!(
        fake.live.borrow().catalog["sales.orders"].applied_at,
        "2026-11-22T10:00:00Z"
    );
}

fn applied() -> LiveState {
    let fake = Fake {
        live: RefCell::new(empty()),
        fail_acls: false,
    };
    apply(
        &plan(&desired(), &empty()),
        &Target {
            cluster: &fake,
            registry: None,
        },
        "_mesh-catalog",
        "t",
        &mut |_, _, _| {},
    );
    fake.live.into_inner()
}

#[test]
fn config_changes_resets_and_what_is_left_alone() {
    let mut live = applied();
    let t = live.topics.get_mut("sales.orders").unwrap();
    // Set by hand, never declared: never touched.
    t.configs.insert(
        "segment.ms".into(),
        LiveConfig {
            value: Some("1000".into()),
            source: ConfigSource::DynamicTopic,
        },
    );
    // A broker default equal to what a product will declare: no change.
    t.configs.insert(
        "cleanup.policy".into(),
        LiveConfig {
            value: Some("delete".into()),
            source: ConfigSource::Default,
        },
    );
    live.catalog
        .get_mut("sales.orders")
        .unwrap()
        .declared_configs
        .push("max.message.bytes".into());
    t.configs.insert(
        "max.message.bytes".into(),
        LiveConfig {
            value: Some("2000000".into()),
            source: ConfigSource::DynamicTopic,
        },
    );

    let mut d = desired();
    d.topics
        .get_mut("sales.orders")
        .unwrap()
        .config
        .insert("retention.ms".into(), "172800000".into());
    d.topics
        .get_mut("sales.orders")
        .unwrap()
        .config
        .insert("cleanup.policy".into(), "delete".into());
    d.catalog.get_mut("sales.orders").unwrap().declared_configs =
        vec!["cleanup.policy".into(), "retention.ms".into()];
    let p = plan(&d, &live);
    let changes: Vec<_> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::AlterConfig { changes, .. } => Some(changes.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        changes,
        [
            ConfigDiff {
                key: "retention.ms".into(),
                before: Some("86400000".into()),
                after: Some("172800000".into())
            },
            ConfigDiff {
                key: "max.message.bytes".into(),
                before: Some("2000000".into()),
                after: None
            },
        ]
    );
}

#[test]
fn partitions_grow_but_never_shrink_and_replication_never_changes() {
    let live = applied();
    let mut d = desired();
    d.topics.get_mut("sales.orders").unwrap().partitions = 6;
    let p = plan(&d, &live);
    assert!(p.actions.contains(&Action::AddPartitions {
        product: "sales.orders".into(),
        topic: "sales.orders".into(),
        from: 3,
        to: 6
    }));

    d.topics.get_mut("sales.orders").unwrap().partitions = 2;
    d.topics.get_mut("sales.orders").unwrap().replication_factor = 3;
    let p = plan(&d, &live);
    assert_eq!(p.errors.len(), 2, "{:?}", p.errors);
    assert!(
        p.errors
            .iter()
            .any(|e| e.message.contains("cannot remove partitions")
                && e.help.contains("new product version"))
    );
    assert!(
        p.errors
            .iter()
            .any(|e| e.message.contains("replication factor 1, the repo says 3"))
    );
}

#[test]
fn acls_of_declared_principals_converge_and_others_are_never_touched() {
    let mut live = applied();
    let stale = AclBinding::allow(
        "User:svc",
        ResourceType::Topic,
        "sales.orders",
        PatternType::Literal,
        Operation::Read,
    );
    let foreign = AclBinding::allow(
        "User:someone-else",
        ResourceType::Topic,
        "sales.orders",
        PatternType::Literal,
        Operation::Read,
    );
    live.acls.insert(stale.clone());
    live.acls.insert(foreign);
    let p = plan(&desired(), &live);
    assert_eq!(p.actions, [Action::DeleteAcl { binding: stale }]);
    assert_eq!(p.counts(), (0, 0, 1));
}

#[test]
fn a_product_removed_from_the_repo_is_refused() {
    let live = applied();
    let mut d = desired();
    d.topics.clear();
    d.catalog.clear();
    d.acls.clear();
    let p = plan(&d, &live);
    assert!(
        p.errors
            .iter()
            .any(|e| e.product.as_deref() == Some("sales.orders")
                && e.message.contains("no longer declared"))
    );
}

#[test]
fn more_replicas_than_brokers_is_a_plan_error() {
    let mut d = desired();
    d.topics.get_mut("sales.orders").unwrap().replication_factor = 3;
    let p = plan(&d, &empty());
    assert!(p.errors[0].message.contains("more than the 1 broker(s)"));
}

#[test]
fn apply_stops_at_the_first_failed_phase_and_a_rerun_converges() {
    let d = desired();
    let p = plan(&d, &empty());
    let fake = Fake {
        live: RefCell::new(empty()),
        fail_acls: true,
    };
    let report = apply(
        &p,
        &Target {
            cluster: &fake,
            registry: None,
        },
        "_mesh-catalog",
        "t",
        &mut |_, _, _| {},
    );
    assert_eq!(
        (report.done(), report.failed(), report.skipped()),
        (2, 1, 1)
    );
    assert!(matches!(report.outcomes[2], Outcome::Failed(ref m) if m.contains("AUTHORIZATION")));
    assert!(
        fake.live.borrow().catalog.is_empty(),
        "the catalog is written last"
    );

    let fixed = Fake {
        live: RefCell::new(fake.live.into_inner()),
        fail_acls: false,
    };
    let p2 = plan(&d, &fixed.live.borrow());
    assert_eq!(p2.counts(), (2, 0, 0), "{p2:?}");
    apply(
        &p2,
        &Target {
            cluster: &fixed,
            registry: None,
        },
        "_mesh-catalog",
        "t",
        &mut |_, _, _| {},
    );
    assert!(plan(&d, &fixed.live.borrow()).is_empty());
}

// ---- schemas ----

use mesh_plan::registry::{
    Compatibility, LiveSubject, RegisteredSchema, RegistryReader, RegistryWriter,
};
use std::sync::Mutex;

const V1: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;

fn with_subject(schema: &str, level: &str) -> DesiredState {
    let mut d = desired();
    d.subjects.insert(
        "sales.orders-value".into(),
        DesiredSubject {
            product: "sales.orders".into(),
            subject: "sales.orders-value".into(),
            schema_type: "AVRO".into(),
            schema: schema.into(),
            file: "domains/sales/schemas/orders.avsc".into(),
            compatibility: level.into(),
        },
    );
    d
}

/// A registry in memory that records what it was asked to do.
#[derive(Default)]
struct FakeRegistry {
    subjects: Mutex<std::collections::BTreeMap<String, LiveSubject>>,
    refuse: bool,
}

impl RegistryReader for FakeRegistry {
    fn read_subjects(
        &self,
        names: &std::collections::BTreeSet<String>,
    ) -> Result<std::collections::BTreeMap<String, LiveSubject>, String> {
        let all = self.subjects.lock().unwrap();
        Ok(names
            .iter()
            .map(|n| (n.clone(), all.get(n).cloned().unwrap_or_default()))
            .collect())
    }
    fn check_compatibility(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: Option<&str>,
    ) -> Result<Compatibility, String> {
        Ok(Compatibility {
            compatible: !self.refuse,
            messages: vec!["READER_FIELD_MISSING_DEFAULT_VALUE".into()],
        })
    }
}

impl RegistryWriter for FakeRegistry {
    fn set_compatibility(&self, subject: &str, level: &str) -> Result<(), String> {
        self.subjects
            .lock()
            .unwrap()
            .entry(subject.into())
            .or_default()
            .compatibility = Some(level.into());
        Ok(())
    }
    fn register(&self, subject: &str, schema_type: &str, schema: &str) -> Result<i32, String> {
        let mut all = self.subjects.lock().unwrap();
        let s = all.entry(subject.into()).or_default();
        let version = s.latest.as_ref().map_or(1, |l| l.version + 1);
        s.latest = Some(RegisteredSchema {
            version,
            id: version,
            schema_type: schema_type.into(),
            schema: schema.into(),
        });
        s.history.push(schema.into());
        Ok(version)
    }
    fn delete_subject(&self, subject: &str) -> Result<(), String> {
        self.subjects.lock().unwrap().remove(subject);
        Ok(())
    }
}

fn apply_with(p: &Plan, live: &RefCell<LiveState>, reg: &FakeRegistry) {
    let fake = Fake {
        live: RefCell::new(live.borrow().clone()),
        fail_acls: false,
    };
    let report = apply(
        p,
        &Target {
            cluster: &fake,
            registry: Some(reg),
        },
        "_mesh-catalog",
        "t",
        &mut |_, _, _| {},
    );
    assert_eq!(report.failed(), 0);
    let mut l = fake.live.into_inner();
    l.subjects = reg
        .read_subjects(&["sales.orders-value".to_string()].into())
        .unwrap();
    *live.borrow_mut() = l;
}

#[test]
fn a_new_subject_gets_its_level_before_its_first_version_and_unchanged_text_is_no_action() {
    let d = with_subject(V1, "BACKWARD");
    let p = plan(&d, &empty());
    let pos = |f: &dyn Fn(&Action) -> bool| p.actions.iter().position(f).unwrap();
    let level = pos(&|a| matches!(a, Action::SetCompatibility { .. }));
    let version = pos(&|a| matches!(a, Action::RegisterSchema { .. }));
    let topic = pos(&|a| matches!(a, Action::CreateTopic { .. }));
    let acl = pos(&|a| matches!(a, Action::CreateAcl { .. }));
    assert!(
        topic < level && level < version && version < acl,
        "{:?}",
        p.actions
    );

    let reg = FakeRegistry::default();
    let live = RefCell::new(empty());
    apply_with(&p, &live, &reg);
    assert!(plan(&d, &live.borrow()).is_empty());
    // Whitespace and key order are no change.
    let reformatted = "{\n  \"name\": \"Order\",\n  \"type\": \"record\",\n  \"fields\": [ {\"type\": \"string\", \"name\": \"id\"} ]\n}\n";
    assert!(plan(&with_subject(reformatted, "BACKWARD"), &live.borrow()).is_empty());
}

#[test]
fn a_compatible_evolution_is_one_new_version_and_an_incompatible_one_fails_the_plan() {
    let reg = FakeRegistry::default();
    let live = RefCell::new(empty());
    apply_with(&plan(&with_subject(V1, "BACKWARD"), &empty()), &live, &reg);

    let optional = V1.replace(
        "}]}",
        r#"},{"name":"note","type":["null","string"],"default":null}]}"#,
    );
    let p = plan(&with_subject(&optional, "BACKWARD"), &live.borrow());
    assert!(p.errors.is_empty());
    let registers: Vec<_> = p
        .actions
        .iter()
        .filter(|a| {
            matches!(
                a,
                Action::RegisterSchema {
                    previous: Some(_),
                    ..
                }
            )
        })
        .collect();
    assert_eq!(registers.len(), 1);
    assert_eq!(p.counts(), (0, 1, 0));

    let required = V1.replace("}]}", r#"},{"name":"note","type":"string"}]}"#);
    let p = plan(&with_subject(&required, "BACKWARD"), &live.borrow());
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    assert_eq!(p.errors[0].subject.as_deref(), Some("sales.orders-value"));
    assert!(
        p.errors[0].message.contains("not BACKWARD-compatible"),
        "{}",
        p.errors[0].message
    );
    // Under NONE the same change is fine locally.
    assert!(
        plan(&with_subject(&required, "NONE"), &live.borrow())
            .errors
            .is_empty()
    );
}

#[test]
fn the_registry_gate_refuses_what_the_registry_refuses() {
    let reg = FakeRegistry::default();
    let live = RefCell::new(empty());
    apply_with(&plan(&with_subject(V1, "BACKWARD"), &empty()), &live, &reg);
    let changed = V1.replace("\"id\"", "\"order_id\"");
    let d = with_subject(&changed, "NONE");
    let p = plan(&d, &live.borrow());
    assert!(p.errors.is_empty());
    assert!(
        mesh_plan::plan::registry_gate(&p, &d, &reg)
            .unwrap()
            .is_empty()
    );
    let refusing = FakeRegistry {
        refuse: true,
        ..Default::default()
    };
    let errors = mesh_plan::plan::registry_gate(&p, &d, &refusing).unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .message
            .contains("READER_FIELD_MISSING_DEFAULT_VALUE")
    );
}

/// Counts CreateTopics requests.
struct Counting<'a>(&'a Fake, RefCell<Vec<usize>>);

impl ClusterWriter for Counting<'_> {
    fn create_topics(&self, topics: &[NewTopic]) -> Vec<Result<(), String>> {
        self.1.borrow_mut().push(topics.len());
        self.0.create_topics(topics)
    }
    fn alter_configs(&self, c: &[ConfigChange]) -> Vec<Result<(), String>> {
        self.0.alter_configs(c)
    }
    fn create_partitions(&self, t: &[(String, i32)]) -> Vec<Result<(), String>> {
        self.0.create_partitions(t)
    }
    fn create_acls(&self, a: &[AclBinding]) -> Vec<Result<(), String>> {
        self.0.create_acls(a)
    }
    fn delete_acls(&self, a: &[AclBinding]) -> Vec<Result<(), String>> {
        self.0.delete_acls(a)
    }
    fn write_catalog(&self, t: &str, r: &[(String, Option<CatalogRecord>)]) -> Result<(), String> {
        self.0.write_catalog(t, r)
    }
}

#[test]
fn topics_are_created_in_as_few_requests_as_kafka_allows() {
    let mut d = desired();
    for i in 0..30 {
        let name = format!("sales.t{i:02}");
        d.topics.insert(
            name.clone(),
            topic(&name, &name, 400, &[("retention.ms", "1")]),
        );
    }
    let p = plan(&d, &empty());
    let fake = Fake {
        live: RefCell::new(empty()),
        fail_acls: false,
    };
    let counting = Counting(&fake, RefCell::new(Vec::new()));
    apply(
        &p,
        &Target {
            cluster: &counting,
            registry: None,
        },
        "_mesh-catalog",
        "t",
        &mut |_, _, _| {},
    );
    // The catalog topic, then sales.orders (5 records) and 30 topics of 402 records each, at
    // most 10,000 records a request: 5 + 24 × 402 = 9,653 fits, a 25th t-topic would not.
    assert_eq!(*counting.1.borrow(), vec![1, 25, 6]);
}
