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

fn no_topic() -> AdapterError {
    AdapterError::new(ErrorKind::NotFound, "no topic")
}

impl ClusterWriter for Fake {
    fn create_topics(&self, topics: &[NewTopic]) -> Vec<Result<(), AdapterError>> {
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
    fn alter_configs(&self, changes: &[ConfigChange]) -> Vec<Result<(), AdapterError>> {
        let mut live = self.live.borrow_mut();
        changes
            .iter()
            .map(|c| {
                let t = live.topics.get_mut(&c.topic).ok_or_else(no_topic)?;
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
    fn create_partitions(&self, topics: &[(String, i32)]) -> Vec<Result<(), AdapterError>> {
        let mut live = self.live.borrow_mut();
        topics
            .iter()
            .map(|(n, p)| {
                live.topics
                    .get_mut(n)
                    .map(|t| t.partitions = *p)
                    .ok_or_else(no_topic)
            })
            .collect()
    }
    fn create_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        if self.fail_acls {
            return acls
                .iter()
                .map(|_| {
                    Err(AdapterError::new(
                        ErrorKind::Unauthorized {
                            operation: "create ACLs".into(),
                        },
                        "CLUSTER_AUTHORIZATION_FAILED",
                    ))
                })
                .collect();
        }
        acls.iter()
            .map(|a| {
                self.live.borrow_mut().acls.insert(a.clone());
                Ok(())
            })
            .collect()
    }
    fn delete_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        acls.iter()
            .map(|a| {
                self.live.borrow_mut().acls.remove(a);
                Ok(())
            })
            .collect()
    }
    fn delete_topics(&self, topics: &[String]) -> Vec<Result<(), AdapterError>> {
        let mut live = self.live.borrow_mut();
        topics
            .iter()
            .map(|t| live.topics.remove(t).map(|_| ()).ok_or_else(no_topic))
            .collect()
    }
    fn write_catalog(
        &self,
        _topic: &str,
        records: &[(String, Option<CatalogRecord>)],
    ) -> Result<(), AdapterError> {
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
            connect: None,
            before_connectors: None,
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
            connect: None,
            before_connectors: None,
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
fn a_product_removed_from_the_repo_is_refused_unless_it_may_be_retired() {
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
                && e.message.contains("no longer declared")
                && matches!(e.blockers[0], Blocker::NotDeprecated { .. }))
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
            connect: None,
            before_connectors: None,
        },
        "_mesh-catalog",
        "t",
        &mut |_, _, _| {},
    );
    // The ACLs, the first phase, failed: nothing else was sent, and as no topic was created no
    // catalog record is written either.
    assert_eq!(
        (report.done(), report.failed(), report.skipped()),
        (0, 1, 3)
    );
    assert!(
        matches!(report.outcomes[2], Outcome::Failed(ref e) if e.message.contains("AUTHORIZATION") && matches!(e.kind, ErrorKind::Unauthorized { .. }))
    );
    assert!(fake.live.borrow().topics.is_empty());
    assert!(fake.live.borrow().catalog.is_empty());

    let fixed = Fake {
        live: RefCell::new(fake.live.into_inner()),
        fail_acls: false,
    };
    // The rest: everything.
    let p2 = plan(&d, &fixed.live.borrow());
    assert_eq!(p2.actions, p.actions, "{p2:?}");
    apply(
        &p2,
        &Target {
            cluster: &fixed,
            registry: None,
            connect: None,
            before_connectors: None,
        },
        "_mesh-catalog",
        "t",
        &mut |_, _, _| {},
    );
    assert!(plan(&d, &fixed.live.borrow()).is_empty());
}

#[test]
fn a_stop_request_ends_apply_after_the_running_batch_and_a_rerun_converges() {
    let d = desired();
    let p = plan(&d, &empty());
    let fake = Fake {
        live: RefCell::new(empty()),
        fail_acls: false,
    };
    // Asked before each batch: yes from the third question on (ACLs and catalog topic sent).
    let asked = std::sync::atomic::AtomicUsize::new(0);
    let stop = || asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2;
    let mut phases = Vec::new();
    let report = mesh_plan::apply::apply_until(
        &p,
        &Target {
            cluster: &fake,
            registry: None,
            connect: None,
            before_connectors: None,
        },
        "_mesh-catalog",
        "t",
        &mut |phase, done, _| phases.push(format!("{phase}: {done}")),
        &stop,
    );
    assert!(report.interrupted);
    // The ACL and the catalog topic went through, the product's topic was not sent, so there
    // is no product to record.
    assert_eq!(
        (report.done(), report.failed(), report.skipped()),
        (2, 0, 2)
    );
    assert_eq!(phases, ["ACLs created: 1", "catalog topic: 1"]);
    assert_eq!(fake.live.borrow().acls.len(), 1);
    assert!(fake.live.borrow().topics.is_empty());
    assert!(fake.live.borrow().catalog.is_empty());
    // The next plan is exactly the rest: the topic and its record.
    let rest = plan(&d, &fake.live.borrow());
    assert_eq!(rest.counts(), (2, 0, 0), "{rest:?}");
    assert!(
        rest.actions
            .iter()
            .all(|a| matches!(a, Action::CreateTopic { .. } | Action::UpsertCatalog { .. })),
        "{rest:?}"
    );
    apply(
        &rest,
        &Target {
            cluster: &fake,
            registry: None,
            connect: None,
            before_connectors: None,
        },
        "_mesh-catalog",
        "t",
        &mut |_, _, _| {},
    );
    assert!(plan(&d, &fake.live.borrow()).is_empty());
}

// ---- schemas ----

use mesh_plan::registry::{
    Compatibility, LiveSubject, RegisteredSchema, RegistryReader, RegistryWriter,
};
use std::sync::Mutex;

const V1: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;
const V2_COMPATIBLE: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"note","type":["null","string"],"default":null}]}"#;

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
    /// Like Apicurio's Confluent API: no level on a subject that has no version yet.
    no_level_before_a_version: bool,
    /// "level SUBJECT" and "register SUBJECT", in the order they were asked.
    calls: Mutex<Vec<String>>,
}

impl RegistryReader for FakeRegistry {
    fn read_subjects(
        &self,
        names: &std::collections::BTreeSet<String>,
    ) -> Result<std::collections::BTreeMap<String, LiveSubject>, AdapterError> {
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
    ) -> Result<Compatibility, AdapterError> {
        Ok(Compatibility {
            compatible: !self.refuse,
            messages: vec!["READER_FIELD_MISSING_DEFAULT_VALUE".into()],
        })
    }
}

impl RegistryWriter for FakeRegistry {
    fn set_compatibility(&self, subject: &str, level: &str) -> Result<(), AdapterError> {
        self.calls.lock().unwrap().push(format!("level {subject}"));
        let has_version = self
            .subjects
            .lock()
            .unwrap()
            .get(subject)
            .is_some_and(|s| s.latest.is_some());
        if self.no_level_before_a_version && !has_version {
            return Err(AdapterError::new(
                ErrorKind::NotFound,
                format!("HTTP 404 (error 40401): no artifact {subject}"),
            ));
        }
        self.subjects
            .lock()
            .unwrap()
            .entry(subject.into())
            .or_default()
            .compatibility = Some(level.into());
        Ok(())
    }
    fn register(
        &self,
        subject: &str,
        schema_type: &str,
        schema: &str,
    ) -> Result<i32, AdapterError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("register {subject}"));
        let mut all = self.subjects.lock().unwrap();
        let s = all.entry(subject.into()).or_default();
        let version = s.latest.as_ref().map_or(1, |l| l.version + 1);
        let registered = RegisteredSchema {
            version,
            id: version,
            schema_type: schema_type.into(),
            schema: schema.into(),
        };
        s.history.push(registered.clone());
        s.latest = Some(registered);
        Ok(version)
    }
    fn delete_subject(&self, subject: &str) -> Result<(), AdapterError> {
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
            connect: None,
            before_connectors: None,
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

/// A registry whose registration of one subject panics (a bug in an adapter).
struct Panicking(FakeRegistry, &'static str);

impl RegistryWriter for Panicking {
    fn set_compatibility(&self, subject: &str, level: &str) -> Result<(), AdapterError> {
        self.0.set_compatibility(subject, level)
    }
    fn register(&self, subject: &str, kind: &str, schema: &str) -> Result<i32, AdapterError> {
        assert_ne!(subject, self.1, "a bug in the adapter");
        self.0.register(subject, kind, schema)
    }
    fn delete_subject(&self, subject: &str) -> Result<(), AdapterError> {
        self.0.delete_subject(subject)
    }
}

/// `sales.orders` with its value subject and 40 more.
fn with_41_subjects() -> DesiredState {
    let mut d = with_subject(V1, "BACKWARD");
    let template = d.subjects["sales.orders-value"].clone();
    for i in 0..40 {
        let subject = format!("sales.orders-{i:02}-value");
        d.subjects.insert(
            subject.clone(),
            DesiredSubject {
                subject,
                ..template.clone()
            },
        );
    }
    d
}

#[test]
fn each_phase_ticks_up_to_its_total_while_it_runs() {
    let p = plan(&with_41_subjects(), &empty());
    let fake = Fake {
        live: RefCell::new(empty()),
        fail_acls: false,
    };
    let reg = FakeRegistry::default();
    let ticks = Mutex::new(Vec::new());
    let mut phases = Vec::new();
    let report = mesh_plan::apply::apply_watched(
        &p,
        &Target {
            cluster: &fake,
            registry: Some(&reg),
            connect: None,
            before_connectors: None,
        },
        "_mesh-catalog",
        "t",
        &mut |phase, done, _| phases.push((phase.to_string(), done)),
        &|| false,
        &|t| {
            ticks
                .lock()
                .unwrap()
                .push((t.phase.to_string(), t.finished, t.total))
        },
    );
    assert_eq!(report.failed(), 0);
    let ticks = ticks.into_inner().unwrap();
    for (phase, done) in &phases {
        let mine: Vec<_> = ticks.iter().filter(|(p, _, _)| p == phase).collect();
        // Registry phases tick once per request (41 here), Kafka phases once per batch.
        let mut seen: Vec<usize> = mine.iter().map(|(_, n, _)| *n).collect();
        seen.sort();
        assert_eq!(seen.last(), Some(done), "{phase}: {mine:?}");
        assert!(
            mine.iter().all(|(_, _, total)| total == done),
            "{phase}: {mine:?}"
        );
        if phase == "schemas" {
            assert_eq!(seen, (1..=41).collect::<Vec<_>>());
        }
    }
    assert!(
        phases.iter().any(|(p, n)| p == "schemas" && *n == 41),
        "{phases:?}"
    );
}

#[test]
fn registry_requests_share_a_queue_and_a_panicking_one_fails_only_its_action() {
    let p = plan(&with_41_subjects(), &empty());
    let fake = Fake {
        live: RefCell::new(empty()),
        fail_acls: false,
    };
    let reg = Panicking(FakeRegistry::default(), "sales.orders-17-value");
    let mut phases = Vec::new();
    let report = apply(
        &p,
        &Target {
            cluster: &fake,
            registry: Some(&reg),
            connect: None,
            before_connectors: None,
        },
        "_mesh-catalog",
        "t",
        &mut |phase, done, failed| phases.push(format!("{phase}: {done}/{failed}")),
    );
    assert_eq!(report.failed(), 1, "{phases:?}");
    let failed = p
        .actions
        .iter()
        .zip(&report.outcomes)
        .find_map(|(a, o)| match o {
            Outcome::Failed(e) => Some((a, e)),
            _ => None,
        });
    assert!(
        matches!(failed, Some((Action::RegisterSchema { subject, .. }, e))
            if subject == "sales.orders-17-value" && e.message.contains("panicked")),
        "{failed:?}"
    );
    // Every other registration went through, and the apply stopped after that phase.
    assert!(phases.contains(&"schemas: 40/1".to_string()), "{phases:?}");
    assert_eq!(reg.0.subjects.lock().unwrap().len(), 40);
    assert!(
        !phases.iter().any(|p| p.starts_with("catalog records")),
        "{phases:?}"
    );
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
fn a_new_subject_s_level_is_set_after_its_first_version_an_existing_one_s_before_the_next() {
    // A registry that refuses levels on subjects without versions (Apicurio) still converges,
    // at every level.
    for level in ["NONE", "BACKWARD", "FULL_TRANSITIVE"] {
        let reg = FakeRegistry {
            no_level_before_a_version: true,
            ..FakeRegistry::default()
        };
        let live = RefCell::new(empty());
        let d = with_subject(V1, level);
        let first = plan(&d, &live.borrow());
        apply_with(&first, &live, &reg);
        assert_eq!(
            *reg.calls.lock().unwrap(),
            ["register sales.orders-value", "level sales.orders-value"],
            "{level}"
        );
        assert!(plan(&d, &live.borrow()).is_empty(), "{level}");
        assert_eq!(
            live.borrow().subjects["sales.orders-value"]
                .compatibility
                .as_deref(),
            Some(level)
        );
        // An existing subject: the new level first, so the new version is judged under it.
        reg.calls.lock().unwrap().clear();
        let next = if level == "NONE" { "FORWARD" } else { "NONE" };
        let d2 = with_subject(V2_COMPATIBLE, next);
        let second = plan(&d2, &live.borrow());
        apply_with(&second, &live, &reg);
        assert_eq!(
            *reg.calls.lock().unwrap(),
            ["level sales.orders-value", "register sales.orders-value"],
            "{level} -> {next}"
        );
        assert!(plan(&d2, &live.borrow()).is_empty(), "{level} -> {next}");
    }
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
        p.errors[0].message.contains("not BACKWARD-compatible")
            && p.errors[0].message.contains(
                "cannot read data written with registered version 1: Order.note: the reader's field note has no default"
            ),
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

/// Counts CreateTopics requests, and refuses one of more than `cap` topics the way a KRaft
/// controller refuses an operation that would write too many records.
struct Counting<'a>(&'a Fake, RefCell<Vec<usize>>, usize);

impl ClusterWriter for Counting<'_> {
    fn create_topics(&self, topics: &[NewTopic]) -> Vec<Result<(), AdapterError>> {
        self.1.borrow_mut().push(topics.len());
        if topics.len() > self.2 {
            let refused = AdapterError::new(
                ErrorKind::Invalid,
                "create topics: Unable to perform excessively large batch operation.",
            );
            return vec![Err(refused); topics.len()];
        }
        self.0.create_topics(topics)
    }
    fn alter_configs(&self, c: &[ConfigChange]) -> Vec<Result<(), AdapterError>> {
        self.0.alter_configs(c)
    }
    fn create_partitions(&self, t: &[(String, i32)]) -> Vec<Result<(), AdapterError>> {
        self.0.create_partitions(t)
    }
    fn create_acls(&self, a: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        self.0.create_acls(a)
    }
    fn delete_acls(&self, a: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        self.0.delete_acls(a)
    }
    fn delete_topics(&self, t: &[String]) -> Vec<Result<(), AdapterError>> {
        self.0.delete_topics(t)
    }
    fn write_catalog(
        &self,
        t: &str,
        r: &[(String, Option<CatalogRecord>)],
    ) -> Result<(), AdapterError> {
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
    let counting = Counting(&fake, RefCell::new(Vec::new()), usize::MAX);
    apply(
        &p,
        &Target {
            cluster: &counting,
            registry: None,
            connect: None,
            before_connectors: None,
        },
        "_mesh-catalog",
        "t",
        &mut |_, _, _| {},
    );
    // The catalog topic, then sales.orders (6 records as counted) and 30 topics of 403 each,
    // at most 10,000 records a request: 6 + 24 × 403 = 9,678 fits, a 25th t-topic would not.
    assert_eq!(*counting.1.borrow(), vec![1, 25, 6]);
}

#[test]
fn a_batch_the_broker_refuses_as_too_large_is_sent_again_in_halves() {
    let mut d = desired();
    for i in 0..30 {
        let name = format!("sales.t{i:02}");
        d.topics.insert(
            name.clone(),
            topic(&name, &name, 1, &[("retention.ms", "1")]),
        );
    }
    let p = plan(&d, &empty());
    let fake = Fake {
        live: RefCell::new(empty()),
        fail_acls: false,
    };
    let capped = Counting(&fake, RefCell::new(Vec::new()), 8);
    let report = apply(
        &p,
        &Target {
            cluster: &capped,
            registry: None,
            connect: None,
            before_connectors: None,
        },
        "_mesh-catalog",
        "t",
        &mut |_, _, _| {},
    );
    assert_eq!(report.failed(), 0, "{report:?}");
    assert_eq!(fake.live.borrow().topics.len(), 31);
    // The catalog topic; the 31 product topics refused, then 15 + 16, each refused again, then
    // halves of 7 and 8 that go through.
    assert_eq!(
        *capped.1.borrow(),
        vec![1, 31, 15, 7, 8, 16, 8, 8],
        "{:?}",
        capped.1.borrow()
    );
    // A single topic refused as too large cannot be split: it fails, and nothing follows.
    let other = Fake {
        live: RefCell::new(empty()),
        fail_acls: false,
    };
    let capped = Counting(&other, RefCell::new(Vec::new()), 0);
    let report = apply(
        &p,
        &Target {
            cluster: &capped,
            registry: None,
            connect: None,
            before_connectors: None,
        },
        "_mesh-catalog",
        "t",
        &mut |_, _, _| {},
    );
    assert!(report.failed() > 0);
    assert_eq!(
        capped.1.borrow()[0],
        1,
        "the catalog topic, alone, is refused"
    );
    assert_eq!(capped.1.borrow().len(), 1, "{:?}", capped.1.borrow());
}

// ---- retirement (SPEC §4), impact, deprecation ----

const DAY: i64 = 86_400_000;

fn day(date: &str) -> i64 {
    mesh_plan::lifecycle::date_ms(date).unwrap()
}

/// sales.orders as applied while deprecated (sunset 2026-12-01), with a value and a key subject,
/// no consumer groups on its topic; and the desired state once its file is removed.
fn deprecated_and_removed() -> (DesiredState, LiveState) {
    let mut full = desired();
    let r = full.catalog.get_mut("sales.orders").unwrap();
    r.status = "deprecated".into();
    r.deprecation = Some(
        [
            ("sunset".to_string(), "2026-12-01".to_string()),
            ("replacement".to_string(), "sales.orders-v2".to_string()),
        ]
        .into(),
    );
    let fake = Fake {
        live: RefCell::new(empty()),
        fail_acls: false,
    };
    apply(
        &plan(&full, &empty()),
        &Target {
            cluster: &fake,
            registry: None,
            connect: None,
            before_connectors: None,
        },
        "_mesh-catalog",
        "t",
        &mut |_, _, _| {},
    );
    let mut live = fake.live.into_inner();
    for s in ["sales.orders-value", "sales.orders-key"] {
        live.subjects.insert(
            s.into(),
            LiveSubject {
                latest: Some(RegisteredSchema {
                    version: 1,
                    id: 1,
                    schema_type: "AVRO".into(),
                    schema: V1.into(),
                }),
                ..Default::default()
            },
        );
    }
    live.groups.insert("sales.orders".into(), vec![]);
    let mut d = desired();
    d.topics.clear();
    d.catalog.clear();
    d.acls.clear();
    d.retire_idle_days = 7;
    (d, live)
}

fn consumer(product: &str) -> DesiredConsumer {
    DesiredConsumer {
        product: product.into(),
        domain: "finance".into(),
        principal: "billing".into(),
        group: "finance.billing".into(),
        owners: vec!["@acme/finance".into()],
        file: "domains/finance/domain.toml".into(),
        line: 9,
    }
}

fn group(name: &str, state: &str, members: usize, last: Option<i64>) -> GroupActivity {
    GroupActivity {
        group: name.into(),
        state: state.into(),
        members,
        last_commit_ms: last,
        never_committed: false,
    }
}

fn blockers(p: &Plan) -> Vec<String> {
    p.errors
        .iter()
        .flat_map(|e| e.blockers.iter().map(Blocker::describe))
        .collect()
}

#[test]
fn a_retirement_whose_permanent_subject_delete_failed_deletes_it_again() {
    // The last apply soft-deleted sales.orders-value and then failed: the subject has no live
    // version, and is still there until deleted for good.
    let (d, mut live) = deprecated_and_removed();
    live.subjects.insert(
        "sales.orders-value".into(),
        LiveSubject {
            soft_deleted: true,
            ..LiveSubject::default()
        },
    );
    live.subjects.remove("sales.orders-key");
    let p = plan_at(&d, &live, day("2026-12-01"));
    let deletes: Vec<&Action> = p
        .actions
        .iter()
        .filter(|a| matches!(a, Action::DeleteSubject { .. }))
        .collect();
    assert_eq!(
        deletes,
        [&Action::DeleteSubject {
            product: "sales.orders".into(),
            subject: "sales.orders-value".into()
        }]
    );
}

#[test]
fn a_deprecated_product_past_its_sunset_nobody_reads_is_retired_in_order_and_converges() {
    let (d, live) = deprecated_and_removed();
    let p = plan_at(&d, &live, day("2026-12-01"));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let acl = AclBinding::allow(
        "User:svc",
        ResourceType::Topic,
        "sales.orders",
        PatternType::Literal,
        Operation::Write,
    );
    assert_eq!(
        p.actions,
        [
            Action::DeleteAcl { binding: acl },
            Action::DeleteSubject {
                product: "sales.orders".into(),
                subject: "sales.orders-value".into()
            },
            Action::DeleteSubject {
                product: "sales.orders".into(),
                subject: "sales.orders-key".into()
            },
            Action::DeleteTopic {
                product: "sales.orders".into(),
                topic: "sales.orders".into()
            },
            Action::RetireProduct {
                product: "sales.orders".into(),
                previous: Box::new(live.catalog["sales.orders"].clone()),
            },
        ]
    );
    assert_eq!(p.counts(), (0, 0, 5));
    assert_eq!(p.impacts.len(), 1);
    assert_eq!(p.impacts[0].kind, ImpactKind::Retirement);

    let fake = Fake {
        live: RefCell::new(live.clone()),
        fail_acls: false,
    };
    let reg = FakeRegistry {
        subjects: Mutex::new(live.subjects.clone()),
        ..FakeRegistry::default()
    };
    let mut phases = Vec::new();
    let report = apply(
        &p,
        &Target {
            cluster: &fake,
            registry: Some(&reg),
            connect: None,
            before_connectors: None,
        },
        "_mesh-catalog",
        "t",
        &mut |phase, _, _| phases.push(phase.to_string()),
    );
    assert_eq!(report.failed(), 0);
    assert_eq!(
        phases,
        [
            "ACLs deleted",
            "subjects deleted",
            "topics deleted",
            "products retired"
        ]
    );
    let mut after = fake.live.into_inner();
    after.subjects = reg
        .read_subjects(&["sales.orders-value".into(), "sales.orders-key".into()].into())
        .unwrap();
    assert!(after.topics.is_empty() && after.acls.is_empty() && after.catalog.is_empty());
    let again = plan_at(&d, &after, day("2026-12-01"));
    assert!(again.is_empty() && again.errors.is_empty(), "{again:?}");
}

#[test]
fn an_interrupted_retirement_continues_where_it_stopped() {
    let (d, mut live) = deprecated_and_removed();
    live.topics.clear();
    live.subjects.clear();
    live.acls.clear();
    let p = plan_at(&d, &live, day("2026-12-02"));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(
        matches!(&p.actions[..], [Action::RetireProduct { product, .. }] if product == "sales.orders"),
        "{:?}",
        p.actions
    );
}

#[test]
fn before_the_sunset_or_without_one_the_retirement_is_refused() {
    let (d, mut live) = deprecated_and_removed();
    let p = plan_at(&d, &live, day("2026-12-01") - 1);
    assert_eq!(blockers(&p).len(), 1);
    assert!(
        blockers(&p)[0].contains("sunset 2026-12-01 has not passed (owners: @a/b)"),
        "{:?}",
        blockers(&p)
    );
    assert!(p.errors[0].message.contains("cannot be retired yet"));
    // Without a clock nothing has passed.
    assert!(!plan(&d, &live).errors.is_empty());
    live.catalog
        .get_mut("sales.orders")
        .unwrap()
        .deprecation
        .as_mut()
        .unwrap()
        .remove("sunset");
    let p = plan_at(&d, &live, day("2030-01-01"));
    assert!(blockers(&p)[0].contains("no sunset date was applied"));
}

#[test]
fn an_active_product_is_never_retired() {
    let (d, mut live) = deprecated_and_removed();
    let r = live.catalog.get_mut("sales.orders").unwrap();
    r.status = "active".into();
    r.deprecation = None;
    let p = plan_at(&d, &live, day("2030-01-01"));
    assert!(p.actions.iter().all(|a| !matches!(
        a,
        Action::DeleteTopic { .. } | Action::RetireProduct { .. } | Action::DeleteSubject { .. }
    )));
    assert!(blockers(&p)[0].contains("active, not deprecated"));
}

#[test]
fn consumers_inputs_and_recent_groups_each_block_and_all_are_listed() {
    let (mut d, mut live) = deprecated_and_removed();
    let now = day("2026-12-10");
    d.consumers.push(consumer("sales.orders"));
    d.consumers.push(consumer("sales.other"));
    let mut derived = record("finance.revenue", "finance.revenue", &[]);
    derived.owners = vec!["@acme/revenue".into()];
    derived.inputs = vec!["sales.orders".into()];
    d.catalog.insert("finance.revenue".into(), derived);
    live.groups.insert(
        "sales.orders".into(),
        vec![
            group("recent", "Empty", 0, Some(now - 6 * DAY)),
            group("idle", "Empty", 0, Some(now - 8 * DAY)),
            group("live", "Stable", 2, Some(now - 30 * DAY)),
            group("unknown-version", "Empty", 0, None),
        ],
    );
    let p = plan_at(&d, &live, now);
    let b = blockers(&p);
    assert_eq!(b.len(), 5, "{b:#?}");
    assert!(b[0].contains("consumer finance/billing (group finance.billing, owners: @acme/finance) still consumes it at domains/finance/domain.toml:9"), "{}", b[0]);
    assert!(
        b[1].contains("product finance.revenue (owners: @acme/revenue) still lists it in inputs"),
        "{}",
        b[1]
    );
    assert!(
        b[2].starts_with(
            "consumer group recent (Empty, 0 member(s), last commit 2026-12-04T00:00:00Z)"
        ),
        "{}",
        b[2]
    );
    assert!(
        b[3].starts_with("consumer group live (Stable, 2 member(s)"),
        "{}",
        b[3]
    );
    assert!(
        b[4].contains("unknown-version") && b[4].contains("time unknown"),
        "{}",
        b[4]
    );
    assert!(!b.iter().any(|x| x.contains("idle")));

    // The same groups with a shorter window: only the live and the unknown one remain.
    d.retire_idle_days = 5;
    let b = blockers(&plan_at(&d, &live, now));
    assert_eq!(b.len(), 4, "{b:#?}");
}

#[test]
fn a_topic_whose_groups_were_not_read_is_not_assumed_idle() {
    let (d, mut live) = deprecated_and_removed();
    live.groups.clear();
    let p = plan_at(&d, &live, day("2027-01-01"));
    assert!(blockers(&p)[0].contains("consumer groups of topic sales.orders were not read"));
    assert_eq!(
        activity_topics(&p, &d, &live),
        ["sales.orders".to_string()].into()
    );
}

#[test]
fn a_topic_another_declared_product_uses_is_never_deleted() {
    let (mut d, live) = deprecated_and_removed();
    d.topics.insert(
        "sales.orders".into(),
        topic(
            "sales.orders-v2",
            "sales.orders",
            3,
            &[("retention.ms", "86400000")],
        ),
    );
    d.catalog.insert(
        "sales.orders-v2".into(),
        record("sales.orders-v2", "sales.orders", &["retention.ms"]),
    );
    let p = plan_at(&d, &live, day("2027-01-01"));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(
        p.actions
            .iter()
            .any(|a| matches!(a, Action::RetireProduct { .. }))
    );
    assert!(
        !p.actions
            .iter()
            .any(|a| matches!(a, Action::DeleteTopic { .. } | Action::DeleteSubject { .. }))
    );
}

#[test]
fn partition_increases_on_keyed_or_compacted_topics_carry_their_impact() {
    let mut d = desired();
    d.consumers.push(consumer("sales.orders"));
    let mut derived = record("finance.revenue", "finance.revenue", &[]);
    derived.inputs = vec!["sales.orders".into()];
    d.catalog.insert("finance.revenue".into(), derived);
    let mut live = applied();
    live.groups.insert(
        "sales.orders".into(),
        vec![group(
            "finance.billing",
            "Stable",
            1,
            Some(day("2026-11-20")),
        )],
    );
    d.topics.get_mut("sales.orders").unwrap().partitions = 6;
    // A plain topic: no impact.
    assert!(plan_at(&d, &live, day("2026-11-22")).impacts.is_empty());
    // Compacted.
    d.topics
        .get_mut("sales.orders")
        .unwrap()
        .config
        .insert("cleanup.policy".into(), "compact,delete".into());
    let p = plan_at(&d, &live, day("2026-11-22"));
    assert_eq!(p.impacts.len(), 1, "{:?}", p.impacts);
    let i = &p.impacts[0];
    assert_eq!(i.kind, ImpactKind::PartitionIncrease);
    assert!(
        i.change.contains("compacted topic sales.orders"),
        "{}",
        i.change
    );
    assert_eq!(i.downstream[0].id, "finance.revenue");
    assert_eq!(i.consumers[0].owners, ["@acme/finance"]);
    assert_eq!(i.groups[0].group, "finance.billing");
    assert_eq!(
        activity_topics(&p, &d, &live),
        ["sales.orders".to_string()].into()
    );
    // Keyed.
    d.topics
        .get_mut("sales.orders")
        .unwrap()
        .config
        .remove("cleanup.policy");
    let mut keyed = with_subject(V1, "BACKWARD");
    keyed.subjects.insert(
        "sales.orders-key".into(),
        DesiredSubject {
            subject: "sales.orders-key".into(),
            ..keyed.subjects["sales.orders-value"].clone()
        },
    );
    d.subjects = keyed.subjects;
    let p = plan_at(&d, &live, day("2026-11-22"));
    assert!(
        p.impacts[0].change.contains("keyed topic"),
        "{:?}",
        p.impacts
    );
}

#[test]
fn a_consumer_losing_read_and_an_incompatible_schema_carry_their_impact() {
    let mut d = desired();
    d.principal_owners.insert(
        "User:gone".into(),
        PrincipalOwner {
            domain: "finance".into(),
            name: "gone".into(),
            owners: vec!["@acme/finance".into()],
        },
    );
    d.principals.insert("User:gone".into());
    let mut live = applied();
    live.acls.insert(AclBinding::allow(
        "User:gone",
        ResourceType::Topic,
        "sales.orders",
        PatternType::Literal,
        Operation::Read,
    ));
    let p = plan_at(&d, &live, 0);
    assert_eq!(p.impacts.len(), 1);
    assert_eq!(p.impacts[0].kind, ImpactKind::NarrowedAccess);
    assert_eq!(p.impacts[0].product, "sales.orders");
    assert!(
        p.impacts[0]
            .change
            .contains("User:gone (finance/gone, owners: @acme/finance) loses READ"),
        "{}",
        p.impacts[0].change
    );

    let live = RefCell::new(empty());
    let reg = FakeRegistry::default();
    apply_with(&plan(&with_subject(V1, "BACKWARD"), &empty()), &live, &reg);
    let required = V1.replace(r#"}]}"#, r#"},{"name":"total","type":"long"}]}"#);
    let mut d = with_subject(&required, "BACKWARD");
    d.consumers.push(consumer("sales.orders"));
    let p = plan_at(&d, &live.borrow(), 0);
    assert!(!p.errors.is_empty());
    let i = p
        .impacts
        .iter()
        .find(|i| i.kind == ImpactKind::IncompatibleSchema)
        .expect("an impact for the incompatible schema");
    assert_eq!(i.consumers[0].domain, "finance");
}

#[test]
fn consumers_of_deprecated_products_are_warned_with_sunset_and_replacement() {
    let mut d = desired();
    d.consumers.push(consumer("sales.orders"));
    assert!(plan_at(&d, &applied(), 0).deprecations.is_empty());
    let r = d.catalog.get_mut("sales.orders").unwrap();
    r.status = "deprecated".into();
    r.deprecation = Some(
        [
            ("sunset".to_string(), "2026-12-01".to_string()),
            ("replacement".to_string(), "sales.orders-v2".to_string()),
        ]
        .into(),
    );
    let w = plan_at(&d, &applied(), 0).deprecations;
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].describe(),
        "finance/billing (domains/finance/domain.toml:9, owners: @acme/finance) consumes sales.orders, which is deprecated: sunset 2026-12-01, move to sales.orders-v2"
    );
}
