//! The live half of `plan` and `apply`: the environment's client settings (with `${VAR}`
//! expansion from the process environment), connecting, reading, planning, applying.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use mesh_kafka::KafkaCluster;
use mesh_model::secrets::{Unset, expand};
use mesh_plan::apply::Target;
use mesh_plan::registry::RegistryWriter;
use mesh_plan::{Action, ClusterReader, Plan, ReadRequest, apply::ApplyReport};
use mesh_registry::{Auth, RegistryClient};

/// How long connecting and each admin request may take before `mesh` gives up.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// How long apply waits for its ACL changes to become visible.
const ACL_SETTLE: Duration = Duration::from_secs(10);

pub struct Context {
    pub env: String,
    /// "environment `local` (127.0.0.1:19092)".
    pub target: String,
    pub cluster: KafkaCluster,
    /// Present when the environment has a Schema Registry.
    pub registry: Option<RegistryClient>,
    pub desired: mesh_plan::DesiredState,
}

/// The Kafka client settings of an environment, with references filled from the process
/// environment. An unset variable is an error naming it (never a value).
pub fn client_settings(
    env: &mesh_model::Environment,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, String> {
    let fill = |key: &str, value: &str| {
        expand(value, &lookup).map_err(|Unset(var)| {
            format!(
                "environment `{}` needs the variable {var} (it fills `{key}` in mesh.toml); set it, e.g. export {var}=…",
                env.name
            )
        })
    };
    let mut props = BTreeMap::new();
    let bootstrap = env.bootstrap_servers.as_ref().ok_or_else(|| {
        format!("environment `{}` has no bootstrap_servers (help: add bootstrap_servers = \"host:port\" under [environments.{}] in mesh.toml)", env.name, env.name)
    })?;
    props.insert(
        "bootstrap.servers".to_string(),
        fill("bootstrap_servers", &bootstrap.value)?,
    );
    for (k, v) in &env.kafka {
        props.insert(k.clone(), fill(k, &v.value)?);
    }
    Ok(props)
}

/// Validates, connects to the environment's cluster, reads it and plans.
/// `revision` is the commit being applied (from `--rev`), recorded in the catalog.
pub fn plan(
    report: &mesh_check::Report,
    revision: Option<&str>,
) -> Result<(Plan, Context), String> {
    if crate::report_problems(report)? {
        return Err(format!(
            "the mesh is invalid ({} error(s) above); nothing was read or changed",
            report.diagnostics.iter().filter(|d| d.is_error()).count()
        ));
    }
    let mesh = &report.mesh;
    let names: Vec<&str> = mesh
        .settings
        .environments
        .keys()
        .map(String::as_str)
        .collect();
    let Some(env) = mesh.environment() else {
        return Err(format!(
            "plan and apply need --env ENV (help: declared environments: {})",
            names.join(", ")
        ));
    };
    let props = client_settings(env, |v| std::env::var(v).ok())?;
    let bootstrap = props.get("bootstrap.servers").cloned().unwrap_or_default();
    let target = format!("environment `{}` ({bootstrap})", env.name);
    let desired = mesh_plan::desired(mesh, revision);
    // Settings problems first: they are found without touching the network.
    let registry = registry_client(env, &desired, |v| std::env::var(v).ok())?;
    let cluster = KafkaCluster::connect(&props, TIMEOUT).map_err(|e| e.to_string())?;
    let request = ReadRequest {
        topics: desired.topics.keys().cloned().collect(),
        principals: desired.principals.clone(),
        catalog_topic: desired.catalog_topic.clone(),
    };
    let mut live = cluster.read(&request)?;
    if let Some(r) = &registry {
        live.subjects = r
            .read_subjects(&desired.subjects.keys().cloned().collect())
            .map_err(|e| e.to_string())?;
    }
    let mut plan = mesh_plan::plan(&desired, &live);
    // The gate: every new version of an existing subject is put to the registry before anything
    // is applied.
    if let Some(r) = &registry {
        let refused = mesh_plan::plan::registry_gate(&plan, &desired, r)?;
        for e in refused {
            if !plan.errors.iter().any(|known| known.subject == e.subject) {
                plan.errors.push(e);
            }
        }
    }
    for e in &mut plan.errors {
        if let (Some(_), Some(product)) = (&e.subject, &e.product) {
            e.affected = affected(report, product);
        }
    }
    Ok((
        plan,
        Context {
            env: env.name.clone(),
            target,
            cluster,
            registry,
            desired,
        },
    ))
}

/// The registry client for an environment, when its products declare schemas. Credentials come
/// from `[environments.<env>.schema_registry]` (`${VAR}` values).
fn registry_client(
    env: &mesh_model::Environment,
    desired: &mesh_plan::DesiredState,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<RegistryClient>, String> {
    if desired.subjects.is_empty() {
        return Ok(None);
    }
    if env.schema_registry_url.is_none() {
        return Err(format!(
            "products declare schemas, but environment `{}` has no schema_registry_url (help: add schema_registry_url = \"https://…\" under [environments.{}] in mesh.toml)",
            env.name, env.name
        ));
    }
    registry_of(env, lookup)
}

/// The registry client of an environment; `None` when it has no schema_registry_url.
pub fn registry_of(
    env: &mesh_model::Environment,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<RegistryClient>, String> {
    let Some(url) = &env.schema_registry_url else {
        return Ok(None);
    };
    let fill = |key: &str, v: &mesh_model::doc::Spanned<String>| {
        expand(&v.value, &lookup).map_err(|Unset(var)| {
            format!(
                "environment `{}` needs the variable {var} (it fills `{key}` in mesh.toml); set it",
                env.name
            )
        })
    };
    let a = &env.registry_auth;
    let auth = match (&a.username, &a.password, &a.token) {
        (Some(u), Some(p), _) => Auth::Basic {
            user: fill("schema_registry.username", u)?,
            password: fill("schema_registry.password", p)?,
        },
        (_, _, Some(t)) => Auth::Bearer {
            token: fill("schema_registry.token", t)?,
        },
        _ => Auth::None,
    };
    RegistryClient::new(&fill("schema_registry_url", url)?, auth, TIMEOUT)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Who a breaking change to `product` reaches: downstream products and consumers, with owners.
fn affected(report: &mesh_check::Report, product: &str) -> Vec<String> {
    let Some(impact) = report.lineage.impact(product) else {
        return Vec::new();
    };
    let consumers = impact
        .consumers
        .iter()
        .filter(|c| c.depth == 1)
        .map(|c| format!("consumer {} (owners: {})", c.id, c.owners.join(", ")));
    let products = impact.products.iter().map(|p| {
        format!(
            "downstream product {} (owners: {})",
            p.id,
            p.owners.join(", ")
        )
    });
    consumers.chain(products).collect()
}

/// Asks on the terminal; only "yes" proceeds.
pub fn confirm(target: &str, actions: usize) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err("apply asks for confirmation, but standard input is not a terminal (help: pass --auto-approve in automation)".into());
    }
    print!("\nApply these {actions} action(s) to {target}? Only 'yes' is accepted: ");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(line.trim() == "yes")
}

pub fn apply(plan: &Plan, ctx: &Context, catalog_topic: &str) -> ApplyReport {
    let target = Target {
        cluster: &ctx.cluster,
        registry: ctx
            .registry
            .as_ref()
            .map(|r| r as &(dyn RegistryWriter + Sync)),
    };
    let report = mesh_plan::apply::apply(
        plan,
        &target,
        catalog_topic,
        &now_rfc3339(),
        &mut |phase, ok, failed| {
            if failed > 0 {
                eprintln!("{phase}: {ok} done, {failed} failed");
            } else {
                eprintln!("{phase}: {ok} done");
            }
        },
    );
    if report.failed() == 0
        && plan
            .actions
            .iter()
            .any(|a| matches!(a, Action::CreateAcl { .. } | Action::DeleteAcl { .. }))
    {
        settle_acls(ctx);
    }
    report
}

/// ACL changes reach every broker through the metadata log a moment after the request returns.
/// Waits (bounded) until they are visible, so that a plan right after apply shows no changes.
fn settle_acls(ctx: &Context) {
    let deadline = Instant::now() + ACL_SETTLE;
    while Instant::now() < deadline {
        match ctx.cluster.acls_of(&ctx.desired.principals) {
            Ok(acls) if acls == ctx.desired.acls => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(200)),
            Err(_) => return,
        }
    }
    eprintln!(
        "note: some ACL changes are still propagating; a plan run now may show them once more"
    );
}

/// The current UTC time as RFC 3339, second precision.
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let date = mesh_model::doc::Date::from_unix_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!("{date}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> mesh_model::Environment {
        let mut e = mesh_model::Environment {
            name: "prod".into(),
            ..Default::default()
        };
        e.bootstrap_servers = Some(mesh_model::doc::Spanned::new("k:9093".into(), 0..0));
        e.kafka.insert(
            "sasl.password".into(),
            mesh_model::doc::Spanned::new("${MESH_PW}".into(), 0..0),
        );
        e
    }

    #[test]
    fn settings_expand_variables_and_name_the_missing_one() {
        let props =
            client_settings(&env(), |v| (v == "MESH_PW").then(|| "s3cret".to_string())).unwrap();
        assert_eq!(props["bootstrap.servers"], "k:9093");
        assert_eq!(props["sasl.password"], "s3cret");
        let err = client_settings(&env(), |_| None).unwrap_err();
        assert!(
            err.contains("MESH_PW") && err.contains("sasl.password") && err.contains("prod"),
            "{err}"
        );
    }

    #[test]
    fn rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
