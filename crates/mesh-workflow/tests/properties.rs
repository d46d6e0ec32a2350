//! The planner as a property, driven through the workflow the binary runs: for generated desired
//! states and overlapping live states (with unmanaged topics, ACLs and subjects among them),
//! - applying the plan to an in-memory cluster and planning again gives no actions;
//! - a plan never names, and its apply never changes, a topic, ACL or subject `mesh` does not
//!   manage;
//! - the apply's writes reach the cluster in SPEC §4's phase order.
//!
//! Names come from small pools so that desired and live overlap often; every generator is built
//! from proptest's collections and `select`s, so a failure shrinks to a handful of resources.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{CATALOG, Memory, Rank, World, acl_name, empty_report};
use mesh_plan::apply::Target;
use mesh_plan::registry::{LiveSubject, RegisteredSchema};
use mesh_plan::*;
use mesh_workflow::{ApplyRun, Readers};
use proptest::prelude::*;
use proptest::sample::select;

const V1: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;
/// V1 with a field that has a default: compatible with V1 both ways, at every level.
const V2: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"note","type":["null","string"],"default":null}]}"#;
/// V1 laid out differently: the same schema once normalised (no new version).
const V1_SPACED: &str = "{\n  \"type\": \"record\",\n  \"name\": \"Order\",\n  \"fields\": [{\"name\": \"id\", \"type\": \"string\"}]\n}";
const J1: &str = r#"{"type":"object","properties":{"id":{"type":"string"}}}"#;
const J2: &str =
    r#"{"type":"object","properties":{"id":{"type":"string"},"n":{"type":"integer"}}}"#;

const LEVELS: [&str; 3] = ["NONE", "BACKWARD", "FULL"];
const CONFIG_KEYS: [&str; 3] = ["retention.ms", "cleanup.policy", "max.message.bytes"];
/// Declared principals (managed ACLs), then principals the repo does not know.
const PRINCIPALS: [&str; 5] = ["User:p0", "User:p1", "User:p2", "User:u0", "User:u1"];
const DECLARED: usize = 3;
/// Product `i` has topic `t{i}`; products 0..4 may be declared, 4..6 only recorded.
const PRODUCTS: usize = 6;
const UNMANAGED_TOPICS: [&str; 2] = ["x0", "x1"];

fn config_value(key: &str) -> BoxedStrategy<String> {
    match key {
        "retention.ms" => select(vec!["86400000", "604800000", "-1"]),
        "cleanup.policy" => select(vec!["delete", "compact", "compact,delete"]),
        _ => select(vec!["1048588", "2097152"]),
    }
    .prop_map(str::to_string)
    .boxed()
}

fn configs() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_set(select(CONFIG_KEYS.to_vec()), 0..=3).prop_flat_map(|keys| {
        keys.into_iter()
            .map(|k| config_value(k).prop_map(move |v| (k.to_string(), v)))
            .collect::<Vec<_>>()
            .prop_map(|pairs| pairs.into_iter().collect::<BTreeMap<_, _>>())
    })
}

fn acl(principals: std::ops::Range<usize>) -> impl Strategy<Value = AclBinding> {
    let resources: Vec<String> = (0..PRODUCTS)
        .map(|i| format!("t{i}"))
        .chain(UNMANAGED_TOPICS.iter().map(|t| t.to_string()))
        .collect();
    (
        principals,
        select(resources),
        select(vec![Operation::Read, Operation::Write, Operation::Describe]),
        select(vec![PatternType::Literal, PatternType::Prefixed]),
    )
        .prop_map(|(p, name, op, pattern)| {
            AclBinding::allow(PRINCIPALS[p], ResourceType::Topic, &name, pattern, op)
        })
}

/// One declared product.
#[derive(Clone, Debug)]
struct Product {
    partitions: i32,
    config: BTreeMap<String, String>,
    /// `t{i}-value`: an Avro schema and its level.
    value: Option<(&'static str, &'static str)>,
    /// `t{i}-key`: a JSON schema and its level.
    key: Option<(&'static str, &'static str)>,
    description: &'static str,
}

fn product() -> impl Strategy<Value = Product> {
    (
        1..=4i32,
        configs(),
        proptest::option::of((select(vec![V1, V2, V1_SPACED]), select(LEVELS.to_vec()))),
        proptest::option::of((select(vec![J1, J2]), select(LEVELS.to_vec()))),
        select(vec!["orders", "all orders"]),
    )
        .prop_map(|(partitions, config, value, key, description)| Product {
            partitions,
            config,
            value,
            key,
            description,
        })
}

fn record(i: usize, description: &str, declared: Vec<String>) -> CatalogRecord {
    CatalogRecord {
        product: format!("d.p{i}"),
        domain: "d".into(),
        topic: format!("t{i}"),
        description: description.into(),
        owners: vec!["@acme/d".into()],
        quality: "raw".into(),
        sla: "tier-3".into(),
        status: "active".into(),
        tags: vec![],
        inputs: vec![],
        declared_configs: declared,
        deprecation: None,
        revision: None,
        applied_at: String::new(),
        applied: None,
    }
}

fn desired_state() -> impl Strategy<Value = DesiredState> {
    (
        proptest::collection::btree_map(0..4usize, product(), 0..=4),
        proptest::collection::btree_set(acl(0..DECLARED), 0..=6),
    )
        .prop_map(|(products, acls)| {
            let mut d = DesiredState {
                catalog_topic: CATALOG.into(),
                retire_idle_days: 7,
                principals: PRINCIPALS[..DECLARED]
                    .iter()
                    .map(|p| p.to_string())
                    .collect(),
                acls,
                ..Default::default()
            };
            for (i, p) in products {
                let id = format!("d.p{i}");
                let topic = format!("t{i}");
                d.topics.insert(
                    topic.clone(),
                    DesiredTopic {
                        product: id.clone(),
                        name: topic.clone(),
                        partitions: p.partitions,
                        replication_factor: 1,
                        config: p.config.clone().into(),
                    },
                );
                for (suffix, schema_type, schema) in
                    [("value", "AVRO", p.value), ("key", "JSON", p.key)]
                {
                    let Some((text, level)) = schema else {
                        continue;
                    };
                    let subject = format!("{topic}-{suffix}");
                    d.subjects.insert(
                        subject.clone(),
                        DesiredSubject {
                            product: id.clone(),
                            subject,
                            schema_type: schema_type.into(),
                            schema: text.into(),
                            file: format!("domains/d/schemas/{topic}-{suffix}"),
                            compatibility: level.into(),
                        },
                    );
                }
                let declared = p.config.keys().cloned().collect();
                d.catalog.insert(id, record(i, p.description, declared));
            }
            d
        })
}

/// A topic as the cluster has it; `below` partitions fewer than a declared one wants (so most
/// plans can grow it; the rest are refused as decreases).
#[derive(Clone, Debug)]
struct Topic {
    partitions: i32,
    below: i32,
    dynamic: BTreeMap<String, String>,
    defaults: BTreeMap<String, String>,
}

fn topic() -> impl Strategy<Value = Topic> {
    (
        1..=4i32,
        prop_oneof![4 => 0..=2i32, 1 => Just(-1)],
        configs(),
        configs(),
    )
        .prop_map(|(partitions, below, dynamic, defaults)| Topic {
            partitions,
            below,
            dynamic,
            defaults,
        })
}

/// A catalog record as the cluster has it: stale or current content, and for products no
/// longer declared, a status that mostly allows their retirement.
#[derive(Clone, Debug)]
struct Recorded {
    description: &'static str,
    declared: BTreeSet<&'static str>,
    retirable: bool,
}

fn recorded() -> impl Strategy<Value = Recorded> {
    (
        select(vec!["orders", "old orders"]),
        proptest::collection::btree_set(select(CONFIG_KEYS.to_vec()), 0..=3),
        prop_oneof![4 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(description, declared, retirable)| Recorded {
            description,
            declared,
            retirable,
        })
}

fn subject(texts: Vec<&'static str>) -> impl Strategy<Value = LiveSubject> {
    (
        proptest::option::of(select(texts)),
        proptest::option::of(select(LEVELS.to_vec())),
        any::<bool>(),
    )
        .prop_map(|(text, level, half_deleted)| {
            let latest = text.map(|t| RegisteredSchema {
                version: 1,
                id: 1,
                schema_type: if t.contains("record") { "AVRO" } else { "JSON" }.into(),
                schema: t.into(),
            });
            LiveSubject {
                history: latest.iter().cloned().collect(),
                // Only a subject without a live version can be left soft-deleted.
                soft_deleted: latest.is_none() && half_deleted,
                latest,
                compatibility: level.map(str::to_string),
            }
        })
}

/// What the cluster holds, before the desired state is known (overlaps come from the pools).
#[derive(Clone, Debug)]
struct Live {
    brokers: usize,
    catalog_topic: bool,
    topics: BTreeMap<usize, Topic>,
    unmanaged: BTreeMap<usize, Topic>,
    acls: BTreeSet<AclBinding>,
    catalog: BTreeMap<usize, Recorded>,
    values: BTreeMap<usize, LiveSubject>,
    keys: BTreeMap<usize, LiveSubject>,
    unmanaged_subject: Option<LiveSubject>,
}

fn live() -> impl Strategy<Value = Live> {
    (
        (1..=3usize, prop_oneof![3 => Just(true), 1 => Just(false)]),
        proptest::collection::btree_map(0..PRODUCTS, topic(), 0..=PRODUCTS),
        proptest::collection::btree_map(0..UNMANAGED_TOPICS.len(), topic(), 0..=2),
        proptest::collection::btree_set(acl(0..PRINCIPALS.len()), 0..=8),
        proptest::collection::btree_map(0..PRODUCTS, recorded(), 0..=PRODUCTS),
        proptest::collection::btree_map(0..PRODUCTS, subject(vec![V1, V2, V1_SPACED]), 0..=3),
        proptest::collection::btree_map(0..PRODUCTS, subject(vec![J1, J2]), 0..=2),
        proptest::option::of(subject(vec![V1, V2])),
    )
        .prop_map(
            |((brokers, catalog_topic), topics, unmanaged, acls, catalog, values, keys, other)| {
                Live {
                    brokers,
                    catalog_topic,
                    topics,
                    unmanaged,
                    acls,
                    catalog,
                    values,
                    keys,
                    unmanaged_subject: other,
                }
            },
        )
}

fn live_topic(name: &str, t: &Topic, partitions: i32) -> LiveTopic {
    let config = |m: &BTreeMap<String, String>, source| {
        m.iter()
            .map(move |(k, v)| {
                let c = LiveConfig {
                    value: Some(v.clone()),
                    source,
                };
                (k.clone(), c)
            })
            .collect::<Vec<_>>()
    };
    // A key set on the topic hides the broker's default for it.
    let mut configs: BTreeMap<String, LiveConfig> = config(&t.defaults, ConfigSource::Default)
        .into_iter()
        .collect();
    configs.extend(config(&t.dynamic, ConfigSource::DynamicTopic));
    LiveTopic {
        name: name.into(),
        partitions,
        replication_factor: 1,
        configs: configs.into(),
    }
}

/// The cluster for a desired state: generated resources laid over the pools.
fn world(d: &DesiredState, l: &Live) -> World {
    let mut w = World {
        brokers: l.brokers,
        acls: l.acls.clone(),
        ..Default::default()
    };
    for (&i, t) in &l.topics {
        let name = format!("t{i}");
        let partitions = match d.topics.get(&name) {
            Some(want) if t.below >= 0 => (want.partitions - t.below).max(1),
            _ => t.partitions,
        };
        w.topics
            .insert(name.clone(), live_topic(&name, t, partitions));
    }
    for (&i, t) in &l.unmanaged {
        let name = UNMANAGED_TOPICS[i];
        w.topics
            .insert(name.into(), live_topic(name, t, t.partitions));
    }
    if l.catalog_topic {
        w.catalog_topic = Some(CATALOG.into());
        for (&i, r) in &l.catalog {
            let id = format!("d.p{i}");
            let declared = r.declared.iter().map(|k| k.to_string()).collect();
            let mut rec = record(i, r.description, declared);
            if !d.catalog.contains_key(&id) && r.retirable {
                rec.status = "deprecated".into();
                rec.deprecation = Some([("sunset".to_string(), "2020-01-01".to_string())].into());
            }
            w.catalog.insert(id, rec);
        }
    }
    for (&i, s) in &l.values {
        w.subjects.insert(format!("t{i}-value"), s.clone());
    }
    for (&i, s) in &l.keys {
        w.subjects.insert(format!("t{i}-key"), s.clone());
    }
    if let Some(s) = &l.unmanaged_subject {
        w.subjects.insert("x0-value".into(), s.clone());
    }
    w
}

/// What `mesh` manages on this cluster: the repo's topics and subjects, the catalog's (its
/// retirements), the catalog topic, and the ACLs of declared principals.
struct Managed {
    topics: BTreeSet<String>,
    subjects: BTreeSet<String>,
    principals: BTreeSet<String>,
}

impl Managed {
    fn of(d: &DesiredState, before: &World) -> Self {
        let mut topics: BTreeSet<String> = d.topics.keys().cloned().collect();
        let mut subjects: BTreeSet<String> = d.subjects.keys().cloned().collect();
        topics.insert(CATALOG.into());
        for r in before.catalog.values() {
            topics.insert(r.topic.clone());
            subjects.insert(format!("{}-value", r.topic));
            subjects.insert(format!("{}-key", r.topic));
        }
        Managed {
            topics,
            subjects,
            principals: d.principals.clone(),
        }
    }

    /// The name of an unmanaged resource an action touches, if any.
    fn foreign(&self, a: &Action) -> Option<String> {
        let topic = |t: &String| (!self.topics.contains(t)).then(|| format!("topic {t}"));
        match a {
            Action::CreateCatalogTopic { topic: t, .. }
            | Action::CreateTopic { topic: t, .. }
            | Action::AlterConfig { topic: t, .. }
            | Action::AddPartitions { topic: t, .. }
            | Action::DeleteTopic { topic: t, .. } => topic(t),
            Action::CreateAcl { binding } | Action::DeleteAcl { binding } => {
                (!self.principals.contains(&*binding.principal))
                    .then(|| format!("ACL {}", acl_name(binding)))
            }
            Action::SetCompatibility { subject, .. }
            | Action::RegisterSchema { subject, .. }
            | Action::DeleteSubject { subject, .. } => {
                (!self.subjects.contains(subject)).then(|| format!("subject {subject}"))
            }
            Action::UpsertCatalog { .. } | Action::RetireProduct { .. } => None,
            // Generated states have no connectors (tests/connectors.rs covers them).
            Action::CreateConnector { connector, .. }
            | Action::UpdateConnector { connector, .. }
            | Action::SetConnectorState { connector, .. }
            | Action::DeleteConnector { connector, .. } => Some(format!("connector {connector}")),
        }
    }

    /// The part of a cluster `mesh` must leave alone.
    fn unmanaged_part(&self, w: &World) -> World {
        World {
            topics: w
                .topics
                .iter()
                .filter(|(t, _)| !self.topics.contains(*t))
                .map(|(t, v)| (t.clone(), v.clone()))
                .collect(),
            acls: w
                .acls
                .iter()
                .filter(|b| !self.principals.contains(&*b.principal))
                .cloned()
                .collect(),
            subjects: w
                .subjects
                .iter()
                .filter(|(s, _)| !self.subjects.contains(*s))
                .map(|(s, v)| (s.clone(), v.clone()))
                .collect(),
            ..Default::default()
        }
    }
}

fn now_ms() -> i64 {
    mesh_plan::lifecycle::date_ms("2026-06-01").expect("a date")
}

fn plan(report: &mesh_check::Report, d: &DesiredState, m: &Memory) -> mesh_workflow::Planned {
    let readers = Readers {
        connect: None,
        cluster: m,
        registry: Some(m),
    };
    mesh_workflow::plan(report, d, readers, now_ms(), &mut |_| {})
        .expect("the in-memory cluster answers")
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn plans_converge_touch_only_managed_resources_and_apply_in_phase_order(
        d in desired_state(),
        l in live(),
    ) {
        let report = empty_report();
        let before = world(&d, &l);
        let m = Memory::new(before.clone());
        let managed = Managed::of(&d, &before);
        let planned = plan(&report, &d, &m);
        for a in &planned.plan.actions {
            prop_assert_eq!(managed.foreign(a), None, "{:#?}", a);
        }
        if !planned.plan.errors.is_empty() {
            // Refused as a whole: nothing to apply.
            return Ok(());
        }
        let run = ApplyRun {
            stop: &|| false,
            target: Target { cluster: &m, registry: Some(&m), connect: None, before_connectors: None },
            reader: &m,
            live: &planned.live,
            principals: &planned.request.principals,
            catalog_topic: CATALOG,
            now: "2026-06-01T00:00:00Z",
        };
        let applied = mesh_workflow::apply(&planned.plan, &run, &mut |_, _, _| {}, &mut || false);
        prop_assert_eq!(applied.report.failed(), 0, "{:?}", applied.report);
        prop_assert!(applied.acls_settled);

        let after = m.world();
        prop_assert_eq!(managed.unmanaged_part(&after), managed.unmanaged_part(&before));
        let log = m.log.lock().unwrap().clone();
        for pair in log.windows(2) {
            prop_assert!(pair[0].0 <= pair[1].0, "{:?} before {:?}", pair[0], pair[1]);
        }
        // Everything the plan said was written, in one item each.
        prop_assert_eq!(log.len(), planned.plan.actions.len(), "{:#?}", log);
        prop_assert!(log.iter().all(|(rank, _, _)| *rank <= Rank::Catalog));

        let again = plan(&report, &d, &m);
        prop_assert!(again.plan.errors.is_empty(), "{:#?}", again.plan.errors);
        prop_assert!(again.plan.actions.is_empty(), "{:#?}", again.plan.actions);
    }
}
