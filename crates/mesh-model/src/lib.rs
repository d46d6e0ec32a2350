//! The mesh repo model: reading `mesh.toml`, domains and products into typed values for one
//! environment, and checking everything SPEC §1 says about them.
//!
//! Architecture invariant: pure. No file system, network, clock or process environment is read
//! here; files come in as bytes, "today" and environment variables come in as arguments. Loading
//! never stops at the first problem: it returns the model it could build and every diagnostic.

pub mod client;
pub mod config;
pub mod connector;
pub mod doc;
mod load;
pub mod model;
pub mod placeholder;
pub mod secrets;
mod small_map;
mod validate;

pub use load::{is_valid_name, topic_name_problem};
pub use model::*;
pub use small_map::SmallMap;

use std::collections::BTreeMap;

use mesh_diagnostics::Diagnostics;

/// Loads and checks a mesh: per-file checks, then the cross-file ones (references, access,
/// uniqueness). Schema contents, policies and lineage cycles are checked by their own crates.
pub fn load(files: &BTreeMap<String, Vec<u8>>, env: Option<&str>) -> (Mesh, Diagnostics) {
    let (mesh, mut ds) = load::load(files, env);
    validate::cross_check(&mesh, &mut ds);
    (mesh, ds)
}
