//! What a pull request touches (`--base`): the domains and products whose files changed, the
//! owners whose review is needed, and the places where a change reaches into a domain none of
//! whose owners are among those asked (a team editing, or newly depending on, another team's
//! product). Pure: two loaded meshes in, a value out.

use std::collections::{BTreeMap, BTreeSet};

use mesh_diagnostics::Diagnostic;
use mesh_model::{Mesh, Product};
use serde::Serialize;

/// How a domain or product changed between the base and the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Changed,
    Removed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TouchedProduct {
    pub id: String,
    pub domain: String,
    pub change: Change,
    /// Owners at the head and, where they differ, at the base (both must agree to a hand-over).
    pub owners: Vec<String>,
    /// Repo-relative paths of the changed files that belong to this product.
    pub files: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TouchedDomain {
    pub name: String,
    pub change: Change,
    pub owners: Vec<String>,
    /// Every changed file under `domains/<name>/`.
    pub files: Vec<String>,
}

/// A schema file of a product that differs from the base revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SchemaDiff {
    pub product: String,
    /// `value` or `key`.
    pub which: String,
    /// The file at the head (or at the base, when the schema was removed).
    pub file: String,
    pub change: Change,
    /// Unified diff, base → head (JSON compared formatted with sorted keys).
    pub diff: String,
}

/// The pull request's footprint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChangeSet {
    pub base: String,
    pub domains: Vec<TouchedDomain>,
    pub products: Vec<TouchedProduct>,
    /// Changed files outside any domain (mesh.toml, the global policies): the governance team's.
    pub global_files: Vec<String>,
    /// Everyone whose review the change needs, sorted.
    pub owners_to_ask: Vec<String>,
    /// Each product schema that changed, with its diff.
    pub schema_diffs: Vec<SchemaDiff>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty() && self.global_files.is_empty()
    }
}

/// Compares the head and base meshes file by file. `base_label` names the base revision.
pub fn change_set(head: &Mesh, base: &Mesh, base_label: &str) -> ChangeSet {
    let paths: BTreeSet<&str> = head
        .sources
        .keys()
        .chain(base.sources.keys())
        .map(String::as_str)
        .collect();
    let changed: Vec<&str> = paths
        .into_iter()
        .filter(|p| {
            head.sources.get(*p).map(|s| s.text()) != base.sources.get(*p).map(|s| s.text())
        })
        .collect();

    let mut set = ChangeSet {
        base: base_label.to_string(),
        ..ChangeSet::default()
    };
    let mut domain_files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut product_files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in changed {
        let Some(domain) = domain_of_path(path) else {
            set.global_files.push(path.to_string());
            continue;
        };
        domain_files
            .entry(domain.to_string())
            .or_default()
            .push(path.to_string());
        for id in products_of_file(head, path).chain(products_of_file(base, path)) {
            let files = product_files.entry(id).or_default();
            if !files.iter().any(|f| f == path) {
                files.push(path.to_string());
            }
        }
    }

    for (id, files) in product_files {
        let (now, before) = (head.product(&id), base.product(&id));
        let change = match (now, before) {
            (Some(_), None) => Change::Added,
            (None, Some(_)) => Change::Removed,
            _ => Change::Changed,
        };
        let Some(p) = now.or(before) else { continue };
        set.products.push(TouchedProduct {
            id: id.clone(),
            domain: p.domain.clone(),
            change,
            owners: union(now.map(|p| &p.owners), before.map(|p| &p.owners)),
            files,
        });
    }
    for (name, files) in domain_files {
        let (now, before) = (head.domain(&name), base.domain(&name));
        let change = match (now, before) {
            (Some(_), None) => Change::Added,
            (None, Some(_)) => Change::Removed,
            _ => Change::Changed,
        };
        let owners = union(now.map(|d| &d.owners), before.map(|d| &d.owners));
        set.domains.push(TouchedDomain {
            name,
            change,
            owners,
            files,
        });
    }

    // A file that belongs to a product needs that product's owners; any other file of a domain
    // (domain.toml, its policies, an unused schema) needs the domain's.
    let mut ask = BTreeSet::new();
    for p in &set.products {
        ask.extend(p.owners.iter().cloned());
    }
    for d in &set.domains {
        let owned_by_products = d
            .files
            .iter()
            .all(|f| set.products.iter().any(|p| p.files.contains(f)));
        if !owned_by_products {
            ask.extend(d.owners.iter().cloned());
        }
    }
    set.owners_to_ask = ask.into_iter().collect();
    set.schema_diffs = schema_diffs(head, base, base_label);
    set
}

/// The diff of every product schema (value and key) that differs between base and head.
fn schema_diffs(head: &Mesh, base: &Mesh, base_label: &str) -> Vec<SchemaDiff> {
    let ids: BTreeSet<&str> = head
        .products
        .iter()
        .chain(&base.products)
        .map(|p| p.id.as_str())
        .collect();
    let text_of = |mesh: &'_ Mesh, id: &str, which: &str| -> Option<(String, String)> {
        let schema = mesh.product(id)?.schema.as_ref()?;
        let r = if which == "value" {
            schema.value.as_ref()
        } else {
            schema.key.as_ref()
        }?;
        let text = mesh.sources.get(&r.file)?.text().to_string();
        Some((r.file.clone(), text))
    };
    let mut out = Vec::new();
    for id in ids {
        for which in ["value", "key"] {
            let (after, before) = (text_of(head, id, which), text_of(base, id, which));
            let (file, change, old, new) = match (&after, &before) {
                (None, None) => continue,
                (Some((f, a)), None) => (f, Change::Added, "", a.as_str()),
                (None, Some((f, b))) => (f, Change::Removed, b.as_str(), ""),
                (Some((f, a)), Some((_, b))) => (f, Change::Changed, b.as_str(), a.as_str()),
            };
            let diff =
                mesh_schema::diff::unified(old, new, &format!("{file} ({base_label})"), file);
            if diff.is_empty() {
                continue;
            }
            out.push(SchemaDiff {
                product: id.to_string(),
                which: which.to_string(),
                file: file.clone(),
                change,
                diff,
            });
        }
    }
    out
}

/// Warnings for a change that reaches into a domain none of whose owners are asked to review it:
/// a new `[[consumes]]` of, or a new input from, another domain's product; and a pull request
/// whose touched domains have owners in common with nobody else (one team editing another's).
pub fn reach_warnings(head: &Mesh, base: &Mesh, set: &ChangeSet) -> Vec<Diagnostic> {
    let asked: BTreeSet<&str> = set.owners_to_ask.iter().map(String::as_str).collect();
    let not_asked = |owners: &[String]| owners.iter().all(|o| !asked.contains(o.as_str()));
    let mut out = Vec::new();

    for (domain, c) in head.consumers() {
        let Some(product) = head.product(&c.product.value) else {
            continue;
        };
        if product.domain == domain.name || !not_asked(&product.owners) {
            continue;
        }
        let existed = base.domain(&domain.name).is_some_and(|d| {
            d.consumes
                .iter()
                .any(|old| old.product.value == c.product.value)
        });
        if existed {
            continue;
        }
        out.push(
            Diagnostic::warning(
                "reaches-into-domain",
                &domain.file,
                c.product.span.clone(),
                format!(
                    "domain `{}` starts consuming {}, owned by {} — none of whom this change asks to review",
                    domain.name,
                    product.id,
                    product.owners.join(", ")
                ),
            )
            .with_help(format!(
                "ask {} to review: their product gains a consumer ({})",
                product.owners.join(", "),
                c.principal.value
            )),
        );
    }

    for p in &head.products {
        let before: BTreeSet<&str> = base
            .product(&p.id)
            .map(|b| b.inputs.iter().map(|i| i.value.as_str()).collect())
            .unwrap_or_default();
        for input in &p.inputs {
            let Some(src) = head.product(&input.value) else {
                continue;
            };
            if src.domain == p.domain
                || before.contains(input.value.as_str())
                || !not_asked(&src.owners)
            {
                continue;
            }
            out.push(
                Diagnostic::warning(
                    "reaches-into-domain",
                    &p.file,
                    input.span.clone(),
                    format!(
                        "{} is now derived from {}, owned by {} — none of whom this change asks to review",
                        p.id,
                        src.id,
                        src.owners.join(", ")
                    ),
                )
                .with_help(format!(
                    "ask {} to review: their product gains a downstream product",
                    src.owners.join(", ")
                )),
            );
        }
    }

    // Domains whose owners share nobody with the other touched domains: the change spans teams.
    let teams: Vec<&TouchedDomain> = set.domains.iter().collect();
    if teams.len() > 1 {
        let disjoint = teams.iter().any(|d| {
            teams
                .iter()
                .filter(|o| o.name != d.name)
                .all(|o| o.owners.iter().all(|x| !d.owners.contains(x)))
        });
        if disjoint {
            let first = &teams[0];
            let file = first.files.first().cloned().unwrap_or_default();
            let list: Vec<String> = teams
                .iter()
                .map(|d| format!("{} ({})", d.name, d.owners.join(", ")))
                .collect();
            out.push(
                Diagnostic::warning(
                    "cross-team-change",
                    &file,
                    0..0,
                    format!(
                        "this change edits {} domains owned by different teams: {}",
                        teams.len(),
                        list.join("; ")
                    ),
                )
                .with_help(
                    "each team reviews its own domain's files; consider one pull request per domain",
                ),
            );
        }
    }
    out
}

/// `domains/<d>/…` → `d`.
fn domain_of_path(path: &str) -> Option<&str> {
    let mut parts = path.split('/');
    (parts.next() == Some("domains"))
        .then(|| parts.next())
        .flatten()
        .filter(|_| parts.next().is_some())
}

/// Products a file belongs to in one mesh: its product file, or the schema files it references.
fn products_of_file<'m>(mesh: &'m Mesh, path: &'m str) -> impl Iterator<Item = String> + 'm {
    mesh.products
        .iter()
        .filter(move |p| p.file == path || references(p, path))
        .map(|p| p.id.clone())
}

fn references(p: &Product, path: &str) -> bool {
    p.schema.as_ref().is_some_and(|s| {
        [&s.value, &s.key]
            .into_iter()
            .flatten()
            .any(|r| r.file == path)
    })
}

fn union(a: Option<&Vec<String>>, b: Option<&Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = a.into_iter().flatten().cloned().collect();
    for o in b.into_iter().flatten() {
        if !out.contains(o) {
            out.push(o.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(files: &[(&str, &str)]) -> Mesh {
        let map = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect();
        mesh_model::load(&map, None).0
    }

    const MESH: &str = "[mesh]\nname = \"t\"\n";
    const SALES: &str =
        "name = \"sales\"\nowners = [\"@t/sales\"]\n[principals]\njob = \"User:sales-job\"\n";
    const MKT: &str = "name = \"marketing\"\nowners = [\"@t/mkt\"]\n";

    fn product(desc: &str) -> String {
        format!("description = \"{desc}\"\nquality = \"raw\"\nsla = \"tier-3\"\n")
    }

    #[test]
    fn touched_domains_products_and_owners() {
        let base = load(&[
            ("mesh.toml", MESH),
            ("domains/sales/domain.toml", SALES),
            ("domains/sales/products/orders.toml", &product("a")),
            ("domains/marketing/domain.toml", MKT),
            ("domains/marketing/products/campaigns.toml", &product("c")),
        ]);
        let head = load(&[
            ("mesh.toml", MESH),
            ("domains/sales/domain.toml", SALES),
            ("domains/sales/products/orders.toml", &product("b")),
            ("domains/sales/products/refunds.toml", &product("r")),
            ("domains/marketing/domain.toml", MKT),
        ]);
        let set = change_set(&head, &base, "main");
        let products: Vec<(&str, Change)> = set
            .products
            .iter()
            .map(|p| (p.id.as_str(), p.change))
            .collect();
        assert_eq!(
            products,
            [
                ("marketing.campaigns", Change::Removed),
                ("sales.orders", Change::Changed),
                ("sales.refunds", Change::Added)
            ]
        );
        let domains: Vec<&str> = set.domains.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(domains, ["marketing", "sales"]);
        assert_eq!(set.owners_to_ask, ["@t/mkt", "@t/sales"]);
        assert!(set.global_files.is_empty());
        let warnings = reach_warnings(&head, &base, &set);
        assert!(
            warnings.iter().any(|d| d.code == "cross-team-change"
                && d.message.contains("sales (@t/sales)")
                && d.message.contains("marketing (@t/mkt)")),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_new_consumer_reaches_into_the_producing_domain() {
        let base = load(&[
            ("mesh.toml", MESH),
            ("domains/sales/domain.toml", SALES),
            ("domains/marketing/domain.toml", MKT),
            ("domains/marketing/products/campaigns.toml", &product("c")),
        ]);
        let consuming = format!(
            "{SALES}[[consumes]]\nproduct = \"marketing.campaigns\"\nprincipal = \"job\"\ngroup = \"sales.job\"\n"
        );
        let head = load(&[
            ("mesh.toml", MESH),
            ("domains/sales/domain.toml", &consuming),
            ("domains/marketing/domain.toml", MKT),
            ("domains/marketing/products/campaigns.toml", &product("c")),
        ]);
        let set = change_set(&head, &base, "main");
        assert_eq!(set.owners_to_ask, ["@t/sales"]);
        let warnings = reach_warnings(&head, &base, &set);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].code, "reaches-into-domain");
        assert_eq!(warnings[0].file, "domains/sales/domain.toml");
        assert!(
            warnings[0].message.contains("@t/mkt"),
            "{}",
            warnings[0].message
        );
        // Unchanged since the base: no warning.
        let set = change_set(&head, &head, "main");
        assert!(set.is_empty());
        assert!(reach_warnings(&head, &head, &set).is_empty());
    }

    #[test]
    fn global_files_and_schema_files() {
        let with_schema = |desc: &str, schema: &str| {
            vec![
                ("mesh.toml".to_string(), MESH.to_string()),
                ("domains/sales/domain.toml".into(), SALES.into()),
                (
                    "domains/sales/products/orders.toml".into(),
                    format!("{}[schema]\nvalue = \"schemas/o.avsc\"\n", product(desc)),
                ),
                ("domains/sales/schemas/o.avsc".into(), schema.to_string()),
                ("policies/extra.toml".into(), String::new()),
            ]
        };
        let as_refs = |v: &Vec<(String, String)>| {
            let refs: Vec<(&str, &str)> = v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            load(&refs)
        };
        let base = as_refs(&with_schema("a", "\"string\""));
        let mut files = with_schema("a", "\"long\"");
        files[4].1 = "# changed\n".into();
        let head = as_refs(&files);
        let set = change_set(&head, &base, "main");
        assert_eq!(set.global_files, ["policies/extra.toml"]);
        assert_eq!(set.products.len(), 1);
        assert_eq!(set.products[0].files, ["domains/sales/schemas/o.avsc"]);
        assert_eq!(set.schema_diffs.len(), 1);
        let d = &set.schema_diffs[0];
        assert_eq!(
            (d.product.as_str(), d.which.as_str()),
            ("sales.orders", "value")
        );
        assert_eq!(d.change, Change::Changed);
        assert!(
            d.diff.contains("-\"string\"") && d.diff.contains("+\"long\""),
            "{}",
            d.diff
        );
        assert!(
            d.diff
                .starts_with("--- domains/sales/schemas/o.avsc (main)\n"),
            "{}",
            d.diff
        );
        assert_eq!(set.owners_to_ask, ["@t/sales"]);
    }
}
