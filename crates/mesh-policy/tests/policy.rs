//! Policy loading and evaluation on small in-memory meshes.

use std::collections::BTreeMap;

use mesh_diagnostics::Diagnostics;
use mesh_model::doc::Date;

const TODAY: Date = Date {
    year: 2026,
    month: 11,
    day: 22,
};

fn mesh_files(extra: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    let mut f: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    f.insert(
        "mesh.toml".into(),
        "[mesh]\nname = \"t\"\n[defaults.topic]\npartitions = 3\nreplication_factor = 1\n".into(),
    );
    for d in ["sales", "finance"] {
        f.insert(
            format!("domains/{d}/domain.toml"),
            format!("name = \"{d}\"\nowners = [\"@a/{d}\"]\n").into(),
        );
        f.insert(
            format!("domains/{d}/products/p.toml"),
            "description = \"d\"\nquality = \"authoritative\"\nsla = \"tier-1\"\n".into(),
        );
    }
    for (k, v) in extra {
        f.insert((*k).into(), (*v).into());
    }
    f
}

fn run(extra: &[(&str, &str)]) -> Vec<mesh_diagnostics::Diagnostic> {
    let (mesh, mut ds) = mesh_model::load(&mesh_files(extra), None);
    assert!(!ds.has_errors(), "{:?}", ds.iter().collect::<Vec<_>>());
    let policies = mesh_policy::load(&mesh, &mut ds);
    mesh_policy::evaluate(&mesh, &policies, TODAY, &mut ds);
    ds.into_sorted()
}

const RF_RULE: &str = r#"
[[rule]]
id = "rf"
description = "replicated"
applies_to = "product"
when = 'product.quality == "authoritative"'
check = 'product.topic.replication_factor >= 3'
exemptible = true
message = "{product.id}: rf {product.topic.replication_factor}"
"#;

#[test]
fn a_global_rule_binds_every_domain_and_interpolates_its_message() {
    let ds = run(&[("policies/p.toml", RF_RULE)]);
    let msgs: Vec<_> = ds
        .iter()
        .filter(|d| d.code == "rf")
        .map(|d| (d.file.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(
        msgs,
        [
            ("domains/finance/products/p.toml", "finance.p: rf 1"),
            ("domains/sales/products/p.toml", "sales.p: rf 1")
        ]
    );
}

#[test]
fn a_domain_rule_binds_only_its_domain() {
    let ds = run(&[("domains/sales/policies/p.toml", RF_RULE)]);
    let files: Vec<_> = ds
        .iter()
        .filter(|d| d.code == "rf")
        .map(|d| d.file.as_str())
        .collect();
    assert_eq!(files, ["domains/sales/products/p.toml"]);
}

#[test]
fn exemptions_waive_a_rule_until_they_expire() {
    let exemption = |expires: &str| {
        format!(
            "[[exemption]]\nrule = \"rf\"\nproduct = \"sales.p\"\nreason = \"migrating\"\nexpires = {expires}\n"
        )
    };
    let valid = exemption("2027-01-01");
    let ds = run(&[
        ("policies/p.toml", RF_RULE),
        ("domains/sales/policies/e.toml", &valid),
    ]);
    assert!(
        !ds.iter()
            .any(|d| d.code == "rf" && d.file.contains("sales")),
        "{ds:?}"
    );
    assert!(
        ds.iter()
            .any(|d| d.code == "rf" && d.file.contains("finance"))
    );

    let expired = exemption("2026-11-21");
    let ds = run(&[
        ("policies/p.toml", RF_RULE),
        ("domains/sales/policies/e.toml", &expired),
    ]);
    let d = ds
        .iter()
        .find(|d| d.code == "expired-exemption")
        .expect("expired reported");
    assert!(d.message.contains("expired on 2026-11-21"));

    // Another domain's product cannot be exempted.
    let ds = run(&[
        ("policies/p.toml", RF_RULE),
        ("domains/finance/policies/e.toml", &valid),
    ]);
    assert!(
        ds.iter()
            .any(|d| d.code == "bad-exemption" && d.message.contains("cannot exempt sales.p")),
        "{ds:?}"
    );
}

#[test]
fn a_domain_cannot_redefine_a_global_rule() {
    let weaker = RF_RULE.replace(">= 3", ">= 1");
    let ds = run(&[
        ("policies/p.toml", RF_RULE),
        ("domains/sales/policies/p.toml", &weaker),
    ]);
    assert!(
        ds.iter()
            .any(|d| d.code == "duplicate-rule" && d.file == "domains/sales/policies/p.toml")
    );
    // The global rule still applies to sales.
    assert!(
        ds.iter()
            .any(|d| d.code == "rf" && d.file.contains("sales"))
    );
}

#[test]
fn bad_cel_points_into_the_expression() {
    let text = RF_RULE.replace("replication_factor >= 3", "replication_factor >=");
    let (mesh, mut ds) = mesh_model::load(&mesh_files(&[("policies/p.toml", &text)]), None);
    let policies = mesh_policy::load(&mesh, &mut ds);
    assert!(policies.rules.is_empty());
    let d = ds
        .iter()
        .find(|d| d.code == "bad-rule")
        .expect("syntax error");
    let line = text[..d.span.start].matches('\n').count() + 1;
    assert_eq!(
        line,
        text.lines().position(|l| l.starts_with("check")).unwrap() + 1
    );
}

#[test]
fn unknown_fields_are_rejected_when_loading() {
    for (expr, hint) in [
        (
            "product.topik.name == \"x\"",
            "did you mean `product.topic`?",
        ),
        (
            "product.owners.all(o, o.size() > 0) && product.schema.compat == \"x\"",
            "did you mean `product.schema.compatibility`?",
        ),
        ("domain.name == \"x\"", "this rule can use"),
    ] {
        let text = RF_RULE.replace("product.topic.replication_factor >= 3", expr);
        let mut ds = Diagnostics::new();
        let (mesh, _) = mesh_model::load(&mesh_files(&[("policies/p.toml", &text)]), None);
        let policies = mesh_policy::load(&mesh, &mut ds);
        assert!(policies.rules.is_empty(), "{expr}");
        let d = ds
            .iter()
            .find(|d| d.code == "bad-rule")
            .unwrap_or_else(|| panic!("{expr}"));
        assert!(
            d.help.as_deref().unwrap_or("").contains(hint),
            "{expr}: {d:?}"
        );
    }
}

#[test]
fn runtime_errors_are_reported_against_the_rule() {
    let text = RF_RULE.replace(
        "product.topic.replication_factor >= 3",
        "int(product.topic.config[\"retention.ms\"]) > 0",
    );
    let ds = run(&[("policies/p.toml", &text)]);
    assert!(
        ds.iter()
            .any(|d| d.code == "rule-error" && d.file == "policies/p.toml"),
        "{ds:?}"
    );
}

#[test]
fn the_baseline_pack_loads_cleanly() {
    let (mut mesh, mut ds) = mesh_model::load(&mesh_files(&[]), None);
    mesh.settings
        .policy_packs
        .push(mesh_model::doc::Spanned::new("baseline".into(), 0..0));
    let policies = mesh_policy::load(&mesh, &mut ds);
    assert!(ds.is_empty(), "{:?}", ds.iter().collect::<Vec<_>>());
    assert!(policies.rules.len() >= 8);
}
