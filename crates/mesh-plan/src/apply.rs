//! The executor: applies a plan through a [`ClusterWriter`], phase by phase in SPEC order (ACL
//! creates, the catalog topic, topics, configs, partitions, compatibility levels and schemas; then
//! ACL deletes, a retirement's subject and topic deletes, the catalog records and a retirement's
//! catalog tombstone, last so that an interrupted retirement continues next time), each phase in
//! batches, stopping at the first failed phase with a report of what was done and what was not.

use crate::cluster::{ClusterWriter, ConfigChange, NewTopic};
use crate::connect::{ConnectWriter, ConnectorState};
use crate::error::AdapterError;
use crate::plan::{Action, Plan};
use crate::registry::RegistryWriter;
use crate::state::CatalogRecord;

/// Items per request for ACLs, configs, partitions and catalog records: Kafka takes thousands in
/// one request (the live benchmark's 5,540 ACLs go in one CreateAcls), so requests are few.
pub const BATCH: usize = 10_000;

/// Registry requests in flight at once. Measured on the sandbox's Apicurio (docs/benchmarks.md,
/// session 6): registrations 198/s at 1, 467/s at 8, 564/s at 16, 601/s at 32, 504/s at 64;
/// levels flat from 4 on (1,300–1,500/s). 16 is within a tenth of the best without crowding
/// the registry.
pub const REGISTRY_CONCURRENCY: usize = 16;

/// The outcome of one action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Failed, with the adapter's error (its kind says whether trying again may help).
    Failed(AdapterError),
    /// Not attempted because an earlier phase failed.
    Skipped,
}

#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    /// One outcome per action of the plan, in plan order.
    pub outcomes: Vec<Outcome>,
    /// Stopped on request (Ctrl-C, SIGTERM) after the running batch: what was not reached is
    /// `Skipped`.
    pub interrupted: bool,
}

impl ApplyReport {
    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Failed(_)))
            .count()
    }
    pub fn done(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| **o == Outcome::Done)
            .count()
    }
    pub fn skipped(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| **o == Outcome::Skipped)
            .count()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Phase {
    /// ACLs go first (SPEC §4: before or with the topics they name). Kafka accepts bindings for
    /// topics that do not exist yet, and a KRaft broker applies metadata in commit order: ACLs
    /// committed after a batch of topics become visible only once every partition log of that
    /// batch exists (12–40 s for 2,000 partitions on a slow disk), ACLs committed before them
    /// at once. A topic is therefore never readable or writable by its principals before its
    /// ACLs are in force, and the wait for them to show after the apply is short.
    CreateAcls,
    CatalogTopic,
    Topics,
    Configs,
    Partitions,
    SchemaLevels,
    Schemas,
    /// Levels of subjects the plan creates, set once their first version exists: some
    /// registries (Apicurio's Confluent API) refuse a level, NONE at least, on a subject that has
    /// no version yet, and a first version has nothing to be compatible with.
    NewSubjectLevels,
    /// Connectors created, reconfigured, paused or resumed: after their ACLs and schemas.
    Connectors,
    /// The first of the deletions: a connector stops reading or writing before its ACLs go.
    DeleteConnectors,
    DeleteAcls,
    DeleteSubjects,
    DeleteTopics,
    Catalog,
    CatalogTombstones,
}

/// Subjects whose first version the plan registers.
fn new_subjects(plan: &Plan) -> std::collections::BTreeSet<&str> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::RegisterSchema {
                subject,
                previous: None,
                ..
            } => Some(subject.as_str()),
            _ => None,
        })
        .collect()
}

fn phase(a: &Action, new_subjects: &std::collections::BTreeSet<&str>) -> Phase {
    match a {
        Action::SetCompatibility { subject, .. } if new_subjects.contains(subject.as_str()) => {
            Phase::NewSubjectLevels
        }
        Action::CreateCatalogTopic { .. } => Phase::CatalogTopic,
        Action::CreateTopic { .. } => Phase::Topics,
        Action::AlterConfig { .. } => Phase::Configs,
        Action::AddPartitions { .. } => Phase::Partitions,
        Action::SetCompatibility { .. } => Phase::SchemaLevels,
        Action::RegisterSchema { .. } => Phase::Schemas,
        Action::CreateAcl { .. } => Phase::CreateAcls,
        Action::DeleteAcl { .. } => Phase::DeleteAcls,
        Action::UpsertCatalog { .. } => Phase::Catalog,
        Action::DeleteSubject { .. } => Phase::DeleteSubjects,
        Action::DeleteTopic { .. } => Phase::DeleteTopics,
        Action::RetireProduct { .. } => Phase::CatalogTombstones,
        Action::CreateConnector { .. }
        | Action::UpdateConnector { .. }
        | Action::SetConnectorState { .. } => Phase::Connectors,
        Action::DeleteConnector { .. } => Phase::DeleteConnectors,
    }
}

/// Where a plan is applied: the Kafka cluster, the Schema Registry when the plan has schema
/// actions, and the Connect cluster when it has connector actions.
pub struct Target<'a> {
    pub cluster: &'a dyn ClusterWriter,
    pub registry: Option<&'a (dyn RegistryWriter + Sync)>,
    pub connect: Option<&'a dyn ConnectWriter>,
    /// Called once before connectors are created or changed when the apply changed ACLs: waits
    /// until the brokers show them, so that a connector's tasks do not start before their
    /// rights exist (a sink task refused by the broker fails for good).
    pub before_connectors: Option<&'a dyn Fn()>,
}

/// Applies `plan` (which must have no errors). `now` (RFC 3339) and `catalog_topic` go into the
/// catalog records; `progress` hears about each finished phase.
pub fn apply(
    plan: &Plan,
    target: &Target<'_>,
    catalog_topic: &str,
    now: &str,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> ApplyReport {
    apply_until(plan, target, catalog_topic, now, progress, &|| false)
}

/// [`apply`], asking `stop` before each batch (and before each registry request): once it says
/// yes, the running batch finishes and nothing more is sent. Every phase is idempotent from the
/// plan's point of view, so the next plan shows exactly what was not reached.
pub fn apply_until(
    plan: &Plan,
    target: &Target<'_>,
    catalog_topic: &str,
    now: &str,
    progress: &mut dyn FnMut(&str, usize, usize),
    stop: &(dyn Fn() -> bool + Sync),
) -> ApplyReport {
    apply_watched(plan, target, catalog_topic, now, progress, stop, &|_| {})
}

/// How far a running phase has got: after each batch, and after each registry request (from
/// the threads that send them, hence `Sync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick<'a> {
    /// The phase's name, as `progress` will report it.
    pub phase: &'a str,
    /// Actions of the phase finished so far (done or failed).
    pub finished: usize,
    /// Actions of the phase in all.
    pub total: usize,
}

/// [`apply_until`], telling `tick` how far each phase has got while it runs.
pub fn apply_watched(
    plan: &Plan,
    target: &Target<'_>,
    catalog_topic: &str,
    now: &str,
    progress: &mut dyn FnMut(&str, usize, usize),
    stop: &(dyn Fn() -> bool + Sync),
    tick: &(dyn Fn(Tick<'_>) + Sync),
) -> ApplyReport {
    let mut outcomes = vec![Outcome::Skipped; plan.actions.len()];
    let mut interrupted = false;
    let new = new_subjects(plan);
    let mut phases: Vec<Phase> = plan.actions.iter().map(|a| phase(a, &new)).collect();
    phases.sort();
    phases.dedup();
    for ph in phases {
        let idx: Vec<usize> = (0..plan.actions.len())
            .filter(|&i| phase(&plan.actions[i], &new) == ph)
            .collect();
        if ph == Phase::Connectors
            && let Some(wait) = target.before_connectors
            && plan.actions.iter().enumerate().any(|(i, a)| {
                outcomes[i] == Outcome::Done
                    && matches!(a, Action::CreateAcl { .. } | Action::DeleteAcl { .. })
            })
        {
            wait();
        }
        let finished = std::sync::atomic::AtomicUsize::new(0);
        let more = |k: usize| {
            let n = finished.fetch_add(k, std::sync::atomic::Ordering::Relaxed) + k;
            tick(Tick {
                phase: phase_name(ph),
                finished: n,
                total: idx.len(),
            });
        };
        for chunk in chunks(ph, &idx, plan) {
            if stop() {
                interrupted = true;
                break;
            }
            let results = run_split(
                ph,
                &chunk.iter().map(|&i| &plan.actions[i]).collect::<Vec<_>>(),
                target,
                catalog_topic,
                now,
                stop,
                &more,
            );
            for (&i, r) in chunk.iter().zip(results) {
                outcomes[i] = match r {
                    Some(Ok(())) => Outcome::Done,
                    Some(Err(e)) => Outcome::Failed(e),
                    None => {
                        interrupted = true;
                        Outcome::Skipped
                    }
                };
            }
        }
        let failed = idx
            .iter()
            .filter(|&&i| matches!(outcomes[i], Outcome::Failed(_)))
            .count();
        let done = idx
            .iter()
            .filter(|&&i| outcomes[i] == Outcome::Done)
            .count();
        if done + failed > 0 || !interrupted {
            progress(phase_name(ph), done, failed);
        }
        if failed > 0 || interrupted {
            break;
        }
    }
    record_partial_products(plan, target, catalog_topic, now, &mut outcomes);
    ApplyReport {
        outcomes,
        interrupted,
    }
}

/// After a failed or interrupted apply: the catalog records of new products whose topic was
/// created, so that the catalog says what is really there (the topic is managed, and a product
/// removed from the repo before the next apply is not forgotten). Each record's `applied` holds
/// only what was done — ACLs and subjects whose actions did not go through are left out — so
/// `drift` stays truthful; the next plan updates the record with the rest.
fn record_partial_products(
    plan: &Plan,
    target: &Target<'_>,
    catalog_topic: &str,
    now: &str,
    outcomes: &mut [Outcome],
) {
    let done = |i: usize| outcomes[i] == Outcome::Done;
    let created: std::collections::BTreeSet<&str> = plan
        .actions
        .iter()
        .enumerate()
        .filter(|&(i, a)| done(i) && matches!(a, Action::CreateTopic { .. }))
        .filter_map(|(_, a)| a.product())
        .collect();
    // ACL bindings and subjects the plan meant to change and did not.
    let mut missed_acls = std::collections::BTreeSet::new();
    let mut missed_subjects = std::collections::BTreeSet::new();
    for (i, a) in plan.actions.iter().enumerate() {
        if done(i) {
            continue;
        }
        match a {
            Action::CreateAcl { binding } => {
                missed_acls.insert(binding);
            }
            Action::RegisterSchema { subject, .. } | Action::SetCompatibility { subject, .. } => {
                missed_subjects.insert(subject.as_str());
            }
            _ => {}
        }
    }
    let mut records = Vec::new();
    let mut indices = Vec::new();
    for (i, a) in plan.actions.iter().enumerate() {
        let Action::UpsertCatalog {
            product,
            record,
            previous: None,
        } = a
        else {
            continue;
        };
        if outcomes[i] != Outcome::Skipped || !created.contains(product.as_str()) {
            continue;
        }
        let mut record = CatalogRecord {
            applied_at: now.to_string(),
            ..(**record).clone()
        };
        if let Some(applied) = &mut record.applied {
            applied.acls.retain(|b| !missed_acls.contains(b));
            applied
                .subjects
                .retain(|s, _| !missed_subjects.contains(s.as_str()));
        }
        records.push((product.clone(), Some(record)));
        indices.push(i);
    }
    if records.is_empty() {
        return;
    }
    let result = target.cluster.write_catalog(catalog_topic, &records);
    for i in indices {
        outcomes[i] = match &result {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Failed(e.clone()),
        };
    }
}

/// Kafka takes at most this many records in one CreateTopics request (KAFKA-14996). Counted per
/// topic as one per partition and config plus two: Kafka 4.4 writes one record more per topic
/// (or per partition) than 3.9 (1,428 topics of one partition and four configs go in one request
/// there, 1,429 are refused); a request refused anyway is sent again in halves (`run_split`).
pub const MAX_CREATE_RECORDS: usize = 10_000;

/// Requests of a phase: topics by Kafka's record limit (a broker that creates each request's
/// partition logs one by one makes fewer, larger requests much faster), the rest by [`BATCH`].
fn chunks<'i>(ph: Phase, idx: &'i [usize], plan: &Plan) -> Vec<&'i [usize]> {
    if !matches!(ph, Phase::CatalogTopic | Phase::Topics) {
        return idx.chunks(BATCH).collect();
    }
    let records = |i: usize| match &plan.actions[i] {
        Action::CreateTopic {
            partitions, config, ..
        } => 2 + *partitions as usize + config.len(),
        Action::CreateCatalogTopic { partitions, .. } => 3 + *partitions as usize,
        _ => 1,
    };
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (n, &i) in idx.iter().enumerate() {
        let r = records(i);
        if used + r > MAX_CREATE_RECORDS && n > start {
            out.push(&idx[start..n]);
            start = n;
            used = 0;
        }
        used += r;
    }
    if start < idx.len() {
        out.push(&idx[start..]);
    }
    out
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::CatalogTopic => "catalog topic",
        Phase::Topics => "topics",
        Phase::Configs => "configs",
        Phase::Partitions => "partitions",
        Phase::SchemaLevels => "compatibility levels",
        Phase::NewSubjectLevels => "compatibility levels of new subjects",
        Phase::Schemas => "schemas",
        Phase::CreateAcls => "ACLs created",
        Phase::DeleteAcls => "ACLs deleted",
        Phase::DeleteSubjects => "subjects deleted",
        Phase::DeleteTopics => "topics deleted",
        Phase::Connectors => "connectors",
        Phase::DeleteConnectors => "connectors deleted",
        Phase::Catalog => "catalog records",
        Phase::CatalogTombstones => "products retired",
    }
}

/// Whether the broker refused a request for holding too many items (KRaft's limit on the
/// records one operation may write: "Unable to perform excessively large batch operation").
fn too_large(r: &Option<Result<(), AdapterError>>) -> bool {
    matches!(r, Some(Err(e)) if e.message.contains("excessively large batch"))
}

/// [`run_phase`], sending a batch the broker refuses as too large again in two halves (and so
/// on): [`chunks`] estimates the records a request writes, and a broker may count more.
#[allow(clippy::too_many_arguments)]
fn run_split(
    ph: Phase,
    actions: &[&Action],
    target: &Target<'_>,
    catalog_topic: &str,
    now: &str,
    stop: &(dyn Fn() -> bool + Sync),
    more: &(dyn Fn(usize) + Sync),
) -> Vec<Option<Result<(), AdapterError>>> {
    let results = run_phase(ph, actions.to_vec(), target, catalog_topic, now, stop, more);
    if actions.len() < 2 || !results.iter().all(too_large) {
        return results;
    }
    let (a, b) = actions.split_at(actions.len() / 2);
    let mut out = run_split(ph, a, target, catalog_topic, now, stop, more);
    out.extend(run_split(ph, b, target, catalog_topic, now, stop, more));
    out
}

/// The results of one batch, in order; `None` for a request not sent because `stop` said so
/// (only the registry's requests, which go one by one, are asked).
fn run_phase(
    ph: Phase,
    actions: Vec<&Action>,
    target: &Target<'_>,
    catalog_topic: &str,
    now: &str,
    stop: &(dyn Fn() -> bool + Sync),
    more: &(dyn Fn(usize) + Sync),
) -> Vec<Option<Result<(), AdapterError>>> {
    if matches!(
        ph,
        Phase::SchemaLevels | Phase::Schemas | Phase::NewSubjectLevels | Phase::DeleteSubjects
    ) {
        return run_registry_phase(actions, target, stop, more);
    }
    if matches!(ph, Phase::Connectors | Phase::DeleteConnectors) {
        return run_connect_phase(actions, target, stop, more);
    }
    let results: Vec<_> = run_cluster_phase(ph, actions, target, catalog_topic, now)
        .into_iter()
        .map(Some)
        .collect();
    // A refusal for size is sent again in halves: those count once they are through.
    more(results.iter().filter(|r| !too_large(r)).count());
    results
}

/// Every action fails: the service it needs is not configured for this environment.
fn unconfigured(actions: &[&Action], what: &str) -> Vec<Option<Result<(), AdapterError>>> {
    let e = AdapterError::invalid(format!("{what} is configured for this environment"));
    vec![Some(Err(e)); actions.len()]
}

fn run_registry_phase(
    actions: Vec<&Action>,
    target: &Target<'_>,
    stop: &(dyn Fn() -> bool + Sync),
    more: &(dyn Fn(usize) + Sync),
) -> Vec<Option<Result<(), AdapterError>>> {
    let Some(r) = target.registry else {
        return unconfigured(&actions, "no Schema Registry");
    };
    // The registry API has no batch call: one request per subject, REGISTRY_CONCURRENCY at a
    // time, each asking `stop` first.
    let one = |a: &&Action| {
        if stop() {
            return None;
        }
        Some(match a {
            Action::SetCompatibility { subject, after, .. } => r.set_compatibility(subject, after),
            Action::RegisterSchema {
                subject,
                schema_type,
                schema,
                ..
            } => r.register(subject, schema_type, schema).map(|_| ()),
            Action::DeleteSubject { subject, .. } => r.delete_subject(subject),
            _ => Ok(()),
        })
    };
    // A shared queue rather than fixed shares: a slow request holds up one worker, not a
    // share of the phase. Each result is kept as it comes, so a worker that panics loses only
    // the request it was making.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![None; actions.len()]);
    let workers = REGISTRY_CONCURRENCY.min(actions.len()).max(1);
    let work = || {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(a) = actions.get(i) else {
                return;
            };
            let r = one(a);
            if r.is_some() {
                more(1);
            }
            let mut all = results
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            all[i] = Some(r);
        }
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
        for h in handles {
            // A worker that panicked left its request without a result: reported below.
            let _ = h.join();
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|r: Option<Option<Result<(), AdapterError>>>| {
            r.unwrap_or_else(|| Some(Err(AdapterError::other("a registry request panicked"))))
        })
        .collect()
}

/// Connect's REST API has no batch call either: one connector at a time (a handful per plan),
/// each asking `stop` first.
fn run_connect_phase(
    actions: Vec<&Action>,
    target: &Target<'_>,
    stop: &(dyn Fn() -> bool + Sync),
    more: &(dyn Fn(usize) + Sync),
) -> Vec<Option<Result<(), AdapterError>>> {
    let Some(c) = target.connect else {
        return unconfigured(&actions, "no Kafka Connect cluster");
    };
    actions
        .iter()
        .map(|a| {
            if stop() {
                return None;
            }
            let result = match a {
                Action::CreateConnector {
                    connector,
                    config,
                    state,
                    ..
                } => c.put_config(connector, config).and_then(|()| {
                    if *state == ConnectorState::Running {
                        Ok(())
                    } else {
                        c.set_state(connector, *state)
                    }
                }),
                Action::UpdateConnector {
                    connector, config, ..
                } => c.put_config(connector, config),
                Action::SetConnectorState { connector, to, .. } => c.set_state(connector, *to),
                Action::DeleteConnector { connector, .. } => c.delete(connector),
                _ => Ok(()),
            };
            more(1);
            Some(result)
        })
        .collect()
}

fn run_cluster_phase(
    ph: Phase,
    actions: Vec<&Action>,
    target: &Target<'_>,
    catalog_topic: &str,
    now: &str,
) -> Vec<Result<(), AdapterError>> {
    let w = target.cluster;
    match ph {
        // `run_phase` sends these to `run_registry_phase`.
        Phase::SchemaLevels | Phase::Schemas | Phase::NewSubjectLevels | Phase::DeleteSubjects => {
            vec![Err(AdapterError::other("a registry action reached the cluster")); actions.len()]
        }
        Phase::Connectors | Phase::DeleteConnectors => {
            vec![
                Err(AdapterError::other(
                    "a connector action reached the cluster"
                ));
                actions.len()
            ]
        }
        Phase::CatalogTopic | Phase::Topics => {
            let topics: Vec<NewTopic> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::CreateCatalogTopic {
                        topic,
                        partitions,
                        replication_factor,
                    } => Some(NewTopic {
                        name: topic.clone(),
                        partitions: *partitions,
                        replication_factor: *replication_factor,
                        config: [("cleanup.policy".to_string(), "compact".to_string())].into(),
                    }),
                    Action::CreateTopic {
                        topic,
                        partitions,
                        replication_factor,
                        config,
                        ..
                    } => Some(NewTopic {
                        name: topic.clone(),
                        partitions: *partitions,
                        replication_factor: *replication_factor,
                        config: config.clone(),
                    }),
                    _ => None,
                })
                .collect();
            w.create_topics(&topics)
        }
        Phase::Configs => {
            let changes: Vec<ConfigChange> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::AlterConfig { topic, changes, .. } => Some(ConfigChange {
                        topic: topic.clone(),
                        set: changes
                            .iter()
                            .filter_map(|c| Some((c.key.clone(), c.after.clone()?)))
                            .collect(),
                        delete: changes
                            .iter()
                            .filter(|c| c.after.is_none())
                            .map(|c| c.key.clone())
                            .collect(),
                    }),
                    _ => None,
                })
                .collect();
            w.alter_configs(&changes)
        }
        Phase::Partitions => {
            let p: Vec<(String, i32)> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::AddPartitions { topic, to, .. } => Some((topic.clone(), *to)),
                    _ => None,
                })
                .collect();
            w.create_partitions(&p)
        }
        Phase::CreateAcls | Phase::DeleteAcls => {
            let acls: Vec<_> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::CreateAcl { binding } | Action::DeleteAcl { binding } => {
                        Some(binding.clone())
                    }
                    _ => None,
                })
                .collect();
            if ph == Phase::CreateAcls {
                w.create_acls(&acls)
            } else {
                w.delete_acls(&acls)
            }
        }
        Phase::DeleteTopics => {
            let topics: Vec<String> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::DeleteTopic { topic, .. } => Some(topic.clone()),
                    _ => None,
                })
                .collect();
            w.delete_topics(&topics)
        }
        Phase::Catalog | Phase::CatalogTombstones => {
            let records: Vec<(String, Option<CatalogRecord>)> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::UpsertCatalog {
                        product, record, ..
                    } => Some((
                        product.clone(),
                        Some(CatalogRecord {
                            applied_at: now.to_string(),
                            ..(**record).clone()
                        }),
                    )),
                    Action::RetireProduct { product, .. } => Some((product.clone(), None)),
                    _ => None,
                })
                .collect();
            match w.write_catalog(catalog_topic, &records) {
                Ok(()) => vec![Ok(()); records.len()],
                Err(e) => vec![Err(e); records.len()],
            }
        }
    }
}
