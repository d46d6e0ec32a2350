//! A product's end of life on a real cluster (SPEC §4 "Retiring a product"): deprecate, remove
//! the file, be blocked by a declared consumer and then by a consumer group that read the topic,
//! and finally retire it once the group has been idle for `retire_idle_days` — checked with
//! Kafka's own tools and plain HTTP to the registry. One sandbox for the whole story.

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

use mesh_sandbox::{Ephemeral, KafkaTool, SandboxConfig, admin_client_properties};

const PRODUCT: &str = "domains/sales/products/legacy-orders.toml";
const TOPIC: &str = "sales.legacy-orders";

/// Runs the real binary; `today` sets MESH_TODAY.
fn mesh(repo: &Path, today: Option<&str>, args: &[&str]) -> (Option<i32>, String) {
    let o = run(repo, today, args);
    (o.status.code(), text(&o))
}

/// [`mesh`]'s standard output alone (a JSON document; notes go to standard error).
fn mesh_stdout(repo: &Path, today: Option<&str>, args: &[&str]) -> (Option<i32>, String) {
    let o = run(repo, today, args);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

fn run(repo: &Path, today: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = mesh_command(repo, args);
    if let Some(t) = today {
        cmd.env("MESH_TODAY", t);
    }
    cmd.output().expect("mesh runs")
}

/// The registry, asked with curl: a client nobody here wrote.
fn registry_get(cfg: &SandboxConfig, path: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", &format!("{}{path}", cfg.registry_url())])
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Today (UTC) plus `days`, as YYYY-MM-DD.
fn day_from_now(days: i64) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    mesh_model::doc::Date::from_unix_days(secs / 86_400 + days).to_string()
}

#[test]
fn a_deprecated_product_is_retired_only_once_nobody_reads_it() {
    let sb = Ephemeral::start(&[], &mut |line| eprintln!("{line}")).expect("sandbox starts");
    let cfg = &sb.cfg;
    let admin = admin_client_properties(cfg).unwrap();
    let repo = example_for(cfg, sb.scratch());

    // The example as it is: legacy-orders is deprecated with a sunset ahead, and its consumer
    // in finance is warned in every plan.
    let (code, out) = mesh(&repo, None, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = mesh(&repo, None, &["plan", "--env", "local"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("warning: finance/reconciliation-job (domains/finance/domain.toml:")
            && out.contains("consumes sales.legacy-orders, which is deprecated: sunset 2027-03-01, move to sales.orders"),
        "{out}"
    );
    let (_, json) = mesh_stdout(&repo, None, &["plan", "--env", "local", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("JSON plan");
    assert_eq!(doc["deprecations"][0]["product"], "sales.legacy-orders");
    assert_eq!(doc["deprecations"][0]["replacement"], "sales.orders");

    // The sunset moves into the past; applied, so the catalog says so.
    edit(&repo, PRODUCT, "sunset = 2027-03-01", "sunset = 2026-11-01");
    let (code, out) = mesh(&repo, None, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");

    // Removing the file while finance still consumes it: blocked, naming the consumer.
    std::fs::remove_file(repo.join(PRODUCT)).unwrap();
    let (code, out) = mesh(&repo, None, &["validate"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("consumed product `sales.legacy-orders` does not exist")
            && out.contains("If `sales.legacy-orders` is being retired"),
        "{out}"
    );
    let (code, out) = mesh(&repo, None, &["plan", "--env", "local"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("sales.legacy-orders (topic sales.legacy-orders) is no longer declared in the repo, and cannot be retired yet")
            && out.contains("consumer finance/reconciliation-job (group finance.reconciliation-job, owners: @acme/finance-data, finance-data-oncall@acme.example) still consumes it at domains/finance/domain.toml:"),
        "{out}"
    );
    assert!(!out.contains("sunset"), "the sunset has passed: {out}");
    let (_, md) = mesh(
        &repo,
        None,
        &["plan", "--env", "local", "--format", "markdown"],
    );
    assert!(
        md.contains("blocked by: consumer finance/reconciliation-job"),
        "{md}"
    );

    // A reference to a product nobody has, not even the catalog, stays an error.
    let domain = "domains/finance/domain.toml";
    let consumes = "[[consumes]]\nproduct = \"sales.legacy-orders\"";
    edit(
        &repo,
        domain,
        consumes,
        "[[consumes]]\nproduct = \"sales.never-existed\"",
    );
    let (code, out) = mesh(&repo, None, &["plan", "--env", "local"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("consumed product `sales.never-existed` does not exist"),
        "{out}"
    );

    // The consumer goes, but a group read the topic a moment ago: still blocked, naming it.
    drop_consumes(&repo, domain, "sales.never-existed");
    produce_one(
        cfg,
        &cfg.bootstrap_servers(),
        &admin,
        TOPIC,
        "{\"order\":1}",
    );
    read_one(cfg, &admin, "finance.adhoc-audit");
    let (code, out) = mesh(&repo, None, &["plan", "--env", "local"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("blocked by:")
            && out.contains("consumer group finance.adhoc-audit (Empty, 0 member(s), last commit "),
        "{out}"
    );
    assert!(!out.contains("still consumes it"), "{out}");
    let (code, json) = mesh_stdout(&repo, None, &["plan", "--env", "local", "--format", "json"]);
    assert_eq!(code, Some(1));
    let doc: serde_json::Value = serde_json::from_str(&json).expect("JSON plan");
    let blockers = &doc["errors"][0]["blockers"];
    assert_eq!(blockers[0]["kind"], "group", "{doc:#}");
    assert_eq!(blockers[0]["group"], "finance.adhoc-audit");
    // Taking READ from the consumer is a breaking change in its own right.
    assert!(
        doc["impacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "narrowed_access"
                && i["change"]
                    .as_str()
                    .unwrap()
                    .contains("User:finance-reconciliation-job")),
        "{doc:#}"
    );

    // A clock that is not a date is refused.
    let (code, out) = mesh(&repo, Some("someday"), &["plan", "--env", "local"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("MESH_TODAY=someday is not a date"), "{out}");

    // Eight days on, the group has been idle for retire_idle_days: retired.
    let later = day_from_now(8);
    let (code, out) = mesh(&repo, Some(&later), &["plan", "--env", "local"]);
    assert_eq!(code, Some(0), "{out}");
    for line in [
        "- topic sales.legacy-orders [sales.legacy-orders]: delete, with its data (retired)",
        "- subject sales.legacy-orders-value [sales.legacy-orders]: delete (retired)",
        "- catalog record sales.legacy-orders: retire (tombstone)",
        "- acl allow User:sales-legacy-exporter write on topic sales.legacy-orders (literal)",
        "Destructive and breaking changes",
        "retirement of sales.legacy-orders",
    ] {
        assert!(out.contains(line), "missing `{line}`:\n{out}");
    }
    let (_, md) = mesh(
        &repo,
        Some(&later),
        &["plan", "--env", "local", "--format", "markdown"],
    );
    let section = md
        .find("#### Destructive and breaking changes")
        .expect("the section");
    assert!(
        section < md.find("<details>").unwrap_or(usize::MAX),
        "near the top: {md}"
    );
    // A saved plan of the retirement is stale once a consumer shows up on the topic.
    let saved = repo.join("retire.plan");
    let saved = saved.to_str().unwrap();
    let (code, out) = mesh(
        &repo,
        Some(&later),
        &["plan", "--env", "local", "--out", saved],
    );
    assert_eq!(code, Some(0), "{out}");
    read_one(cfg, &admin, "finance.late-reader");
    let (code, out) = mesh(&repo, Some(&later), &["apply", saved, "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("stale plan") && out.contains("consumer groups of topic sales.legacy-orders"),
        "{out}"
    );

    let (code, out) = mesh(
        &repo,
        Some(&later),
        &["apply", "--env", "local", "--auto-approve"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Apply complete"), "{out}");

    // Kafka's own tools and the registry's HTTP API: every trace is gone.
    eventually("the topic is gone", || {
        !tool(cfg, KafkaTool::Topics, &admin, &["--list"])
            .lines()
            .any(|l| l.trim() == TOPIC)
    });
    let acls = tool(cfg, KafkaTool::Acls, &admin, &["--list", "--topic", TOPIC]);
    assert!(!acls.contains("User:"), "{acls}");
    let all = tool(cfg, KafkaTool::Acls, &admin, &["--list"]);
    assert!(
        !all.contains("sales-legacy-exporter") && !all.contains("finance.reconciliation-job"),
        "{all}"
    );
    let subjects = registry_get(cfg, "/subjects");
    assert!(
        subjects.contains("sales.orders-value") && !subjects.contains(TOPIC),
        "{subjects}"
    );
    let deleted = registry_get(cfg, "/subjects?deleted=true");
    assert!(!deleted.contains(TOPIC), "hard-deleted: {deleted}");

    let (code, out) = mesh(&repo, Some(&later), &["plan", "--env", "local"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("No changes."), "{out}");
}

/// Removes the `[[consumes]]` block naming `product` from a domain file.
fn drop_consumes(repo: &Path, file: &str, product: &str) {
    let p = repo.join(file);
    let t = std::fs::read_to_string(&p).unwrap();
    let kept: Vec<&str> = t
        .split("[[consumes]]")
        .filter(|block| !block.contains(&format!("product = \"{product}\"")))
        .collect();
    std::fs::write(&p, kept.join("[[consumes]]")).unwrap();
}

/// Reads one record of the retiring topic with Kafka's console consumer in `group`, which
/// commits its offset.
fn read_one(cfg: &SandboxConfig, admin: &Path, group: &str) {
    let out = consume_one(cfg, &cfg.bootstrap_servers(), admin, TOPIC, group, &[]);
    assert!(out.contains("Processed a total of 1 messages"), "{out}");
}
