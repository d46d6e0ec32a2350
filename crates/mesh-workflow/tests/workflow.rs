//! The workflow on an in-memory cluster: a plan converges, and each kind of adapter failure
//! reaches the caller with its step, its kind and its message intact.

mod common;

use common::{CATALOG, Memory, World, empty_report};
use mesh_plan::apply::{Outcome, Target};
use mesh_plan::*;
use mesh_workflow::{ApplyRun, Note, Readers, Step, WorkflowError};

const V1: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;
const V2: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"note","type":["null","string"],"default":null}]}"#;

fn desired(schema: &str) -> DesiredState {
    let mut d = DesiredState {
        catalog_topic: CATALOG.into(),
        retire_idle_days: 7,
        ..Default::default()
    };
    d.topics.insert(
        "sales.orders".into(),
        DesiredTopic {
            product: "sales.orders".into(),
            name: "sales.orders".into(),
            partitions: 3,
            replication_factor: 1,
            config: [("retention.ms".to_string(), "86400000".to_string())].into(),
        },
    );
    d.principals.insert("User:svc".into());
    d.acls.insert(AclBinding::allow(
        "User:svc",
        ResourceType::Topic,
        "sales.orders",
        PatternType::Literal,
        Operation::Write,
    ));
    d.subjects.insert(
        "sales.orders-value".into(),
        DesiredSubject {
            product: "sales.orders".into(),
            subject: "sales.orders-value".into(),
            schema_type: "AVRO".into(),
            schema: schema.into(),
            file: "domains/sales/schemas/orders.avsc".into(),
            compatibility: "BACKWARD".into(),
        },
    );
    d.catalog.insert(
        "sales.orders".into(),
        CatalogRecord {
            product: "sales.orders".into(),
            domain: "sales".into(),
            topic: "sales.orders".into(),
            description: "orders".into(),
            owners: vec!["@acme/sales".into()],
            quality: "raw".into(),
            sla: "tier-3".into(),
            status: "active".into(),
            tags: vec![],
            inputs: vec![],
            declared_configs: vec!["retention.ms".into()],
            deprecation: None,
            revision: None,
            applied_at: String::new(),
            applied: None,
        },
    );
    d
}

fn world() -> World {
    World {
        brokers: 1,
        ..Default::default()
    }
}

fn plan(
    report: &mesh_check::Report,
    d: &DesiredState,
    m: &Memory,
) -> Result<mesh_workflow::Planned, WorkflowError> {
    let readers = Readers {
        connect: None,
        cluster: m,
        registry: Some(m),
    };
    mesh_workflow::plan(report, d, readers, 0, &mut |_| {})
}

fn apply(planned: &mesh_workflow::Planned, m: &Memory) -> mesh_workflow::Applied {
    let run = ApplyRun {
        stop: &|| false,
        target: Target {
            cluster: m,
            registry: Some(m),
            connect: None,
            before_connectors: None,
        },
        reader: m,
        live: &planned.live,
        principals: &planned.request.principals,
        catalog_topic: CATALOG,
        now: "2026-01-01T00:00:00Z",
    };
    mesh_workflow::apply(&planned.plan, &run, &mut |_, _, _| {}, &mut || false)
}

#[test]
fn a_plan_applied_converges_and_a_schema_change_is_one_new_version() {
    let report = empty_report();
    let m = Memory::new(world());
    let first = plan(&report, &desired(V1), &m).unwrap();
    assert!(first.plan.errors.is_empty(), "{:?}", first.plan.errors);
    let applied = apply(&first, &m);
    assert_eq!(applied.report.failed(), 0, "{:?}", applied.report);
    assert!(applied.acls_settled);
    let again = plan(&report, &desired(V1), &m).unwrap();
    assert!(again.plan.is_empty(), "{:#?}", again.plan.actions);
    let evolved = plan(&report, &desired(V2), &m).unwrap();
    assert!(
        matches!(
            evolved.plan.actions.as_slice(),
            [Action::RegisterSchema {
                previous: Some(_),
                ..
            }]
        ),
        "{:#?}",
        evolved.plan.actions
    );
    apply(&evolved, &m);
    assert!(plan(&report, &desired(V2), &m).unwrap().plan.is_empty());
}

fn kinds() -> Vec<ErrorKind> {
    vec![
        ErrorKind::Unreachable,
        ErrorKind::TimedOut,
        ErrorKind::Unauthenticated,
        ErrorKind::Unauthorized {
            operation: "describe ACLs".into(),
        },
        ErrorKind::Invalid,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Other,
    ]
}

#[test]
fn each_kind_of_read_failure_stops_the_plan_with_its_step_kind_and_message() {
    let report = empty_report();
    // An existing subject with an older version, so that the gate asks the registry; a retired
    // product in the catalog, so that group activity is read.
    let mut w = world();
    let v1 = registry::RegisteredSchema {
        version: 1,
        id: 1,
        schema_type: "AVRO".into(),
        schema: V1.into(),
    };
    w.subjects.insert(
        "sales.orders-value".into(),
        registry::LiveSubject {
            latest: Some(v1.clone()),
            history: vec![v1],
            compatibility: Some("BACKWARD".into()),
            soft_deleted: false,
        },
    );
    w.catalog_topic = Some(CATALOG.into());
    let mut gone = desired(V1).catalog["sales.orders"].clone();
    gone.product = "sales.gone".into();
    gone.topic = "sales.gone".into();
    w.catalog.insert("sales.gone".into(), gone);
    for (call, step) in [
        ("read", Step::ReadCluster),
        ("read_subjects", Step::ReadRegistry),
        ("group_activity", Step::GroupActivity),
        ("check_compatibility", Step::Gate),
    ] {
        for kind in kinds() {
            let m = Memory::new(w.clone());
            let message = format!("{call} failed: {kind:?} (help: what to do)");
            m.fail_next(call, AdapterError::new(kind.clone(), &message));
            match plan(&report, &desired(V2), &m) {
                Err(e @ WorkflowError::Adapter { .. }) => {
                    assert_eq!(e.to_string(), message);
                    let WorkflowError::Adapter { step: s, error } = e else {
                        unreachable!()
                    };
                    assert_eq!((s, &error.kind), (step, &kind));
                    // Reads may always be sent again.
                    assert_eq!(
                        error.retryable(true),
                        matches!(kind, ErrorKind::Unreachable | ErrorKind::TimedOut)
                    );
                }
                other => panic!("{call} {kind:?}: {other:?}"),
            }
            assert!(m.log.lock().unwrap().is_empty(), "nothing is written");
        }
    }
}

#[test]
fn a_failed_apply_phase_keeps_its_kind_and_skips_the_rest() {
    let report = empty_report();
    for kind in kinds() {
        let m = Memory::new(world());
        let planned = plan(&report, &desired(V1), &m).unwrap();
        // The schemas phase: after the ACLs and the topic (SPEC §4).
        m.fail_next("register", AdapterError::new(kind.clone(), "refused"));
        let applied = apply(&planned, &m);
        let failed: Vec<&AdapterError> = applied
            .report
            .outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Failed(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(failed.len(), 1, "{kind:?}");
        assert_eq!(failed[0].kind, kind);
        // The product's topic exists: its catalog record is written all the same, holding only
        // what was applied (not its subject), so the catalog says what is there.
        assert!(
            applied
                .report
                .outcomes
                .iter()
                .zip(&planned.plan.actions)
                .any(|(o, a)| { matches!(a, Action::UpsertCatalog { .. }) && *o == Outcome::Done }),
            "{kind:?}"
        );
        let recorded = m.world().catalog["sales.orders"].clone();
        assert!(recorded.applied.is_none_or(|a| a.subjects.is_empty()));
        // A new plan made from what is there now finishes the job.
        let rest = plan(&report, &desired(V1), &m).unwrap();
        assert!(
            rest.plan
                .actions
                .iter()
                .any(|a| matches!(a, Action::RegisterSchema { .. })),
            "{kind:?}"
        );
        assert!(
            !rest
                .plan
                .actions
                .iter()
                .any(|a| matches!(a, Action::CreateAcl { .. })),
            "{kind:?}"
        );
        apply(&rest, &m);
        assert!(plan(&report, &desired(V1), &m).unwrap().plan.is_empty());
    }
}

#[test]
fn settling_looks_past_transient_read_failures_and_gives_up_on_others() {
    let report = empty_report();
    let m = Memory::new(world());
    let planned = plan(&report, &desired(V1), &m).unwrap();
    apply(&planned, &m);
    let mut pauses = 0;
    m.fail_next(
        "acls_of",
        AdapterError::new(ErrorKind::TimedOut, "describe ACLs timed out"),
    );
    let settled = mesh_workflow::settle_acls(
        &planned.plan,
        &planned.live,
        &planned.request.principals,
        &m,
        &mut || {
            pauses += 1;
            true
        },
    );
    assert!(settled);
    assert_eq!(pauses, 1, "one more look after the timeout");
    m.fail_next(
        "acls_of",
        AdapterError::new(
            ErrorKind::Unauthorized {
                operation: "describe ACLs".into(),
            },
            "not authorized",
        ),
    );
    let settled = mesh_workflow::settle_acls(
        &planned.plan,
        &planned.live,
        &planned.request.principals,
        &m,
        &mut || panic!("no waiting for what will not change"),
    );
    assert!(settled);
    // ACLs that never show: the caller decides when to stop waiting.
    let mut unseen = planned.plan.clone();
    unseen.actions.push(Action::CreateAcl {
        binding: AclBinding::allow(
            "User:svc",
            ResourceType::Topic,
            "never",
            PatternType::Literal,
            Operation::Read,
        ),
    });
    let mut looks = 0;
    let settled = mesh_workflow::settle_acls(
        &unseen,
        &planned.live,
        &planned.request.principals,
        &m,
        &mut || {
            looks += 1;
            looks < 3
        },
    );
    assert!(!settled);
}

#[test]
fn a_degraded_cluster_is_a_note_and_still_planned() {
    struct Degraded(Memory);
    impl ClusterReader for Degraded {
        fn read(&self, r: &ReadRequest) -> Result<LiveState, AdapterError> {
            self.0.read(r)
        }
        fn acls_of(
            &self,
            p: &std::collections::BTreeSet<String>,
        ) -> Result<std::collections::BTreeSet<AclBinding>, AdapterError> {
            self.0.acls_of(p)
        }
        fn group_activity(
            &self,
            t: &std::collections::BTreeSet<String>,
        ) -> Result<std::collections::BTreeMap<String, Vec<GroupActivity>>, AdapterError> {
            self.0.group_activity(t)
        }
        fn health_note(&self, _: &std::collections::BTreeSet<String>) -> Option<String> {
            Some("broker(s) 2 hold replicas but did not answer".into())
        }
    }
    let report = empty_report();
    let m = Degraded(Memory::new(world()));
    let mut notes = Vec::new();
    let readers = Readers {
        connect: None,
        cluster: &m,
        registry: Some(&m.0),
    };
    mesh_workflow::plan(&report, &desired(V1), readers, 0, &mut |n| notes.push(n)).unwrap();
    assert_eq!(
        notes,
        vec![Note::Health(
            "broker(s) 2 hold replicas but did not answer".into()
        )]
    );
}

#[test]
fn a_saved_plan_s_reread_sees_what_the_plan_saw_and_fails_like_a_plan() {
    let report = empty_report();
    let m = Memory::new(world());
    let planned = plan(&report, &desired(V1), &m).unwrap();
    let readers = Readers {
        connect: None,
        cluster: &m,
        registry: Some(&m),
    };
    let subjects = planned.live.subjects.keys().cloned().collect();
    let again =
        mesh_workflow::reread(readers, &planned.request, &subjects, &Default::default()).unwrap();
    assert_eq!(again, planned.live);
    for (call, step) in [
        ("read", Step::ReadCluster),
        ("read_subjects", Step::ReadRegistry),
    ] {
        m.fail_next(call, AdapterError::new(ErrorKind::TimedOut, "no answer"));
        let e = mesh_workflow::reread(readers, &planned.request, &subjects, &Default::default())
            .unwrap_err();
        assert!(
            matches!(e, WorkflowError::Adapter { step: s, ref error } if s == step && error.kind == ErrorKind::TimedOut),
            "{e:?}"
        );
    }
}

/// Carries each write out, then loses the answer of the first call of each kind (as a timeout
/// would): the request reached the cluster, the caller cannot tell.
struct LosesFirstAnswers<'a> {
    m: &'a Memory,
    lost: std::sync::Mutex<std::collections::BTreeSet<&'static str>>,
}

impl LosesFirstAnswers<'_> {
    fn lose<T>(&self, call: &'static str, r: T) -> Result<T, AdapterError> {
        if self.lost.lock().unwrap().insert(call) {
            Err(AdapterError::new(
                ErrorKind::TimedOut,
                format!("{call}: no answer in time"),
            ))
        } else {
            Ok(r)
        }
    }

    fn lose_all(
        &self,
        call: &'static str,
        r: Vec<Result<(), AdapterError>>,
    ) -> Vec<Result<(), AdapterError>> {
        match self.lose(call, ()) {
            Ok(()) => r,
            Err(e) => r.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}

impl ClusterWriter for LosesFirstAnswers<'_> {
    fn create_topics(&self, t: &[NewTopic]) -> Vec<Result<(), AdapterError>> {
        self.lose_all("create_topics", self.m.create_topics(t))
    }
    fn alter_configs(&self, c: &[ConfigChange]) -> Vec<Result<(), AdapterError>> {
        self.lose_all("alter_configs", self.m.alter_configs(c))
    }
    fn create_partitions(&self, t: &[(String, i32)]) -> Vec<Result<(), AdapterError>> {
        self.lose_all("create_partitions", self.m.create_partitions(t))
    }
    fn create_acls(&self, a: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        self.lose_all("create_acls", self.m.create_acls(a))
    }
    fn delete_acls(&self, a: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        self.lose_all("delete_acls", self.m.delete_acls(a))
    }
    fn delete_topics(&self, t: &[String]) -> Vec<Result<(), AdapterError>> {
        self.lose_all("delete_topics", self.m.delete_topics(t))
    }
    fn write_catalog(
        &self,
        topic: &str,
        records: &[(String, Option<CatalogRecord>)],
    ) -> Result<(), AdapterError> {
        let r = self.m.write_catalog(topic, records);
        self.lose("write_catalog", ())?;
        r
    }
}

impl registry::RegistryWriter for LosesFirstAnswers<'_> {
    fn set_compatibility(&self, subject: &str, level: &str) -> Result<(), AdapterError> {
        self.m.set_compatibility(subject, level)?;
        self.lose("set_compatibility", ())
    }
    fn register(&self, subject: &str, t: &str, schema: &str) -> Result<i32, AdapterError> {
        let r = self.m.register(subject, t, schema)?;
        self.lose("register", r)
    }
    fn delete_subject(&self, subject: &str) -> Result<(), AdapterError> {
        self.m.delete_subject(subject)?;
        self.lose("delete_subject", ())
    }
}

impl registry::RegistryReader for LosesFirstAnswers<'_> {
    fn read_subjects(
        &self,
        subjects: &std::collections::BTreeSet<String>,
    ) -> Result<std::collections::BTreeMap<String, registry::LiveSubject>, AdapterError> {
        self.m.read_subjects(subjects)
    }
    fn check_compatibility(
        &self,
        subject: &str,
        schema_type: &str,
        schema: &str,
        level: Option<&str>,
    ) -> Result<registry::Compatibility, AdapterError> {
        self.m
            .check_compatibility(subject, schema_type, schema, level)
    }
}

struct NoWait;

impl mesh_workflow::Pause for NoWait {
    fn pause(&self, _: std::time::Duration) -> bool {
        true
    }
}

#[test]
fn lost_answers_are_retried_where_idempotent_and_looked_up_where_not() {
    let report = empty_report();
    let m = Memory::new(world());
    let first = plan(&report, &desired(V1), &m).unwrap();
    let lossy = LosesFirstAnswers {
        m: &m,
        lost: Default::default(),
    };
    let heard = std::sync::Mutex::new(Vec::new());
    let retry = mesh_workflow::Retry {
        policy: mesh_workflow::RetryPolicy::default(),
        pause: &NoWait,
        on_retry: &|r| heard.lock().unwrap().push(r.operation.clone()),
    };
    let writer = mesh_workflow::RetryingWriter {
        writer: &lossy,
        reader: &m,
        catalog_topic: CATALOG,
        retry: &retry,
    };
    let registry = mesh_workflow::Retrying {
        inner: &lossy,
        retry: &retry,
    };
    let run = ApplyRun {
        stop: &|| false,
        target: Target {
            cluster: &writer,
            registry: Some(&registry),
            connect: None,
            before_connectors: None,
        },
        reader: &m,
        live: &first.live,
        principals: &first.request.principals,
        catalog_topic: CATALOG,
        now: "2026-01-01T00:00:00Z",
    };
    let applied = mesh_workflow::apply(&first.plan, &run, &mut |_, _, _| {}, &mut || false);
    assert_eq!(applied.report.failed(), 0, "{:?}", applied.report);
    assert_eq!(applied.report.done(), first.plan.actions.len());
    // Topics and ACLs were looked up, found as planned and not sent a second time; the
    // idempotent registry writes and the catalog were sent again.
    let calls = |call: &str| {
        m.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, c, _)| *c == call)
            .count()
    };
    assert_eq!(
        calls("create_topics"),
        2,
        "the catalog topic and sales.orders, once each"
    );
    assert_eq!(calls("create_acls"), 1);
    assert_eq!(calls("register"), 2, "sent again: same text, same id");
    let w = m.world();
    assert_eq!(
        w.subjects["sales.orders-value"].history.len(),
        1,
        "no second version"
    );
    assert!(plan(&report, &desired(V1), &m).unwrap().plan.is_empty());
    assert!(heard.lock().unwrap().contains(&"create topics".to_owned()));
}

/// `change` rules are evaluated a part of the plan at a time: an action far past the first part
/// (the deletion of a tier-1 topic after 1,200 other retirements) is still judged, once.
#[test]
fn change_rules_judge_every_action_of_a_large_plan() {
    let files: std::collections::BTreeMap<String, Vec<u8>> = [(
        "mesh.toml".to_string(),
        b"[mesh]\nname = \"big\"\npolicy_packs = [\"baseline\"]\n\n[environments.mem]\nbootstrap_servers = \"mem:9092\"\n"
            .to_vec(),
    )]
    .into();
    let report = mesh_check::validate(
        &files,
        Some("mem"),
        mesh_model::doc::Date::from_unix_days(20_000),
    );
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let mut w = World {
        brokers: 1,
        catalog_topic: Some(CATALOG.into()),
        ..Default::default()
    };
    let retired = |name: &str, sla: &str| CatalogRecord {
        product: format!("old.{name}"),
        domain: "old".into(),
        topic: format!("old.{name}"),
        description: "gone".into(),
        owners: vec!["@acme/old".into()],
        quality: "raw".into(),
        sla: sla.into(),
        status: "deprecated".into(),
        tags: vec![],
        inputs: vec![],
        declared_configs: vec![],
        // Past its sunset at the plan's clock (the epoch): free to retire.
        deprecation: Some(
            [
                ("since".to_string(), "1969-01-01".to_string()),
                ("sunset".to_string(), "1969-06-01".to_string()),
            ]
            .into(),
        ),
        revision: None,
        applied_at: String::new(),
        applied: None,
    };
    let names: Vec<String> = (0..1_200)
        .map(|i| format!("p{i:04}"))
        .chain(["zz-tier-one".to_string()])
        .collect();
    for name in &names {
        let sla = if name.starts_with("zz") {
            "tier-1"
        } else {
            "tier-3"
        };
        let record = retired(name, sla);
        w.topics.insert(
            record.topic.clone(),
            LiveTopic {
                name: record.topic.clone(),
                partitions: 1,
                replication_factor: 1,
                configs: Default::default(),
            },
        );
        w.catalog.insert(record.product.clone(), record);
    }
    let m = Memory::new(w);
    let d = DesiredState {
        catalog_topic: CATALOG.into(),
        retire_idle_days: 7,
        ..Default::default()
    };
    let planned = plan(&report, &d, &m).expect("a plan");
    let deletes: Vec<usize> = planned
        .plan
        .actions
        .iter()
        .enumerate()
        .filter(|(_, a)| matches!(a, Action::DeleteTopic { .. }))
        .map(|(i, _)| i)
        .collect();
    let first = planned.plan.errors.first();
    assert_eq!(deletes.len(), names.len(), "{first:?}");
    let tier_one = planned
        .plan
        .actions
        .iter()
        .position(|a| matches!(a, Action::DeleteTopic { topic, .. } if topic == "old.zz-tier-one"))
        .expect("the tier-1 topic's deletion is planned");
    assert!(tier_one > 1_000, "at {tier_one}: not past the first part");
    let refused: Vec<&PlanError> = planned
        .plan
        .errors
        .iter()
        .filter(|e| e.message.contains("tier-1"))
        .collect();
    assert_eq!(refused.len(), 1, "{first:?}");
    assert_eq!(planned.plan.errors.len(), 1, "{first:?}");
    assert_eq!(refused[0].product.as_deref(), Some("old.zz-tier-one"));
}

#[test]
fn reads_made_while_the_mesh_was_checked_give_way_to_its_errors() {
    let d = desired(V1);
    let failing = || {
        let m = Memory::new(world());
        m.fail_next(
            "read",
            AdapterError::new(ErrorKind::Unreachable, "the cluster is unreachable"),
        );
        m
    };
    fn readers(m: &Memory) -> Readers<'_> {
        Readers {
            connect: None,
            cluster: m,
            registry: Some(m),
        }
    }
    // The checks found an error while the cluster could not be read: the error of the mesh is
    // what the plan reports.
    let mut invalid = empty_report();
    invalid
        .diagnostics
        .push(mesh_diagnostics::Diagnostic::error(
            "broken",
            "mesh.toml",
            0..1,
            "found by a check that ran during the reads",
        ));
    let m = failing();
    let first = mesh_workflow::read_first(&d, readers(&m));
    match mesh_workflow::plan_from(&invalid, &d, readers(&m), first, 0, &mut |_| {}) {
        Err(WorkflowError::Invalid { errors: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    // A valid mesh: the failed read is reported with its step.
    let report = empty_report();
    let m = failing();
    let first = mesh_workflow::read_first(&d, readers(&m));
    match mesh_workflow::plan_from(&report, &d, readers(&m), first, 0, &mut |_| {}) {
        Err(WorkflowError::Adapter {
            step: Step::ReadCluster,
            error,
        }) => assert_eq!(error.to_string(), "the cluster is unreachable"),
        other => panic!("{other:?}"),
    }
    // Read first and planned after: the same plan as in one go, and it converges.
    let m = Memory::new(world());
    let first = mesh_workflow::read_first(&d, readers(&m));
    let planned =
        mesh_workflow::plan_from(&report, &d, readers(&m), first, 0, &mut |_| {}).expect("a plan");
    let in_one_go = plan(&report, &d, &m).expect("a plan");
    assert_eq!(planned.plan.actions, in_one_go.plan.actions);
    assert!(!planned.plan.actions.is_empty());
    apply(&planned, &m);
    let first = mesh_workflow::read_first(&d, readers(&m));
    let again = mesh_workflow::plan_from(&report, &d, readers(&m), first, 0, &mut |_| {});
    assert!(again.expect("a plan").plan.is_empty());
}
