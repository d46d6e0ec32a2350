//! The live half of `plan` and `apply`: the environment's client settings (with `${VAR}`
//! expansion from the process environment), connecting, reading, planning, applying.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use mesh_kafka::KafkaCluster;
use mesh_model::secrets::{Unset, expand};
use mesh_plan::{Action, ClusterReader, Plan, ReadRequest, apply::ApplyReport};

/// How long connecting and each admin request may take before `mesh` gives up.
const TIMEOUT: Duration = Duration::from_secs(30);

/// How long apply waits for its ACL changes to become visible.
const ACL_SETTLE: Duration = Duration::from_secs(10);

pub struct Context {
    pub env: String,
    /// "environment `local` (127.0.0.1:19092)".
    pub target: String,
    pub cluster: KafkaCluster,
    pub desired: mesh_plan::DesiredState,
    pub request: ReadRequest,
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
    if report.has_errors() {
        let mut err =
            codespan_reporting::term::termcolor::StandardStream::stderr(crate::stderr_colour());
        crate::render::human(report, &mut err).map_err(|e| e.to_string())?;
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
    let cluster = KafkaCluster::connect(&props, TIMEOUT).map_err(|e| e.to_string())?;
    let desired = mesh_plan::desired(mesh, revision);
    let request = ReadRequest {
        topics: desired.topics.keys().cloned().collect(),
        principals: desired.principals.clone(),
        catalog_topic: desired.catalog_topic.clone(),
    };
    let live = cluster.read(&request)?;
    let plan = mesh_plan::plan(&desired, &live);
    Ok((
        plan,
        Context {
            env: env.name.clone(),
            target,
            cluster,
            desired,
            request,
        },
    ))
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
    let report = mesh_plan::apply::apply(
        plan,
        &ctx.cluster,
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
        match ctx.cluster.read(&ctx.request) {
            Ok(live) if live.acls == ctx.desired.acls => return,
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
