//! Clusters shaped like production: three KRaft nodes with replication factor 3 and
//! `min.insync.replicas = 2`, a broker that goes away in the middle, and both Kafka release lines
//! the sandbox runs (4.x by default, 3.9 selectable) — each with a consumer group on the new
//! consumer protocol (`group.protocol=consumer`) that must block a retirement. Checked with Kafka's
//! own tools from the same jars.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Output;

use mesh_sandbox::{Ephemeral, KAFKA_3_VERSION, KafkaTool, Listener, Options, kafka_tool};

fn mesh(repo: &Path, today: Option<&str>, args: &[&str]) -> Output {
    let mut c = mesh_command(repo, args);
    if let Some(t) = today {
        c.env("MESH_TODAY", t);
    }
    c.output().expect("mesh runs")
}

/// The example's `local-3` environment (three brokers, replication 3, min ISR 2), pointed at
/// this sandbox's SASL_PLAINTEXT listeners of all three nodes.
fn three_broker_repo(sb: &Ephemeral) -> PathBuf {
    let repo = example_for(&sb.cfg, sb.scratch());
    let mesh_toml = repo.join("mesh.toml");
    let text = std::fs::read_to_string(&mesh_toml).unwrap();
    let start = text
        .find("[environments.local-3]")
        .expect("the example declares local-3");
    let line_end = start + text[start..].find("bootstrap_servers").unwrap();
    let value_end = line_end + text[line_end..].find('\n').unwrap();
    let text = format!(
        "{}bootstrap_servers = \"{}\"{}",
        &text[..line_end],
        sb.bootstrap(Listener::SaslPlaintext),
        &text[value_end..]
    );
    std::fs::write(&mesh_toml, text).unwrap();
    repo
}

fn describe(sb: &Ephemeral, topic: &str) -> String {
    admin_tool(
        &sb.cfg,
        KafkaTool::Topics,
        &["--describe", "--topic", topic],
    )
}

#[test]
fn three_brokers_replicate_and_survive_one_going_away() {
    let sb = Ephemeral::start_with(&Options::default().brokers(3), &mut |l| eprintln!("{l}"))
        .expect("three-node sandbox starts");
    let status = sb.status();
    assert_eq!(status.nodes.len(), 3, "{status}");
    // `up` saw every server answer; on a loaded machine a probe right after may time out.
    eventually("every server answers", || sb.status().is_up());
    let repo = three_broker_repo(&sb);
    let o = mesh(
        &repo,
        None,
        &["apply", "--env", "local-3", "--auto-approve"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let d = describe(&sb, "sales.orders");
    assert!(d.contains("ReplicationFactor: 3"), "{d}");
    assert!(d.contains("min.insync.replicas=2"), "{d}");
    let partitions: Vec<&str> = d.lines().filter(|l| l.contains("Partition:")).collect();
    assert_eq!(partitions.len(), 12, "{d}");
    for p in &partitions {
        let isr = p
            .split("Isr:")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        assert_eq!(isr.split(',').count(), 3, "every replica in sync: {p}");
    }

    // Node 3 goes away: plan still reads the whole cluster, and says what it read from.
    sb.stop_node(3).expect("node 3 stops");
    let mut last = String::new();
    eventually("the plan notes the missing broker", || {
        let o = mesh(
            &repo,
            None,
            &["plan", "--env", "local-3", "--detailed-exitcode"],
        );
        last = text(&o);
        assert_eq!(o.status.code(), Some(0), "{last}");
        last.contains("read from broker(s) 1, 2") && last.contains("under-replicated")
    });
    assert!(last.contains("No changes"), "{last}");

    // A new product with replication factor 3 cannot be placed on two brokers: apply fails,
    // saying so, and leaves no half-made topic behind.
    let probe = "domains/sales/products/orders-probe.toml";
    std::fs::copy(
        repo.join("domains/sales/products/orders.toml"),
        repo.join(probe),
    )
    .unwrap();
    edit(&repo, probe, "name = \"orders\"", "name = \"orders-probe\"");
    edit(
        &repo,
        probe,
        "name = \"sales.orders\"",
        "name = \"sales.orders-probe\"",
    );
    let o = mesh(
        &repo,
        None,
        &["apply", "--env", "local-3", "--auto-approve"],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("sales.orders-probe"), "{out}");
    assert!(
        out.to_lowercase().contains("replication factor"),
        "the broker's reason is shown: {out}"
    );
    let listed = admin_tool(&sb.cfg, KafkaTool::Topics, &["--list"]);
    assert!(!listed.contains("sales.orders-probe"), "{listed}");

    // Node 3 is back: apply converges and the next plan is empty.
    assert!(!sb.status().is_up(), "node 3 is down");
    sb.start_node(3, &mut |l| eprintln!("{l}"))
        .expect("node 3 starts again");
    eventually("every server answers again", || sb.status().is_up());
    let o = mesh(
        &repo,
        None,
        &["apply", "--env", "local-3", "--auto-approve"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let d = describe(&sb, "sales.orders-probe");
    assert!(d.contains("ReplicationFactor: 3"), "{d}");
    let o = mesh(
        &repo,
        None,
        &["plan", "--env", "local-3", "--detailed-exitcode"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

const LEGACY: &str = "domains/sales/products/legacy-orders.toml";

/// Apply, a plan with no changes, and a retirement blocked by a group that read the topic with
/// the new consumer protocol — on one Kafka release.
fn smoke(version: Option<&str>) {
    let mut options = Options::default();
    if let Some(v) = version {
        options = options.kafka_version(v);
    }
    let sb = Ephemeral::start_with(&options, &mut |l| eprintln!("{l}")).expect("sandbox starts");
    let cfg = &sb.cfg;
    if let Some(v) = version {
        assert_eq!(sb.status().kafka_version, v);
    }
    // Every listener serves Kafka's own tools, TLS ones included, on this release too.
    for listener in Listener::ALL {
        let config = mesh_sandbox::admin_properties(cfg, listener).unwrap();
        let out = kafka_tool(cfg, KafkaTool::Acls)
            .args(["--bootstrap-server", &cfg.bootstrap(listener)])
            .arg("--command-config")
            .arg(config)
            .arg("--list")
            .output()
            .expect("java runs");
        assert!(out.status.success(), "{listener}: {}", text(&out));
    }
    let repo = example_for(cfg, sb.scratch());
    edit(&repo, LEGACY, "sunset = 2027-03-01", "sunset = 2026-11-01");
    let o = mesh(&repo, None, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = mesh(
        &repo,
        None,
        &["plan", "--env", "local", "--detailed-exitcode"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A record, read by a consumer on the new group protocol, which commits its offset.
    let admin = mesh_sandbox::admin_client_properties(cfg).unwrap();
    produce_one(
        cfg,
        &cfg.bootstrap_servers(),
        &admin,
        "sales.legacy-orders",
        "{\"order\":1}",
    );
    let consumed = consume_one(
        cfg,
        &cfg.bootstrap_servers(),
        &admin,
        "sales.legacy-orders",
        "finance.adhoc-audit",
        &["--consumer-property", "group.protocol=consumer"],
    );
    assert!(
        consumed.contains("Processed a total of 1 messages"),
        "{consumed}"
    );
    let groups = admin_tool(
        cfg,
        KafkaTool::ConsumerGroups,
        &["--describe", "--group", "finance.adhoc-audit", "--state"],
    );
    assert!(
        groups.to_lowercase().contains("consumer"),
        "the group uses the consumer protocol: {groups}"
    );

    // Retire it: the file and its declared consumer go; the group that just read it blocks.
    std::fs::remove_file(repo.join(LEGACY)).unwrap();
    let domain = repo.join("domains/finance/domain.toml");
    let t = std::fs::read_to_string(&domain).unwrap();
    let kept: Vec<&str> = t
        .split("[[consumes]]")
        .filter(|b| !b.contains("product = \"sales.legacy-orders\""))
        .collect();
    std::fs::write(&domain, kept.join("[[consumes]]")).unwrap();
    let o = mesh(&repo, None, &["plan", "--env", "local"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("consumer group finance.adhoc-audit"),
        "blocked by the consumer-protocol group: {out}"
    );
}

#[test]
fn smoke_on_the_default_kafka_4() {
    smoke(None);
}

#[test]
fn smoke_on_kafka_3_9() {
    smoke(Some(KAFKA_3_VERSION));
}
