//! `mesh plan` and `mesh apply` end to end against a real Kafka started by the project's own
//! sandbox (temporary folder, free ports), checked with Kafka's own admin tools and real clients
//! authenticating as the mesh's principals.

mod common;
use common::*;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mesh_sandbox::{
    Ephemeral, KafkaTool, SandboxConfig, admin_client_properties, down, kafka_tool,
    write_client_properties,
};

fn start() -> Ephemeral {
    Ephemeral::start(
        &[
            ("sales-revenue-job", "revenue-pw"),
            ("mallory", "mallory-pw"),
        ],
        &mut |line| eprintln!("{line}"),
    )
    .expect("sandbox starts")
}

fn plan_exit(repo: &Path) -> (Option<i32>, String) {
    let o = mesh(repo, &["plan", "--env", "local", "--detailed-exitcode"]);
    (o.status.code(), text(&o))
}

#[test]
fn plan_and_apply_converge_on_a_real_cluster() {
    let sb = start();
    let cfg = &sb.cfg;
    let admin = admin_client_properties(cfg).unwrap();
    let repo = example_for(cfg, sb.scratch());

    // Something nobody declared: it must survive every apply.
    let out = tool(
        cfg,
        KafkaTool::Topics,
        &admin,
        &[
            "--create",
            "--topic",
            "hand.made",
            "--partitions",
            "1",
            "--replication-factor",
            "1",
        ],
    );
    assert!(out.contains("Created topic hand.made"), "{out}");
    let out = tool(
        cfg,
        KafkaTool::Acls,
        &admin,
        &[
            "--add",
            "--allow-principal",
            "User:mallory",
            "--operation",
            "Read",
            "--topic",
            "hand.made",
        ],
    );
    assert!(out.contains("mallory"), "{out}");

    let (code, out) = plan_exit(&repo);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(
            "+ topic marketing.campaigns [marketing.campaigns]: 3 partitions, replication 1"
        ),
        "{out}"
    );
    assert!(
        out.contains("+ topic sales.orders [sales.orders]: 1 partitions, replication 1"),
        "the local override applies: {out}"
    );

    let o = mesh(&repo, &["plan", "--env", "local", "--format", "markdown"]);
    let md = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        md.starts_with("### mesh plan for environment `local`"),
        "{md}"
    );
    assert!(
        md.contains("<details><summary><b>sales</b>") && md.contains("```diff"),
        "{md}"
    );

    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("Apply complete"), "{}", text(&o));

    // Kafka's own tools see exactly what the repo declares.
    let describe = tool(
        cfg,
        KafkaTool::Topics,
        &admin,
        &["--describe", "--topic", "marketing.campaigns"],
    );
    assert!(
        describe.contains("PartitionCount: 3") && describe.contains("ReplicationFactor: 1"),
        "{describe}"
    );
    let configs = tool(
        cfg,
        KafkaTool::Configs,
        &admin,
        &[
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            "customers.profiles",
        ],
    );
    assert!(configs.contains("cleanup.policy=compact"), "{configs}");
    eventually("the plan is empty after apply", || {
        plan_exit(&repo).0 == Some(0)
    });
    let acls = tool(
        cfg,
        KafkaTool::Acls,
        &admin,
        &["--list", "--topic", "finance.revenue-daily"],
    );
    assert!(
        acls.contains("User:sales-revenue-job") && acls.contains("operation=READ"),
        "{acls}"
    );

    // A declared consumer reads; an undeclared one is denied (real clients, real SASL logins).
    let consume = |user: &str, pw: &str| {
        let props = write_client_properties(cfg, user, pw).unwrap();
        let out = kafka_tool(cfg, KafkaTool::ConsoleConsumer)
            .args([
                "--bootstrap-server",
                &cfg.bootstrap_servers(),
                "--consumer.config",
            ])
            .arg(&props)
            .args([
                "--topic",
                "finance.revenue-daily",
                "--group",
                "sales.revenue-job",
                "--from-beginning",
                "--timeout-ms",
                "4000",
            ])
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let ok = consume("sales-revenue-job", "revenue-pw");
    assert!(
        !ok.contains("AuthorizationException") && ok.contains("Processed a total of 0 messages"),
        "{ok}"
    );
    let denied = consume("mallory", "mallory-pw");
    assert!(
        denied.contains("AuthorizationException") || denied.contains("Not authorized"),
        "{denied}"
    );

    // The catalog site with live facts: partition counts, registered schema versions (with the
    // apply that recorded them), consumer groups.
    let site = sb.scratch().join("catalog-site");
    let o = mesh(
        &repo,
        &["catalog", "--env", "local", "--out", site.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("live facts unavailable"), "{}", text(&o));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("catalog.json")).unwrap()).unwrap();
    assert_eq!(doc["live"]["available"], true, "{}", doc["live"]);
    let product = |id: &str| {
        doc["products"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(product("marketing.campaigns")["live"]["partitions"], 3);
    let orders = product("sales.orders");
    let value = &orders["live"]["subjects"]["sales.orders-value"];
    assert!(value["version"].as_i64().unwrap() >= 1, "{orders}");
    assert!(
        value["registered_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "the apply's time from the catalog record: {orders}"
    );
    assert!(orders["live"]["groups"].is_array(), "{orders}");
    let page = std::fs::read_to_string(site.join("products/sales.orders.html")).unwrap();
    assert!(page.contains("id=\"live-partitions\""), "{page}");

    // Change a config, add partitions, add a consumer, remove a consumer.
    edit(
        &repo,
        "domains/marketing/products/campaigns.toml",
        "[topic.config]",
        "[topic.config]\n\"max.message.bytes\" = \"2MiB\"",
    );
    edit(
        &repo,
        "domains/marketing/products/campaigns.toml",
        "partitions = 3",
        "partitions = 5",
    );
    let sales = repo.join("domains/sales/domain.toml");
    let mut t = std::fs::read_to_string(&sales).unwrap();
    t.push_str("\n[[consumes]]\nproduct = \"logistics.shipments\"\nprincipal = \"revenue-job\"\ngroup = \"sales.revenue-job\"\npurpose = \"test: shipped revenue\"\n");
    std::fs::write(&sales, remove_consumes(&t, "marketing.campaigns")).unwrap();

    // campaigns is keyed and compacted: the baseline's change rule blocks more partitions until
    // the domain records an exemption.
    let o = mesh(&repo, &["plan", "--env", "local"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("marketing.campaigns: adding partitions to marketing.campaigns moves keys"),
        "{out}"
    );
    assert!(
        out.contains("change.partitions-keyed-or-compacted"),
        "{out}"
    );
    std::fs::create_dir_all(repo.join("domains/marketing/policies")).unwrap();
    std::fs::write(
        repo.join("domains/marketing/policies/exemptions.toml"),
        "[[exemption]]\nrule = \"change.partitions-keyed-or-compacted\"\nproduct = \"marketing.campaigns\"\nreason = \"test: consumers rebuild from the compacted topic\"\nexpires = 2099-12-31\n",
    )
    .unwrap();

    let o = mesh(&repo, &["plan", "--env", "local"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("~ max.message.bytes: 1048588 → 2097152"),
        "{out}"
    );
    assert!(
        out.contains("~ topic marketing.campaigns [marketing.campaigns]: partitions 3 → 5"),
        "{out}"
    );
    assert!(
        out.contains(
            "+ acl allow User:sales-revenue-job read on topic logistics.shipments (literal)"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "- acl allow User:sales-revenue-job read on topic marketing.campaigns (literal)"
        ),
        "{out}"
    );
    assert!(
        !out.contains("hand.made") && !out.contains("mallory"),
        "unmanaged things stay out of plans: {out}"
    );

    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    eventually("the plan is empty after the second apply", || {
        plan_exit(&repo).0 == Some(0)
    });
    let c = tool(
        cfg,
        KafkaTool::Configs,
        &admin,
        &[
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            "marketing.campaigns",
        ],
    );
    assert!(c.contains("max.message.bytes=2097152"), "{c}");
    let d = tool(
        cfg,
        KafkaTool::Topics,
        &admin,
        &["--describe", "--topic", "marketing.campaigns"],
    );
    assert!(d.contains("PartitionCount: 5"), "{d}");

    // Removing the key from the file resets it to the broker default.
    edit(
        &repo,
        "domains/marketing/products/campaigns.toml",
        "\"max.message.bytes\" = \"2MiB\"",
        "",
    );
    let out = text(&mesh(&repo, &["plan", "--env", "local"]));
    assert!(
        out.contains("- max.message.bytes: 2097152 → (broker default)"),
        "{out}"
    );
    assert_eq!(
        mesh(&repo, &["apply", "--env", "local", "--auto-approve"])
            .status
            .code(),
        Some(0)
    );
    eventually("the reset converges", || plan_exit(&repo).0 == Some(0));

    // Hand-made things survived every apply.
    let list = tool(cfg, KafkaTool::Topics, &admin, &["--list"]);
    assert!(list.lines().any(|l| l == "hand.made"), "{list}");
    let acls = tool(
        cfg,
        KafkaTool::Acls,
        &admin,
        &["--list", "--topic", "hand.made"],
    );
    assert!(acls.contains("User:mallory"), "{acls}");

    // A partition decrease is refused with the way out, and nothing is applied.
    edit(
        &repo,
        "domains/marketing/products/campaigns.toml",
        "partitions = 5",
        "partitions = 2",
    );
    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("Kafka cannot remove partitions")
            && text(&o).contains("new product version"),
        "{}",
        text(&o)
    );

    // Bad credentials: a clear error that never shows the secret.
    edit(
        &repo,
        "domains/marketing/products/campaigns.toml",
        "partitions = 2",
        "partitions = 5",
    );
    let mesh_toml = repo.join("mesh.toml");
    let t = std::fs::read_to_string(&mesh_toml).unwrap();
    std::fs::write(
        &mesh_toml,
        t.replace(
            "${MESH_LOCAL_PASSWORD:-admin-secret}",
            "${MESH_LOCAL_PASSWORD:-wrong-Pa55word}",
        ),
    )
    .unwrap();
    let o = mesh(&repo, &["plan", "--env", "local"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).to_lowercase().contains("authentication"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("wrong-Pa55word"), "{}", text(&o));
    std::fs::write(&mesh_toml, t).unwrap();

    // Broker down: a clear error, exit 1, nothing written.
    down(cfg).unwrap();
    let started = Instant::now();
    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains(&cfg.bootstrap_servers()), "{}", text(&o));
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// Drops the `[[consumes]]` entry naming `product` from a domain file.
fn remove_consumes(text: &str, product: &str) -> String {
    let mut out = Vec::new();
    for block in text.split("[[consumes]]") {
        if block.contains(&format!("product = \"{product}\"")) {
            continue;
        }
        out.push(block);
    }
    out.join("[[consumes]]")
}

/// The registry, asked with curl: a client nobody here wrote.
fn registry_get(cfg: &SandboxConfig, path: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-s", &format!("{}{path}", cfg.registry_url())])
        .output()
        .expect("curl runs");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&out.stdout).into()))
}

#[test]
fn schemas_are_registered_evolved_and_gated_on_a_real_registry() {
    let sb = start();
    let cfg = &sb.cfg;
    let admin = admin_client_properties(cfg).unwrap();
    let repo = example_for(cfg, sb.scratch());

    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let subjects = registry_get(cfg, "/subjects");
    let subjects: Vec<&str> = subjects
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for s in [
        "sales.orders-value",
        "sales.orders-key",
        "marketing.campaigns-value",
        "sales.checkout-events-value",
    ] {
        assert!(subjects.contains(&s), "{s} in {subjects:?}");
    }
    let level = registry_get(cfg, "/config/sales.orders-value");
    assert_eq!(
        level["compatibilityLevel"], "BACKWARD_TRANSITIVE",
        "{level}"
    );
    let level = registry_get(cfg, "/config/marketing.campaigns-value");
    assert_eq!(level["compatibilityLevel"], "FULL", "{level}");
    let proto = registry_get(cfg, "/subjects/sales.checkout-events-value/versions/latest");
    assert_eq!(proto["schemaType"], "PROTOBUF", "{proto}");
    eventually("the plan is empty after apply", || {
        plan_exit(&repo).0 == Some(0)
    });

    // A whitespace-only change is no change.
    let order = repo.join("domains/sales/schemas/order.avsc");
    let original = std::fs::read_to_string(&order).unwrap();
    std::fs::write(&order, original.replace("\n", "\n  ").replace(": ", ":   ")).unwrap();
    assert_eq!(plan_exit(&repo).0, Some(0), "{}", plan_exit(&repo).1);

    // A compatible evolution (an optional field) is exactly one new version, with a diff.
    let evolved = original.replace(
        "{\"name\": \"campaign_id\"",
        "{\"name\": \"gift_note\", \"type\": [\"null\", \"string\"], \"default\": null},\n    {\"name\": \"campaign_id\"",
    );
    assert_ne!(evolved, original);
    std::fs::write(&order, &evolved).unwrap();
    let o = mesh(&repo, &["plan", "--env", "local"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("~ subject sales.orders-value [sales.orders]: new version from domains/sales/schemas/order.avsc"), "{out}");
    assert!(out.contains("+") && out.contains("gift_note"), "{out}");
    // One new version, and the catalog record that remembers it (for `mesh drift`).
    assert!(
        out.contains("Plan: 0 to create, 2 to change, 0 to destroy.")
            && out.contains("catalog record sales.orders (applied)"),
        "exactly one new version: {out}"
    );
    assert_eq!(
        mesh(&repo, &["apply", "--env", "local", "--auto-approve"])
            .status
            .code(),
        Some(0)
    );
    let versions = registry_get(cfg, "/subjects/sales.orders-value/versions");
    assert_eq!(versions, serde_json::json!([1, 2]), "{versions}");

    // An incompatible change fails the plan, names who it would break, and nothing is applied —
    // not even the unrelated partition increase in the same change.
    let broken = evolved.replace(
        "{\"name\": \"gift_note\", \"type\": [\"null\", \"string\"], \"default\": null}",
        "{\"name\": \"gift_note\", \"type\": [\"null\", \"string\"], \"default\": null}, {\"name\": \"channel\", \"type\": \"string\"}",
    );
    std::fs::write(&order, &broken).unwrap();
    edit(
        &repo,
        "domains/marketing/products/campaigns.toml",
        "partitions = 3",
        "partitions = 4",
    );
    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("not BACKWARD_TRANSITIVE-compatible with subject sales.orders-value")
            && out.contains("cannot read data written with registered version 1: Order.channel:"),
        "{out}"
    );
    assert!(
        out.contains("it would break:")
            && out.contains("consumer finance/billing-service (owners: @acme/finance-data"),
        "{out}"
    );
    assert!(out.contains("downstream product finance.invoices"), "{out}");
    let versions = registry_get(cfg, "/subjects/sales.orders-value/versions");
    assert_eq!(
        versions,
        serde_json::json!([1, 2]),
        "nothing registered: {versions}"
    );
    let d = tool(
        cfg,
        KafkaTool::Topics,
        &admin,
        &["--describe", "--topic", "marketing.campaigns"],
    );
    assert!(d.contains("PartitionCount: 3"), "nothing applied: {d}");

    // Registry down: a clear error, exit 1.
    std::fs::write(&order, &evolved).unwrap();
    let mesh_toml = repo.join("mesh.toml");
    let t = std::fs::read_to_string(&mesh_toml).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &mesh_toml,
        t.replace(
            &cfg.registry_url(),
            &format!("http://127.0.0.1:{closed}/apis/ccompat/v7"),
        ),
    )
    .unwrap();
    let o = mesh(&repo, &["plan", "--env", "local"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).to_lowercase().contains("unreachable"),
        "{}",
        text(&o)
    );
}
