//! The diff: `DesiredState` × `LiveState` → `Plan` (SPEC §4). Pure and deterministic.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::lifecycle::{Blocker, DeprecationWarning, Impact};
use crate::state::*;

/// One step of a plan. Deserializable so that a saved plan (`saved.rs`) can be read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// The compacted topic where apply records product metadata.
    CreateCatalogTopic {
        topic: String,
        partitions: i32,
        replication_factor: i32,
    },
    CreateTopic {
        product: String,
        topic: String,
        partitions: i32,
        replication_factor: i32,
        config: BTreeMap<String, String>,
    },
    AlterConfig {
        product: String,
        topic: String,
        changes: Vec<ConfigDiff>,
    },
    AddPartitions {
        product: String,
        topic: String,
        from: i32,
        to: i32,
    },
    CreateAcl {
        binding: AclBinding,
    },
    DeleteAcl {
        binding: AclBinding,
    },
    /// Sets a subject's compatibility level (a new subject's once its first version exists).
    SetCompatibility {
        product: String,
        subject: String,
        before: Option<String>,
        after: String,
    },
    /// Registers a new version of a subject; `previous` is the latest registered text.
    RegisterSchema {
        product: String,
        subject: String,
        schema_type: String,
        file: String,
        schema: String,
        previous: Option<String>,
    },
    UpsertCatalog {
        product: String,
        record: Box<CatalogRecord>,
        previous: Option<Box<CatalogRecord>>,
    },
    /// Creates a Kafka Connect connector with its whole config (as written: mesh's `${VAR}`
    /// references are expanded only when it is sent), then pauses or stops it if so declared.
    CreateConnector {
        connector: String,
        domain: String,
        product: String,
        class: String,
        config: BTreeMap<String, String>,
        state: crate::connect::ConnectorState,
    },
    /// Replaces a connector's config (`changes` says what differs; sensitive values hidden).
    UpdateConnector {
        connector: String,
        domain: String,
        product: String,
        changes: Vec<ConfigDiff>,
        config: BTreeMap<String, String>,
    },
    /// Pauses, stops or resumes a connector; `from` is Connect's state name.
    SetConnectorState {
        connector: String,
        product: String,
        from: String,
        to: crate::connect::ConnectorState,
    },
    /// Deletes a connector mesh applied whose file is gone.
    DeleteConnector {
        connector: String,
        product: String,
    },
    /// Retirement: removes a subject of a retired product (soft, then hard delete).
    DeleteSubject {
        product: String,
        subject: String,
    },
    /// Retirement: deletes a retired product's topic, and its data with it.
    DeleteTopic {
        product: String,
        topic: String,
    },
    /// Retirement, last step: a tombstone for the product's catalog record. Written after
    /// everything else is gone, so an interrupted retirement continues at the next plan.
    RetireProduct {
        product: String,
        previous: Box<CatalogRecord>,
    },
}

/// A config key's change. `after: None` resets the key to the broker default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigDiff {
    pub key: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Why the plan cannot be applied, and the way out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanError {
    pub product: Option<String>,
    pub message: String,
    pub help: String,
    /// For a breaking schema change: the subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Consumers and downstream products it would break, with their owners (filled by the
    /// caller, which knows the lineage).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<String>,
    /// For a refused retirement: every reason, each with who can clear it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blockers: Vec<Blocker>,
}

impl PlanError {
    pub fn new(product: Option<&str>, message: impl Into<String>, help: impl Into<String>) -> Self {
        PlanError {
            product: product.map(str::to_string),
            message: message.into(),
            help: help.into(),
            subject: None,
            affected: Vec::new(),
            blockers: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub errors: Vec<PlanError>,
    /// For each breaking or destructive change: who it reaches (see [`Impact`]).
    pub impacts: Vec<Impact>,
    /// Consumers of deprecated products, told about the sunset and the replacement.
    pub deprecations: Vec<DeprecationWarning>,
}

/// How an action changes the cluster, for the summary line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Create,
    Change,
    Destroy,
}

impl Action {
    pub fn effect(&self) -> Effect {
        match self {
            Action::CreateCatalogTopic { .. }
            | Action::CreateTopic { .. }
            | Action::CreateAcl { .. }
            | Action::CreateConnector { .. } => Effect::Create,
            Action::UpsertCatalog { previous: None, .. }
            | Action::SetCompatibility { before: None, .. }
            | Action::RegisterSchema { previous: None, .. } => Effect::Create,
            Action::AlterConfig { .. }
            | Action::AddPartitions { .. }
            | Action::SetCompatibility { .. }
            | Action::RegisterSchema { .. }
            | Action::UpsertCatalog { .. }
            | Action::UpdateConnector { .. }
            | Action::SetConnectorState { .. } => Effect::Change,
            Action::DeleteAcl { .. }
            | Action::DeleteSubject { .. }
            | Action::DeleteTopic { .. }
            | Action::RetireProduct { .. }
            | Action::DeleteConnector { .. } => Effect::Destroy,
        }
    }

    /// The product an action belongs to, if any.
    pub fn product(&self) -> Option<&str> {
        match self {
            Action::CreateTopic { product, .. }
            | Action::AlterConfig { product, .. }
            | Action::AddPartitions { product, .. }
            | Action::SetCompatibility { product, .. }
            | Action::RegisterSchema { product, .. }
            | Action::UpsertCatalog { product, .. }
            | Action::DeleteSubject { product, .. }
            | Action::DeleteTopic { product, .. }
            | Action::RetireProduct { product, .. }
            | Action::CreateConnector { product, .. }
            | Action::UpdateConnector { product, .. }
            | Action::SetConnectorState { product, .. }
            | Action::DeleteConnector { product, .. } => Some(product),
            _ => None,
        }
    }
}

impl Plan {
    /// (create, change, destroy) counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |e| self.actions.iter().filter(|a| a.effect() == e).count();
        (
            count(Effect::Create),
            count(Effect::Change),
            count(Effect::Destroy),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Replication factor of the catalog topic: three copies where the cluster has them.
fn catalog_replication(brokers: usize) -> i32 {
    brokers.clamp(1, 3) as i32
}

/// Computes the plan without a clock: as of the Unix epoch, so no sunset has passed and no
/// product can be retired. Commands use [`plan_at`].
pub fn plan(desired: &DesiredState, live: &LiveState) -> Plan {
    plan_at(desired, live, 0)
}

/// Computes the plan as of `now_ms` (milliseconds since the Unix epoch; it decides whether a
/// sunset has passed and whether a consumer group is idle). Never plans anything for a topic,
/// ACL, subject or record the repo does not manage.
pub fn plan_at(desired: &DesiredState, live: &LiveState, now_ms: i64) -> Plan {
    let mut p = Plan::default();
    if !live.catalog_topic_exists {
        p.actions.push(Action::CreateCatalogTopic {
            topic: desired.catalog_topic.clone(),
            partitions: 1,
            replication_factor: catalog_replication(live.brokers),
        });
    }

    let mut configs = Vec::new();
    let mut partitions = Vec::new();
    for (name, want) in &desired.topics {
        let Some(have) = live.topics.get(name) else {
            if live.brokers > 0 && want.replication_factor as usize > live.brokers {
                p.errors.push(PlanError::new(
                    Some(&want.product),
                    format!(
                        "{}: replication_factor {} is more than the {} broker(s) of this cluster",
                        want.product, want.replication_factor, live.brokers
                    ),
                    "lower replication_factor for this environment ([environments.<env>.topic] in mesh.toml or the product)",
                ));
                continue;
            }
            p.actions.push(Action::CreateTopic {
                product: want.product.clone(),
                topic: name.clone(),
                partitions: want.partitions,
                replication_factor: want.replication_factor,
                config: want.config.clone().into(),
            });
            continue;
        };
        if want.replication_factor != have.replication_factor {
            p.errors.push(PlanError::new(
                Some(&want.product),
                format!(
                    "{}: topic {name} has replication factor {}, the repo says {}",
                    want.product, have.replication_factor, want.replication_factor
                ),
                "mesh does not reassign replicas; publish a new product version (e.g. a `-v2` product with the new topic) and deprecate this one, or set replication_factor back",
            ));
        }
        if want.partitions < have.partitions {
            p.errors.push(PlanError::new(
                Some(&want.product),
                format!(
                    "{}: topic {name} has {} partitions, the repo says {}; Kafka cannot remove partitions",
                    want.product, have.partitions, want.partitions
                ),
                "publish a new product version with fewer partitions and deprecate this one, or set partitions back",
            ));
        } else if want.partitions > have.partitions {
            partitions.push(Action::AddPartitions {
                product: want.product.clone(),
                topic: name.clone(),
                from: have.partitions,
                to: want.partitions,
            });
        }
        let previously: BTreeSet<&str> = live
            .catalog
            .get(&want.product)
            .map(|r| r.declared_configs.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let changes = config_changes(&want.config, &previously, &have.configs);
        if !changes.is_empty() {
            configs.push(Action::AlterConfig {
                product: want.product.clone(),
                topic: name.clone(),
                changes,
            });
        }
    }
    p.actions.extend(configs);
    p.actions.extend(partitions);
    plan_subjects(desired, live, &mut p);

    let retirements = crate::lifecycle::retirements(desired, live, now_ms, &mut p);

    for b in desired.acls.difference(&live.acls) {
        p.actions.push(Action::CreateAcl { binding: b.clone() });
    }
    for b in live.acls.difference(&desired.acls) {
        // The reader keeps only bindings of declared principals; check again so that a reader
        // bug can never make the plan delete someone else's ACL.
        if desired.principals.contains(&*b.principal) {
            p.actions.push(Action::DeleteAcl { binding: b.clone() });
        }
    }

    crate::connect::plan_connectors(desired, live, &mut p);

    for (id, record) in &desired.catalog {
        let previous = live.catalog.get(id);
        if previous.is_none_or(|prev| !prev.same_content(record)) {
            p.actions.push(Action::UpsertCatalog {
                product: id.clone(),
                record: Box::new(record.clone()),
                previous: previous.cloned().map(Box::new),
            });
        }
    }
    p.actions.extend(retirements);
    p.impacts = crate::lifecycle::impacts(&p, desired, live, now_ms);
    p.deprecations = crate::lifecycle::deprecations(desired);
    p
}

/// Compatibility levels (apply sets a new subject's right after its first version), then new
/// versions where the normalised text changed. Avro changes are checked locally here against the
/// registered history; the registry's own check runs in [`registry_gate`].
fn plan_subjects(desired: &DesiredState, live: &LiveState, p: &mut Plan) {
    let mut register = Vec::new();
    for (name, want) in &desired.subjects {
        let have = live.subjects.get(name).cloned().unwrap_or_default();
        if have.compatibility.as_deref() != Some(want.compatibility.as_str()) {
            p.actions.push(Action::SetCompatibility {
                product: want.product.clone(),
                subject: name.clone(),
                before: have.compatibility.clone(),
                after: want.compatibility.clone(),
            });
        }
        let format = format_of(&want.schema_type);
        let previous = have.latest.as_ref().map(|l| l.schema.clone());
        let changed = match &have.latest {
            None => true,
            Some(l) => {
                l.schema_type != want.schema_type
                    || mesh_schema::compat::normalise(&l.schema, format)
                        != mesh_schema::compat::normalise(&want.schema, format)
            }
        };
        if !changed {
            continue;
        }
        if let Some(latest) = &have.latest
            && latest.schema_type != want.schema_type
        {
            p.errors.push(PlanError {
                subject: Some(name.clone()),
                ..PlanError::new(
                    Some(&want.product),
                    format!("{}: subject {name} holds {} schemas; {} is {}", want.product, latest.schema_type, want.file, want.schema_type),
                    "a subject keeps one schema format; publish a new product version for the new format",
                )
            });
            continue;
        }
        if want.schema_type == "AVRO"
            && let Some(latest) = &have.latest
        {
            let history: &[crate::registry::RegisteredSchema] = if have.history.is_empty() {
                std::slice::from_ref(latest)
            } else {
                &have.history
            };
            let labels: Vec<String> = history
                .iter()
                .map(|v| format!("registered version {}", v.version))
                .collect();
            let earlier: Vec<mesh_schema::compat::Earlier> = history
                .iter()
                .zip(&labels)
                .map(|(v, label)| mesh_schema::compat::Earlier {
                    label,
                    text: &v.schema,
                })
                .collect();
            if let Err(reasons) =
                mesh_schema::compat::check_avro(&want.schema, &earlier, &want.compatibility)
            {
                p.errors.push(incompatible(want, name, &reasons));
            }
        }
        register.push(Action::RegisterSchema {
            product: want.product.clone(),
            subject: name.clone(),
            schema_type: want.schema_type.clone(),
            file: want.file.clone(),
            schema: want.schema.to_string(),
            previous,
        });
    }
    p.actions.extend(register);
}

fn incompatible(want: &DesiredSubject, subject: &str, reasons: &[String]) -> PlanError {
    PlanError {
        subject: Some(subject.to_string()),
        ..PlanError::new(
            Some(&want.product),
            format!(
                "{}: {} is not {}-compatible with subject {subject}: {}",
                want.product,
                want.file,
                want.compatibility,
                reasons.join("; ")
            ),
            "make the change compatible (e.g. give a new field a default), or publish a new product version and deprecate this one",
        )
    }
}

pub(crate) fn format_of(schema_type: &str) -> mesh_schema::Format {
    match schema_type {
        "JSON" => mesh_schema::Format::Json,
        "PROTOBUF" => mesh_schema::Format::Protobuf,
        _ => mesh_schema::Format::Avro,
    }
}

/// The compatibility gate: asks the registry about every new version of an existing subject,
/// before anything is applied. Returns the refusals as plan errors; `Err` when the registry
/// cannot be asked.
pub fn registry_gate(
    plan: &Plan,
    desired: &DesiredState,
    registry: &dyn crate::registry::RegistryReader,
) -> Result<Vec<PlanError>, crate::error::AdapterError> {
    let mut errors = Vec::new();
    for a in &plan.actions {
        let Action::RegisterSchema {
            subject,
            schema_type,
            schema,
            previous: Some(_),
            ..
        } = a
        else {
            continue;
        };
        let Some(want) = desired.subjects.get(subject) else {
            continue;
        };
        let verdict = registry.check_compatibility(
            subject,
            schema_type,
            schema,
            Some(&want.compatibility),
        )?;
        if !verdict.compatible {
            let reasons = if verdict.messages.is_empty() {
                vec!["the registry refused it".to_string()]
            } else {
                verdict.messages
            };
            errors.push(incompatible(want, subject, &reasons));
        }
    }
    Ok(errors)
}

/// The config keys in play are those declared now and those declared at the last apply; keys
/// nobody declared, broker defaults and static configs are never touched.
fn config_changes(
    want: &crate::SmallMap<String>,
    previously: &BTreeSet<&str>,
    have: &crate::SmallMap<LiveConfig>,
) -> Vec<ConfigDiff> {
    let mut out = Vec::new();
    for (key, value) in want {
        // Equal to what the topic has — set on it or inherited — is no change.
        let current = have.get(key).and_then(|c| c.value.as_deref());
        if !current.is_some_and(|c| same_value(key, c, value)) {
            out.push(ConfigDiff {
                key: key.clone(),
                before: current.map(str::to_string),
                after: Some(value.clone()),
            });
        }
    }
    for key in previously {
        if want.contains_key(key) {
            continue;
        }
        if let Some(live) = have.get(key)
            && live.source == ConfigSource::DynamicTopic
        {
            out.push(ConfigDiff {
                key: (*key).to_string(),
                before: live.value.clone(),
                after: None,
            });
        }
    }
    out
}

/// Compares a live and a desired config value the way Kafka means them.
pub(crate) fn same_value(key: &str, live: &str, want: &str) -> bool {
    if key == "cleanup.policy" {
        let norm = |s: &str| {
            let mut v: Vec<String> = s
                .split(',')
                .map(|p| p.trim().to_ascii_lowercase())
                .collect();
            v.sort();
            v
        };
        return norm(live) == norm(want);
    }
    live.trim().eq_ignore_ascii_case(want.trim())
}
