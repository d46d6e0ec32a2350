//! From a valid mesh and its desired state to a plan: read the cluster and the registry, diff,
//! ask the registry about every new version, and add what the lineage and the `change` policies
//! say about the planned actions.

use std::collections::{BTreeMap, BTreeSet};

use mesh_check::Report;
use mesh_diagnostics::Diagnostic;
use mesh_plan::connect::ConnectReader;
use mesh_plan::registry::{LiveSubject, RegistryReader};
use mesh_plan::{AdapterError, ClusterReader, DesiredState, LiveState, Plan, ReadRequest};

use crate::references::References;

/// Where the live state comes from.
#[derive(Clone, Copy)]
pub struct Readers<'a> {
    /// `Sync`: the cluster and the registry are read at the same time.
    pub cluster: &'a (dyn ClusterReader + Sync),
    /// Present when the environment has a Schema Registry.
    pub registry: Option<&'a (dyn RegistryReader + Sync)>,
    /// Present when the environment has a Kafka Connect cluster.
    pub connect: Option<&'a dyn ConnectReader>,
}

/// Something people should hear about while a plan is made, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// The cluster is degraded (a broker down, partitions under-replicated): the plan was made
    /// from what answered.
    Health(String),
    /// A `change` rule of severity warning matched a planned action.
    PolicyWarning { code: String, message: String },
}

/// A plan, with what was read to make it (a saved plan records both).
#[derive(Clone, Debug)]
pub struct Planned {
    pub plan: Plan,
    pub request: ReadRequest,
    pub live: LiveState,
}

/// The step of the workflow an adapter failed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    ReadCluster,
    ReadRegistry,
    GroupActivity,
    /// The compatibility gate: asking the registry about new versions.
    Gate,
    ReadConnect,
    /// Connect's validation of new and changed connector configs.
    ConnectGate,
}

/// Why no plan was made. The invalid-mesh variants carry the diagnostics to show (warnings among
/// them); their messages say "above" because the caller shows those first.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The mesh has errors (other than references that wait for the catalog).
    #[error(
        "the mesh is invalid ({errors} error(s) above); no plan was made and nothing was changed"
    )]
    Invalid {
        diagnostics: Vec<Diagnostic>,
        errors: usize,
    },
    /// References to removed products that the catalog does not know either.
    #[error("the mesh is invalid ({errors} error(s) above); nothing was changed")]
    UnknownProducts {
        diagnostics: Vec<Diagnostic>,
        errors: usize,
    },
    /// An adapter failed; its message says what and why, its kind whether trying again helps.
    #[error("{error}")]
    Adapter { step: Step, error: AdapterError },
}

impl WorkflowError {
    /// The diagnostics to show before the message (none for an adapter failure).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            WorkflowError::Invalid { diagnostics, .. }
            | WorkflowError::UnknownProducts { diagnostics, .. } => diagnostics,
            WorkflowError::Adapter { .. } => &[],
        }
    }
}

fn adapter(step: Step) -> impl FnOnce(AdapterError) -> WorkflowError {
    move |error| WorkflowError::Adapter { step, error }
}

/// The diagnostics `keep` accepts, when an error is among them.
fn problems(
    report: &Report,
    keep: impl Fn(&Diagnostic) -> bool,
) -> Option<(Vec<Diagnostic>, usize)> {
    let kept: Vec<Diagnostic> = report
        .diagnostics
        .iter()
        .filter(|d| keep(d))
        .cloned()
        .collect();
    let errors = kept.iter().filter(|d| d.is_error()).count();
    (errors > 0).then_some((kept, errors))
}

/// The offline half of the check: every error stops a plan before anything is read, except
/// references to removed products, which may be retirements in progress (decided by [`plan`]
/// once the catalog is read).
pub fn check_offline(report: &Report) -> Result<(), WorkflowError> {
    let refs = References::of(&report.mesh);
    match problems(report, |d| !refs.is_deferred(d)) {
        Some((diagnostics, errors)) => Err(WorkflowError::Invalid {
            diagnostics,
            errors,
        }),
        None => Ok(()),
    }
}

/// What a plan reads for a desired state: its topics and principals, and the catalog.
pub fn read_request(desired: &DesiredState) -> ReadRequest {
    ReadRequest {
        topics: desired.topics.keys().cloned().collect(),
        principals: desired.principals.clone(),
        catalog_topic: desired.catalog_topic.clone(),
        connectors: desired.connectors.keys().cloned().collect(),
        config_keys: Some(
            desired
                .topics
                .values()
                .flat_map(|t| t.config.keys().cloned())
                .collect(),
        ),
    }
}

/// What a plan reads before it needs the validated mesh: the cluster (topics, configs, ACLs,
/// catalog) and the registry's declared subjects, with the request that was sent. It depends on
/// the desired state only, so it may be read while the mesh is still being checked
/// ([`read_first`]); [`plan_from`] goes on from it once the mesh is known to be valid.
pub struct FirstRead {
    request: ReadRequest,
    live: Result<LiveState, WorkflowError>,
    /// `None` when there is no registry.
    subjects: Option<Result<BTreeMap<String, LiveSubject>, WorkflowError>>,
}

/// Reads the cluster and the registry's declared subjects at the same time: neither waits for
/// the other. Failures are kept for [`plan_from`], which reports them only for a valid mesh.
pub fn read_first(desired: &DesiredState, readers: Readers<'_>) -> FirstRead {
    let request = read_request(desired);
    let declared: BTreeSet<String> = desired.subjects.keys().cloned().collect();
    let (live, subjects) = std::thread::scope(|s| {
        let subjects = readers
            .registry
            .map(|registry| s.spawn(|| registry.read_subjects(&declared)));
        let live = readers.cluster.read(&request);
        // A panic in the registry thread is a bug; re-raise it here.
        let subjects = subjects.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        (live, subjects)
    });
    FirstRead {
        request,
        live: live.map_err(adapter(Step::ReadCluster)),
        subjects: subjects.map(|s| s.map_err(adapter(Step::ReadRegistry))),
    }
}

/// Reads the cluster and the registry and plans, as of `now_ms` (milliseconds since the Unix
/// epoch). `report` is the validated mesh `desired` was derived from; it must pass
/// [`check_offline`] (checked again here). `notes` hears what people should know along the way.
pub fn plan(
    report: &Report,
    desired: &DesiredState,
    readers: Readers<'_>,
    now_ms: i64,
    notes: &mut dyn FnMut(Note),
) -> Result<Planned, WorkflowError> {
    check_offline(report)?;
    let first = read_first(desired, readers);
    plan_from(report, desired, readers, first, now_ms, notes)
}

/// [`plan`] from what [`read_first`] read for the same `desired` (perhaps while `report` was
/// being made): the invalid mesh is reported first, then a failed read, then the plan.
pub fn plan_from(
    report: &Report,
    desired: &DesiredState,
    readers: Readers<'_>,
    first: FirstRead,
    now_ms: i64,
    notes: &mut dyn FnMut(Note),
) -> Result<Planned, WorkflowError> {
    check_offline(report)?;
    let refs = References::of(&report.mesh);
    let FirstRead {
        request,
        live,
        subjects,
    } = first;
    let mut live = live?;
    // A broker down does not stop a plan, but people should know what it was made from.
    if let Some(note) = readers.cluster.health_note(&request.topics) {
        notes(Note::Health(note));
    }
    // References to products nobody has, not even the catalog, are plain errors.
    if let Some((diagnostics, errors)) = problems(report, |d| refs.is_unknown(d, &live.catalog)) {
        return Err(WorkflowError::UnknownProducts {
            diagnostics,
            errors,
        });
    }
    if let (Some(registry), Some(subjects)) = (readers.registry, subjects) {
        live.subjects = subjects?;
        let declared: BTreeSet<String> = desired.subjects.keys().cloned().collect();
        let retired = retired_subjects(desired, &live, &declared);
        if !retired.is_empty() {
            live.subjects.extend(
                registry
                    .read_subjects(&retired)
                    .map_err(adapter(Step::ReadRegistry))?,
            );
        }
    }
    read_connectors(readers, &request, &mut live)?;
    for (name, c) in live.connectors.iter().flatten() {
        if c.state == "FAILED" || c.failed_tasks > 0 {
            notes(Note::Health(format!(
                "connector {name} is {} with {} failed task(s) on the Connect cluster; a plan does not restart it (GET /connectors/{name}/status shows why; POST /connectors/{name}/restart?includeTasks=true&onlyFailed=true restarts it)",
                if c.state.is_empty() {
                    "in an unknown state"
                } else {
                    c.state.as_str()
                },
                c.failed_tasks
            )));
        }
    }
    let mut plan = mesh_plan::plan_at(desired, &live, now_ms);
    // Who reads the topics of retirements and breaking changes, and when they last committed.
    let topics = mesh_plan::activity_topics(&plan, desired, &live);
    if !topics.is_empty() {
        live.groups = readers
            .cluster
            .group_activity(&topics)
            .map_err(adapter(Step::GroupActivity))?;
        plan = mesh_plan::plan_at(desired, &live, now_ms);
    }
    // The gate: every new version of an existing subject is put to the registry before anything
    // is applied.
    if let Some(registry) = readers.registry {
        let refused = mesh_plan::plan::registry_gate(&plan, desired, registry)
            .map_err(adapter(Step::Gate))?;
        for e in refused {
            if !plan.errors.iter().any(|known| known.subject == e.subject) {
                plan.errors.push(e);
            }
        }
    }
    // Connect validates every new or changed connector config before anything is applied.
    if let Some(connect) = readers.connect {
        plan.errors.extend(
            mesh_plan::connect::connect_gate(&plan, desired, connect)
                .map_err(adapter(Step::ConnectGate))?,
        );
    }
    for e in &mut plan.errors {
        if let (Some(_), Some(product)) = (&e.subject, &e.product) {
            e.affected = crate::governance::affected(report, product);
        }
    }
    crate::governance::change_policies(report, desired, &live, &mut plan, notes);
    // The registry's refusals are breaking changes too.
    plan.impacts = mesh_plan::impacts(&plan, desired, &live, now_ms);
    Ok(Planned {
        plan,
        request,
        live,
    })
}

/// Reads again what a saved plan was made from (`request`, these `subjects`, the consumer
/// groups of `activity_topics`), for comparing its fingerprint before the plan is applied.
pub fn reread(
    readers: Readers<'_>,
    request: &ReadRequest,
    subjects: &BTreeSet<String>,
    activity_topics: &BTreeSet<String>,
) -> Result<LiveState, WorkflowError> {
    let mut live = readers
        .cluster
        .read(request)
        .map_err(adapter(Step::ReadCluster))?;
    if let Some(registry) = readers.registry {
        live.subjects = registry
            .read_subjects(subjects)
            .map_err(adapter(Step::ReadRegistry))?;
    }
    if !activity_topics.is_empty() {
        live.groups = readers
            .cluster
            .group_activity(activity_topics)
            .map_err(adapter(Step::GroupActivity))?;
    }
    read_connectors(readers, request, &mut live)?;
    Ok(live)
}

/// The managed connectors the Connect cluster has (declared in `request`, or recorded in the
/// catalog `live` holds): one read of every connector, of which the others are dropped unseen.
fn read_connectors(
    readers: Readers<'_>,
    request: &ReadRequest,
    live: &mut LiveState,
) -> Result<(), WorkflowError> {
    let Some(connect) = readers.connect else {
        return Ok(());
    };
    let recorded = mesh_plan::connect::recorded(live);
    let mut all = connect.connectors().map_err(adapter(Step::ReadConnect))?;
    all.retain(|name, _| request.connectors.contains(name) || recorded.contains_key(name.as_str()));
    live.connectors = Some(all);
    Ok(())
}

/// The subjects of products being retired that a plan reads besides the declared ones (the
/// ones that exist are deleted).
fn retired_subjects(
    desired: &DesiredState,
    live: &LiveState,
    declared: &BTreeSet<String>,
) -> BTreeSet<String> {
    live.catalog
        .iter()
        .filter(|(id, _)| !desired.catalog.contains_key(*id))
        .flat_map(|(_, r)| [format!("{}-value", r.topic), format!("{}-key", r.topic)])
        .filter(|s| !declared.contains(s))
        .collect()
}
