//! Loading small in-memory meshes: topic resolution, normalisation, references and access rules.

use std::collections::BTreeMap;

use mesh_model::{Visibility, load};

const MESH: &str = r#"
[mesh]
name = "t"
[defaults.topic]
partitions = 6
replication_factor = 3
[defaults.topic.config]
"min.insync.replicas" = 2
"retention.ms" = "7d"
[environments.local]
local = true
[environments.local.topic]
replication_factor = 1
[environments.local.topic.config]
"min.insync.replicas" = 1
[environments.local.kafka]
"sasl.password" = "literal-is-fine-here"
"#;

fn files(extra: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    let mut f: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    f.insert("mesh.toml".into(), MESH.into());
    f.insert(
        "domains/sales/domain.toml".into(),
        "name = \"sales\"\nowners = [\"@a/sales\"]\n[principals]\nsvc = \"User:sales-svc\"\n"
            .into(),
    );
    f.insert(
        "domains/sales/products/orders.toml".into(),
        "description = \"d\"\nquality = \"raw\"\nsla = \"tier-3\"\nproducers = [\"svc\"]\n[topic]\npartitions = 12\n[topic.config]\n\"retention.ms\" = \"2d\"\n[environments.local.topic]\npartitions = 2\n".into(),
    );
    for (k, v) in extra {
        f.insert((*k).into(), (*v).into());
    }
    f
}

fn codes(ds: &mesh_diagnostics::Diagnostics) -> Vec<String> {
    ds.iter()
        .map(|d| format!("{}:{}", d.code, d.file))
        .collect()
}

#[test]
fn topic_fields_resolve_along_the_chain() {
    let (mesh, ds) = load(&files(&[]), None);
    assert!(!ds.has_errors(), "{:?}", codes(&ds));
    let p = mesh.product("sales.orders").unwrap();
    assert_eq!((p.topic.partitions, p.topic.replication_factor), (12, 3));
    assert_eq!(p.topic.config["retention.ms"], "172800000");
    assert_eq!(p.topic.config["min.insync.replicas"], "2");
    assert_eq!(p.topic.name, "sales.orders");
    assert_eq!(p.owners, ["@a/sales"]);
    assert_eq!(p.access.visibility, Visibility::Public);

    let (mesh, ds) = load(&files(&[]), Some("local"));
    assert!(!ds.has_errors(), "{:?}", codes(&ds));
    let p = mesh.product("sales.orders").unwrap();
    assert_eq!((p.topic.partitions, p.topic.replication_factor), (2, 1));
    assert_eq!(p.topic.config["min.insync.replicas"], "1");
}

#[test]
fn min_isr_above_replication_is_a_warning() {
    let mut f = files(&[]);
    f.insert(
        "mesh.toml".into(),
        MESH.replace("\"min.insync.replicas\" = 1", "\"min.insync.replicas\" = 2")
            .into(),
    );
    let (_, ds) = load(&f, Some("local"));
    assert!(!ds.has_errors());
    assert!(
        ds.iter().any(|d| d.code == "min-isr-above-replication"),
        "{:?}",
        codes(&ds)
    );
}

#[test]
fn literal_secrets_are_allowed_only_in_local_environments_and_always_redacted() {
    let (mesh, ds) = load(&files(&[]), None);
    assert!(!ds.iter().any(|d| d.code == "literal-secret"));
    assert!(
        !mesh.sources["mesh.toml"]
            .redacted_text()
            .contains("literal-is-fine-here")
    );

    let mut f = files(&[]);
    f.insert(
        "mesh.toml".into(),
        MESH.replace("local = true", "local = false").into(),
    );
    let (_, ds) = load(&f, None);
    let d = ds
        .iter()
        .find(|d| d.code == "literal-secret")
        .expect("literal secret reported");
    assert!(
        !d.message.contains("literal-is-fine-here")
            && !d
                .help
                .as_deref()
                .unwrap_or("")
                .contains("literal-is-fine-here")
    );
}

#[test]
fn access_rules_between_domains() {
    let marketing = "name = \"marketing\"\nowners = [\"@a/m\"]\n[principals]\njob = \"User:m-job\"\n[[consumes]]\nproduct = \"sales.orders\"\nprincipal = \"job\"\ngroup = \"m.job\"\n";
    let restricted = |vis: &str, allow: &str| {
        format!(
            "description = \"d\"\nquality = \"raw\"\nsla = \"tier-3\"\n[access]\nvisibility = \"{vis}\"\nallow_domains = [{allow}]\n"
        )
    };
    for (vis, allow, denied) in [
        ("public", "", false),
        ("private", "", true),
        ("restricted", "\"finance\"", true),
        ("restricted", "\"marketing\"", false),
    ] {
        let mut f = files(&[("domains/marketing/domain.toml", marketing)]);
        f.insert(
            "domains/finance/domain.toml".into(),
            "name = \"finance\"\nowners = [\"@a/f\"]\n".into(),
        );
        f.insert(
            "domains/sales/products/orders.toml".into(),
            restricted(vis, allow).into(),
        );
        let (_, ds) = load(&f, None);
        let got = ds.iter().find(|d| d.code == "access-denied");
        assert_eq!(got.is_some(), denied, "{vis} {allow}: {:?}", codes(&ds));
        if let Some(d) = got {
            assert_eq!(d.file, "domains/marketing/domain.toml");
            assert_eq!(d.related[0].file, "domains/sales/products/orders.toml");
        }
    }
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let bad = "descripton = \"d\"\nquality = \"gold\"\nsla = \"tier1\"\n[topic]\npartitions = 0\n";
    let (_, ds) = load(&files(&[("domains/sales/products/bad.toml", bad)]), None);
    let got: Vec<_> = ds
        .iter()
        .filter(|d| d.file.ends_with("bad.toml"))
        .map(|d| d.code.as_str())
        .collect();
    for want in ["unknown-key", "missing-field", "bad-value", "out-of-range"] {
        assert!(got.contains(&want), "{want} in {got:?}");
    }
    let sla = ds.iter().find(|d| d.message.contains("tier1")).unwrap();
    assert_eq!(sla.help.as_deref(), Some("did you mean \"tier-1\"?"));
}
