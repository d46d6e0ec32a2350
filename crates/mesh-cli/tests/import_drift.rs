//! `mesh import` and `mesh drift` end to end on one real sandbox (one start for the file: each
//! costs seconds), with the cluster built and changed by Kafka's own admin tools and plain HTTP.

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Output};

use mesh_sandbox::{Ephemeral, KafkaTool, SandboxConfig};

fn mesh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("MESH_LOCAL_PASSWORD")
        .output()
        .expect("mesh runs")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn topics(cfg: &SandboxConfig, args: &[&str]) -> String {
    admin_tool(cfg, KafkaTool::Topics, args)
}

fn acls(cfg: &SandboxConfig, args: &[&str]) -> String {
    admin_tool(cfg, KafkaTool::Acls, args)
}

fn configs(cfg: &SandboxConfig, args: &[&str]) -> String {
    admin_tool(cfg, KafkaTool::Configs, args)
}

fn http(cfg: &SandboxConfig, method: &str, path: &str, body: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-X", method, "-H"])
        .arg("Content-Type: application/vnd.schemaregistry.v1+json")
        .args(["--data", body])
        .arg(format!("{}{path}", cfg.registry_url()))
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout).into()
}

/// Every placeholder replaced, as a person would.
fn fill_in(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            fill_in(&path);
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if !text.contains("TODO(mesh import)") {
            continue;
        }
        let filled: Vec<String> = text
            .lines()
            .map(|l| match l.split(" = ").next() {
                Some("quality") => "quality = \"raw\"".into(),
                Some("sla") => "sla = \"tier-3\"".into(),
                Some("owners") => "owners = [\"@acme/team\"]".into(),
                Some("description") => "description = \"filled in\"".into(),
                _ => l.to_string(),
            })
            .collect();
        std::fs::write(&path, filled.join("\n") + "\n").unwrap();
    }
}

#[test]
fn import_a_hand_made_cluster_then_drift_after_apply() {
    let sb = Ephemeral::start(&[], &mut |line| eprintln!("{line}")).expect("sandbox starts");
    let cfg = &sb.cfg;
    let example = example_for(cfg, sb.scratch());
    let out = sb.scratch().join("imported");

    // Refused before anything is read: a non-empty --out, an unknown environment.
    let busy = sb.scratch().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("x"), "").unwrap();
    let o = mesh(&[
        "import",
        "--env",
        "local",
        "--out",
        p(&busy),
        "--repo",
        p(&example),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is not empty"), "{}", text(&o));
    let o = mesh(&[
        "import",
        "--env",
        "nope",
        "--out",
        p(&out),
        "--repo",
        p(&example),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no environment `nope`"), "{}", text(&o));
    assert!(!out.exists());
    // Nothing applied yet: drift has nothing to compare with, and says so.
    let o = mesh(&["drift", "--env", "local", "--repo", p(&example)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no catalog topic"), "{}", text(&o));

    // A cluster made by hand.
    for (topic, partitions) in [("shop.baskets", "3"), ("Legacy_Events", "1")] {
        let o = topics(
            cfg,
            &[
                "--create",
                "--topic",
                topic,
                "--partitions",
                partitions,
                "--replication-factor",
                "1",
            ],
        );
        assert!(o.contains("Created topic"), "{o}");
    }
    let o = configs(
        cfg,
        &[
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            "shop.baskets",
            "--add-config",
            "retention.ms=86400000,cleanup.policy=compact",
        ],
    );
    assert!(o.contains("Completed updating config"), "{o}");
    for args in [
        &[
            "--add",
            "--allow-principal",
            "User:shop-basket-svc",
            "--operation",
            "Write",
            "--operation",
            "Describe",
            "--topic",
            "shop.baskets",
        ][..],
        &[
            "--add",
            "--allow-principal",
            "User:legacy-writer",
            "--producer",
            "--topic",
            "Legacy_Events",
        ],
        &[
            "--add",
            "--allow-principal",
            "User:crm-loader",
            "--operation",
            "Read",
            "--operation",
            "Describe",
            "--topic",
            "shop.baskets",
        ],
        &[
            "--add",
            "--allow-principal",
            "User:crm-loader",
            "--operation",
            "Read",
            "--group",
            "crm-loader",
        ],
        &[
            "--add",
            "--allow-principal",
            "User:crm-loader",
            "--operation",
            "Read",
            "--operation",
            "Describe",
            "--topic",
            "Legacy_Events",
        ],
        &[
            "--add",
            "--deny-principal",
            "User:mallory",
            "--operation",
            "Read",
            "--topic",
            "shop.baskets",
        ],
    ] {
        let o = acls(cfg, args);
        assert!(o.contains("Adding ACLs"), "{o}");
    }
    let schema = r#"{"type":"record","name":"Basket","fields":[{"name":"id","type":"string"}]}"#;
    let body = serde_json::json!({ "schema": schema }).to_string();
    let o = http(cfg, "POST", "/subjects/shop.baskets-value/versions", &body);
    assert!(o.contains("\"id\""), "{o}");
    let o = http(
        cfg,
        "PUT",
        "/config/shop.baskets-value",
        r#"{"compatibility":"FULL"}"#,
    );
    assert!(o.contains("FULL"), "{o}");

    let o = mesh(&[
        "import",
        "--env",
        "local",
        "--out",
        p(&out),
        "--repo",
        p(&example),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains("Imported 2 product(s) in 3 domain(s)"),
        "{said}"
    );
    assert!(
        said.contains("it should only record the 2 product(s) in the catalog"),
        "{said}"
    );
    assert!(
        said.contains("principal User:mallory not declared"),
        "{said}"
    );
    // --producer adds CREATE, which mesh does not derive: left alone, and said so.
    assert!(
        said.contains("principal User:legacy-writer not declared"),
        "{said}"
    );
    let baskets = std::fs::read_to_string(out.join("domains/shop/products/baskets.toml")).unwrap();
    assert!(
        baskets.contains("\"retention.ms\" = \"86400000\""),
        "{baskets}"
    );
    assert!(baskets.contains("compatibility = \"FULL\""), "{baskets}");
    assert!(
        baskets.contains("producers = [\"shop-basket-svc\"]"),
        "{baskets}"
    );
    assert!(out.join("domains/shop/schemas/baskets-value.avsc").exists());
    assert!(
        out.join("domains/imported/products/legacy-events.toml")
            .exists()
    );
    let crm = std::fs::read_to_string(out.join("domains/crm/domain.toml")).unwrap();
    assert!(
        crm.contains("crm-loader = \"User:crm-loader\"") && crm.contains("group = \"crm-loader\""),
        "{crm}"
    );

    // The placeholders stop it until a person fills them in.
    let o = mesh(&["validate", "--repo", p(&out)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains(
            "error[import-placeholder]: `owners` is still the placeholder left by mesh import"
        ),
        "{said}"
    );
    assert!(
        said.contains("domains/shop/products/baskets.toml:"),
        "{said}"
    );
    fill_in(&out);
    let o = mesh(&["validate", "--repo", p(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The plan of the imported repo changes nothing but the catalog.
    let o = mesh(&[
        "plan",
        "--env",
        "local",
        "--repo",
        p(&out),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let kinds: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["create_catalog_topic", "upsert_catalog", "upsert_catalog"],
        "{plan:#}"
    );

    // Drift: apply the example, then change things behind mesh's back.
    let o = mesh(&[
        "apply",
        "--env",
        "local",
        "--auto-approve",
        "--repo",
        p(&example),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = mesh(&["drift", "--env", "local", "--repo", p(&example)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("No drift"), "{}", text(&o));

    let o = configs(
        cfg,
        &[
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            "sales.orders",
            "--add-config",
            "retention.ms=86400000",
        ],
    );
    assert!(o.contains("Completed updating config"), "{o}");
    let o = topics(
        cfg,
        &["--alter", "--topic", "sales.orders", "--partitions", "4"],
    );
    assert!(!o.contains("Error"), "{o}");
    let o = acls(
        cfg,
        &[
            "--remove",
            "--force",
            "--allow-principal",
            "User:sales-order-service",
            "--operation",
            "Write",
            "--topic",
            "sales.orders",
        ],
    );
    assert!(!o.contains("Error"), "{o}");

    let mut last = String::new();
    eventually("drift reports the three changes", || {
        let o = mesh(&[
            "drift",
            "--env",
            "local",
            "--repo",
            p(&example),
            "--format",
            "json",
        ]);
        last = String::from_utf8_lossy(&o.stdout).into();
        o.status.code() == Some(2)
            && serde_json::from_slice::<serde_json::Value>(&o.stdout)
                .is_ok_and(|v| v["drift"].as_array().is_some_and(|d| d.len() == 3))
    });
    let report: serde_json::Value = serde_json::from_str(&last).unwrap();
    let messages: Vec<&str> = report["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "topic sales.orders: partitions 1 → 4",
            "topic sales.orders: retention.ms is 86400000, applied 2592000000",
            "ACL removed outside mesh: allow User:sales-order-service write on topic sales.orders (literal)",
        ],
        "{report:#}"
    );
    let o = mesh(&["drift", "--env", "local", "--repo", p(&example)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("3 change(s) made outside mesh"),
        "{}",
        text(&o)
    );

    // The catalog records schemas: without a registry, drift cannot compare them.
    let mesh_toml = example.join("mesh.toml");
    let t = std::fs::read_to_string(&mesh_toml).unwrap();
    let without = t.replace(
        &format!("schema_registry_url = \"{}\"", cfg.registry_url()),
        "",
    );
    assert_ne!(t, without);
    std::fs::write(&mesh_toml, without).unwrap();
    let o = mesh(&["drift", "--env", "local", "--repo", p(&example)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "the catalog records schemas, but environment `local` has no schema_registry_url"
        ),
        "{}",
        text(&o)
    );
}

/// Errors found before any cluster answers (none is running here).
#[test]
fn import_and_drift_refuse_bad_settings_before_reading_anything() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mesh-repo-example"),
        &repo,
    );
    let out = dir.path().join("out");
    let fails = |args: &[&str], says: &str| {
        let o = mesh(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
    };
    fails(
        &["drift", "--repo", p(&repo)],
        "drift needs --env ENV (help: declared environments: local, local-3, local-tls, prod)",
    );
    fails(
        &[
            "import",
            "--env",
            "local",
            "--out",
            p(&out),
            "--repo",
            p(&dir.path().join("nowhere")),
        ],
        "cannot read",
    );
    // A variable the environment needs is unset: named, never guessed.
    fails(
        &[
            "import",
            "--env",
            "prod",
            "--out",
            p(&out),
            "--repo",
            p(&repo),
        ],
        "needs the variable MESH_PROD_KAFKA_",
    );
    fails(
        &["drift", "--env", "prod", "--repo", p(&repo)],
        "needs the variable MESH_PROD_KAFKA_",
    );
    // --out inside a file.
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    fails(
        &[
            "import",
            "--env",
            "local",
            "--out",
            p(&file.join("x")),
            "--repo",
            p(&repo),
        ],
        "cannot use --out",
    );
    // Nobody listens: unreachable, and still nothing written.
    let mesh_toml = repo.join("mesh.toml");
    let t = std::fs::read_to_string(&mesh_toml).unwrap();
    std::fs::write(&mesh_toml, t.replace("127.0.0.1:19092", "127.0.0.1:1")).unwrap();
    fails(
        &[
            "import",
            "--env",
            "local",
            "--out",
            p(&out),
            "--repo",
            p(&repo),
        ],
        "127.0.0.1:1",
    );
    fails(
        &["drift", "--env", "local", "--repo", p(&repo)],
        "127.0.0.1:1",
    );
    assert!(!out.exists());
    // An invalid mesh.toml.
    std::fs::write(
        &mesh_toml,
        t.replace(
            "[environments.local]\n",
            "[environments.local]\nbootstrap = 1\n",
        ),
    )
    .unwrap();
    fails(
        &[
            "import",
            "--env",
            "local",
            "--out",
            p(&out),
            "--repo",
            p(&repo),
        ],
        "mesh.toml has errors",
    );
    fails(
        &["drift", "--env", "local", "--repo", p(&repo)],
        "mesh.toml has errors",
    );
}
