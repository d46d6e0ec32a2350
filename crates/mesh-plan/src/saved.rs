//! Saved plans (`mesh plan --out FILE`, `mesh apply FILE`): the file format, the fingerprint of
//! the live state a plan was computed from, and the comparison that makes a stale plan say what
//! changed. Pure: the caller reads files and clusters, and passes the time in.
//!
//! The fingerprint is one sha256 per live resource (each topic, each principal's ACL set, each
//! subject, each catalog record) of that resource's JSON as this crate serialises it (field order
//! fixed by the types, maps sorted), plus whether the catalog topic exists. Hashes rather than
//! copies keep the file small and free of anything the live state holds, while still naming
//! each resource that changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cluster::ReadRequest;
use crate::plan::Action;
use crate::state::LiveState;

/// The `format` field of every saved plan.
pub const FORMAT: &str = "mesh-plan";
/// The file format version this build writes and reads.
pub const VERSION: u64 = 1;

/// A saved plan, as written to `--out FILE`. Holds no client settings and no credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`] when written by this build.
    pub version: u64,
    /// The version of `mesh` that made the plan.
    pub mesh_version: String,
    pub environment: String,
    /// The environment's `bootstrap.servers` (no credentials ever go into this field).
    pub bootstrap_servers: String,
    pub repo: RepoStamp,
    /// RFC 3339 time the plan was made.
    pub created_at: String,
    /// What to read again before applying.
    pub read: SavedRead,
    pub actions: Vec<Action>,
    pub fingerprint: Fingerprint,
}

/// Which repo content the plan was computed from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoStamp {
    /// The commit, when the plan was made with `--rev`.
    pub revision: Option<String>,
    /// [`content_hash`] of the repo files the plan was computed from.
    pub content_sha256: String,
}

/// The read request and the registry subjects of the plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRead {
    #[serde(flatten)]
    pub request: ReadRequest,
    pub subjects: BTreeSet<String>,
    /// Topics the plan retires: their consumer groups are read again, so that a consumer that
    /// appeared since the plan makes it stale rather than losing its topic.
    #[serde(default)]
    pub activity_topics: BTreeSet<String>,
}

/// sha256 (hex) of each live resource's JSON, by resource name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub catalog_topic_exists: bool,
    /// Managed topics that exist.
    pub topics: BTreeMap<String, String>,
    /// Principal → its ACL bindings (principals with none are absent).
    pub acls: BTreeMap<String, String>,
    /// Subject → its registry state.
    pub subjects: BTreeMap<String, String>,
    /// Product id → its catalog record.
    pub catalog: BTreeMap<String, String>,
    /// Topic → the consumer groups seen on it (only for the topics in `LiveState::groups`).
    #[serde(default)]
    pub groups: BTreeMap<String, String>,
    /// Managed connectors that exist: their config and state (not their tasks' health).
    #[serde(default)]
    pub connectors: BTreeMap<String, String>,
}

/// Why a saved plan file cannot be used. The caller adds the file name.
#[derive(Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Not JSON, or JSON without `format = "mesh-plan"`.
    NotAPlan(String),
    /// A version this build does not read.
    Version(String),
    /// The right format and version, but a field is missing or has the wrong shape.
    Malformed(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotAPlan(why) => write!(
                f,
                "not a mesh plan file ({why}) (help: write one with mesh plan --out FILE)"
            ),
            LoadError::Version(v) => write!(
                f,
                "plan file version {v}, but this mesh reads version {VERSION} (help: make the plan again with this mesh: mesh plan --out FILE)"
            ),
            LoadError::Malformed(why) => write!(
                f,
                "the plan file is damaged: {why} (help: make the plan again: mesh plan --out FILE)"
            ),
        }
    }
}

impl SavedPlan {
    /// The file's text: pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every map has string keys.
        let mut text = serde_json::to_string_pretty(self).expect("a plan serialises");
        text.push('\n');
        text
    }

    /// Reads a plan file's text: the format and version are checked first, so an old or foreign
    /// file is named as such rather than reported as a missing field.
    pub fn from_json(text: &str) -> Result<SavedPlan, LoadError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| LoadError::NotAPlan(format!("not JSON: {e}")))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => return Err(LoadError::NotAPlan(format!("format is `{other}`"))),
            None => return Err(LoadError::NotAPlan("no `format` field".into())),
        }
        match value.get("version") {
            Some(v) if v.as_u64() == Some(VERSION) => {}
            Some(v) => return Err(LoadError::Version(v.to_string())),
            None => return Err(LoadError::Malformed("no `version` field".into())),
        }
        serde_json::from_value(value).map_err(|e| LoadError::Malformed(e.to_string()))
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hash_json<T: Serialize + ?Sized>(value: &T) -> String {
    // Serialising live state cannot fail: every map has string keys.
    sha256_hex(&serde_json::to_vec(value).expect("live state serialises"))
}

/// A hash of the repo's files (path and bytes, in path order): two plans made from the same
/// content have the same hash, whether read from a folder or a revision.
pub fn content_hash<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut h = Sha256::new();
    let mut files: Vec<_> = files.into_iter().collect();
    files.sort();
    for (path, bytes) in files {
        // Lengths first, so no two different file sets feed the same bytes to the hash.
        h.update((path.len() as u64).to_be_bytes());
        h.update(path.as_bytes());
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of a live state.
pub fn fingerprint(live: &LiveState) -> Fingerprint {
    let mut by_principal: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for b in &live.acls {
        by_principal.entry(&b.principal).or_default().push(b);
    }
    Fingerprint {
        catalog_topic_exists: live.catalog_topic_exists,
        topics: live
            .topics
            .iter()
            .map(|(n, t)| (n.clone(), hash_json(t)))
            .collect(),
        acls: by_principal
            .into_iter()
            .map(|(p, bindings)| (p.to_string(), hash_json(&bindings)))
            .collect(),
        subjects: live
            .subjects
            .iter()
            .map(|(n, s)| (n.clone(), hash_json(s)))
            .collect(),
        catalog: live
            .catalog
            .iter()
            .map(|(n, r)| (n.clone(), hash_json(r)))
            .collect(),
        groups: live
            .groups
            .iter()
            .map(|(t, g)| (t.clone(), hash_json(g)))
            .collect(),
        connectors: live
            .connectors
            .iter()
            .flatten()
            .map(|(n, c)| (n.clone(), hash_json(&(&c.config, &c.state))))
            .collect(),
    }
}

/// What changed between the fingerprint a plan was made from and the one read now, as
/// resource names ("topic sales.orders", "ACLs of User:x", …); empty when nothing did.
pub fn changes(saved: &Fingerprint, now: &Fingerprint) -> Vec<String> {
    let mut out = Vec::new();
    if saved.catalog_topic_exists != now.catalog_topic_exists {
        out.push(if now.catalog_topic_exists {
            "catalog topic (created)".to_string()
        } else {
            "catalog topic (deleted)".to_string()
        });
    }
    let mut diff = |what: &str, a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
        let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for name in names {
            match (a.get(name), b.get(name)) {
                (Some(x), Some(y)) if x == y => {}
                (Some(_), Some(_)) => out.push(format!("{what} {name}")),
                (None, _) => out.push(format!("{what} {name} (new)")),
                (_, None) => out.push(format!("{what} {name} (gone)")),
            }
        }
    };
    diff("topic", &saved.topics, &now.topics);
    diff("ACLs of", &saved.acls, &now.acls);
    diff("subject", &saved.subjects, &now.subjects);
    diff("catalog record", &saved.catalog, &now.catalog);
    diff("consumer groups of topic", &saved.groups, &now.groups);
    diff("connector", &saved.connectors, &now.connectors);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::*;

    fn live() -> LiveState {
        let mut s = LiveState {
            brokers: 1,
            catalog_topic_exists: true,
            ..Default::default()
        };
        let mut configs = BTreeMap::new();
        configs.insert(
            "retention.ms".to_string(),
            LiveConfig {
                value: Some("1000".into()),
                source: ConfigSource::DynamicTopic,
            },
        );
        s.topics.insert(
            "sales.orders".into(),
            LiveTopic {
                name: "sales.orders".into(),
                partitions: 3,
                replication_factor: 1,
                configs: configs.into(),
            },
        );
        s.acls.insert(AclBinding::allow(
            "User:x",
            ResourceType::Topic,
            "sales.orders",
            PatternType::Literal,
            Operation::Read,
        ));
        s
    }

    fn plan_file() -> SavedPlan {
        SavedPlan {
            format: FORMAT.into(),
            version: VERSION,
            mesh_version: "0.1.0".into(),
            environment: "local".into(),
            bootstrap_servers: "127.0.0.1:19092".into(),
            repo: RepoStamp {
                revision: None,
                content_sha256: content_hash([("mesh.toml", b"x".as_slice())]),
            },
            created_at: "2026-11-22T11:40:03Z".into(),
            read: SavedRead {
                request: ReadRequest {
                    topics: ["sales.orders".to_string()].into(),
                    principals: ["User:x".to_string()].into(),
                    catalog_topic: "_mesh-catalog".into(),
                    connectors: Default::default(),
                    config_keys: Some(["retention.ms".to_string()].into()),
                },
                subjects: ["sales.orders-value".to_string()].into(),
                activity_topics: ["sales.old".to_string()].into(),
            },
            actions: vec![
                Action::CreateAcl {
                    binding: AclBinding::allow(
                        "User:y",
                        ResourceType::Group,
                        "g",
                        PatternType::Prefixed,
                        Operation::Read,
                    ),
                },
                Action::AlterConfig {
                    product: "sales.orders".into(),
                    topic: "sales.orders".into(),
                    changes: vec![crate::ConfigDiff {
                        key: "retention.ms".into(),
                        before: Some("1000".into()),
                        after: None,
                    }],
                },
            ],
            fingerprint: fingerprint(&live()),
        }
    }

    #[test]
    fn a_plan_file_round_trips() {
        let p = plan_file();
        let text = p.to_json();
        assert!(text.starts_with("{\n  \"format\": \"mesh-plan\",\n  \"version\": 1,"));
        assert_eq!(SavedPlan::from_json(&text).unwrap(), p);
    }

    #[test]
    fn foreign_old_and_damaged_files_are_named_as_such() {
        let e = SavedPlan::from_json("not json").unwrap_err();
        assert!(matches!(e, LoadError::NotAPlan(_)), "{e}");
        let e = SavedPlan::from_json(r#"{"format": "terraform"}"#).unwrap_err();
        assert_eq!(e, LoadError::NotAPlan("format is `terraform`".into()));
        assert!(e.to_string().contains("mesh plan --out"), "{e}");
        let e = SavedPlan::from_json(r#"{"format": "mesh-plan", "version": 2}"#).unwrap_err();
        assert_eq!(e, LoadError::Version("2".into()));
        assert!(e.to_string().contains("reads version 1"), "{e}");
        let mut v: serde_json::Value = serde_json::from_str(&plan_file().to_json()).unwrap();
        v.as_object_mut().unwrap().remove("fingerprint");
        let e = SavedPlan::from_json(&v.to_string()).unwrap_err();
        assert!(
            matches!(&e, LoadError::Malformed(m) if m.contains("fingerprint")),
            "{e}"
        );
    }

    #[test]
    fn the_same_state_has_the_same_fingerprint() {
        assert_eq!(fingerprint(&live()), fingerprint(&live()));
        assert!(changes(&fingerprint(&live()), &fingerprint(&live())).is_empty());
        // The broker count is no resource of the mesh.
        let mut more_brokers = live();
        more_brokers.brokers = 3;
        assert!(changes(&fingerprint(&live()), &fingerprint(&more_brokers)).is_empty());
    }

    #[test]
    fn changes_name_each_resource() {
        let before = fingerprint(&live());
        let mut s = live();
        s.topics.get_mut("sales.orders").unwrap().configs.insert(
            "cleanup.policy".into(),
            LiveConfig {
                value: Some("compact".into()),
                source: ConfigSource::DynamicTopic,
            },
        );
        s.acls.insert(AclBinding::allow(
            "User:x",
            ResourceType::Group,
            "x",
            PatternType::Literal,
            Operation::Read,
        ));
        s.acls.insert(AclBinding::allow(
            "User:z",
            ResourceType::Group,
            "z",
            PatternType::Literal,
            Operation::Read,
        ));
        s.subjects
            .insert("sales.orders-value".into(), Default::default());
        s.catalog_topic_exists = false;
        assert_eq!(
            changes(&before, &fingerprint(&s)),
            [
                "catalog topic (deleted)",
                "topic sales.orders",
                "ACLs of User:x",
                "ACLs of User:z (new)",
                "subject sales.orders-value (new)",
            ]
        );
        s.topics.clear();
        assert_eq!(
            changes(&before, &fingerprint(&s))[1],
            "topic sales.orders (gone)"
        );
    }

    #[test]
    fn content_hash_depends_on_paths_and_bytes_not_order() {
        let a = content_hash([("a", b"1".as_slice()), ("b", b"2".as_slice())]);
        assert_eq!(
            a,
            content_hash([("b", b"2".as_slice()), ("a", b"1".as_slice())])
        );
        assert_ne!(
            a,
            content_hash([("a", b"12".as_slice()), ("b", b"".as_slice())])
        );
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn a_consumer_group_appearing_on_a_retired_topic_makes_the_plan_stale() {
        let mut before = live();
        before.groups.insert("sales.old".into(), Vec::new());
        let mut after = before.clone();
        after
            .groups
            .get_mut("sales.old")
            .unwrap()
            .push(GroupActivity {
                group: "finance.audit".into(),
                state: "Stable".into(),
                members: 1,
                last_commit_ms: Some(1_790_000_000_000),
                never_committed: false,
            });
        assert_eq!(
            changes(&fingerprint(&before), &fingerprint(&after)),
            ["consumer groups of topic sales.old"]
        );
        assert!(changes(&fingerprint(&before), &fingerprint(&before.clone())).is_empty());
    }
}
