//! Faults during apply (issue 11): the real `mesh` binary against a real three-broker Kafka and
//! the sandbox registry, with a fault-injecting HTTP proxy (`mesh_sandbox::faults`) between
//! `mesh` and the registry, and a broker stopped in the middle of an apply. After each fault:
//! what `mesh` said, what a plan shows is left to do, that the next apply converges, and — with
//! Kafka's own tools and curl straight at the registry — that nothing is orphaned or lost.
//!
//! One sandbox for the whole file (a three-node start is the expensive part); the cases run in
//! order, each adding one product (`sales.orders-<case>`, a copy of `sales.orders` with a key
//! and a value schema and a compatibility level) so that each apply has topic, schema, ACL and
//! catalog work to do.

mod common;
use common::*;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mesh_sandbox::faults::{Fault, FaultProxy, Rule};
use mesh_sandbox::{Ephemeral, KafkaTool, Options, SandboxConfig};

const ENV: &str = "local-3";

/// `mesh` with the registry's request timeout set to `timeout` seconds.
fn mesh_command(repo: &Path, timeout: u64, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mesh"));
    c.args(args)
        .arg("--repo")
        .arg(repo)
        .env("NO_COLOR", "1")
        .env("MESH_REGISTRY_TIMEOUT_SECONDS", timeout.to_string())
        .env_remove("MESH_KAFKA_TIMEOUT_SECONDS")
        .env_remove("MESH_LOCAL_PASSWORD")
        .env_remove("MESH_TODAY");
    c
}

fn run(repo: &Path, timeout: u64, args: &[&str]) -> (Option<i32>, String) {
    run_with(repo, timeout, &[], args)
}

/// `mesh` with extra environment variables.
fn run_with(
    repo: &Path,
    timeout: u64,
    vars: &[(&str, &str)],
    args: &[&str],
) -> (Option<i32>, String) {
    let o: Output = mesh_command(repo, timeout, args)
        .envs(vars.iter().copied())
        .output()
        .expect("mesh runs");
    (o.status.code(), text(&o))
}

/// `mesh apply`; what it said goes to the test's stderr too (for the fault × outcome table).
fn apply(repo: &Path, timeout: u64) -> (Option<i32>, String) {
    apply_with(repo, timeout, &[])
}

fn apply_with(repo: &Path, timeout: u64, vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let (code, out) = run_with(
        repo,
        timeout,
        vars,
        &["apply", "--env", ENV, "--auto-approve"],
    );
    let said: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.starts_with("note:")
                || l.starts_with("error:")
                || l.contains(" failed")
                || l.contains("apply stopped")
                || l.starts_with("Apply ")
                || l.starts_with("          ")
        })
        .collect();
    eprintln!("--- mesh apply exited {code:?}:\n{}", said.join("\n"));
    (code, out)
}

fn plan(repo: &Path) -> (Option<i32>, String) {
    run(repo, 30, &["plan", "--env", ENV, "--detailed-exitcode"])
}

/// Converged: a plan right after shows no changes (ACL changes may take a moment to show).
fn converged(repo: &Path) {
    let mut last = String::new();
    eventually("the plan shows no changes", || {
        let (code, out) = plan(repo);
        last = out;
        code == Some(0)
    });
    assert!(last.contains("No changes"), "{last}");
}

/// The example's `local-3` environment pointed at `bootstrap` (this sandbox's three nodes
/// through the Kafka fault proxy), and every environment's registry at `registry`.
fn repo_for(sb: &Ephemeral, bootstrap: &str, registry: &str) -> PathBuf {
    let repo = example_for(&sb.cfg, sb.scratch());
    let mesh_toml = repo.join("mesh.toml");
    let text = std::fs::read_to_string(&mesh_toml).unwrap();
    let start = text.find("[environments.local-3]").unwrap();
    let line = start + text[start..].find("bootstrap_servers").unwrap();
    let end = line + text[line..].find('\n').unwrap();
    let text = format!(
        "{}bootstrap_servers = \"{bootstrap}\"{}",
        &text[..line],
        &text[end..]
    )
    .replace(&sb.cfg.registry_url(), registry);
    std::fs::write(&mesh_toml, text).unwrap();
    repo
}

/// Adds `sales.orders-<case>`: a copy of sales.orders (3 partitions, a key and a value
/// schema, BACKWARD_TRANSITIVE, a producer's ACLs).
fn add_product(repo: &Path, case: &str) {
    let file = format!("domains/sales/products/orders-{case}.toml");
    std::fs::copy(
        repo.join("domains/sales/products/orders.toml"),
        repo.join(&file),
    )
    .unwrap();
    edit(
        repo,
        &file,
        "name = \"orders\"",
        &format!("name = \"orders-{case}\""),
    );
    edit(
        repo,
        &file,
        "name = \"sales.orders\"",
        &format!("name = \"sales.orders-{case}\""),
    );
    // Fewer partitions than sales.orders: less for three loaded brokers to create and move.
    edit(repo, &file, "partitions = 12", "partitions = 3");
}

/// The registry, asked with curl straight (not through the proxy).
fn registry_get(cfg: &SandboxConfig, path: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-s", &format!("{}{path}", cfg.registry_url())])
        .output()
        .expect("curl runs");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn versions(cfg: &SandboxConfig, subject: &str) -> serde_json::Value {
    registry_get(cfg, &format!("/subjects/{subject}/versions"))
}

fn subjects(cfg: &SandboxConfig) -> Vec<String> {
    serde_json::from_value(registry_get(cfg, "/subjects")).unwrap()
}

fn topics(cfg: &SandboxConfig) -> Vec<String> {
    admin_tool(cfg, KafkaTool::Topics, &["--list"])
        .lines()
        .map(str::trim)
        // Not the tool's own log lines ("[…] WARN … Connection to node -2 …" while a node is
        // down).
        .filter(|l| !l.is_empty() && !l.starts_with('['))
        .map(str::to_owned)
        .collect()
}

/// The ACL bindings naming `topic`, as Kafka's own tool lists them.
fn acls_on(cfg: &SandboxConfig, topic: &str) -> usize {
    admin_tool(cfg, KafkaTool::Acls, &["--list", "--topic", topic])
        .matches("principal=")
        .count()
}

/// Every ACL binding of the cluster, one line per resource block of `kafka-acls --list`:
/// how many bindings name each literal topic.
fn acls_per_topic(cfg: &SandboxConfig) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    let mut current = None;
    for line in admin_tool(cfg, KafkaTool::Acls, &["--list"]).lines() {
        if let Some(rest) = line.split("resourceType=TOPIC, name=").nth(1) {
            current = rest.split(',').next().map(str::to_owned);
        } else if line.contains("resourceType=") {
            current = None;
        } else if line.contains("principal=")
            && let Some(t) = &current
        {
            *out.entry(t.clone()).or_insert(0) += 1;
        }
    }
    out
}

fn injected(proxy: &FaultProxy, fault: &Fault) -> usize {
    proxy
        .seen()
        .iter()
        .filter(|s| s.fault.as_ref() == Some(fault))
        .count()
}

/// How many requests of Kafka API `api` met `fault`.
fn injected_into(proxy: &FaultProxy, api: &str, fault: &Fault) -> usize {
    proxy
        .seen()
        .iter()
        .filter(|s| s.method == api && s.fault.as_ref() == Some(fault))
        .count()
}

/// A topic's partition count and its non-default configs, as `kafka-topics --describe` says.
fn describe(cfg: &SandboxConfig, topic: &str) -> String {
    admin_tool(cfg, KafkaTool::Topics, &["--describe", "--topic", topic])
}

#[test]
fn faults_during_apply_converge_on_the_next_run_and_lose_nothing() {
    let started = Instant::now();
    let sb = Ephemeral::start_with(&Options::default().brokers(3).relay(), &mut |l| {
        eprintln!("{l}")
    })
    .expect("three-node sandbox starts");
    eventually("every server answers", || sb.status().is_up());
    let cfg = &sb.cfg;
    let registry_url = cfg.registry_url();
    let authority = registry_url
        .strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .unwrap();
    let upstream: SocketAddr = authority.parse().unwrap();
    let proxy = FaultProxy::http(upstream).unwrap();
    // Every Kafka connection of mesh goes through `kafka`: the repo bootstraps from the relay
    // listeners, which advertise the proxy's ports.
    let kafka = FaultProxy::kafka(&sb.relay_brokers()).unwrap();
    let repo = repo_for(
        &sb,
        &sb.relay_bootstrap(),
        &registry_url.replace(authority, &proxy.addr().to_string()),
    );
    eprintln!("sandbox up after {:?}", started.elapsed());

    // 1. The registry answers 503 to the first three registrations of the first apply: each is
    //    sent again after a pause, and the apply completes. Nothing is registered twice.
    let unavailable = Fault::Status(503);
    proxy.inject(
        Rule::always(unavailable.clone())
            .method("POST")
            .path("/subjects/")
            .times(3),
    );
    let (code, out) = apply(&repo, 30);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Apply complete"), "{out}");
    // Not on a terminal: one line per phase, no progress line drawn over itself.
    assert!(
        !out.contains('\r') && !out.contains('\x1b') && out.contains("\nschemas: "),
        "{out:?}"
    );
    assert!(
        out.contains("injected HTTP 503") && out.contains("trying again (attempt 2 of 4"),
        "each retry is announced with its cause: {out}"
    );
    assert_eq!(injected(&proxy, &unavailable), 3);
    let baseline_subjects = subjects(cfg);
    assert!(baseline_subjects.len() > 5, "{baseline_subjects:?}");
    for s in &baseline_subjects {
        assert_eq!(versions(cfg, s), serde_json::json!([1]), "{s}");
    }
    converged(&repo);
    let baseline_topics = topics(cfg);

    eprintln!("case 1 done after {:?}", started.elapsed());

    // 2. The registry answers 503 to every registration of a new product's subjects: the apply
    //    stops at the schemas phase, after four attempts per request, saying what was done and
    //    what was not. The ACLs (created first, SPEC §4) and the topic were made, so the
    //    product's principals can already use it; its subjects were not, and its catalog record
    //    holds only what was applied.
    add_product(&repo, "a");
    proxy.forget();
    proxy.inject(
        Rule::always(unavailable.clone())
            .method("POST")
            .path("/subjects/sales.orders-a"),
    );
    let (code, out) = apply(&repo, 30);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("apply stopped in phase `schemas`")
            && out.contains("schemas: 0 done, 2 failed"),
        "{out}"
    );
    assert!(
        out.contains("injected HTTP 503")
            && out.contains("Apply failed:")
            && out.contains("not attempted"),
        "{out}"
    );
    assert_eq!(injected(&proxy, &unavailable), 8, "2 subjects × 4 attempts");
    assert!(topics(cfg).contains(&"sales.orders-a".to_owned()));
    let acls_a = acls_on(cfg, "sales.orders-a");
    assert!(acls_a > 0, "the ACLs went first");
    assert!(!subjects(cfg).iter().any(|s| s.contains("orders-a")));
    proxy.clear();
    // The plan shows exactly what is left: schemas, levels, the catalog record; no ACL.
    let (code, out) = plan(&repo);
    assert_eq!(code, Some(2), "{out}");
    assert!(!out.contains("+ topic sales.orders-a"), "{out}");
    for left in [
        "subject sales.orders-a-value [sales.orders-a]: register",
        "subject sales.orders-a-key [sales.orders-a]: register",
        "subject sales.orders-a-value [sales.orders-a]: compatibility BACKWARD_TRANSITIVE",
        "catalog record sales.orders-a",
    ] {
        assert!(out.contains(left), "{left}: {out}");
    }
    assert!(!out.contains("acl "), "the ACLs are in place: {out}");
    let (code, out) = apply(&repo, 30);
    assert_eq!(code, Some(0), "{out}");
    converged(&repo);
    assert_eq!(
        versions(cfg, "sales.orders-a-value"),
        serde_json::json!([1])
    );
    assert_eq!(
        acls_on(cfg, "sales.orders-a"),
        acls_a,
        "no ACL added or lost"
    );

    eprintln!("case 2 done after {:?}", started.elapsed());

    // 3. Requests carried out whose answers are lost: a registration answered too late (after
    //    the 2 s timeout), another whose connection drops after the registry did it, a level
    //    held unanswered until the client gives up. Each is sent again; the registry answers a
    //    text it has with the same id: one version per subject, no duplicate.
    add_product(&repo, "b");
    proxy.forget();
    let slow = Fault::Slow(Duration::from_secs(4));
    proxy.inject(
        Rule::always(slow.clone())
            .method("POST")
            .path("/subjects/sales.orders-b-value/versions")
            .times(1),
    );
    proxy.inject(
        Rule::always(Fault::DropAfterForward)
            .method("POST")
            .path("/subjects/sales.orders-b-key/versions")
            .times(1),
    );
    proxy.inject(
        Rule::always(Fault::Hold)
            .method("PUT")
            .path("/config/sales.orders-b-value")
            .times(1),
    );
    let (code, out) = apply(&repo, 2);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("no answer within 2.0 s"), "{out}");
    for fault in [slow, Fault::DropAfterForward, Fault::Hold] {
        assert_eq!(injected(&proxy, &fault), 1, "{fault:?}");
    }
    assert_eq!(
        versions(cfg, "sales.orders-b-value"),
        serde_json::json!([1])
    );
    assert_eq!(versions(cfg, "sales.orders-b-key"), serde_json::json!([1]));
    let level = registry_get(cfg, "/config/sales.orders-b-value");
    assert_eq!(
        level["compatibilityLevel"], "BACKWARD_TRANSITIVE",
        "{level}"
    );
    converged(&repo);

    eprintln!("case 3 done after {:?}", started.elapsed());

    // 4. The registry refuses connections: the plan cannot read it, so nothing is changed.
    //    A slow registry (0.7 s per read, within the timeout) only makes the plan slower.
    add_product(&repo, "c");
    proxy.refuse(true);
    let (code, out) = apply(&repo, 30);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("is unreachable: cannot connect") && out.contains("attempt 4 of 4"),
        "{out}"
    );
    assert!(!topics(cfg).contains(&"sales.orders-c".to_owned()));
    proxy.clear();
    proxy.inject(Rule::always(Fault::Slow(Duration::from_millis(700))).method("GET"));
    let (code, out) = plan(&repo);
    assert_eq!(code, Some(2), "{out}");
    assert!(!out.contains("trying again"), "{out}");
    proxy.clear();

    eprintln!("case 4 done after {:?}", started.elapsed());

    // 5. The connection drops on every registry write: the Kafka phases (ACLs, topic) are
    //    done, the apply stops at the schemas; the next apply converges.
    for method in ["POST", "PUT", "DELETE"] {
        proxy.inject(Rule::always(Fault::Drop).method(method));
    }
    let (code, out) = apply(&repo, 30);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("apply stopped in phase `schemas`"), "{out}");
    assert!(topics(cfg).contains(&"sales.orders-c".to_owned()));
    assert!(acls_on(cfg, "sales.orders-c") > 0);
    proxy.clear();
    let (code, out) = apply(&repo, 30);
    assert_eq!(code, Some(0), "{out}");
    converged(&repo);

    eprintln!("case 5 done after {:?}", started.elapsed());

    // 6. Kafka: the topic create is carried out but its answer is lost (the broker's connection
    //    closes instead): the topics are read, found as planned, and the apply goes on.
    assert!(
        kafka.seen().iter().any(|s| s.method == "CreateTopics"),
        "mesh reached Kafka through the proxy"
    );
    add_product(&repo, "e");
    let lost = Fault::DropAfterForward;
    kafka.forget();
    kafka.inject(Rule::always(lost.clone()).method("CreateTopics").times(1));
    let (code, out) = apply(&repo, 30);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(injected_into(&kafka, "CreateTopics", &lost), 1);
    assert!(
        out.contains("create topics failed") && out.contains("trying again"),
        "{out}"
    );
    assert!(describe(cfg, "sales.orders-e").contains("PartitionCount: 3"));
    converged(&repo);

    eprintln!("case 6 done after {:?}", started.elapsed());

    // 7. Kafka: an ACL create is never answered (the request is swallowed; a 4 s timeout): the
    //    principals' ACLs are read, found missing, and created again.
    edit(
        &repo,
        "domains/sales/products/orders-e.toml",
        "producers = [\"order-service\"]",
        "producers = [\"order-service\", \"storefront\"]",
    );
    let swallowed = Fault::Hold;
    kafka.forget();
    kafka.inject(
        Rule::always(swallowed.clone())
            .method("CreateAcls")
            .times(1),
    );
    let acls_before = acls_on(cfg, "sales.orders-e");
    let (code, out) = apply_with(&repo, 30, &[("MESH_KAFKA_TIMEOUT_SECONDS", "4")]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(injected_into(&kafka, "CreateAcls", &swallowed), 1);
    assert!(out.contains("timed out after 4s"), "{out}");
    assert!(acls_on(cfg, "sales.orders-e") > acls_before);
    converged(&repo);

    eprintln!("case 7 done after {:?}", started.elapsed());

    // 8. Kafka: a partition increase carried out, answer lost; a config change whose connection
    //    drops before it is sent; the lock's and catalog's first write dropped likewise. The
    //    partitions are read (at the total: done), the config sent again, the records resent
    //    by the producer.
    edit(
        &repo,
        "domains/sales/products/orders-e.toml",
        "partitions = 3",
        "partitions = 4",
    );
    edit(
        &repo,
        "domains/sales/products/orders-e.toml",
        "\"retention.ms\" = \"30d\"",
        "\"retention.ms\" = \"31d\"",
    );
    // (sales.orders-e is keyed: its owners accept the partition increase.)
    std::fs::create_dir_all(repo.join("domains/sales/policies")).unwrap();
    std::fs::write(
        repo.join("domains/sales/policies/exemptions.toml"),
        "[[exemption]]\nrule = \"change.partitions-keyed-or-compacted\"\n\
         product = \"sales.orders-e\"\nreason = \"no consumers yet\"\nexpires = 2099-01-01\n",
    )
    .unwrap();
    kafka.forget();
    kafka.inject(
        Rule::always(lost.clone())
            .method("CreatePartitions")
            .times(1),
    );
    kafka.inject(
        Rule::always(Fault::Drop)
            .method("IncrementalAlterConfigs")
            .times(1),
    );
    kafka.inject(Rule::always(Fault::Drop).method("Produce").times(1));
    let (code, out) = apply(&repo, 30);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(injected_into(&kafka, "CreatePartitions", &lost), 1);
    assert_eq!(
        injected_into(&kafka, "IncrementalAlterConfigs", &Fault::Drop),
        1
    );
    assert_eq!(injected_into(&kafka, "Produce", &Fault::Drop), 1);
    let d = describe(cfg, "sales.orders-e");
    assert!(
        d.contains("PartitionCount: 4") && d.contains("retention.ms=2678400000"),
        "{d}"
    );
    converged(&repo);

    eprintln!("case 8 done after {:?}", started.elapsed());

    // 9. Kafka: every broker goes silent (connections open, nothing moves): the plan gives up
    //    after its timeouts and says so; nothing is changed. An unusable timeout setting is
    //    named and the default used.
    kafka.pause(true);
    let (code, out) = run_with(
        &repo,
        30,
        &[("MESH_KAFKA_TIMEOUT_SECONDS", "3")],
        &["plan", "--env", ENV],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("timed out") || out.contains("no broker answered"),
        "{out}"
    );
    kafka.pause(false);
    let (code, out) = run_with(
        &repo,
        30,
        &[("MESH_KAFKA_TIMEOUT_SECONDS", "soon")],
        &["plan", "--env", ENV, "--detailed-exitcode"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("MESH_KAFKA_TIMEOUT_SECONDS=\"soon\" is not a whole number of seconds"),
        "{out}"
    );

    eprintln!("case 9 done after {:?}", started.elapsed());

    // 10. A broker stops in the middle of an apply: the apply is held at its first registration
    //    (the proxy's gate) while node 2 stops, then goes on with two of three brokers.
    add_product(&repo, "d");
    proxy.forget();
    proxy.inject(
        Rule::always(Fault::Gate)
            .method("POST")
            .path("/subjects/sales.orders-d")
            .times(2),
    );
    let child = mesh_command(&repo, 60, &["apply", "--env", ENV, "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mesh runs");
    eventually("the apply reaches its registrations", || {
        injected(&proxy, &Fault::Gate) == 2
    });
    assert!(topics(cfg).contains(&"sales.orders-d".to_owned()));
    sb.stop_node(2).expect("node 2 stops");
    proxy.release();
    let o = child.wait_with_output().unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("Apply complete"), "{out}");
    // Read from the two brokers left: nothing more to do. (Node 2 is not started again here:
    // brokers.rs covers a broker's return.)
    let (code, out) = plan(&repo);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("No changes") && out.contains("under-replicated"),
        "{out}"
    );

    // Nothing orphaned, nothing lost: exactly the four new topics and eight new subjects (one
    // version each), each with its ACLs, and each product in the catalog, read with Kafka's
    // console consumer.
    let mut new_topics: Vec<String> = topics(cfg)
        .into_iter()
        .filter(|t| !baseline_topics.contains(t))
        .collect();
    new_topics.sort();
    let cases = ["a", "b", "c", "d", "e"];
    assert_eq!(
        new_topics,
        cases.map(|c| format!("sales.orders-{c}")),
        "no other topic appeared"
    );
    let mut new_subjects: Vec<String> = subjects(cfg)
        .into_iter()
        .filter(|s| !baseline_subjects.contains(s))
        .collect();
    new_subjects.sort();
    let mut want: Vec<String> = cases
        .iter()
        .flat_map(|c| ["key", "value"].map(|k| format!("sales.orders-{c}-{k}")))
        .collect();
    want.sort();
    assert_eq!(new_subjects, want);
    for s in &new_subjects {
        assert_eq!(versions(cfg, s), serde_json::json!([1]), "{s}");
    }
    let acls = acls_per_topic(cfg);
    for t in &new_topics {
        assert!(
            acls.get(t).is_some_and(|&n| n > 0),
            "{t} has its ACLs: {acls:?}"
        );
    }
    for t in acls.keys().filter(|t| t.starts_with("sales.orders-")) {
        assert!(
            new_topics.contains(t),
            "an ACL on {t}, which is not a topic: {acls:?}"
        );
    }
    let admin = mesh_sandbox::admin_client_properties(cfg).unwrap();
    let catalog = mesh_sandbox::kafka_tool(cfg, KafkaTool::ConsoleConsumer)
        .args(["--bootstrap-server", &cfg.bootstrap_servers()])
        .arg("--consumer.config")
        .arg(&admin)
        .args([
            "--topic",
            "_mesh-catalog",
            "--from-beginning",
            "--property",
            "print.key=true",
            "--timeout-ms",
            "10000",
        ])
        .output()
        .expect("java runs");
    let catalog = text(&catalog);
    for c in cases {
        assert!(
            catalog.contains(&format!("sales.orders-{c}\t")),
            "the catalog records sales.orders-{c}: {catalog}"
        );
    }
    eprintln!("faults test took {:?}", started.elapsed());
}
