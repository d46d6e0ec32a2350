//! Saved plans from the CLI's side: `mesh plan --out FILE` writes one, `mesh apply FILE` checks
//! it against the cluster (under the apply lock) and applies exactly its actions. The format and
//! the fingerprint are `mesh_plan::saved`'s; see docs/saved-plans-and-locks.md.

use std::path::Path;
use std::process::ExitCode;

use codespan_reporting::term::termcolor::StandardStream;
use mesh_kafka::KafkaCluster;
use mesh_plan::Plan;
use mesh_plan::registry::RegistryReader;
use mesh_plan::saved::{self, RepoStamp, SavedPlan, SavedRead};

use crate::live::{self, Context};

/// Writes the plan file. The caller has checked that the plan has no errors.
pub fn write(
    path: &Path,
    plan: &Plan,
    ctx: &Context,
    revision: Option<&str>,
    content_sha256: String,
) -> Result<(), String> {
    // Every subject the plan read (a retirement's too), so that the re-read covers the same.
    let subjects = if ctx.registry.is_some() {
        ctx.live.subjects.keys().cloned().collect()
    } else {
        Default::default()
    };
    // The consumer groups of the topics it retires are part of what the plan was made from;
    // those of other topics (read for impacts) are not, or any busy topic would make it stale.
    let activity_topics: std::collections::BTreeSet<String> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            mesh_plan::Action::DeleteTopic { topic, .. } => Some(topic.clone()),
            _ => None,
        })
        .collect();
    let mut fingerprint = saved::fingerprint(&ctx.live);
    fingerprint
        .groups
        .retain(|topic, _| activity_topics.contains(topic));
    let file = SavedPlan {
        format: saved::FORMAT.into(),
        version: saved::VERSION,
        mesh_version: env!("CARGO_PKG_VERSION").into(),
        environment: ctx.env.clone(),
        // Only the servers: the client settings (credentials among them) never go in.
        bootstrap_servers: ctx.cluster.bootstrap_servers().to_string(),
        repo: RepoStamp {
            revision: revision.map(str::to_string),
            content_sha256,
        },
        created_at: live::now_rfc3339(),
        read: SavedRead {
            request: ctx.request.clone(),
            subjects,
            activity_topics: activity_topics.clone(),
        },
        actions: plan.actions.clone(),
        fingerprint,
    };
    std::fs::write(path, file.to_json())
        .map_err(|e| format!("{}: cannot write the plan file: {e}", path.display()))
}

/// `mesh apply FILE`.
pub fn apply(file: &Path, repo: &crate::RepoArgs, auto_approve: bool) -> Result<ExitCode, String> {
    let name = file.display();
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("{name}: cannot read the plan file: {e}"))?;
    let saved = SavedPlan::from_json(&text).map_err(|e| format!("{name}: {e}"))?;
    if let Some(env) = &repo.env
        && env != &saved.environment
    {
        return Err(format!(
            "{name}: the plan was made for environment `{}`, not `{env}` (help: leave out --env, or make a plan for `{env}` with mesh plan --env {env} --out FILE)",
            saved.environment
        ));
    }
    // The repo is read only for the environment's connection settings: what to do is in the file.
    crate::live::set_repo_source(&repo.repo, repo.rev.as_deref());
    let files = match &repo.rev {
        Some(rev) => mesh_repo::from_git(&repo.repo, rev),
        None => mesh_repo::from_dir(&repo.repo),
    }
    .map_err(|e| e.to_string())?;
    let (mesh, _) = mesh_model::load(&files.files, Some(&saved.environment));
    let Some(env) = mesh.environment() else {
        return Err(format!(
            "{name}: the plan is for environment `{}`, which {} does not declare (help: point --repo at the mesh the plan was made from)",
            saved.environment,
            files.origin.describe()
        ));
    };
    let props = live::client_settings(env, |v| std::env::var(v).ok())?;
    let bootstrap = props.get("bootstrap.servers").cloned().unwrap_or_default();
    if bootstrap != saved.bootstrap_servers {
        return Err(format!(
            "{name}: the plan was made against {}, but environment `{}` now points at {bootstrap} (help: run mesh plan again)",
            saved.bootstrap_servers, env.name
        ));
    }
    // The plan stands for the repo content it was made from: applied after that content
    // changed, it would apply what nobody reviewed as the repo now says it.
    let content = saved::content_hash(files.files.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
    if content != saved.repo.content_sha256 {
        let made_from = match &saved.repo.revision {
            Some(rev) => format!("revision {rev}"),
            None => "a work tree".to_string(),
        };
        return Err(format!(
            "{name}: the repo changed since this plan was made: it was made from {made_from}, and {} holds other content (help: run mesh plan --out again, or point --repo/--rev at the content the plan was made from)",
            files.origin.describe()
        ));
    }
    let registry = live::registry_client(env, !saved.read.subjects.is_empty(), |v| {
        std::env::var(v).ok()
    })?;
    let connect = live::connect_of(env, |v| std::env::var(v).ok())?;
    let cluster =
        KafkaCluster::connect(&props, live::kafka_timeout()).map_err(|e| e.to_string())?;
    let request = saved.read.request.clone();
    let lock = crate::lock::acquire(
        &props,
        &request.catalog_topic,
        &env.name,
        &format!("mesh apply {name}"),
    )?;
    let retry = live::retry();
    let cluster_reader = mesh_workflow::Retrying {
        inner: &cluster,
        retry: &retry,
    };
    let registry_reader = registry.as_ref().map(|r| mesh_workflow::Retrying {
        inner: r,
        retry: &retry,
    });
    let connect_reader = connect.as_ref().map(|c| mesh_workflow::Retrying {
        inner: c,
        retry: &retry,
    });
    let readers = mesh_workflow::Readers {
        cluster: &cluster_reader,
        registry: registry_reader
            .as_ref()
            .map(|r| r as &(dyn RegistryReader + Sync)),
        connect: connect_reader
            .as_ref()
            .map(|c| c as &dyn mesh_plan::connect::ConnectReader),
    };
    let live_state = mesh_workflow::reread(
        readers,
        &request,
        &saved.read.subjects,
        &saved.read.activity_topics,
    )
    .map_err(|e| e.to_string())?;
    let changed = saved::changes(&saved.fingerprint, &saved::fingerprint(&live_state));
    if !changed.is_empty() {
        return Err(format!(
            "stale plan: the cluster changed since this plan was made: {} (help: run mesh plan again)",
            changed.join(", ")
        ));
    }
    let target = format!("environment `{}` ({bootstrap})", env.name);
    let plan = Plan {
        actions: saved.actions,
        ..Plan::default()
    };
    let ctx = Context {
        env: env.name.clone(),
        target,
        cluster,
        registry,
        connect,
        request,
        live: live_state,
        lock: Some(lock),
    };
    let mut out = StandardStream::stdout(crate::stdout_colour());
    crate::plan_render::human(&plan, &ctx.target, &mut out).map_err(|e| e.to_string())?;
    if plan.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if !auto_approve && !live::confirm(&ctx.target, plan.actions.len())? {
        crate::print("Apply cancelled; nothing was changed.\n")?;
        return Ok(ExitCode::from(1));
    }
    let result = live::apply(&plan, &ctx, &ctx.request.catalog_topic);
    crate::plan_render::report(&plan, &result, &mut out).map_err(|e| e.to_string())?;
    Ok(if result.failed() == 0 && !result.interrupted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
