//! Kafka Connect connectors (SPEC §1, §4): what the repo wants, what the Connect cluster has,
//! the plan's connector actions, and the two small interfaces a Connect adapter implements.
//!
//! Secrets: a connector's config is kept as written (mesh's `${VAR}` references unexpanded)
//! in every action and record, so no plan, saved plan, catalog record or message ever holds an
//! expanded value (validation already refuses a literal secret, so what is written is safe to
//! show). The adapter expands at the moment it talks to Connect; the diff compares the
//! expanded values ([`DesiredConnector::resolved`]) and shows a live value whose key is secret
//! or whose value comes from mesh's environment as `(sensitive)`. Connect's own config-provider references
//! (`${file:…:…}`, `${env:…}`) are never expanded by mesh: Connect resolves them itself and
//! returns them unresolved, so they compare as written.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use mesh_model::ConnectorState;

use crate::error::AdapterError;
use crate::plan::{Action, ConfigDiff, Plan, PlanError};
use crate::state::{DesiredState, LiveState};

/// What a shown value is replaced with when it is secret.
pub const SENSITIVE: &str = "(sensitive)";

/// A connector as the repo wants it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredConnector {
    pub name: String,
    pub domain: String,
    /// The product it consumes (a sink) or produces (a source).
    pub product: String,
    pub sink: bool,
    /// Repo-relative path of its file.
    pub file: String,
    pub class: String,
    pub state: ConnectorState,
    /// Everything Connect gets (`name`, `connector.class`, `tasks.max`, a sink's `topics`, then
    /// `[config]`), with mesh's `${VAR}` references as written.
    pub config: BTreeMap<String, String>,
    /// `config` with mesh's references expanded, once [`resolve`] ran (`None` before).
    #[serde(skip)]
    pub resolved: Option<BTreeMap<String, String>>,
}

impl DesiredConnector {
    /// Whether a key's value must never be shown: a secret-looking key, or a value taken from
    /// mesh's environment.
    pub fn is_sensitive(&self, key: &str) -> bool {
        is_sensitive(key, self.config.get(key).map(String::as_str))
    }

    /// The config as compared with Connect's: expanded where [`resolve`] ran.
    pub fn effective(&self) -> &BTreeMap<String, String> {
        self.resolved.as_ref().unwrap_or(&self.config)
    }
}

/// Whether a config value must never be shown: its key looks secret, or the value (as written)
/// reads mesh's environment.
pub fn is_sensitive(key: &str, written: Option<&str>) -> bool {
    mesh_model::secrets::is_secret_key(key)
        || written
            .is_some_and(|v| !mesh_model::connector::is_connect_reference(v) && v.contains("${"))
}

/// Expands mesh's `${VAR}` / `${VAR:-default}` references in a connector config; values that
/// are one of Connect's own references stay as they are. An unset variable is an error naming
/// the key and the variable (never a value).
pub fn expand_config(
    config: &BTreeMap<String, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, (String, String)> {
    config
        .iter()
        .map(|(k, v)| {
            if mesh_model::connector::is_connect_reference(v) {
                return Ok((k.clone(), v.clone()));
            }
            mesh_model::secrets::expand(v, lookup)
                .map(|x| (k.clone(), x))
                .map_err(|unset| (k.clone(), unset.0))
        })
        .collect()
}

/// Expands every desired connector's config with `lookup` (the process environment at the
/// edge). Each unset variable is a plan error naming the connector's file, the key and the
/// variable.
pub fn resolve(
    desired: &mut DesiredState,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<PlanError> {
    let mut errors = Vec::new();
    for c in desired.connectors.values_mut() {
        match expand_config(&c.config, lookup) {
            Ok(config) => c.resolved = Some(config),
            Err((key, var)) => errors.push(PlanError::new(
                Some(&c.product),
                format!(
                    "{}: connector {} config `{key}` reads ${{{var}}}, which is not set",
                    c.file, c.name
                ),
                format!(
                    "set {var} in the environment that runs mesh, or give a default: ${{{var}:-…}}"
                ),
            )),
        }
    }
    errors
}

/// Forgets the connectors of `desired`: the environment has no Connect cluster, so none is
/// planned or recorded there.
pub fn unmanage(desired: &mut DesiredState) {
    desired.connectors.clear();
    for r in desired.catalog.values_mut() {
        if let Some(a) = &mut r.applied {
            a.connectors.clear();
        }
    }
}

/// A connector as the Connect cluster has it.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LiveConnector {
    /// Its config as Connect stores it (config-provider references unresolved).
    pub config: BTreeMap<String, String>,
    /// The connector's state as Connect reports it: `RUNNING`, `PAUSED`, `STOPPED`, `FAILED`,
    /// `UNASSIGNED`, `RESTARTING` (empty when the status was not known).
    pub state: String,
    /// `sink`, `source` or empty.
    #[serde(default)]
    pub kind: String,
    /// Tasks in state `FAILED`.
    #[serde(default)]
    pub failed_tasks: usize,
}

/// One problem Connect's validation found in a config value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    pub key: String,
    pub message: String,
}

/// What the plan reads from a Connect cluster. Every method is a read.
pub trait ConnectReader {
    /// Every connector on the cluster, with its config and status (the caller keeps the ones
    /// mesh manages).
    fn connectors(&self) -> Result<BTreeMap<String, LiveConnector>, AdapterError>;
    /// Asks Connect to validate a config for `class` (`PUT
    /// /connector-plugins/{class}/config/validate`); the config is given as written and the
    /// adapter expands mesh's references. Returns the problems found (none: valid).
    fn validate(
        &self,
        class: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<Vec<ConfigProblem>, AdapterError>;
}

/// What apply does on a Connect cluster. Configs are given as written; the adapter expands
/// mesh's references just before sending them.
pub trait ConnectWriter {
    /// Creates the connector or replaces its whole config (`PUT /connectors/{name}/config`).
    fn put_config(&self, name: &str, config: &BTreeMap<String, String>)
    -> Result<(), AdapterError>;
    /// Pauses, stops or resumes it.
    fn set_state(&self, name: &str, state: ConnectorState) -> Result<(), AdapterError>;
    /// Deletes it (its offsets stay in Connect's offsets topic).
    fn delete(&self, name: &str) -> Result<(), AdapterError>;
}

/// The connectors the catalog records as applied: connector name → the product whose record
/// names it.
pub fn recorded(live: &LiveState) -> BTreeMap<&str, &str> {
    let mut out = BTreeMap::new();
    for (id, r) in &live.catalog {
        if let Some(a) = &r.applied {
            for name in a.connectors.keys() {
                out.insert(name.as_str(), id.as_str());
            }
        }
    }
    out
}

/// The state Connect reports, as one mesh can ask for (`None` for `FAILED`, `UNASSIGNED`, …).
fn live_state(state: &str) -> Option<ConnectorState> {
    ConnectorState::ALL
        .into_iter()
        .find(|s| s.connect_name().eq_ignore_ascii_case(state))
}

/// Adds the connector actions to `p` (nothing when the Connect cluster was not read): creates,
/// config updates and state changes of declared connectors, and deletes of recorded ones no
/// longer declared. Connectors nobody declared or recorded are never named.
pub fn plan_connectors(desired: &DesiredState, live: &LiveState, p: &mut Plan) {
    let Some(have) = &live.connectors else {
        return;
    };
    for (name, want) in &desired.connectors {
        let Some(current) = have.get(name) else {
            p.actions.push(Action::CreateConnector {
                connector: name.clone(),
                domain: want.domain.clone(),
                product: want.product.clone(),
                class: want.class.clone(),
                config: want.config.clone(),
                state: want.state,
            });
            continue;
        };
        let changes = config_changes(want, &current.config);
        if !changes.is_empty() {
            p.actions.push(Action::UpdateConnector {
                connector: name.clone(),
                domain: want.domain.clone(),
                product: want.product.clone(),
                changes,
                config: want.config.clone(),
            });
        }
        let from = live_state(&current.state);
        let change = match (want.state, from) {
            (w, Some(f)) => w != f,
            // FAILED, UNASSIGNED, RESTARTING: running as far as a pause or stop is concerned.
            (ConnectorState::Running, None) => false,
            (_, None) => true,
        };
        if change {
            p.actions.push(Action::SetConnectorState {
                connector: name.clone(),
                product: want.product.clone(),
                from: current.state.clone(),
                to: want.state,
            });
        }
    }
    for (name, product) in recorded(live) {
        if !desired.connectors.contains_key(name) && have.contains_key(name) {
            p.actions.push(Action::DeleteConnector {
                connector: name.to_string(),
                product: product.to_string(),
            });
        }
    }
}

/// Key by key, what differs between the (expanded) desired config and Connect's. A sensitive
/// value is shown as [`SENSITIVE`], or as the reference it is written as in the repo.
fn config_changes(want: &DesiredConnector, live: &BTreeMap<String, String>) -> Vec<ConfigDiff> {
    let effective = want.effective();
    let keys: BTreeSet<&String> = effective.keys().chain(live.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let (a, b) = (live.get(key), effective.get(key));
        if a == b {
            continue;
        }
        let hide = want.is_sensitive(key);
        let hidden = |v: Option<&String>| v.map(|_| SENSITIVE.to_string());
        let (before, after) = if hide {
            (
                hidden(a),
                want.config.get(key).cloned().or_else(|| hidden(b)),
            )
        } else {
            (a.cloned(), b.cloned())
        };
        out.push(ConfigDiff {
            key: key.clone(),
            before,
            after,
        });
    }
    out
}

/// The connector gate: every config the plan creates or changes (and [`resolve`] expanded) is
/// put to Connect's validation before anything is applied. A problem is a plan error naming the connector's
/// file and the key; a class the cluster does not have is one too.
pub fn connect_gate(
    plan: &Plan,
    desired: &DesiredState,
    connect: &dyn ConnectReader,
) -> Result<Vec<PlanError>, AdapterError> {
    let mut errors = Vec::new();
    for a in &plan.actions {
        let name = match a {
            Action::CreateConnector { connector, .. }
            | Action::UpdateConnector { connector, .. } => connector,
            _ => continue,
        };
        // A config whose variables did not resolve is already a plan error.
        let Some(c) = desired
            .connectors
            .get(name)
            .filter(|c| c.resolved.is_some())
        else {
            continue;
        };
        let problems = match connect.validate(&c.class, &c.config) {
            Ok(p) => p,
            Err(e) if e.kind == crate::ErrorKind::NotFound => {
                errors.push(PlanError::new(
                    Some(&c.product),
                    format!(
                        "{}: connector {}: the Connect cluster has no connector plugin {}",
                        c.file, c.name, c.class
                    ),
                    "install the plugin on every worker (plugin.path), or fix `class`; GET /connector-plugins lists what the cluster has",
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        // The adapter has removed every expanded value from Connect's words.
        for problem in problems {
            errors.push(PlanError::new(
                Some(&c.product),
                format!(
                    "{}: connector {}: Connect refuses config `{}`: {}",
                    c.file, c.name, problem.key, problem.message
                ),
                format!(
                    "fix `{}` under [config] in {} (Connect's validation of {})",
                    problem.key, c.file, c.class
                ),
            ));
        }
    }
    Ok(errors)
}

#[cfg(test)]
mod tests;
