//! The two small interfaces the plan needs from a Kafka cluster. The Kafka adapter implements
//! them; tests can implement them in memory.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::AdapterError;
use crate::state::{AclBinding, CatalogRecord, GroupActivity, LiveState};

/// What to read: the managed topics and principals (the catalog tells which topics it recorded;
/// the reader adds those to `topics` itself). Serialisable: a saved plan records it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRequest {
    /// Topics the repo declares.
    pub topics: BTreeSet<String>,
    /// Principals the repo declares (`User:…`).
    pub principals: BTreeSet<String>,
    pub catalog_topic: String,
    /// Connectors the repo declares (read from the Connect cluster with the ones the catalog
    /// records, when the environment has one).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub connectors: BTreeSet<String>,
    /// The topic config keys to read: `None` reads every config of each topic; `Some` only
    /// these and the keys the catalog records name (declared or set at an earlier apply), which
    /// are all a plan compares. DescribeConfigs then sends a few keys per topic instead of every
    /// one with its synonyms. A saved plan without it (older files) reads every config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_keys: Option<BTreeSet<String>>,
}

/// A topic to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub config: BTreeMap<String, String>,
}

/// Incremental config changes to one topic: keys to set, keys to reset to the broker default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigChange {
    pub topic: String,
    pub set: BTreeMap<String, String>,
    pub delete: BTreeSet<String>,
}

/// Reads the live state in a few batched requests. Every method is a read: safe to send again.
pub trait ClusterReader {
    /// Topics, configs, ACLs of the declared principals and the catalog (not `subjects`, which
    /// the registry reads, nor `groups`, which [`group_activity`](Self::group_activity) reads).
    fn read(&self, request: &ReadRequest) -> Result<LiveState, AdapterError>;
    /// The ACL bindings of these principals alone: the cheap part of a read, for waiting until
    /// ACL changes have become visible.
    fn acls_of(&self, principals: &BTreeSet<String>) -> Result<BTreeSet<AclBinding>, AdapterError>;
    /// For each of `topics`: the consumer groups with committed offsets on it, and when they
    /// last committed. Every topic asked for is in the answer.
    fn group_activity(
        &self,
        topics: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<GroupActivity>>, AdapterError>;
    /// A note for people when the cluster the plan was read from is degraded (a broker down,
    /// partitions under-replicated); `None` when it is healthy or cannot be told.
    fn health_note(&self, topics: &BTreeSet<String>) -> Option<String> {
        let _ = topics;
        None
    }
}

/// Batched writes. Each call returns one result per item, in order; an `Err` says what kind of
/// failure it was and carries the broker's message. Implementations must not write anything outside what they are given.
pub trait ClusterWriter {
    fn create_topics(&self, topics: &[NewTopic]) -> Vec<Result<(), AdapterError>>;
    fn alter_configs(&self, changes: &[ConfigChange]) -> Vec<Result<(), AdapterError>>;
    /// Raises each topic to the given total partition count.
    fn create_partitions(&self, topics: &[(String, i32)]) -> Vec<Result<(), AdapterError>>;
    fn create_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), AdapterError>>;
    /// Deletes exactly these bindings (exact-match filters, never wildcards).
    fn delete_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), AdapterError>>;
    /// Deletes these topics (and their data). Called only for topics of retired products.
    fn delete_topics(&self, topics: &[String]) -> Vec<Result<(), AdapterError>>;
    /// Writes catalog records (key: product id; `None` writes a tombstone) and waits until the
    /// broker acknowledged all of them.
    fn write_catalog(
        &self,
        catalog_topic: &str,
        records: &[(String, Option<CatalogRecord>)],
    ) -> Result<(), AdapterError>;
}
