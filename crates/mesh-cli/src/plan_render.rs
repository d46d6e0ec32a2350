//! Rendering plans and apply reports: human (+/~/- per resource, coloured on a terminal, a summary
//! line) and JSON (versioned; see docs/json-output.md).

use codespan_reporting::term::termcolor::{Color, ColorSpec, WriteColor};
use mesh_plan::apply::{ApplyReport, Outcome};
use mesh_plan::{AclBinding, Action, Effect, Plan};
use serde_json::json;

fn colour(effect: Effect) -> Color {
    match effect {
        Effect::Create => Color::Green,
        Effect::Change => Color::Yellow,
        Effect::Destroy => Color::Red,
    }
}

fn sign(effect: Effect) -> &'static str {
    match effect {
        Effect::Create => "+",
        Effect::Change => "~",
        Effect::Destroy => "-",
    }
}

/// An enum's lowercase wire name (its serde name).
fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn acl_text(b: &AclBinding) -> String {
    let host = if &*b.host == "*" {
        String::new()
    } else {
        format!(", host {}", b.host)
    };
    format!(
        "{} {} {} on {} {} ({}{host})",
        name(&b.permission),
        b.principal,
        name(&b.operation),
        name(&b.resource_type),
        b.resource_name,
        name(&b.pattern)
    )
}

/// The lines describing one action (first line is the headline).
pub fn describe(a: &Action) -> Vec<String> {
    match a {
        Action::CreateCatalogTopic {
            topic,
            partitions,
            replication_factor,
        } => {
            vec![format!(
                "catalog topic {topic} ({partitions} partition, replication {replication_factor}, compacted)"
            )]
        }
        Action::CreateTopic {
            product,
            topic,
            partitions,
            replication_factor,
            config,
        } => {
            let mut v = vec![format!(
                "topic {topic} [{product}]: {partitions} partitions, replication {replication_factor}"
            )];
            let width = config.keys().map(String::len).max().unwrap_or(0);
            v.extend(
                config
                    .iter()
                    .map(|(k, val)| format!("    {k:width$} = {val}")),
            );
            v
        }
        Action::AlterConfig {
            product,
            topic,
            changes,
        } => {
            let mut v = vec![format!("topic {topic} [{product}]: config")];
            for c in changes {
                let before = c.before.as_deref().unwrap_or("(unset)");
                match &c.after {
                    Some(after) => v.push(format!("    ~ {}: {before} → {after}", c.key)),
                    None => v.push(format!("    - {}: {before} → (broker default)", c.key)),
                }
            }
            v
        }
        Action::AddPartitions {
            product,
            topic,
            from,
            to,
        } => vec![format!(
            "topic {topic} [{product}]: partitions {from} → {to}"
        )],
        Action::CreateAcl { binding } | Action::DeleteAcl { binding } => {
            vec![format!("acl {}", acl_text(binding))]
        }
        Action::SetCompatibility {
            product,
            subject,
            before,
            after,
        } => match before {
            None => vec![format!(
                "subject {subject} [{product}]: compatibility {after}"
            )],
            Some(b) => vec![format!(
                "subject {subject} [{product}]: compatibility {b} → {after}"
            )],
        },
        Action::RegisterSchema {
            product,
            subject,
            schema_type,
            file,
            schema,
            previous,
        } => match previous {
            None => vec![format!(
                "subject {subject} [{product}]: register {file} ({schema_type})"
            )],
            Some(prev) => {
                let mut v = vec![format!(
                    "subject {subject} [{product}]: new version from {file}"
                )];
                v.extend(
                    schema_diff(prev, schema)
                        .lines()
                        .map(|l| format!("    {l}")),
                );
                v
            }
        },
        Action::UpsertCatalog {
            product,
            record,
            previous,
        } => match previous {
            None => vec![format!("catalog record {product}")],
            Some(prev) => {
                let before = serde_json::to_value(prev).unwrap_or_default();
                let after = serde_json::to_value(record).unwrap_or_default();
                let mut fields: Vec<&str> = after
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, v)| {
                        !matches!(k.as_str(), "applied_at" | "revision")
                            && before.get(k.as_str()) != Some(v)
                    })
                    .map(|(k, _)| k.as_str())
                    .collect();
                fields.sort();
                vec![format!("catalog record {product} ({})", fields.join(", "))]
            }
        },
        Action::DeleteSubject { product, subject } => {
            vec![format!("subject {subject} [{product}]: delete (retired)")]
        }
        Action::DeleteTopic { product, topic } => {
            vec![format!(
                "topic {topic} [{product}]: delete, with its data (retired)"
            )]
        }
        Action::RetireProduct { product, .. } => {
            vec![format!("catalog record {product}: retire (tombstone)")]
        }
        Action::CreateConnector {
            connector,
            product,
            class,
            config,
            state,
            ..
        } => {
            let mut v = vec![format!(
                "connector {connector} [{product}]: {class}{}",
                if *state == mesh_plan::connect::ConnectorState::Running {
                    String::new()
                } else {
                    format!(", then {}", state.as_str())
                }
            )];
            let shown: Vec<(&String, &String)> = config
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "name" | "connector.class"))
                .collect();
            let width = shown.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            v.extend(
                shown
                    .iter()
                    .map(|(k, val)| format!("    {k:width$} = {val}")),
            );
            v
        }
        Action::UpdateConnector {
            connector,
            product,
            changes,
            ..
        } => {
            let mut v = vec![format!("connector {connector} [{product}]: config")];
            for c in changes {
                let before = c.before.as_deref().unwrap_or("(unset)");
                match &c.after {
                    Some(after) => v.push(format!("    ~ {}: {before} → {after}", c.key)),
                    None => v.push(format!("    - {}: {before} → (removed)", c.key)),
                }
            }
            v
        }
        Action::SetConnectorState {
            connector,
            product,
            from,
            to,
        } => vec![format!(
            "connector {connector} [{product}]: {} → {}",
            if from.is_empty() {
                "(unknown)"
            } else {
                from.as_str()
            },
            to.connect_name()
        )],
        Action::DeleteConnector { connector, product } => {
            vec![format!(
                "connector {connector} [{product}]: delete (its file is gone)"
            )]
        }
    }
}

/// A unified diff of the registered schema and the repo's.
pub fn schema_diff(before: &str, after: &str) -> String {
    mesh_schema::diff::unified(before, after, "registered", "repo")
}

pub fn human(plan: &Plan, target: &str, out: &mut dyn WriteColor) -> std::io::Result<()> {
    writeln!(out, "mesh plan for {target}\n")?;
    for a in &plan.actions {
        let e = a.effect();
        let lines = describe(a);
        out.set_color(ColorSpec::new().set_fg(Some(colour(e))).set_bold(true))?;
        write!(out, "  {} ", sign(e))?;
        out.reset()?;
        writeln!(out, "{}", lines[0])?;
        for l in &lines[1..] {
            writeln!(out, "  {l}")?;
        }
    }
    for e in &plan.errors {
        out.set_color(ColorSpec::new().set_fg(Some(Color::Red)).set_bold(true))?;
        write!(out, "error")?;
        out.reset()?;
        writeln!(out, ": {}", e.message)?;
        if !e.affected.is_empty() {
            writeln!(out, "  it would break:")?;
            for a in &e.affected {
                writeln!(out, "    - {a}")?;
            }
        }
        if !e.blockers.is_empty() {
            writeln!(out, "  blocked by:")?;
            for b in &e.blockers {
                writeln!(out, "    - {}", crate::lifecycle::blocker_line(b))?;
            }
        }
        writeln!(out, "  help: {}", e.help)?;
    }
    if !plan.impacts.is_empty() {
        out.set_color(ColorSpec::new().set_fg(Some(Color::Red)).set_bold(true))?;
        write!(out, "\nDestructive and breaking changes")?;
        out.reset()?;
        writeln!(out, " ({}):", plan.impacts.len())?;
        for i in &plan.impacts {
            let (head, lines) = crate::lifecycle::impact_lines(i);
            writeln!(out, "  ! {head}")?;
            for l in lines {
                writeln!(out, "      - {l}")?;
            }
        }
    }
    for w in &plan.deprecations {
        out.set_color(ColorSpec::new().set_fg(Some(Color::Yellow)).set_bold(true))?;
        write!(out, "warning")?;
        out.reset()?;
        writeln!(out, ": {}", w.describe())?;
    }
    let (c, u, d) = plan.counts();
    if !plan.actions.is_empty() {
        writeln!(out)?;
    }
    if plan.errors.is_empty() {
        if plan.is_empty() {
            writeln!(out, "No changes. The cluster matches the repo.")?;
        } else {
            writeln!(out, "Plan: {c} to create, {u} to change, {d} to destroy.")?;
        }
    } else {
        writeln!(
            out,
            "Plan failed: {} error(s); nothing will be applied.",
            plan.errors.len()
        )?;
    }
    Ok(())
}

pub fn json(plan: &Plan, env: &str) -> serde_json::Value {
    let (c, u, d) = plan.counts();
    json!({
        "version": 1,
        "environment": env,
        "summary": {"create": c, "change": u, "destroy": d},
        "errors": plan.errors,
        "actions": plan.actions,
        "impacts": plan.impacts,
        "deprecations": plan.deprecations,
    })
}

/// The apply report: each action's outcome, then a summary.
pub fn report(plan: &Plan, report: &ApplyReport, out: &mut dyn WriteColor) -> std::io::Result<()> {
    for (a, o) in plan.actions.iter().zip(&report.outcomes) {
        let head = &describe(a)[0];
        let (mark, c) = match o {
            Outcome::Done => ("done   ", Color::Green),
            Outcome::Failed(_) => ("FAILED ", Color::Red),
            Outcome::Skipped => ("skipped", Color::Yellow),
        };
        out.set_color(ColorSpec::new().set_fg(Some(c)))?;
        write!(out, "  {mark} ")?;
        out.reset()?;
        writeln!(out, "{} {head}", sign(a.effect()))?;
        if let Outcome::Failed(m) = o {
            writeln!(out, "          {m}")?;
        }
    }
    writeln!(out)?;
    if report.interrupted && report.failed() == 0 {
        writeln!(
            out,
            "Apply interrupted: {} done, {} not attempted; stopped on request after the running batch. Run apply again: it continues from where it stopped.",
            report.done(),
            report.skipped()
        )?;
    } else if report.failed() == 0 {
        writeln!(out, "Apply complete: {} action(s) done.", report.done())?;
    } else {
        writeln!(
            out,
            "Apply failed: {} done, {} failed, {} not attempted. Fix the cause and run apply again: it converges from where it stopped.",
            report.done(),
            report.failed(),
            report.skipped()
        )?;
    }
    Ok(())
}

/// Pull-request comments are cut below GitHub's 65,536-character limit.
pub const MARKDOWN_LIMIT: usize = 60_000;

/// `plan --format markdown`: a pull-request comment. The summary line comes first, then errors and
/// destructive changes, then one collapsible section per domain with changes; domains without
/// changes are listed in one line. Kept under [`MARKDOWN_LIMIT`] characters with a note saying
/// where the full plan is.
pub fn markdown(
    plan: &Plan,
    mesh: &mesh_model::Mesh,
    target: &str,
    changes: Option<&mesh_check::changes::ChangeSet>,
) -> String {
    let (c, u, d) = plan.counts();
    let mut head = String::new();
    if plan.errors.is_empty() {
        if plan.is_empty() {
            head.push_str(&format!("### mesh plan for {target}: no changes\n\n"));
        } else {
            head.push_str(&format!(
                "### mesh plan for {target}: {c} to create, {u} to change, {d} to destroy\n\n"
            ));
        }
    } else {
        head.push_str(&format!(
            "### mesh plan for {target}: failed, {} error(s); nothing will be applied\n\n",
            plan.errors.len()
        ));
    }
    if !plan.errors.is_empty() {
        for e in &plan.errors {
            head.push_str(&format!(
                "- :x: **{}**\n  - help: {}\n",
                md(&e.message),
                md(&e.help)
            ));
            for a in &e.affected {
                head.push_str(&format!("  - would break: {}\n", md(a)));
            }
            for b in &e.blockers {
                head.push_str(&format!(
                    "  - blocked by: {}\n",
                    md(&crate::lifecycle::blocker_line(b))
                ));
            }
        }
        head.push('\n');
    }
    head.push_str(&crate::lifecycle::markdown_section(plan, md));
    let destructive: Vec<&Action> = plan
        .actions
        .iter()
        .filter(|a| a.effect() == Effect::Destroy)
        .collect();
    if !destructive.is_empty() {
        head.push_str(&format!(
            "**:warning: {} destructive change(s):**\n",
            destructive.len()
        ));
        for a in destructive {
            head.push_str(&format!("- `- {}`\n", describe(a)[0]));
        }
        head.push('\n');
    }

    // What the pull request touches, after what it breaks.
    if let Some(set) = changes {
        head.push_str(&changes_markdown(set));
    }

    // Group by the domain an action belongs to: its product's, or the principal's for ACLs.
    let mut by_domain: std::collections::BTreeMap<String, Vec<&Action>> =
        std::collections::BTreeMap::new();
    for a in &plan.actions {
        by_domain.entry(domain_of(a, mesh)).or_default().push(a);
    }
    let unchanged: Vec<&str> = mesh
        .domains
        .iter()
        .map(|d| d.name.as_str())
        .filter(|n| !by_domain.contains_key(*n))
        .collect();

    let mut body = String::new();
    let mut cut = 0usize;
    let note = |n: usize| {
        format!(
            "\n> **Truncated:** {n} domain section(s) did not fit in one comment; the full plan is in the JSON artifact (`mesh plan --format json`).\n"
        )
    };
    for (domain, actions) in &by_domain {
        let mut section = format!(
            "<details><summary><b>{}</b>: {} change(s)</summary>\n\n```diff\n",
            md(domain),
            actions.len()
        );
        for a in actions {
            let lines = describe(a);
            section.push_str(&format!("{} {}\n", sign(a.effect()), lines[0]));
            for l in &lines[1..] {
                section.push_str(&format!("  {l}\n"));
            }
        }
        section.push_str("```\n</details>\n\n");
        if head.len() + body.len() + section.len() + note(by_domain.len()).len() + 200
            > MARKDOWN_LIMIT
        {
            cut += 1;
            continue;
        }
        body.push_str(&section);
    }
    let mut out = head + &body;
    if !unchanged.is_empty() {
        out.push_str(&format!(
            "<sub>No changes in: {}</sub>\n",
            unchanged.join(", ")
        ));
    }
    if cut > 0 {
        out.push_str(&note(cut));
    }
    out
}

/// The `--base` lines of a pull-request comment: touched domains and products, owners to ask.
fn changes_markdown(set: &mesh_check::changes::ChangeSet) -> String {
    if set.is_empty() {
        return format!("No mesh files changed since `{}`.\n\n", md(&set.base));
    }
    let domains: Vec<String> = set
        .domains
        .iter()
        .map(|d| {
            let products: Vec<String> = set
                .products
                .iter()
                .filter(|p| p.domain == d.name)
                .map(|p| {
                    format!(
                        "`{}` ({})",
                        p.id,
                        md(&format!("{:?}", p.change).to_lowercase())
                    )
                })
                .collect();
            if products.is_empty() {
                format!("**{}**", md(&d.name))
            } else {
                format!("**{}**: {}", md(&d.name), products.join(", "))
            }
        })
        .collect();
    let mut out = format!(
        "Touches {} (since `{}`).",
        domains.join("; "),
        md(&set.base)
    );
    if !set.global_files.is_empty() {
        out.push_str(&format!(
            " Repo-wide files: {}.",
            set.global_files
                .iter()
                .map(|f| format!("`{}`", md(f)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !set.owners_to_ask.is_empty() {
        out.push_str(&format!(
            " Owners to ask: {}.",
            md(&set.owners_to_ask.join(", "))
        ));
    }
    out.push_str("\n\n");
    // Schema diffs take at most a third of the comment; the rest are in the JSON.
    let budget = out.len() + MARKDOWN_LIMIT / 3;
    for (i, d) in set.schema_diffs.iter().enumerate() {
        let section = format!(
            "<details><summary>Schema {} of <code>{}</code> ({})</summary>\n\n```diff\n{}```\n</details>\n\n",
            md(&d.which),
            md(&d.product),
            md(&d.file),
            d.diff.replace("```", "` ` `")
        );
        if out.len() + section.len() > budget {
            out.push_str(&format!(
                "> {} more schema diff(s) did not fit; they are in the JSON artifact (`changes.schema_diffs`).\n\n",
                set.schema_diffs.len() - i
            ));
            break;
        }
        out.push_str(&section);
    }
    out
}

fn domain_of(a: &Action, mesh: &mesh_model::Mesh) -> String {
    if let Some(p) = a.product() {
        return p.split('.').next().unwrap_or(p).to_string();
    }
    match a {
        Action::CreateAcl { binding } | Action::DeleteAcl { binding } => mesh
            .domains
            .iter()
            .find(|d| {
                d.principals
                    .values()
                    .any(|p| *p.value == *binding.principal)
            })
            .map_or_else(|| "(other)".to_string(), |d| d.name.clone()),
        _ => "(mesh)".to_string(),
    }
}

/// Text safe inside Markdown (no raw HTML from file contents).
fn md(s: &str) -> String {
    s.replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_plan::{AclBinding, Operation, PatternType, PlanError, ResourceType};

    fn mesh() -> mesh_model::Mesh {
        let mut m = mesh_model::Mesh::default();
        for name in ["sales", "finance", "quiet"] {
            let mut d = mesh_model::Domain {
                name: name.into(),
                ..Default::default()
            };
            d.principals.insert(
                "svc".into(),
                mesh_model::doc::Spanned::new(format!("User:{name}-svc"), 0..0),
            );
            m.domains.push(d);
        }
        m
    }

    fn topic(product: &str) -> Action {
        Action::CreateTopic {
            product: product.into(),
            topic: product.into(),
            partitions: 3,
            replication_factor: 3,
            config: [("retention.ms".to_string(), "604800000".to_string())].into(),
        }
    }

    #[test]
    fn summary_first_destructive_called_out_domains_folded() {
        let acl = AclBinding::allow(
            "User:finance-svc",
            ResourceType::Topic,
            "sales.orders",
            PatternType::Literal,
            Operation::Read,
        );
        let plan = Plan {
            actions: vec![topic("sales.orders"), Action::DeleteAcl { binding: acl }],
            ..Plan::default()
        };
        let md = markdown(&plan, &mesh(), "environment `prod`", None);
        assert!(
            md.starts_with(
                "### mesh plan for environment `prod`: 1 to create, 0 to change, 1 to destroy\n"
            ),
            "{md}"
        );
        let warn = md.find(":warning: 1 destructive").expect("called out");
        let sales = md
            .find("<details><summary><b>sales</b>: 1 change(s)")
            .expect("sales section");
        let finance = md
            .find("<b>finance</b>")
            .expect("the ACL lands in its principal's domain");
        assert!(warn < sales && warn < finance);
        assert!(md.contains("No changes in: quiet"), "{md}");
        assert!(
            md.contains("+ topic sales.orders [sales.orders]: 3 partitions, replication 3"),
            "{md}"
        );
    }

    #[test]
    fn errors_and_what_they_break_come_first() {
        let mut e = PlanError::new(
            Some("sales.orders"),
            "sales.orders: not BACKWARD-compatible <x>",
            "give it a default",
        );
        e.affected = vec!["consumer finance/billing-service (owners: @acme/finance)".into()];
        let plan = Plan {
            actions: vec![topic("sales.orders")],
            errors: vec![e],
            ..Plan::default()
        };
        let md = markdown(&plan, &mesh(), "env", None);
        assert!(
            md.starts_with("### mesh plan for env: failed, 1 error(s); nothing will be applied"),
            "{md}"
        );
        assert!(
            md.contains("would break: consumer finance/billing-service")
                && md.contains("&lt;x&gt;"),
            "{md}"
        );
    }

    #[test]
    fn a_plan_too_big_for_one_comment_is_cut_with_a_note() {
        let mut m = mesh();
        let mut actions = Vec::new();
        for d in 0..400 {
            let name = format!("d{d:03}");
            m.domains.push(mesh_model::Domain {
                name: name.clone(),
                ..Default::default()
            });
            for p in 0..5 {
                actions.push(topic(&format!("{name}.product-with-a-long-name-{p}")));
            }
        }
        let md = markdown(
            &Plan {
                actions,
                ..Plan::default()
            },
            &m,
            "env",
            None,
        );
        assert!(md.len() <= MARKDOWN_LIMIT, "{}", md.len());
        assert!(
            md.contains("**Truncated:**") && md.contains("--format json"),
            "{}",
            &md[md.len() - 300..]
        );
        assert!(md.starts_with("### mesh plan for env: 2000 to create"));
    }
}
