//! The live half of `plan` and `apply`: the environment's client settings (with `${VAR}`
//! expansion from the process environment), connecting, reading, planning, applying.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use mesh_kafka::KafkaCluster;
use mesh_model::secrets::{Unset, expand};
use mesh_plan::apply::Target;
use mesh_plan::registry::RegistryWriter;
use mesh_plan::{Action, ClusterReader, LiveState, Plan, ReadRequest, apply::ApplyReport};
use mesh_registry::{Auth, RegistryClient};

/// How long connecting and each admin request may take before `mesh` gives up.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How long apply waits for its ACL changes to become visible.
const ACL_SETTLE: Duration = Duration::from_secs(10);

/// The folder relative file paths in client settings (`ssl.ca.location`, a registry's
/// `ca_file`, …) resolve against: the mesh repo given with `--repo`. Set once by `main`.
static REPO_DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Records the mesh repo folder that relative paths in client settings are relative to.
pub fn set_repo_dir(dir: &std::path::Path) {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let _ = REPO_DIR.set(dir);
}

/// A path from a client setting, relative ones made relative to the mesh repo.
fn resolve_path(value: &str) -> String {
    let path = std::path::Path::new(value);
    match REPO_DIR.get() {
        Some(dir) if path.is_relative() && !value.is_empty() => {
            dir.join(path).display().to_string()
        }
        _ => value.to_owned(),
    }
}

pub struct Context {
    pub env: String,
    /// "environment `local` (127.0.0.1:19092)".
    pub target: String,
    pub cluster: KafkaCluster,
    /// Present when the environment has a Schema Registry.
    pub registry: Option<RegistryClient>,
    /// What was read, and what it returned (a saved plan records both).
    pub request: ReadRequest,
    pub live: LiveState,
    /// The apply lock, when this run holds it; released when the context is dropped.
    #[expect(dead_code, reason = "held only for its Drop, which releases the lock")]
    pub lock: Option<crate::lock::Held>,
}

/// The Kafka client settings of an environment, with references filled from the process
/// environment. An unset variable is an error naming it (never a value).
pub fn client_settings(
    env: &mesh_model::Environment,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, String> {
    let fill = |key: &str, value: &str| fill_var(env, key, value, &lookup);
    let mut props = BTreeMap::new();
    let bootstrap = env.bootstrap_servers.as_ref().ok_or_else(|| {
        format!("environment `{}` has no bootstrap_servers (help: add bootstrap_servers = \"host:port\" under [environments.{}] in mesh.toml)", env.name, env.name)
    })?;
    props.insert(
        "bootstrap.servers".to_string(),
        fill("bootstrap_servers", &bootstrap.value)?,
    );
    for (k, v) in &env.kafka {
        let mut value = fill(k, &v.value)?;
        // `probe` is librdkafka's "find the system's CA bundle", not a file.
        if mesh_model::client::is_path_key(k) && !(k == "ssl.ca.location" && value == "probe") {
            value = resolve_path(&value);
        }
        props.insert(k.clone(), value);
    }
    Ok(props)
}

/// Fills the `${VAR}` references of one mesh.toml value of `env`; an unset variable is an
/// error naming it and the key it fills (never a value).
fn fill_var(
    env: &mesh_model::Environment,
    key: &str,
    value: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    expand(value, lookup).map_err(|Unset(var)| {
        format!(
            "environment `{}` needs the variable {var} (it fills `{key}` in mesh.toml); set it, e.g. export {var}=…",
            env.name
        )
    })
}

/// Validates, connects to the environment's cluster, reads it and plans.
/// `revision` is the commit being applied (from `--rev`), recorded in the catalog. With
/// `lock_for` (the command, for `apply`), the apply lock is taken before anything is read.
pub fn plan(
    report: &mesh_check::Report,
    revision: Option<&str>,
    lock_for: Option<&str>,
) -> Result<(Plan, Context), String> {
    // A reference to a removed product may be a retirement in progress: decided once the
    // catalog is read (crate::lifecycle). Every other error stops here.
    let dangling = crate::lifecycle::dangling(&report.mesh);
    let errors =
        crate::report_problems_of(report, |d| !crate::lifecycle::is_deferred(d, &dangling))?;
    if errors > 0 {
        return Err(format!(
            "the mesh is invalid ({errors} error(s) above); nothing was read or changed"
        ));
    }
    let now = crate::lifecycle::now_ms()?;
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
    let registry = registry_client(env, !desired.subjects.is_empty(), |v| std::env::var(v).ok())?;
    let cluster = KafkaCluster::connect(&props, TIMEOUT).map_err(|e| e.to_string())?;
    let lock = match lock_for {
        Some(command) => Some(crate::lock::acquire(
            &props,
            &desired.catalog_topic,
            &env.name,
            command,
        )?),
        None => None,
    };
    let request = ReadRequest {
        topics: desired.topics.keys().cloned().collect(),
        principals: desired.principals.clone(),
        catalog_topic: desired.catalog_topic.clone(),
    };
    let mut live = cluster.read(&request)?;
    // A broker down does not stop a plan, but people should know what it was made from.
    if let Ok(Some(note)) = cluster.health(&request.topics).map(|h| h.note()) {
        eprintln!("note: {note}");
    }
    // References to products nobody has, not even the catalog, are plain errors.
    let unknown = crate::report_problems_of(report, |d| {
        crate::lifecycle::is_deferred(d, &dangling)
            && dangling.iter().any(|r| {
                r.file == d.file && r.span == d.span && !live.catalog.contains_key(&r.product)
            })
    })?;
    if unknown > 0 {
        return Err(format!(
            "the mesh is invalid ({unknown} error(s) above); nothing was changed"
        ));
    }
    if let Some(r) = &registry {
        // Subjects of products being retired too: those that exist are deleted.
        let mut subjects: std::collections::BTreeSet<String> =
            desired.subjects.keys().cloned().collect();
        for (id, record) in &live.catalog {
            if !desired.catalog.contains_key(id) {
                subjects.insert(format!("{}-value", record.topic));
                subjects.insert(format!("{}-key", record.topic));
            }
        }
        live.subjects = r.read_subjects(&subjects).map_err(|e| e.to_string())?;
    }
    let mut plan = mesh_plan::plan_at(&desired, &live, now);
    // Who reads the topics of retirements and breaking changes, and when they last committed.
    let topics = mesh_plan::activity_topics(&plan, &desired, &live);
    if !topics.is_empty() {
        live.groups = cluster.group_activity(&topics).map_err(|e| e.to_string())?;
        plan = mesh_plan::plan_at(&desired, &live, now);
    }
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
    change_policies(report, &desired, &live, &mut plan);
    // The registry's refusals are breaking changes too.
    plan.impacts = mesh_plan::impacts(&plan, &desired, &live, now);
    Ok((
        plan,
        Context {
            env: env.name.clone(),
            target,
            cluster,
            registry,
            request,
            live,
            lock,
        },
    ))
}

/// For `mesh unlock`: the environment's client settings and the catalog topic (the lock topic
/// sits next to it). Only the settings need to be right, not the whole mesh.
pub fn settings_for_unlock(
    report: &mesh_check::Report,
) -> Result<(BTreeMap<String, String>, String), String> {
    let mesh = &report.mesh;
    let Some(env) = mesh.environment() else {
        let names: Vec<&str> = mesh
            .settings
            .environments
            .keys()
            .map(String::as_str)
            .collect();
        return Err(match &mesh.env {
            Some(name) => format!(
                "no environment `{name}` in mesh.toml (help: declared environments: {})",
                names.join(", ")
            ),
            None => format!(
                "unlock needs --env ENV (help: declared environments: {})",
                names.join(", ")
            ),
        });
    };
    let props = client_settings(env, |v| std::env::var(v).ok())?;
    Ok((props, mesh.settings.catalog_topic.clone()))
}

/// The registry client for an environment, when its products declare schemas. Credentials come
/// from `[environments.<env>.schema_registry]` (`${VAR}` values).
pub fn registry_client(
    env: &mesh_model::Environment,
    needed: bool,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<RegistryClient>, String> {
    // With a registry URL the client exists even without declared subjects: a retired
    // product's subjects are deleted through it.
    if needed && env.schema_registry_url.is_none() {
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
    let fill =
        |key: &str, v: &mesh_model::doc::Spanned<String>| fill_var(env, key, &v.value, &lookup);
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
    let file = |key: &str, v: &Option<mesh_model::doc::Spanned<String>>| {
        v.as_ref()
            .map(|v| fill(key, v).map(|p| std::path::PathBuf::from(resolve_path(&p))))
            .transpose()
    };
    let tls = mesh_registry::Tls {
        ca_file: file("schema_registry.ca_file", &a.ca_file)?,
        client: match (
            file("schema_registry.cert_file", &a.cert_file)?,
            file("schema_registry.key_file", &a.key_file)?,
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            _ => None,
        },
    };
    RegistryClient::with_tls(&fill("schema_registry_url", url)?, auth, &tls, TIMEOUT)
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

/// Governance over the planned actions (`change` rules): an error blocks the plan like any other
/// plan error; a warning is printed with it.
fn change_policies(
    report: &mesh_check::Report,
    desired: &mesh_plan::DesiredState,
    live: &mesh_plan::LiveState,
    plan: &mut Plan,
) {
    let changes: Vec<mesh_policy::ChangeSubject> =
        mesh_plan::changes::planned_changes(plan, desired, live)
            .into_iter()
            .map(|c| mesh_policy::ChangeSubject {
                product_view: report
                    .mesh
                    .product(&c.product)
                    .is_none()
                    .then(|| live.catalog.get(&c.product))
                    .flatten()
                    .map(|r| retired_view(r, live)),
                kind: c.kind.to_string(),
                resource: c.resource.to_string(),
                product: c.product,
                before: c.before,
                after: c.after,
            })
            .collect();
    for (i, d) in mesh_policy::evaluate_changes(&report.mesh, &report.policies, &changes) {
        if d.is_error() {
            plan.errors.push(mesh_plan::PlanError::new(
                Some(&changes[i].product),
                d.message.clone(),
                d.help.clone().unwrap_or_default(),
            ));
        } else {
            eprintln!("warning[{}]: {}", d.code, d.message);
        }
    }
}

/// What a `change` rule sees as the product of a retirement: its last applied catalog record,
/// with the live topic.
fn retired_view(r: &mesh_plan::CatalogRecord, live: &mesh_plan::LiveState) -> serde_json::Value {
    let topic = live.topics.get(&r.topic);
    let config: BTreeMap<&str, &str> = topic
        .map(|t| {
            t.configs
                .iter()
                .filter(|(_, c)| c.source == mesh_plan::ConfigSource::DynamicTopic)
                .filter_map(|(k, c)| Some((k.as_str(), c.value.as_deref()?)))
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "id": r.product,
        "domain": r.domain,
        "name": r.product.split_once('.').map_or(r.product.as_str(), |(_, n)| n),
        "description": r.description,
        "owners": r.owners,
        "quality": r.quality,
        "sla": r.sla,
        "tags": r.tags,
        "status": r.status,
        "inputs": r.inputs,
        "producers": [],
        "topic": {
            "name": r.topic,
            "partitions": topic.map_or(0, |t| t.partitions),
            "replication_factor": topic.map_or(0, |t| t.replication_factor),
            "config": config,
        },
        "schema": null,
        "access": {"visibility": "public", "allow_domains": []},
        "deprecation": r.deprecation,
    })
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
        settle_acls(plan, ctx);
    }
    report
}

/// ACL changes reach every broker through the metadata log a moment after the request returns.
/// Waits (bounded) until they are visible, so that a plan right after apply shows no changes.
/// What should be visible: the ACLs read before the apply, with the plan's changes made.
fn settle_acls(plan: &Plan, ctx: &Context) {
    let mut expected = ctx.live.acls.clone();
    for a in &plan.actions {
        match a {
            Action::CreateAcl { binding } => {
                expected.insert(binding.clone());
            }
            Action::DeleteAcl { binding } => {
                expected.remove(binding);
            }
            _ => {}
        }
    }
    let deadline = Instant::now() + ACL_SETTLE;
    while Instant::now() < deadline {
        match ctx.cluster.acls_of(&ctx.request.principals) {
            Ok(acls) if acls == expected => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(200)),
            Err(_) => return,
        }
    }
    eprintln!(
        "note: some ACL changes are still propagating; a plan run now may show them once more"
    );
}

/// The current UTC time as RFC 3339, second precision.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// A time in seconds since the epoch as RFC 3339 (UTC).
pub fn rfc3339(secs: u64) -> String {
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
