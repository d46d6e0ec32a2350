//! End-to-end: `KafkaCluster` against a real Kafka (the sandbox: KRaft, SASL/PLAIN, ACLs
//! enforced) in a temporary folder on free ports, checked with Kafka's own tools (TopicCommand,
//! ConfigCommand, AclCommand) and a real consumer logging in as another user.
//!
//! One sandbox serves every phase of `against_a_real_cluster`; each phase runs under
//! `catch_unwind` so one failure does not hide the others, and a drop guard stops the JVMs
//! whatever happens. Needs Java 17+ and, on the first run, Maven (see docs/local-cluster.md).

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mesh_kafka::{KafkaCluster, KafkaError};
use mesh_plan::{
    AclBinding, AdapterError, CatalogRecord, ClusterReader, ClusterWriter, ConfigChange,
    ConfigSource, ErrorKind, LiveState, NewTopic, Operation, PatternType, ReadRequest,
    ResourceType,
};
use mesh_sandbox::{
    ADMIN_PASSWORD, ADMIN_USER, KafkaTool, SandboxConfig, admin_client_properties, down,
    kafka_tool, up,
};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message};

const TIMEOUT: Duration = Duration::from_secs(15);
const ALICE_PASSWORD: &str = "alice-secret";
const CATALOG: &str = "_mesh.catalog";

/// Stops the sandbox even when an assertion fails, so no JVM outlives the test.
struct DownOnDrop(SandboxConfig);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        match down(&self.0) {
            Ok(stopped) => eprintln!("stopped {} sandbox process(es)", stopped.len()),
            Err(e) => eprintln!("cleanup: {e}"),
        }
    }
}

type Phase = fn(&Env);

struct Env {
    cfg: SandboxConfig,
    admin_config: PathBuf,
    props: BTreeMap<String, String>,
    cluster: KafkaCluster,
}

fn props(bootstrap: &str, user: &str, password: &str) -> BTreeMap<String, String> {
    [
        ("bootstrap.servers", bootstrap),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", user),
        ("sasl.password", password),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Runs one of Kafka's tools as admin; panics with its output if it fails.
fn tool(env: &Env, which: KafkaTool, args: &[&str]) -> String {
    let out = kafka_tool(&env.cfg, which)
        .args(["--bootstrap-server", &env.cfg.bootstrap_servers()])
        .arg("--command-config")
        .arg(&env.admin_config)
        .args(args)
        .output()
        .expect("java runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{which:?} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn topic_describe(env: &Env, topic: &str) -> String {
    tool(env, KafkaTool::Topics, &["--describe", "--topic", topic])
}

fn config_describe(env: &Env, topic: &str) -> String {
    tool(
        env,
        KafkaTool::Configs,
        &[
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            topic,
        ],
    )
}

fn acl_list(env: &Env) -> String {
    tool(env, KafkaTool::Acls, &["--list"])
}

fn request(topics: &[&str], principals: &[&str]) -> ReadRequest {
    ReadRequest {
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        principals: principals.iter().map(|p| (*p).to_owned()).collect(),
        catalog_topic: CATALOG.to_owned(),
        connectors: Default::default(),
        config_keys: None,
    }
}

fn read(env: &Env, req: &ReadRequest) -> LiveState {
    env.cluster.read(req).expect("read")
}

fn new_topic(name: &str, partitions: i32, config: &[(&str, &str)]) -> NewTopic {
    NewTopic {
        name: name.to_owned(),
        partitions,
        replication_factor: 1,
        config: config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn all_ok(results: &[Result<(), AdapterError>]) {
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

/// Polls `check` until it returns `Some` or `deadline` passes (ACL changes take a moment to
/// reach the authorizer: never a fixed sleep).
fn eventually<T>(what: &str, within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn against_a_real_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = SandboxConfig::from_env(Some(tmp.path().join("sandbox")))
        .expect("a home folder for the cache");
    cfg.users = vec![("alice".to_owned(), ALICE_PASSWORD.to_owned())];
    cfg.use_free_ports().expect("free ports");
    let _guard = DownOnDrop(cfg.clone());
    let began = Instant::now();
    up(&cfg, &mut |m| eprintln!("[up] {m}")).expect("sandbox comes up");
    eprintln!("sandbox up in {:.1} s", began.elapsed().as_secs_f64());

    let props = props(&cfg.bootstrap_servers(), ADMIN_USER, ADMIN_PASSWORD);
    let began = Instant::now();
    let cluster = KafkaCluster::connect(&props, TIMEOUT).expect("connect as admin");
    eprintln!("TIMING connect: {} ms", began.elapsed().as_millis());
    let env = Env {
        admin_config: admin_client_properties(&cfg).unwrap(),
        cfg,
        props,
        cluster,
    };

    let phases: &[(&str, Phase)] = &[
        (
            "topics are created with their configs",
            topics_are_created_with_their_configs,
        ),
        (
            "alter_configs changes only the keys given",
            alter_configs_changes_only_the_keys_given,
        ),
        ("partitions grow", partitions_grow),
        (
            "ACLs are created and deleted exactly",
            acls_are_created_and_deleted_exactly,
        ),
        ("ACLs really admit a consumer", acls_really_admit_a_consumer),
        (
            "commit times come from __consumer_offsets",
            commit_times_come_from_consumer_offsets,
        ),
        (
            "assigned groups count without a commit",
            assigned_groups_count_without_a_commit,
        ),
        ("the catalog round-trips", the_catalog_round_trips),
        (
            "a principal with only read ACLs can read",
            a_principal_with_only_read_acls_can_read,
        ),
        (
            "a wrong password is an authentication error",
            a_wrong_password_is_an_authentication_error,
        ),
        ("batches of many topics", batches_of_many_topics),
    ];
    let mut failed = Vec::new();
    for (name, phase) in phases {
        eprintln!("--- {name}");
        let began = Instant::now();
        if catch_unwind(AssertUnwindSafe(|| phase(&env))).is_err() {
            failed.push(*name);
        }
        eprintln!("--- {name}: {:.1} s", began.elapsed().as_secs_f64());
    }
    assert!(failed.is_empty(), "failed phases: {failed:?}");
}

fn topics_are_created_with_their_configs(env: &Env) {
    let c = &env.cluster;
    let results = c.create_topics(&[
        new_topic(
            "t.orders",
            3,
            &[("retention.ms", "86400000"), ("cleanup.policy", "compact")],
        ),
        new_topic("t.empty", 1, &[]),
        new_topic("t.bad", 1, &[("retention.ms", "not-a-number")]),
        new_topic("t.orders", 3, &[]),
        new_topic("t.zero", 0, &[]),
    ]);
    assert_eq!(results[0], Ok(()));
    assert_eq!(results[1], Ok(()));
    let bad = results[2].as_ref().unwrap_err();
    assert!(
        bad.message.contains("retention.ms"),
        "the broker's message names the config: {bad}"
    );
    assert_eq!(bad.kind, ErrorKind::Invalid, "{bad}");
    let err = |i: usize| results[i].clone().unwrap_err();
    assert!(err(3).message.contains("more than once"), "{results:?}");
    assert!(err(4).message.contains("out of range"), "{results:?}");
    assert_eq!(
        (err(3).kind, err(4).kind),
        (ErrorKind::Invalid, ErrorKind::Invalid)
    );
    // Creating again: the broker says it exists.
    let again = c.create_topics(&[new_topic("t.empty", 1, &[])]);
    let exists = again[0].clone().unwrap_err();
    assert!(exists.message.contains("already exists"), "{again:?}");
    assert_eq!(exists.kind, ErrorKind::Conflict, "{exists}");

    let live = read(
        env,
        &request(&["t.orders", "t.empty", "t.bad", "t.missing"], &[]),
    );
    assert_eq!(live.brokers, 1);
    assert_eq!(
        live.topics.keys().collect::<Vec<_>>(),
        ["t.empty", "t.orders"]
    );
    let orders = &live.topics["t.orders"];
    assert_eq!((orders.partitions, orders.replication_factor), (3, 1));
    let retention = &orders.configs["retention.ms"];
    assert_eq!(
        (retention.value.as_deref(), retention.source),
        (Some("86400000"), ConfigSource::DynamicTopic)
    );
    assert_eq!(
        orders.configs["cleanup.policy"].source,
        ConfigSource::DynamicTopic
    );
    // Everything else DescribeConfigs returns is there too, with its own source.
    assert_eq!(
        orders.configs["max.message.bytes"].source,
        ConfigSource::Default
    );
    assert!(!live.catalog_topic_exists && live.catalog.is_empty());

    // Kafka's own tools agree.
    let described = topic_describe(env, "t.orders");
    assert!(
        described.contains("PartitionCount: 3") && described.contains("ReplicationFactor: 1"),
        "{described}"
    );
    let configs = config_describe(env, "t.orders");
    assert!(
        configs.contains("retention.ms=86400000") && configs.contains("cleanup.policy=compact"),
        "{configs}"
    );
}

fn alter_configs_changes_only_the_keys_given(env: &Env) {
    let c = &env.cluster;
    // A key set by hand, which mesh must leave alone.
    tool(
        env,
        KafkaTool::Configs,
        &[
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            "t.orders",
            "--add-config",
            "max.message.bytes=2000000",
        ],
    );
    let results = c.alter_configs(&[
        ConfigChange {
            topic: "t.orders".into(),
            set: [("retention.ms".to_owned(), "3600000".to_owned())].into(),
            delete: ["cleanup.policy".to_owned()].into(),
        },
        ConfigChange {
            topic: "t.empty".into(),
            set: BTreeMap::new(),
            delete: BTreeSet::new(),
        },
        ConfigChange {
            topic: "t.missing".into(),
            set: [("retention.ms".to_owned(), "1".to_owned())].into(),
            delete: BTreeSet::new(),
        },
    ]);
    assert_eq!(results[0], Ok(()));
    assert_eq!(results[1], Ok(()), "nothing to change is a success");
    assert!(results[2].is_err(), "{results:?}");

    let live = read(env, &request(&["t.orders"], &[]));
    // A few topics' metadata comes from DescribeTopics naming them, many topics' from one
    // metadata request for every topic: the same shape and the same health either way.
    let absent: Vec<String> = (0..1_000).map(|i| format!("t.absent-{i}")).collect();
    let mut many: Vec<&str> = absent.iter().map(String::as_str).collect();
    many.push("t.orders");
    let wide = read(env, &request(&many, &[]));
    assert_eq!(wide.topics.keys().collect::<Vec<_>>(), ["t.orders"]);
    let (one, other) = (&live.topics["t.orders"], &wide.topics["t.orders"]);
    assert_eq!(
        (one.partitions, one.replication_factor),
        (other.partitions, other.replication_factor)
    );
    assert!(
        one.partitions >= 1 && one.replication_factor >= 1,
        "{one:?}"
    );
    assert_eq!(wide.brokers, live.brokers);
    let few = env
        .cluster
        .health(&BTreeSet::from(["t.orders".to_owned()]))
        .unwrap();
    let all: BTreeSet<String> = many.iter().map(|t| (*t).to_owned()).collect();
    assert_eq!(env.cluster.health(&all).unwrap(), few);
    assert!(!few.brokers.is_empty(), "{few:?}");
    let configs = &live.topics["t.orders"].configs;
    assert_eq!(configs["retention.ms"].value.as_deref(), Some("3600000"));
    assert_eq!(
        configs["cleanup.policy"].source,
        ConfigSource::Default,
        "reset to the broker default"
    );
    assert_eq!(
        configs["max.message.bytes"].value.as_deref(),
        Some("2000000")
    );
    assert_eq!(
        configs["max.message.bytes"].source,
        ConfigSource::DynamicTopic
    );

    let described = config_describe(env, "t.orders");
    assert!(described.contains("retention.ms=3600000"), "{described}");
    assert!(
        described.contains("max.message.bytes=2000000"),
        "{described}"
    );
    assert!(!described.contains("cleanup.policy="), "{described}");
}

fn partitions_grow(env: &Env) {
    let c = &env.cluster;
    let results = c.create_partitions(&[("t.orders".into(), 5), ("t.empty".into(), 1)]);
    assert_eq!(results[0], Ok(()));
    let shrink = results[1].as_ref().unwrap_err();
    assert!(
        shrink.message.to_lowercase().contains("partition"),
        "{shrink}"
    );
    assert_eq!(shrink.kind, ErrorKind::Invalid, "{shrink}");
    let described = topic_describe(env, "t.orders");
    assert!(described.contains("PartitionCount: 5"), "{described}");
    assert_eq!(
        read(env, &request(&["t.orders"], &[])).topics["t.orders"].partitions,
        5
    );
}

fn alice_acls() -> Vec<AclBinding> {
    vec![
        AclBinding::allow(
            "User:alice",
            ResourceType::Topic,
            "t.orders",
            PatternType::Literal,
            Operation::Read,
        ),
        AclBinding::allow(
            "User:alice",
            ResourceType::Topic,
            "t.",
            PatternType::Prefixed,
            Operation::Describe,
        ),
        AclBinding::allow(
            "User:alice",
            ResourceType::Group,
            "alice-group",
            PatternType::Literal,
            Operation::Read,
        ),
    ]
}

fn acls_are_created_and_deleted_exactly(env: &Env) {
    let c = &env.cluster;
    // Someone else's ACL on the same topic: never read, never deleted.
    tool(
        env,
        KafkaTool::Acls,
        &[
            "--add",
            "--allow-principal",
            "User:bob",
            "--operation",
            "Read",
            "--topic",
            "t.orders",
        ],
    );
    let ours = alice_acls();
    all_ok(&c.create_acls(&ours));
    let req = request(&[], &["User:alice"]);
    let want: BTreeSet<AclBinding> = ours.iter().cloned().collect();
    eventually("alice's ACLs are visible", Duration::from_secs(5), || {
        (read(env, &req).acls == want).then_some(())
    });
    // A few principals are read one DescribeAcls each, many with one that matches every
    // binding: the same bindings either way, and only the asked principals'.
    let with_bob = read(env, &request(&[], &["User:alice", "User:bob"])).acls;
    assert!(with_bob.is_superset(&want), "{with_bob:?}");
    assert!(
        with_bob
            .iter()
            .any(|b| &*b.principal == "User:bob" && &*b.resource_name == "t.orders"),
        "{with_bob:?}"
    );
    assert!(
        with_bob
            .iter()
            .all(|b| ["User:alice", "User:bob"].contains(&&*b.principal)),
        "{with_bob:?}"
    );
    let many: Vec<String> = (0..40).map(|i| format!("User:nobody-{i}")).collect();
    let mut principals: Vec<&str> = many.iter().map(String::as_str).collect();
    principals.push("User:alice");
    assert_eq!(read(env, &request(&[], &principals)).acls, want);
    // The whole cluster, for `mesh import`: every principal's bindings, every topic kept.
    let all = c.all_acls().unwrap();
    assert!(all.is_superset(&want), "{all:?}");
    assert!(all.iter().any(|b| &*b.principal == "User:bob"), "{all:?}");
    let topics = c.all_topics(|t| t.starts_with("t.")).unwrap();
    assert!(topics.contains_key("t.orders"), "{topics:?}");
    assert!(topics.keys().all(|t| t.starts_with("t.")), "{topics:?}");
    assert!(topics["t.orders"].partitions >= 1 && !topics["t.orders"].configs.is_empty());
    let listed = acl_list(env);
    assert!(
        listed.contains("principal=User:alice, host=*, operation=READ, permissionType=ALLOW"),
        "{listed}"
    );
    assert!(listed.contains("name=t., patternType=PREFIXED"), "{listed}");
    assert!(listed.contains("principal=User:bob"), "{listed}");

    let results = c.delete_acls(&ours);
    all_ok(&results);
    eventually("alice's ACLs are gone", Duration::from_secs(5), || {
        read(env, &req).acls.is_empty().then_some(())
    });
    let listed = acl_list(env);
    assert!(!listed.contains("User:alice"), "{listed}");
    assert!(
        listed.contains("principal=User:bob, host=*, operation=READ, permissionType=ALLOW"),
        "{listed}"
    );
    // Deleting what is already gone is fine.
    all_ok(&c.delete_acls(&ours[..1]));
}

fn alice_consumer(env: &Env, group: &str) -> BaseConsumer {
    let mut config = ClientConfig::new();
    for (k, v) in props(&env.cfg.bootstrap_servers(), "alice", ALICE_PASSWORD) {
        config.set(k, v);
    }
    config
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer")
}

/// Polls a new consumer as alice: `Ok(payload)` of the first message, or `Err(error)`.
fn alice_reads(env: &Env, topic: &str) -> Result<String, String> {
    let consumer = alice_consumer(env, "alice-group");
    consumer.subscribe(&[topic]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let payload = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                consumer
                    .commit_message(&m, CommitMode::Sync)
                    .map_err(|e| format!("commit: {e}"))?;
                return Ok(payload);
            }
            Some(Err(e)) => return Err(e.to_string()),
            None => {}
        }
    }
    Err("no message and no error within 10 s".into())
}

fn acls_really_admit_a_consumer(env: &Env) {
    let c = &env.cluster;
    all_ok(&c.create_topics(&[new_topic("t.acl", 1, &[])]));
    let producer: BaseProducer = {
        let mut config = ClientConfig::new();
        for (k, v) in &env.props {
            config.set(k, v);
        }
        config.create().unwrap()
    };
    producer
        .send(BaseRecord::to("t.acl").key("k").payload("hello"))
        .map_err(|(e, _)| e)
        .unwrap();
    producer.flush(TIMEOUT).unwrap();

    // No ACL: alice is denied.
    let denied = alice_reads(env, "t.acl").expect_err("alice has no ACL yet");
    assert!(
        denied.contains("uthoriz"),
        "expected an authorization error, got: {denied}"
    );

    let acls = vec![
        AclBinding::allow(
            "User:alice",
            ResourceType::Topic,
            "t.acl",
            PatternType::Literal,
            Operation::Read,
        ),
        AclBinding::allow(
            "User:alice",
            ResourceType::Group,
            "alice-group",
            PatternType::Literal,
            Operation::Read,
        ),
    ];
    all_ok(&c.create_acls(&acls));
    let began = Instant::now();
    let payload = eventually(
        "alice can read after the ACLs",
        Duration::from_secs(20),
        || alice_reads(env, "t.acl").ok(),
    );
    eprintln!(
        "alice admitted {} ms after create_acls",
        began.elapsed().as_millis()
    );
    assert_eq!(payload, "hello");

    // Her group's commit is visible, with the group's state.
    let topics: BTreeSet<String> = ["t.acl".to_owned()].into();
    let commits = c.committed_offsets(&topics).expect("committed offsets");
    assert_eq!(commits.len(), 1, "{commits:?}");
    assert_eq!(
        (commits[0].group.as_str(), commits[0].topic.as_str()),
        ("alice-group", "t.acl")
    );
    assert_eq!(commits[0].committed, BTreeMap::from([(0, 1)]));
    assert_eq!(
        (commits[0].state.as_str(), commits[0].members),
        ("Empty", 0),
        "{commits:?}"
    );
    all_ok(&c.delete_acls(&acls));
}

/// Runs after `acls_really_admit_a_consumer`, whose `alice-group` committed on `t.acl`.
fn commit_times_come_from_consumer_offsets(env: &Env) {
    let c = &env.cluster;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let topics: BTreeSet<String> = ["t.acl".to_owned(), "t.nobody-reads".to_owned()].into();
    let activity = c.group_activity(&topics).expect("group activity");
    assert_eq!(activity["t.nobody-reads"], [], "{activity:?}");
    let groups = &activity["t.acl"];
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(
        (groups[0].group.as_str(), groups[0].state.as_str()),
        ("alice-group", "Empty")
    );
    // Only the partition `partition_for` names is read: finding the time there shows the
    // placement matches Kafka's.
    let at = groups[0].last_commit_ms.expect("a commit time");
    assert!(
        at <= now_ms && now_ms - at < 600_000,
        "committed a moment ago: {at} vs now {now_ms}"
    );

    // Without READ/DESCRIBE on __consumer_offsets the error names the ACL to grant.
    let alice = KafkaCluster::connect(&props_for(env, "alice", ALICE_PASSWORD), TIMEOUT)
        .expect("alice logs in");
    let err = alice
        .commit_times(&["alice-group".to_owned()].into(), &topics)
        .expect_err("alice may not read __consumer_offsets");
    assert!(matches!(err, KafkaError::Authorization { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("READ and DESCRIBE on topic __consumer_offsets"),
        "{err}"
    );
}

/// A consumer that reads without ever committing (classic or KIP-848 consumer protocol) still
/// reads the topic: group_activity lists it as assigned and never committed, so a retirement
/// is blocked while it runs.
fn assigned_groups_count_without_a_commit(env: &Env) {
    let c = &env.cluster;
    all_ok(&c.create_topics(&[new_topic("t.watched", 2, &[])]));
    let topics: BTreeSet<String> = ["t.watched".to_owned()].into();
    for protocol in ["classic", "consumer"] {
        let group = format!("watcher-{protocol}");
        let mut config = ClientConfig::new();
        for (k, v) in &env.props {
            config.set(k, v);
        }
        let consumer: BaseConsumer = config
            .set("group.id", &group)
            .set("group.protocol", protocol)
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        consumer.subscribe(&["t.watched"]).unwrap();
        eventually(&format!("{group} assigned"), TIMEOUT * 2, || {
            let _ = consumer.poll(Duration::from_millis(200));
            let n = consumer.assignment().map(|a| a.count()).unwrap_or(0);
            (n > 0).then_some(())
        });
        let activity = eventually(&format!("{group} described"), TIMEOUT, || {
            let _ = consumer.poll(Duration::from_millis(100));
            let a = c.group_activity(&topics).expect("group activity");
            a["t.watched"]
                .iter()
                .find(|g| g.group == group && g.members > 0)
                .cloned()
        });
        assert!(
            activity.never_committed && activity.last_commit_ms.is_none(),
            "{activity:?}"
        );
        // Kafka's own tool sees the same member on the topic.
        let described = tool(
            env,
            KafkaTool::ConsumerGroups,
            &["--describe", "--group", &group, "--members", "--verbose"],
        );
        assert!(described.contains("t.watched"), "{described}");
        drop(consumer);
    }
}

fn record(product: &str, topic: &str, status: &str) -> CatalogRecord {
    CatalogRecord {
        product: product.to_owned(),
        domain: "sales".to_owned(),
        topic: topic.to_owned(),
        description: format!("{product} events"),
        owners: vec!["team-sales".to_owned()],
        quality: "gold".to_owned(),
        sla: "99.9".to_owned(),
        status: status.to_owned(),
        tags: vec!["pii".to_owned()],
        inputs: vec![],
        declared_configs: vec!["retention.ms".to_owned()],
        deprecation: None,
        revision: Some("abc123".to_owned()),
        applied_at: "2025-01-01T00:00:00Z".to_owned(),
        applied: None,
    }
}

fn the_catalog_round_trips(env: &Env) {
    let c = &env.cluster;
    // The catalog topic must exist first: write_catalog creates nothing.
    let missing = c.write_catalog(
        CATALOG,
        &[(
            "sales.orders".into(),
            Some(record("sales.orders", "t.orders", "active")),
        )],
    );
    let missing = missing.unwrap_err();
    assert!(missing.message.contains("does not exist"), "{missing}");
    assert_eq!(missing.kind, ErrorKind::NotFound, "{missing}");
    all_ok(&c.create_topics(&[new_topic(CATALOG, 1, &[("cleanup.policy", "compact")])]));

    let orders = record("sales.orders", "t.orders", "active");
    let empty = record("sales.empty", "t.empty", "active");
    let gone = record("sales.gone", "t.gone", "active");
    c.write_catalog(
        CATALOG,
        &[
            ("sales.orders".into(), Some(orders.clone())),
            ("sales.empty".into(), Some(empty.clone())),
            ("sales.gone".into(), Some(gone)),
        ],
    )
    .expect("write");
    // Topics the catalog records are read even when the request does not name them; a recorded
    // topic that does not exist (t.gone) is not.
    let live = read(env, &request(&[], &[]));
    assert!(live.catalog_topic_exists);
    assert_eq!(
        live.catalog.keys().collect::<Vec<_>>(),
        ["sales.empty", "sales.gone", "sales.orders"]
    );
    assert_eq!(live.catalog["sales.orders"], orders);
    assert_eq!(
        live.topics.keys().collect::<Vec<_>>(),
        ["t.empty", "t.orders"]
    );

    // The latest record wins; a tombstone removes.
    let deprecated = CatalogRecord {
        status: "deprecated".into(),
        deprecation: Some([("sunset".to_owned(), "2025-06-01".to_owned())].into()),
        ..orders
    };
    c.write_catalog(
        CATALOG,
        &[
            ("sales.orders".into(), Some(deprecated.clone())),
            ("sales.gone".into(), None),
        ],
    )
    .expect("write");
    let live = read(env, &request(&[], &[]));
    assert_eq!(
        live.catalog.keys().collect::<Vec<_>>(),
        ["sales.empty", "sales.orders"]
    );
    assert_eq!(live.catalog["sales.orders"], deprecated);
    assert_eq!(live.catalog["sales.empty"], empty);

    // Asked for some config keys, a read returns those and the keys the catalog records
    // declared (retention.ms), for declared and recorded topics alike, and nothing else (not
    // the max.message.bytes set by hand on t.orders, which a read of every config returns).
    let mut req = request(&["t.orders"], &[]);
    req.config_keys = Some(["cleanup.policy".to_owned()].into());
    let live = read(env, &req);
    for topic in ["t.orders", "t.empty"] {
        let keys: Vec<&String> = live.topics[topic].configs.keys().collect();
        assert_eq!(keys, ["cleanup.policy", "retention.ms"], "{topic}");
    }
    let orders = &live.topics["t.orders"].configs["retention.ms"];
    assert_eq!(orders.value.as_deref(), Some("3600000"));
    assert_eq!(orders.source, ConfigSource::DynamicTopic);
    let every = read(env, &request(&["t.orders"], &[]));
    assert!(
        every.topics["t.orders"]
            .configs
            .contains_key("max.message.bytes"),
        "{:?}",
        every.topics["t.orders"].configs.keys().collect::<Vec<_>>()
    );

    // Another catalog topic name that does not exist: an empty catalog, not an error.
    let mut req = request(&["t.orders"], &[]);
    req.catalog_topic = "_mesh.nothing".into();
    let live = read(env, &req);
    assert!(!live.catalog_topic_exists && live.catalog.is_empty());
    assert_eq!(live.topics.keys().collect::<Vec<_>>(), ["t.orders"]);
}

/// The least a non-super principal needs for `read`: DESCRIBE (metadata) and DESCRIBE_CONFIGS
/// on the managed topics, READ on the catalog topic, DESCRIBE on the cluster (DescribeAcls).
/// Nothing on any group: the catalog reader never joins or commits.
fn a_principal_with_only_read_acls_can_read(env: &Env) {
    let c = &env.cluster;
    let t = |name: &str, pattern, op| {
        AclBinding::allow("User:alice", ResourceType::Topic, name, pattern, op)
    };
    let acls = vec![
        t("t.", PatternType::Prefixed, Operation::Describe),
        t("t.", PatternType::Prefixed, Operation::DescribeConfigs),
        t(CATALOG, PatternType::Literal, Operation::Read),
        t(CATALOG, PatternType::Literal, Operation::DescribeConfigs),
        AclBinding::allow(
            "User:alice",
            ResourceType::Cluster,
            "kafka-cluster",
            PatternType::Literal,
            Operation::Describe,
        ),
    ];
    all_ok(&c.create_acls(&acls));
    let as_admin = read(env, &request(&["t.orders"], &["User:alice"]));
    let alice = KafkaCluster::connect(&props_for(env, "alice", ALICE_PASSWORD), TIMEOUT)
        .expect("alice logs in");
    let as_alice = eventually("alice can read", Duration::from_secs(10), || {
        match alice.read(&request(&["t.orders"], &["User:alice"])) {
            Ok(live) => Some(live),
            Err(e) => {
                eprintln!("alice cannot read yet: {e}");
                None
            }
        }
    });
    assert_eq!(as_alice.catalog, as_admin.catalog);
    assert_eq!(as_alice.topics, as_admin.topics);
    assert_eq!(as_alice.acls, acls.iter().cloned().collect());
    // Each missing right is an error that says what was refused, never a quietly empty
    // state: Kafka leaves topics a principal may not DESCRIBE out of the metadata, and
    // librdkafka 2.12 turns a refused DescribeAcls into an empty list.
    let req = request(&["t.orders"], &["User:alice"]);
    let refused_after = |removed: &[AclBinding], expect: &str| {
        all_ok(&c.delete_acls(removed));
        let err = eventually(expect, Duration::from_secs(10), || {
            alice.read_state(&req).err()
        });
        eprintln!("alice refused: {err}");
        assert!(matches!(err, KafkaError::Authorization { .. }), "{err:?}");
        assert!(err.to_string().contains(expect), "{err}");
        let typed = AdapterError::from(err);
        assert!(
            matches!(typed.kind, ErrorKind::Unauthorized { .. }),
            "{typed:?}"
        );
    };
    refused_after(&acls[4..], "DESCRIBE on the cluster is not allowed");
    refused_after(&acls[..1], "the metadata leaves it out");
    refused_after(
        &acls[1..4],
        "not authorized to describe the configs of topic",
    );
}

fn a_wrong_password_is_an_authentication_error(env: &Env) {
    let password = "not-alices-password-42";
    let props = props(&env.cfg.bootstrap_servers(), "alice", password);
    let began = Instant::now();
    let err = KafkaCluster::connect(&props, TIMEOUT).expect_err("a wrong password must fail");
    let took = began.elapsed();
    let (shown, debugged) = (err.to_string(), format!("{err:?}"));
    eprintln!("wrong password after {} ms: {shown}", took.as_millis());
    assert!(
        matches!(err, KafkaError::Authentication { .. }),
        "{debugged}"
    );
    assert!(
        shown.contains("authentication failed for user alice"),
        "{shown}"
    );
    assert!(
        !shown.contains(password) && !debugged.contains(password),
        "{debugged}"
    );
    assert!(took < TIMEOUT, "fails fast, not at the timeout: {took:?}");
    // The same goes for a Java-style JAAS line.
    let jaas = BTreeMap::from([
        ("bootstrap.servers".to_owned(), env.cfg.bootstrap_servers()),
        ("security.protocol".to_owned(), "SASL_PLAINTEXT".to_owned()),
        ("sasl.mechanism".to_owned(), "PLAIN".to_owned()),
        (
            "sasl.jaas.config".to_owned(),
            format!(
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"alice\" password=\"{password}\";"
            ),
        ),
    ]);
    let err = KafkaCluster::connect(&jaas, TIMEOUT).expect_err("a wrong password must fail");
    assert!(!format!("{err} {err:?}").contains(password), "{err:?}");
    // Alice's right password logs in (she may do nothing else, but that is not connect's job).
    KafkaCluster::connect(&props_for(env, "alice", ALICE_PASSWORD), TIMEOUT)
        .expect("alice logs in");
}

fn props_for(env: &Env, user: &str, password: &str) -> BTreeMap<String, String> {
    props(&env.cfg.bootstrap_servers(), user, password)
}

fn batches_of_many_topics(env: &Env) {
    const N: usize = 200;
    let c = &env.cluster;
    let topics: Vec<NewTopic> = (0..N)
        .map(|i| {
            new_topic(
                &format!("bulk.t{i:03}"),
                2,
                &[("retention.ms", "604800000")],
            )
        })
        .collect();
    let began = Instant::now();
    all_ok(&c.create_topics(&topics));
    eprintln!(
        "TIMING create_topics of {N} topics: {} ms",
        began.elapsed().as_millis()
    );
    let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
    let req = request(&names, &["User:alice"]);
    for round in 0..3 {
        let began = Instant::now();
        let live = read(env, &req);
        eprintln!(
            "TIMING read of {N} topics (+catalog, ACLs), round {round}: {} ms",
            began.elapsed().as_millis()
        );
        assert!(
            names.iter().all(|n| live.topics.contains_key(*n)),
            "{} topics read",
            live.topics.len()
        );
    }
    let changes: Vec<ConfigChange> = names
        .iter()
        .map(|n| ConfigChange {
            topic: (*n).to_owned(),
            set: [("retention.ms".to_owned(), "86400000".to_owned())].into(),
            delete: BTreeSet::new(),
        })
        .collect();
    let began = Instant::now();
    all_ok(&c.alter_configs(&changes));
    eprintln!(
        "TIMING alter_configs of {N} topics: {} ms",
        began.elapsed().as_millis()
    );
}

/// A port nothing listens on: connection refused.
fn closed_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_cluster_is_reported_fast() {
    let port = closed_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let timeout = Duration::from_secs(10);
    let began = Instant::now();
    let err =
        KafkaCluster::connect(&props(&bootstrap, "admin", "pw-never-shown"), timeout).unwrap_err();
    let took = began.elapsed();
    eprintln!("closed port after {} ms: {err}", took.as_millis());
    assert!(matches!(err, KafkaError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("the Kafka cluster at {bootstrap} is unreachable")),
        "{err}"
    );
    assert!(
        took < timeout,
        "librdkafka's all-brokers-down report ends the wait early: {took:?}"
    );
    assert!(!format!("{err} {err:?}").contains("pw-never-shown"));
}

#[test]
fn a_silent_server_is_reported_at_the_timeout() {
    // Accepts connections (the kernel does, from the backlog) but never answers.
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let bootstrap = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let timeout = Duration::from_secs(2);
    let began = Instant::now();
    let err = KafkaCluster::connect(&props(&bootstrap, "admin", "pw"), timeout).unwrap_err();
    let took = began.elapsed();
    eprintln!("silent server after {} ms: {err}", took.as_millis());
    assert!(matches!(err, KafkaError::Unreachable { .. }), "{err:?}");
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(2),
        "{took:?}"
    );
    drop(listener);
}
