//! The CLI side of a product's end of life and of change impact: the clock a plan is computed
//! at, and the text of blockers, impacts and deprecation warnings shared by the human and
//! markdown renderers. (References to removed products are `mesh_workflow::References`.)

use mesh_plan::{Blocker, Impact, ImpactKind, Plan};

/// "Now" for a plan, in milliseconds since the Unix epoch: midnight UTC of `MESH_TODAY`
/// (YYYY-MM-DD) when set, the real time otherwise.
pub fn now_ms() -> Result<i64, String> {
    if let Ok(s) = std::env::var("MESH_TODAY") {
        return mesh_plan::lifecycle::date_ms(&s)
            .ok_or_else(|| format!("MESH_TODAY={s} is not a date (help: write YYYY-MM-DD)"));
    }
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    Ok(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `mesh impact --format json`'s `deprecation`: `{"since", "sunset", "replacement", "reason"}`
/// of a deprecated product (absent parts null), or null.
pub fn impact_deprecation(mesh: &mesh_model::Mesh, product: &str) -> serde_json::Value {
    let Some(d) = mesh.product(product).and_then(|p| p.deprecation.as_ref()) else {
        return serde_json::Value::Null;
    };
    serde_json::json!({
        "since": d.since.map(|s| s.to_string()),
        "sunset": d.sunset.map(|s| s.to_string()),
        "replacement": d.replacement.as_ref().map(|r| r.value.clone()),
        "reason": d.reason,
    })
}

fn owners(o: &[String]) -> String {
    if o.is_empty() {
        "no owners".to_string()
    } else {
        o.join(", ")
    }
}

fn kind_text(k: ImpactKind) -> &'static str {
    match k {
        ImpactKind::IncompatibleSchema => "breaking schema change",
        ImpactKind::Retirement => "retirement",
        ImpactKind::PartitionIncrease => "partition increase",
        ImpactKind::NarrowedAccess => "narrowed access",
    }
}

/// The lines of one blocker (for "blocked by:").
pub fn blocker_line(b: &Blocker) -> String {
    b.describe()
}

/// The headline and the detail lines of an impact.
pub fn impact_lines(i: &Impact) -> (String, Vec<String>) {
    let head = format!("{} of {}: {}", kind_text(i.kind), i.product, i.change);
    let mut lines = Vec::new();
    for p in &i.downstream {
        lines.push(format!(
            "downstream product {} (owners: {})",
            p.id,
            owners(&p.owners)
        ));
    }
    for c in &i.consumers {
        lines.push(format!(
            "consumer {}/{} of {} (group {}, owners: {}; {}:{})",
            c.domain,
            c.principal,
            c.product,
            c.group,
            owners(&c.owners),
            c.file,
            c.line
        ));
    }
    for g in &i.groups {
        lines.push(format!("consumer group {}", g.describe()));
    }
    if lines.is_empty() {
        lines.push("no downstream products, declared consumers or recently active groups".into());
    }
    (head, lines)
}

/// The "Destructive and breaking changes" section of a pull-request comment: each impact with
/// who it reaches, then consumers of deprecated products. Empty when there is nothing to say.
pub fn markdown_section(plan: &Plan, md: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    if !plan.impacts.is_empty() {
        out.push_str(&format!(
            "#### Destructive and breaking changes ({})\n",
            plan.impacts.len()
        ));
        for i in &plan.impacts {
            let (head, lines) = impact_lines(i);
            out.push_str(&format!("- :boom: **{}**\n", md(&head)));
            for l in lines {
                out.push_str(&format!("  - {}\n", md(&l)));
            }
        }
        out.push('\n');
    }
    if !plan.deprecations.is_empty() {
        out.push_str(&format!(
            "#### Consumers of deprecated products ({})\n",
            plan.deprecations.len()
        ));
        for w in &plan.deprecations {
            out.push_str(&format!("- :hourglass: {}\n", md(&w.describe())));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_plan::{AffectedConsumer, AffectedProduct, RecentGroup};

    #[test]
    fn impacts_name_everyone_with_owners_in_markdown() {
        let plan = Plan {
            impacts: vec![Impact {
                kind: ImpactKind::Retirement,
                product: "sales.orders".into(),
                topic: "sales.orders".into(),
                change: "retire sales.orders".into(),
                downstream: vec![AffectedProduct {
                    id: "finance.revenue".into(),
                    owners: vec!["@acme/revenue".into()],
                    depth: 1,
                }],
                consumers: vec![AffectedConsumer {
                    product: "sales.orders".into(),
                    domain: "finance".into(),
                    principal: "billing".into(),
                    group: "finance.billing".into(),
                    owners: vec!["@acme/finance".into()],
                    file: "domains/finance/domain.toml".into(),
                    line: 9,
                }],
                groups: vec![RecentGroup {
                    group: "adhoc".into(),
                    state: "Empty".into(),
                    members: 0,
                    last_commit: Some("2026-11-20T00:00:00Z".into()),
                    never_committed: false,
                }],
            }],
            ..Plan::default()
        };
        let md = markdown_section(&plan, |s| s.to_string());
        assert!(md.starts_with("#### Destructive and breaking changes (1)\n- :boom: **retirement of sales.orders: retire sales.orders**\n"), "{md}");
        assert!(md.contains("  - downstream product finance.revenue (owners: @acme/revenue)\n"));
        assert!(md.contains("  - consumer finance/billing of sales.orders (group finance.billing, owners: @acme/finance; domains/finance/domain.toml:9)\n"), "{md}");
        assert!(
            md.contains(
                "  - consumer group adhoc (Empty, 0 member(s), last commit 2026-11-20T00:00:00Z)\n"
            ),
            "{md}"
        );
        assert!(markdown_section(&Plan::default(), |s| s.to_string()).is_empty());
    }

    #[test]
    fn mesh_today_is_midnight_utc() {
        assert_eq!(
            mesh_plan::lifecycle::date_ms("2026-11-22"),
            Some(1_795_305_600_000)
        );
    }
}
