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

fn change(kind: &str, resource: &str, product: &str) -> mesh_policy::ChangeSubject {
    mesh_policy::ChangeSubject {
        kind: kind.into(),
        resource: resource.into(),
        product: product.into(),
        product_view: None,
        before: serde_json::json!({}),
        after: serde_json::json!({}),
    }
}

fn baseline_changes(
    extra: &[(&str, &str)],
    changes: &[mesh_policy::ChangeSubject],
) -> Vec<mesh_diagnostics::Diagnostic> {
    let mut files = mesh_files(extra);
    files.insert(
        "mesh.toml".into(),
        "[mesh]\nname = \"t\"\npolicy_packs = [\"baseline\"]\n[defaults.topic]\npartitions = 3\nreplication_factor = 3\n".into(),
    );
    let (mesh, mut ds) = mesh_model::load(&files, None);
    let policies = mesh_policy::load(&mesh, &mut ds);
    assert!(!ds.has_errors(), "{:?}", ds.iter().collect::<Vec<_>>());
    mesh_policy::evaluate_changes(&mesh, &policies, changes)
        .into_iter()
        .map(|(i, d)| {
            assert!(i < changes.len());
            d
        })
        .collect()
}

#[test]
fn baseline_change_rules_block_tier_1_retirement_and_repartitioning_keyed_topics() {
    // A retired product is seen through its last applied record.
    let mut retire = change("delete", "topic", "sales.old");
    retire.product_view = Some(serde_json::json!({
        "id": "sales.old", "domain": "sales", "sla": "tier-1",
        "topic": {"name": "sales.old", "config": {}}, "schema": null,
    }));
    let ds = baseline_changes(&[], &[retire.clone()]);
    let d = ds
        .iter()
        .find(|d| d.code == "change.no-tier-1-retirement")
        .expect("blocked");
    assert!(d.is_error());
    assert!(d.message.contains("sales.old is tier-1"), "{}", d.message);
    assert_eq!(d.file, "domains/sales/products/old.toml");

    retire.product_view.as_mut().unwrap()["sla"] = "tier-3".into();
    assert!(baseline_changes(&[], &[retire]).is_empty());

    let compacted = "description = \"d\"\nquality = \"raw\"\nsla = \"tier-3\"\n[topic.config]\n\"cleanup.policy\" = \"compact\"\n";
    let ds = baseline_changes(
        &[("domains/sales/products/p.toml", compacted)],
        &[change("update", "partitions", "sales.p")],
    );
    assert!(
        ds.iter()
            .any(|d| d.code == "change.partitions-keyed-or-compacted"
                && d.file == "domains/sales/products/p.toml"),
        "{ds:?}"
    );
    // The rule is exemptible, and such an exemption is not "unused" at validation time.
    let exemption = "[[exemption]]\nrule = \"change.partitions-keyed-or-compacted\"\nproduct = \"sales.p\"\nreason = \"consumers re-key\"\nexpires = 2027-01-01\n";
    let extra = [
        ("domains/sales/products/p.toml", compacted),
        ("domains/sales/policies/e.toml", exemption),
    ];
    assert!(baseline_changes(&extra, &[change("update", "partitions", "sales.p")]).is_empty());
    let mut files = mesh_files(&extra);
    files.insert(
        "mesh.toml".into(),
        "[mesh]\nname = \"t\"\npolicy_packs = [\"baseline\"]\n[defaults.topic]\npartitions = 3\nreplication_factor = 3\n".into(),
    );
    let (mesh, mut ds) = mesh_model::load(&files, None);
    let policies = mesh_policy::load(&mesh, &mut ds);
    mesh_policy::evaluate(&mesh, &policies, TODAY, &mut ds);
    assert!(
        !ds.iter().any(|d| d.code == "unused-exemption"),
        "{:?}",
        ds.iter().collect::<Vec<_>>()
    );
    // A plain delete topic partition change elsewhere passes; a product unknown everywhere is skipped.
    assert!(baseline_changes(&[], &[change("update", "partitions", "finance.p")]).is_empty());
    assert!(baseline_changes(&[], &[change("delete", "topic", "nobody.x")]).is_empty());
}

#[test]
fn a_change_rule_sees_before_and_after() {
    let rule = r#"
[[rule]]
id = "no-big-jumps"
description = "partitions at most double"
applies_to = "change"
when = 'change.resource == "partitions"'
check = 'change.after.partitions <= 2 * change.before.partitions'
severity = "warning"
message = "{change.product.id}: partitions {change.before.partitions} -> {change.after.partitions}"
"#;
    let mut c = change("update", "partitions", "sales.p");
    c.before = serde_json::json!({"partitions": 3});
    c.after = serde_json::json!({"partitions": 12});
    let (mesh, mut ds) = mesh_model::load(&mesh_files(&[("policies/r.toml", rule)]), None);
    let policies = mesh_policy::load(&mesh, &mut ds);
    let found = mesh_policy::evaluate_changes(&mesh, &policies, &[c.clone()]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 0);
    assert!(!found[0].1.is_error());
    assert_eq!(found[0].1.message, "sales.p: partitions 3 -> 12");
    c.after = serde_json::json!({"partitions": 6});
    assert!(mesh_policy::evaluate_changes(&mesh, &policies, &[c]).is_empty());
}

/// Found by mesh-fuzz: the CEL crate parses by recursion, and a chain of thousands of
/// operations overflowed the stack (an abort, not a panic). Such a rule is refused before it
/// reaches the parser; strings do not count, and a long but shallow rule still compiles.
#[test]
fn a_rule_too_deep_for_the_cel_parser_is_refused_before_it_reaches_it() {
    let rule = |check: &str| {
        format!(
            "[[rule]]\nid = \"deep\"\ndescription = \"d\"\napplies_to = \"product\"\ncheck = '''{check}'''\nmessage = \"m\"\n"
        )
    };
    let deep = format!("product.topic.partitions{} >= 1", " + 1".repeat(20_000));
    // On a test thread's 2 MiB stack, as the scoped threads of a check would be.
    let ds = run(&[("policies/p.toml", &rule(&deep))]);
    let too = ds
        .iter()
        .find(|d| d.code == "bad-rule")
        .expect("a bad-rule");
    assert!(
        too.message
            .starts_with("`check` is too complex: 20004 operators and brackets"),
        "{}",
        too.message
    );
    let wide = format!(
        "product.id in [{}] || product.description.matches(\"{}\")",
        vec!["\"a.b\""; 2000].join(", "),
        "(a|b)+.*".repeat(300)
    );
    let ds = run(&[("policies/p.toml", &rule(&wide))]);
    assert!(ds.iter().all(|d| d.code != "bad-rule"), "{ds:?}");
}

/// The connector rule of docs/policies.md: sinks of tier-1 products need a dead-letter topic.
const DLQ_RULE: &str = r#"
[[rule]]
id = "connect.tier1-sinks-have-a-dlq"
applies_to = "connector"
when = 'connector.kind == "sink" && connector.product != null && connector.product.sla == "tier-1"'
check = '"errors.deadletterqueue.topic.name" in connector.config'
severity = "error"
message = "{connector.name}: sink connectors on tier-1 products need errors.deadletterqueue.topic.name"
"#;

#[test]
fn connector_rules_see_the_connector_and_its_product() {
    let domain =
        "name = \"finance\"\nowners = [\"@a/finance\"]\n[principals]\nsink = \"User:sink\"\n";
    let sink = |name: &str, dlq: bool| {
        let mut t = format!(
            "name = \"{name}\"\nclass = \"x.Sink\"\nprincipal = \"sink\"\nconsumes = \"sales.p\"\n[config]\n\"file\" = \"/tmp/x\"\n"
        );
        if dlq {
            t.push_str("\"errors.deadletterqueue.topic.name\" = \"finance.dlq\"\n");
        }
        t
    };
    let without = sink("no-dlq", false);
    let with = sink("with-dlq", true);
    let source = "class = \"x.Source\"\nprincipal = \"sink\"\nproduces = \"finance.p\"\n";
    let ds = run(&[
        ("policies/p.toml", DLQ_RULE),
        ("domains/finance/domain.toml", domain),
        ("domains/finance/connectors/a.toml", &without),
        ("domains/finance/connectors/b.toml", &with),
        ("domains/finance/connectors/c.toml", source),
    ]);
    let msgs: Vec<_> = ds
        .iter()
        .filter(|d| d.code == "connect.tier1-sinks-have-a-dlq")
        .map(|d| (d.file.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(
        msgs,
        [(
            "domains/finance/connectors/a.toml",
            "no-dlq: sink connectors on tier-1 products need errors.deadletterqueue.topic.name"
        )]
    );
}
