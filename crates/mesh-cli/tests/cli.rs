//! The real `mesh` binary on the example mesh, on git revisions, and on the commands that read the
//! lineage graph.

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Output};

fn mesh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("MESH_TODAY", "2026-11-22")
        .output()
        .expect("mesh runs")
}

fn ex() -> String {
    example().to_string_lossy().into_owned()
}

#[test]
fn the_example_is_valid_in_every_environment() {
    for env in [None, Some("local"), Some("prod")] {
        let mut args = vec!["validate", "--repo", &ex()]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        if let Some(e) = env {
            args.extend(["--env".into(), e.into()]);
        }
        let o = mesh(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(o.status.code(), Some(0), "{env:?}: {}", text(&o));
        assert!(
            text(&o).contains("mesh is valid: 5 domains, 17 products"),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn validate_json_is_versioned_and_positions_are_one_based() {
    let o = mesh(&["validate", "--repo", &ex(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["products"], 17);
    for d in doc["diagnostics"].as_array().unwrap() {
        assert!(
            d["line"].as_u64().unwrap() >= 1 && d["column"].as_u64().unwrap() >= 1,
            "{d}"
        );
    }
}

#[test]
fn an_unknown_environment_is_an_error_with_a_suggestion() {
    let o = mesh(&["validate", "--repo", &ex(), "--env", "prdo"]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains("environment `prdo` is not declared") && t.contains("did you mean `prod`?"),
        "{t}"
    );
}

#[test]
fn a_folder_without_mesh_toml_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = mesh(&["validate", "--repo", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no mesh.toml"), "{}", text(&o));
}

#[test]
fn graph_formats() {
    let o = mesh(&["graph", "--repo", &ex(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let nodes = doc["nodes"].as_array().unwrap();
    assert_eq!(nodes.iter().filter(|n| n["kind"] == "product").count(), 17);
    let has_edge = |from: &str, to: &str, kind: &str| {
        doc["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["from"] == from && e["to"] == to && e["kind"] == kind)
    };
    assert!(has_edge("customers.profiles", "sales.orders", "feeds"));
    assert!(has_edge(
        "sales.legacy-orders",
        "finance/reconciliation-job",
        "consumes"
    ));
    assert!(!has_edge(
        "sales.orders",
        "finance/reconciliation-job",
        "consumes"
    ));

    let dot = mesh(&["graph", "--repo", &ex()]);
    let dot = String::from_utf8(dot.stdout).unwrap();
    assert!(
        dot.starts_with("digraph mesh {")
            && dot.contains("\"customers.profiles\" -> \"sales.orders\";"),
        "{dot}"
    );
    let mermaid =
        String::from_utf8(mesh(&["graph", "--repo", &ex(), "--format", "mermaid"]).stdout).unwrap();
    assert!(
        mermaid.starts_with("flowchart LR\n") && mermaid.contains("[\"sales.orders\"]"),
        "{mermaid}"
    );
}

#[test]
fn impact_lists_downstream_products_and_consumers_with_owners() {
    let o = mesh(&[
        "impact",
        "sales.orders",
        "--repo",
        &ex(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let products: Vec<&str> = doc["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        products.contains(&"finance.invoices") && products.contains(&"finance.revenue-daily"),
        "{products:?}"
    );
    assert!(!products.contains(&"sales.orders"));
    let invoices = doc["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "finance.invoices")
        .unwrap();
    assert_eq!(invoices["depth"], 1);
    assert!(
        invoices["owners"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "@acme/finance-data")
    );

    assert_eq!(doc["deprecation"], serde_json::Value::Null);
    let human = text(&mesh(&["impact", "sales.legacy-orders", "--repo", &ex()]));
    assert!(
        human.contains("deprecated: sunset 2027-03-01, replacement sales.orders"),
        "{human}"
    );
    let o = mesh(&[
        "impact",
        "sales.legacy-orders",
        "--repo",
        &ex(),
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["deprecation"]["sunset"], "2027-03-01");
    assert_eq!(doc["deprecation"]["replacement"], "sales.orders");

    let o = mesh(&["impact", "sales.order", "--repo", &ex()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("did you mean sales.orders?"),
        "{}",
        text(&o)
    );
}

#[test]
fn codeowners_routes_domains_and_products_with_their_own_owners() {
    let o = mesh(&["codeowners", "--repo", &ex()]);
    assert_eq!(o.status.code(), Some(0));
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(t.contains("/domains/sales/ @acme/sales-data\n"), "{t}");
    assert!(
        t.contains("/domains/sales/products/orders.toml @acme/sales-orders"),
        "{t}"
    );
}

#[test]
fn rev_reads_a_revision_without_a_checkout_also_from_a_bare_clone() {
    let t = tempfile::tempdir().unwrap();
    let work = t.path().join("work");
    copy_dir(&example(), &work);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "example"]);
    // Break the work tree: HEAD stays valid.
    let orders = work.join("domains/sales/products/orders.toml");
    let broken = std::fs::read_to_string(&orders)
        .unwrap()
        .replace("quality = ", "qualiti = ");
    std::fs::write(&orders, broken).unwrap();

    let w = work.to_str().unwrap();
    let o = mesh(&["validate", "--repo", w]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("unknown key `qualiti`"), "{}", text(&o));
    let o = mesh(&["validate", "--repo", w, "--rev", "HEAD"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let bare = t.path().join("bare.git");
    git(
        t.path(),
        &["clone", "-q", "--bare", w, bare.to_str().unwrap()],
    );
    let o = mesh(&[
        "graph",
        "--repo",
        bare.to_str().unwrap(),
        "--rev",
        "main",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = mesh(&["validate", "--repo", w, "--rev", "no-such-rev"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("revision `no-such-rev` not found"),
        "{}",
        text(&o)
    );
}

#[test]
fn base_lists_touched_domains_products_owners_and_cross_team_reach() {
    let t = tempfile::tempdir().unwrap();
    let work = t.path().join("work");
    copy_dir(&example(), &work);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "base"]);
    git(&work, &["checkout", "-q", "-b", "feature"]);
    let orders = work.join("domains/sales/products/orders.toml");
    let text_of = |p: &Path| std::fs::read_to_string(p).unwrap();
    std::fs::write(
        &orders,
        text_of(&orders).replace("Every order as it is placed", "Each order as placed"),
    )
    .unwrap();
    let logistics = work.join("domains/logistics/domain.toml");
    std::fs::write(
        &logistics,
        format!(
            "{}\n[[consumes]]\nproduct = \"marketing.campaigns\"\nprincipal = \"performance-job\"\ngroup = \"logistics.performance-job\"\npurpose = \"delivery KPIs per campaign\"\n",
            text_of(&logistics)
        ),
    )
    .unwrap();
    git(&work, &["commit", "-q", "-am", "two domains"]);
    // Read from a bare clone, as a CI job with no checkout would.
    let bare = t.path().join("bare.git");
    let ok = Command::new("git")
        .args(["clone", "-q", "--bare"])
        .arg(&work)
        .arg(&bare)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let b = bare.to_str().unwrap();

    let o = mesh(&[
        "validate", "--repo", b, "--rev", "feature", "--base", "main", "--format", "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let changes = &doc["changes"];
    let names = |key: &str, field: &str| -> Vec<String> {
        changes[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v[field].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("domains", "name"), ["logistics", "sales"]);
    assert_eq!(names("products", "id"), ["sales.orders"]);
    assert_eq!(changes["products"][0]["change"], "changed");
    assert_eq!(
        changes["owners_to_ask"],
        serde_json::json!(["@acme/logistics-platform", "@acme/sales-orders"])
    );
    let codes: Vec<&str> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"cross-team-change"), "{codes:?}");
    let reach = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "reaches-into-domain")
        .expect("a reach warning");
    assert_eq!(reach["file"], "domains/logistics/domain.toml");
    assert!(
        reach["message"]
            .as_str()
            .unwrap()
            .contains("@acme/marketing-analytics"),
        "{reach}"
    );

    let o = mesh(&[
        "validate", "--repo", b, "--rev", "feature", "--base", "main",
    ]);
    let out = text(&o);
    assert!(
        out.contains("Changes since main:")
            && out.contains("~ domain logistics (owners: @acme/logistics-platform)")
            && out.contains("~ sales.orders (owners: @acme/sales-orders)")
            && out
                .contains("Owners to ask for review: @acme/logistics-platform, @acme/sales-orders"),
        "{out}"
    );

    let o = mesh(&[
        "validate", "--repo", b, "--rev", "feature", "--base", "nope",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("--base: "), "{}", text(&o));
}

/// The commit id `git` abbreviates `rev` to (7 digits).
fn short_id(dir: &std::path::Path, rev: &str) -> String {
    let o = Command::new("git")
        .args(["rev-parse", "--short=7", rev])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

#[test]
fn base_checks_transitive_levels_against_every_committed_version() {
    // sales.orders is BACKWARD_TRANSITIVE. History: v1 (the example), v2 adds gift_note with a
    // default; the pull request drops the default. Against v2 alone that is fine (v2 data has
    // the field); against v1 it is not, and only the git history knows v1.
    let t = tempfile::tempdir().unwrap();
    let work = t.path().join("work");
    copy_dir(&example(), &work);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "v1"]);
    let v1 = short_id(&work, "HEAD");
    let order = work.join("domains/sales/schemas/order.avsc");
    let original = std::fs::read_to_string(&order).unwrap();
    let with = |field: &str| {
        original.replacen(
            "{\"name\": \"campaign_id\"",
            &format!("{field},\n    {{\"name\": \"campaign_id\""),
            1,
        )
    };
    std::fs::write(
        &order,
        with(r#"{"name": "gift_note", "type": "string", "default": ""}"#),
    )
    .unwrap();
    git(&work, &["commit", "-q", "-am", "v2"]);
    let v2 = short_id(&work, "HEAD");
    std::fs::write(&order, with(r#"{"name": "gift_note", "type": "string"}"#)).unwrap();

    let w = work.to_str().unwrap();
    let o = mesh(&["validate", "--repo", w, "--base", "main"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("not BACKWARD_TRANSITIVE-compatible with its committed versions")
            && out.contains(&format!(
                "cannot read data written with the version of commit {v1} ("
            ))
            && out.contains("Order.gift_note: the reader's field gift_note has no default"),
        "{out}"
    );
    assert!(
        !out.contains(&format!("commit {v2}")),
        "v2 is compatible: {out}"
    );
    assert!(
        out.contains("order.avsc:46:14")
            && out.contains(r#"{"name": "gift_note", "type": "string"},"#),
        "the error points at the field: {out}"
    );

    // A shallow clone holds only the base's version: the check says what it could not see.
    let shallow = t.path().join("shallow");
    let url = format!("file://{}", work.display());
    git(
        t.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &url,
            shallow.to_str().unwrap(),
        ],
    );
    std::fs::copy(&order, shallow.join("domains/sales/schemas/order.avsc")).unwrap();
    let o = mesh(&[
        "validate",
        "--repo",
        shallow.to_str().unwrap(),
        "--base",
        "HEAD",
    ]);
    let out = text(&o);
    assert!(
        out.contains("warning[schema-history-incomplete]")
            && out.contains("this clone is shallow: only 1 version(s) are here")
            && out.contains("fetch-depth: 0"),
        "{out}"
    );
}

#[test]
fn base_flags_breaking_schema_changes_offline() {
    let t = tempfile::tempdir().unwrap();
    let work = t.path().join("work");
    copy_dir(&example(), &work);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "base"]);
    let w = work.to_str().unwrap();
    let order = work.join("domains/sales/schemas/order.avsc");
    let original = std::fs::read_to_string(&order).unwrap();
    let add = |field: &str| {
        original.replacen(
            "{\"name\": \"campaign_id\"",
            &format!("{field},\n    {{\"name\": \"campaign_id\""),
            1,
        )
    };

    std::fs::write(
        &order,
        add(r#"{"name": "gift_note", "type": ["null", "string"], "default": null}"#),
    )
    .unwrap();
    let o = mesh(&["validate", "--repo", w, "--base", "main"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "a compatible change passes: {}",
        text(&o)
    );
    let out = text(&o);
    assert!(
        out.contains("Schema value of sales.orders:")
            && out.contains("--- domains/sales/schemas/order.avsc (main)")
            && out.contains("+      \"name\": \"gift_note\","),
        "the change shows as a diff: {out}"
    );

    std::fs::write(&order, add(r#"{"name": "channel", "type": "string"}"#)).unwrap();
    let o = mesh(&["validate", "--repo", w, "--base", "main"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("error[breaking-schema-change]")
            && out.contains("domains/sales/schemas/order.avsc"),
        "{out}"
    );
    assert!(
        out.contains("not BACKWARD_TRANSITIVE-compatible with its committed versions"),
        "{out}"
    );
    assert!(
        out.contains("finance/billing-service (@acme/finance-data"),
        "{out}"
    );

    std::fs::write(&order, &original).unwrap();
    let campaign = work.join("domains/marketing/schemas/campaign.json");
    let json = std::fs::read_to_string(&campaign).unwrap();
    std::fs::write(
        &campaign,
        json.replacen(
            "\"properties\": {",
            "\"properties\": {\n    \"extra\": {\"type\": \"string\"},",
            1,
        ),
    )
    .unwrap();
    let o = mesh(&["validate", "--repo", w, "--base", "main"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("warning[schema-changed]")
            && text(&o).contains("checked by the registry"),
        "{}",
        text(&o)
    );

    let o = mesh(&["validate", "--repo", w, "--base", "no-such-base"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("--base: revision `no-such-base` not found"),
        "{}",
        text(&o)
    );
}

#[test]
fn plan_says_which_environment_and_which_variable_it_needs() {
    let o = mesh(&["plan", "--repo", &ex()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o)
            .contains("plan and apply need --env ENV (help: declared environments: local, local-3, local-tls, prod)"),
        "{}",
        text(&o)
    );

    let o = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args(["plan", "--repo", &ex(), "--env", "prod"])
        .env("NO_COLOR", "1")
        .env("MESH_PROD_KAFKA_USERNAME", "mesh-ci")
        .env_remove("MESH_PROD_KAFKA_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains("needs the variable MESH_PROD_KAFKA_PASSWORD") && t.contains("sasl.password"),
        "{t}"
    );
    assert!(!t.contains("mesh-ci"), "values are never echoed: {t}");
}

#[test]
fn schemas_without_a_registry_url_are_a_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    copy_dir(&example(), &repo);
    let mesh_toml = repo.join("mesh.toml");
    let settings = std::fs::read_to_string(&mesh_toml).unwrap();
    let without: String = settings
        .lines()
        .filter(|l| !l.starts_with("schema_registry_url"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&mesh_toml, without).unwrap();
    let o = mesh(&["plan", "--repo", repo.to_str().unwrap(), "--env", "local"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains(
            "products declare schemas, but environment `local` has no schema_registry_url"
        ),
        "{}",
        text(&o)
    );
}

#[test]
fn a_sink_connector_is_a_consumer_in_impact_and_the_graph() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    copy_dir(&example(), &repo);
    std::fs::create_dir_all(repo.join("domains/finance/connectors")).unwrap();
    std::fs::write(
        repo.join("domains/finance/connectors/orders-to-warehouse.toml"),
        "class = \"org.apache.kafka.connect.file.FileStreamSinkConnector\"\n\
         principal = \"billing-service\"\nconsumes = \"sales.orders\"\n\
         purpose = \"load orders into the warehouse\"\n\
         [config]\n\"file\" = \"/var/lib/warehouse/orders.txt\"\n",
    )
    .unwrap();
    let r = repo.to_str().unwrap();
    let o = mesh(&["validate", "--repo", r]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = mesh(&["impact", "sales.orders", "--repo", r]);
    assert!(
        text(&o).contains("finance/connector:orders-to-warehouse (owners: @acme/finance-data"),
        "{}",
        text(&o)
    );
    let o = mesh(&["graph", "--format", "json", "--repo", r]);
    let g: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let node = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "finance/connector:orders-to-warehouse")
        .unwrap_or_else(|| panic!("{g}"));
    assert_eq!(node["connector"], "orders-to-warehouse");
    assert_eq!(
        node["groups"],
        serde_json::json!(["connect-orders-to-warehouse"])
    );
}

/// `mesh plan` reads the cluster while it checks the schemas and policies; a mesh those checks
/// find invalid is reported as before, at once, whatever the reads are doing.
#[test]
fn plan_reports_an_invalid_mesh_without_waiting_for_the_reads_it_started() {
    // Accepts connections and never answers: a read of it waits for the whole timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    copy_dir(&example(), &repo);
    let mesh_toml = repo.join("mesh.toml");
    // A file the client settings name, read from git with --rev into mesh's temporary folder.
    let settings = std::fs::read_to_string(&mesh_toml)
        .unwrap()
        .replace("127.0.0.1:19092", &addr)
        .replace("127.0.0.1:18081", &addr)
        .replace(
            "\"sasl.mechanism\" = \"PLAIN\"",
            "\"sasl.mechanism\" = \"PLAIN\"\n\"ssl.ca.location\" = \"certs/ca.pem\"",
        );
    assert!(settings.contains("certs/ca.pem"));
    std::fs::write(&mesh_toml, settings).unwrap();
    std::fs::create_dir(repo.join("certs")).unwrap();
    std::fs::write(repo.join("certs/ca.pem"), "not used: nothing is reached").unwrap();
    // Loads without errors (the model does not parse schemas); the schema check finds it.
    std::fs::write(
        repo.join("domains/sales/schemas/order.avsc"),
        "{\"type\": \"record\", \"name\": \"Order\", \"fields\": [",
    )
    .unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "broken schema"]);
    let tmp = t.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args(["plan", "--repo", repo.to_str().unwrap(), "--env", "local"])
        .args(["--rev", "HEAD"])
        .env("TMPDIR", &tmp)
        .env("NO_COLOR", "1")
        .env("MESH_TODAY", "2026-11-22")
        .env("MESH_KAFKA_TIMEOUT_SECONDS", "900")
        .env("MESH_REGISTRY_TIMEOUT_SECONDS", "900")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Far below the timeouts: a plan that waited for its reads would still be waiting.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the plan waited for the cluster that never answers");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let o = child.wait_with_output().unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("domains/sales/schemas/order.avsc"), "{out}");
    assert!(
        out.contains("the mesh is invalid") && out.contains("no plan was made"),
        "{out}"
    );
    assert!(!out.contains(&addr), "nothing about the reads: {out}");
    // The file read from git for the settings is gone with mesh, reads still running or not.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    drop(silent);
}
