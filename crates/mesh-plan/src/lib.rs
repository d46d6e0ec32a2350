//! Planning: `DesiredState` (from the repo) × `LiveState` (from the cluster) → `Plan`, an ordered
//! list of actions; and the executor that applies a plan through a [`ClusterWriter`].
//!
//! Architecture invariant: the diff is a pure function — no I/O, no clock; the adapters behind
//! [`ClusterReader`] and [`ClusterWriter`] are the only way in or out.

pub mod apply;
pub mod changes;
pub mod cluster;
pub mod connect;
pub mod desired;
pub mod drift;
pub mod error;
pub mod lifecycle;
pub mod lock;
pub mod plan;
pub mod registry;
pub mod saved;
pub mod state;

pub use cluster::*;
pub use desired::desired;
pub use error::{AdapterError, Decision, ErrorKind};
pub use lifecycle::{
    AffectedConsumer, AffectedProduct, Blocker, DeprecationWarning, Impact, ImpactKind,
    RecentGroup, activity_topics, impacts,
};
pub use mesh_model::SmallMap;
pub use plan::{Action, ConfigDiff, Effect, Plan, PlanError, plan, plan_at};
pub use state::*;
