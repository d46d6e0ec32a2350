//! The plan/apply workflow of `mesh`: every step between "a valid mesh and its desired state"
//! and "a plan with its gate results, policy errors and impacts", and the apply run after it
//! (phases, ACL settling, catalog records), driven through the adapter traits of `mesh-plan`
//! ([`ClusterReader`](mesh_plan::ClusterReader), [`ClusterWriter`](mesh_plan::ClusterWriter),
//! [`RegistryReader`](mesh_plan::registry::RegistryReader),
//! [`RegistryWriter`](mesh_plan::registry::RegistryWriter)).
//!
//! The binary builds the real adapters, takes the apply lock, asks on the terminal and renders;
//! tests drive the very same path with clusters in memory.
//!
//! ```text
//!  read_first (cluster ∥ declared subjects; may run while the mesh is being checked)
//!  check_offline ─► plan_from: unknown references? ─► read retired subjects ─► diff (+ group
//!  activity, re-diff) ─► registry gate ─► affected consumers ─► change policies ─► impacts
//!  apply: mesh_plan::apply::apply (phases in SPEC order) ─► wait for ACLs to settle
//! ```
//!
//! [`Retrying`] and [`RetryingWriter`] wrap the adapters to send a request again after a
//! transient failure: blindly where it is idempotent, after a look at the cluster where it is
//! not (the policy per operation is in the `retry` module's docs).
//!
//! Architecture invariant: no I/O, no clock and no process environment of its own. The cluster
//! and the registry are reached only through the traits; "now" is an argument, and so is the
//! pause between two looks at the ACLs. It knows nothing of terminals or output formats: what
//! people should hear along the way comes out as [`Note`]s.

mod apply;
mod governance;
mod plan;
mod references;
mod retry;

pub use apply::{Applied, ApplyRun, apply, apply_watched, settle_acls};
pub use governance::retired_view;
pub use plan::{
    FirstRead, Note, Planned, Readers, Step, WorkflowError, check_offline, plan, plan_from,
    read_first, read_request, reread,
};
pub use references::{Dangling, References, dangling};
pub use retry::{Pause, Retried, Retry, RetryPolicy, Retrying, RetryingWriter};
