//! The site built for `mesh-repo-example` and for small hand-made meshes.

use std::collections::BTreeMap;
use std::path::Path;

use mesh_model::doc::Date;

use crate::html::{contact, esc};
use crate::{GroupFact, Input, LiveFacts, Site, SubjectFact, build, write_site};

fn today() -> Date {
    Date::parse("2026-12-01").unwrap()
}

fn example_files() -> BTreeMap<String, Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mesh-repo-example");
    let mut files = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, files);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                files.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    walk(&root, &root, &mut files);
    files
}

fn example(env: Option<&str>) -> mesh_check::Report {
    let report = mesh_check::validate(&example_files(), env, today());
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    report
}

fn text(site: &Site, path: &str) -> String {
    String::from_utf8(
        site.files
            .get(path)
            .unwrap_or_else(|| panic!("no {path}"))
            .clone(),
    )
    .unwrap()
}

fn small_mesh(description: &str) -> mesh_check::Report {
    let mut files = BTreeMap::new();
    files.insert(
        "mesh.toml".to_string(),
        b"[mesh]\nname = \"t\"\n[defaults.topic]\npartitions = 1\nreplication_factor = 1\n"
            .to_vec(),
    );
    files.insert(
        "domains/a/domain.toml".to_string(),
        b"name = \"a\"\nowners = [\"@t/a\"]\ncontacts = [\"mailto:a@t.example\"]\n".to_vec(),
    );
    files.insert(
        "domains/a/products/p.toml".to_string(),
        format!(
            "description = {}\nquality = \"raw\"\nsla = \"tier-3\"\n",
            toml_string(description)
        )
        .into_bytes(),
    );
    let report = mesh_check::validate(&files, None, today());
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    report
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn escaping_covers_every_special_character() {
    assert_eq!(
        esc(r#"<script>alert("x") & 'y'</script>"#),
        "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
    );
    assert!(contact("javascript:alert(1)").starts_with("<span"));
    assert!(contact("mailto:a@b.example").contains("href=\"mailto:a@b.example\""));
    assert!(
        contact("https://x.example/a?b=\"c\"")
            .contains("href=\"https://x.example/a?b=&quot;c&quot;\"")
    );
}

#[test]
fn user_text_never_becomes_markup() {
    let evil = "<img src=x onerror=alert(1)> </script><script>alert(2)</script>";
    let report = small_mesh(evil);
    let site = build(&Input {
        report: &report,
        live: None,
    });
    let page = text(&site, "products/a.p.html");
    assert!(!page.contains("<img src=x"), "{page}");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    // The search data is a script: a description must not be able to close it.
    let data = text(&site, "data/index.js");
    assert!(!data.contains("</script>"), "{data}");
    assert!(data.contains("\\u003c/script>"));
}

#[test]
fn output_is_deterministic() {
    let report = example(Some("local"));
    let a = build(&Input {
        report: &report,
        live: None,
    });
    let b = build(&Input {
        report: &example(Some("local")),
        live: None,
    });
    assert_eq!(a, b);
    let paths: Vec<&str> = a.files.keys().map(String::as_str).collect();
    for must in [
        "index.html",
        "domains.html",
        "lineage.html",
        "policies.html",
        "catalog.json",
        "data/index.js",
        "data/graph.js",
        "assets/catalog.js",
        "assets/catalog.css",
        "products/sales.orders.html",
        "domains/sales.html",
    ] {
        assert!(paths.contains(&must), "{must} missing from {paths:?}");
    }
    assert_eq!(
        paths.iter().filter(|p| p.starts_with("products/")).count(),
        report.mesh.products.len()
    );
}

#[test]
fn a_product_page_has_what_a_consumer_needs() {
    let report = example(Some("local"));
    let site = build(&Input {
        report: &report,
        live: None,
    });
    let page = text(&site, "products/sales.orders.html");
    for must in [
        // owners and how to reach them, as links
        "@acme/sales-orders",
        "href=\"https://oncall.acme.example/schedules/sales-orders\"",
        "href=\"https://chat.acme.example/channels/sales-orders\"",
        // badges
        "quality-authoritative",
        "sla-tier-1",
        // topic settings of the environment (local: one partition)
        "environment <code>local</code>",
        "<tr><th>partitions</th><td>1</td></tr>",
        // schemas with their raw text
        "sales.orders-value",
        "Raw value schema",
        "&quot;name&quot;: &quot;order_id&quot;",
        // fields, readably: nested records, enums, docs, defaults
        "data-path=\"order_id\"",
        "data-path=\"lines.sku\"",
        "enum OrderStatus",
        "<code>PLACED</code>",
        "Order total including tax.",
        // consumers with their purpose
        "Issue exactly one invoice per order once the order is confirmed.",
        "finance.billing-service",
        // derived ACLs
        "User:sales-order-service",
        "User:finance-billing-service",
        // how to consume
        "bootstrap.servers=127.0.0.1:19092",
        "io.confluent.kafka.serializers.KafkaAvroDeserializer",
        "[[consumes]]",
        // lineage centred on the product
        "class=\"lineage\" data-focus=\"sales.orders\"",
        "../products/sales.checkout-events.html",
        // policies, linked to their descriptions
        "id=\"policies\"",
        "href=\"../policies.html#rule-durability.authoritative\"",
        "live facts",
    ] {
        assert!(page.contains(must), "the page lacks {must:?}");
    }
    assert!(!page.contains("id=\"deprecation\""));
    let legacy = text(&site, "products/sales.legacy-orders.html");
    assert!(legacy.contains("id=\"deprecation\""));
    assert!(legacy.contains("2027-03-01"));
    assert!(
        legacy.contains("Use <a href=\"../products/sales.orders.html\">sales.orders</a> instead")
    );
}

#[test]
fn exemptions_show_with_their_expiry() {
    let report = example(None);
    let site = build(&Input {
        report: &report,
        live: None,
    });
    let exempt = &report.policies.exemptions;
    assert!(!exempt.is_empty(), "the example declares an exemption");
    let e = &exempt[0];
    let page = text(&site, &format!("products/{}.html", e.product));
    assert!(page.contains(&format!("until {}", e.expires)), "{page}");
    assert!(page.contains(&esc(&e.reason)));
    let all = text(&site, "policies.html");
    assert!(all.contains(&format!("id=\"rule-{}\"", e.rule)), "{all}");
    assert!(all.contains(&esc(&e.reason)));
    assert!(all.contains("id=\"rule-durability.authoritative\""));
}

#[test]
fn catalog_json_has_the_documented_shape() {
    let report = example(None);
    let site = build(&Input {
        report: &report,
        live: None,
    });
    let doc: serde_json::Value = serde_json::from_str(&text(&site, "catalog.json")).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["mesh"], "acme");
    assert_eq!(doc["env"], serde_json::Value::Null);
    assert_eq!(doc["live"], serde_json::Value::Null);
    let products = doc["products"].as_array().unwrap();
    assert_eq!(products.len(), report.mesh.products.len());
    let orders = products.iter().find(|p| p["id"] == "sales.orders").unwrap();
    for key in [
        "domain",
        "owners",
        "contacts",
        "quality",
        "sla",
        "status",
        "topic",
        "schema",
        "consumers",
        "inputs",
        "downstream",
        "acls",
        "policies",
        "exemptions",
        "deprecation",
        "live",
    ] {
        assert!(orders.get(key).is_some(), "sales.orders lacks {key}");
    }
    assert_eq!(
        orders["inputs"],
        serde_json::json!(["sales.checkout-events", "customers.profiles"])
    );
    assert!(
        orders["downstream"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "finance.invoices")
    );
    assert!(
        orders["consumers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["group"] == "finance.billing-service")
    );
    assert_eq!(orders["schema"]["value"]["subject"], "sales.orders-value");
    let fields = orders["schema"]["value"]["fields"].as_array().unwrap();
    let status = fields.iter().find(|f| f["name"] == "status").unwrap();
    assert_eq!(status["type"], "enum OrderStatus");
    assert!(
        status["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "PLACED")
    );
    let lines = fields.iter().find(|f| f["name"] == "lines").unwrap();
    assert!(
        lines["children"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"] == "lines.sku")
    );
    let rules = doc["rules"].as_array().unwrap();
    assert!(
        rules
            .iter()
            .any(|r| r["rule"] == "durability.authoritative" && r["scope"] == "global")
    );
    assert!(
        orders["policies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "durability.authoritative")
    );
    let domains = doc["domains"].as_array().unwrap();
    assert!(domains.iter().any(|d| d["name"] == "sales"));

    // A sink connector: in the product's connectors, and among its consumers with its group.
    let invoices = products
        .iter()
        .find(|p| p["id"] == "finance.invoices")
        .unwrap();
    let connector = &invoices["connectors"][0];
    assert_eq!(connector["name"], "invoices-to-warehouse");
    assert_eq!(connector["kind"], "sink");
    assert_eq!(connector["state"], "running");
    assert!(
        invoices["consumers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["connector"] == "invoices-to-warehouse"
                && c["group"] == "connect-invoices-to-warehouse")
    );
    assert!(orders["connectors"].as_array().unwrap().is_empty());
    let page = text(&site, "products/finance.invoices.html");
    assert!(page.contains("id=\"connector-table\""), "{page}");
    assert!(page.contains("sink connector <code>invoices-to-warehouse</code>"));
}

#[test]
fn live_facts_reach_the_page_and_the_json_and_their_absence_is_said() {
    let report = example(Some("local"));
    let mut live = LiveFacts::default();
    live.partitions.insert("sales.orders".into(), 4);
    live.subjects.insert(
        "sales.orders-value".into(),
        SubjectFact {
            version: 3,
            id: 17,
            registered_at: Some("2026-11-30T10:00:00Z".into()),
        },
    );
    live.groups.insert(
        "sales.orders".into(),
        vec![GroupFact {
            group: "finance.billing-service".into(),
            state: "Stable".into(),
            members: 2,
            last_commit: Some("2026-12-01T09:00:00Z".into()),
            never_committed: false,
        }],
    );
    let site = build(&Input {
        report: &report,
        live: Some(&live),
    });
    let page = text(&site, "products/sales.orders.html");
    assert!(page.contains("live: 4"));
    assert!(page.contains("version 3 (id 17), applied by mesh at 2026-11-30T10:00:00Z"));
    assert!(page.contains("2026-12-01T09:00:00Z"));
    let doc: serde_json::Value = serde_json::from_str(&text(&site, "catalog.json")).unwrap();
    assert_eq!(doc["live"]["available"], true);
    let orders = doc["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "sales.orders")
        .unwrap();
    assert_eq!(orders["live"]["partitions"], 4);
    assert_eq!(
        orders["live"]["subjects"]["sales.orders-value"]["version"],
        3
    );

    let down = LiveFacts {
        unavailable: Some("cannot reach 127.0.0.1:19092".into()),
        ..LiveFacts::default()
    };
    let site = build(&Input {
        report: &report,
        live: Some(&down),
    });
    assert!(
        text(&site, "index.html").contains("live facts unavailable: cannot reach 127.0.0.1:19092")
    );
    let doc: serde_json::Value = serde_json::from_str(&text(&site, "catalog.json")).unwrap();
    assert_eq!(doc["live"]["available"], false);
}

#[test]
fn the_index_and_graph_data_cover_every_product() {
    let report = example(None);
    let site = build(&Input {
        report: &report,
        live: None,
    });
    let index = text(&site, "data/index.js");
    let graph = text(&site, "data/graph.js");
    for p in &report.mesh.products {
        assert!(
            index.contains(&format!("[\"{}\",", p.id)),
            "{} not in the index",
            p.id
        );
        assert!(
            graph.contains(&format!("[\"{}\",", p.id)),
            "{} not in the graph",
            p.id
        );
    }
    assert!(
        index.contains("total_amount"),
        "schema field names are searchable"
    );
    assert!(index.contains("lines.sku"));
    let html = text(&site, "index.html");
    assert!(html.contains("data/index.js") && html.contains("assets/catalog.js"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external resources"
    );
}

#[test]
fn write_site_replaces_a_site_whole_and_refuses_what_is_not_one() {
    let report = small_mesh("d");
    let site = build(&Input {
        report: &report,
        live: None,
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("site");
    write_site(&site, &out).unwrap();
    assert!(out.join("index.html").is_file());
    std::fs::write(out.join("stale.html"), "old").unwrap();
    write_site(&site, &out).unwrap();
    assert!(
        !out.join("stale.html").exists(),
        "a rewrite replaces the whole site"
    );
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");

    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let e = write_site(&site, &file).unwrap_err().to_string();
    assert!(e.contains("is a file"), "{e}");

    // A folder that cannot be made (its parent is a file): an error, nothing written.
    let e = write_site(&site, &file.join("site"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot write the site"), "{e}");

    let precious = tmp.path().join("precious");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("thesis.txt"), "x").unwrap();
    let e = write_site(&site, &precious).unwrap_err().to_string();
    assert!(e.contains("refusing to replace it"), "{e}");
    assert!(precious.join("thesis.txt").is_file());

    // The site's own folder named through `..`: replaced in place, nothing left inside or
    // next to it.
    let via_dots = out.join("products").join("..");
    write_site(&site, &via_dots).unwrap();
    assert!(out.join("index.html").is_file());
    for folder in [&out, &tmp.path().to_path_buf()] {
        let names: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    }

    let e = write_site(&site, Path::new("/")).unwrap_err().to_string();
    assert!(e.contains("refusing to replace it"), "{e}");

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    write_site(&site, &empty).unwrap();
    assert!(empty.join("catalog.json").is_file());
}

#[cfg(unix)]
#[test]
fn an_unwritable_parent_is_an_error_and_leaves_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let report = small_mesh("d");
    let site = build(&Input {
        report: &report,
        live: None,
    });
    let tmp = tempfile::tempdir().unwrap();
    let locked = tmp.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    // root ignores permissions: then the write succeeds and there is nothing to check.
    let probe = locked.join("probe");
    if std::fs::write(&probe, "x").is_ok() {
        let _ = std::fs::remove_file(&probe);
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        return;
    }
    let e = write_site(&site, &locked.join("site"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot write the site"), "{e}");
    assert_eq!(std::fs::read_dir(&locked).unwrap().count(), 0);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}
