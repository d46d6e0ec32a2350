//! The static data-product catalog site behind `mesh catalog` (issue 12): a validated mesh, and
//! optionally what a cluster says about it, in; the files of a self-contained site out.
//!
//! The site works from the file system and any static host: no server, no CDN, no `fetch()` —
//! its data ships as `.js` files that assign globals (`data/index.js`, `data/graph.js`), so
//! pages opened from `file://` work. The JavaScript and CSS are hand-written and compiled in
//! (`assets/`). `catalog.json` is the machine-readable twin (versioned; see docs/catalog.md).
//!
//! Architecture invariant: pure and deterministic — [`build`] does no I/O and reads no clock;
//! the same mesh and facts give the same bytes. The one exception is [`write_site`], which writes
//! a built site into a folder all at once (a temporary sibling folder, then a rename), so a
//! failure never leaves a partial site behind.

mod assets;
mod fields;
mod html;
mod model;
mod pages;
mod write;

use std::collections::BTreeMap;

pub use model::{CATALOG_VERSION, catalog_json};
pub use write::{WriteError, write_site};

/// What the environment's cluster and registry say, read by the CLI when `--env` is given.
#[derive(Clone, Debug, Default)]
pub struct LiveFacts {
    /// Why no facts could be read (the cluster was unreachable, …); the site says so.
    pub unavailable: Option<String>,
    /// Topic name → its partition count now.
    pub partitions: BTreeMap<String, i32>,
    /// Subject name → its latest registered version.
    pub subjects: BTreeMap<String, SubjectFact>,
    /// Topic name → the consumer groups seen on it.
    pub groups: BTreeMap<String, Vec<GroupFact>>,
    /// Notes on facts that could not be read while others could (the registry was down, …).
    pub notes: Vec<String>,
}

/// The latest registered version of a subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectFact {
    pub version: i32,
    pub id: i32,
    /// When it was registered, as far as mesh knows: the time of the apply that recorded this
    /// schema in the catalog topic (RFC 3339), when the fingerprints match.
    pub registered_at: Option<String>,
}

/// A consumer group seen on a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupFact {
    pub group: String,
    pub state: String,
    pub members: usize,
    /// RFC 3339 time of its latest commit on the topic; `None` when it never committed there or
    /// the time could not be told.
    pub last_commit: Option<String>,
    pub never_committed: bool,
}

/// Everything a site is made from.
pub struct Input<'a> {
    /// A mesh without validation errors (the CLI refuses others first).
    pub report: &'a mesh_check::Report,
    /// With `--env`: what the cluster said, or why it could not be asked.
    pub live: Option<&'a LiveFacts>,
}

/// A built site: relative path (with `/`) → file contents, in path order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Site {
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Builds every file of the site. Pure: no I/O, no clock.
pub fn build(input: &Input) -> Site {
    let catalog = model::Catalog::of(input);
    let mut files = BTreeMap::new();
    for (path, text) in assets::files() {
        files.insert(path.to_string(), text.as_bytes().to_vec());
    }
    let json = catalog_json(&catalog);
    // Compact: it is for machines (`jq .` formats it), and a third smaller at 2,000 products.
    files.insert("catalog.json".to_string(), format!("{json}\n").into_bytes());
    for (path, text) in pages::all(&catalog) {
        files.insert(path, text.into_bytes());
    }
    Site { files }
}

#[cfg(test)]
mod tests;
