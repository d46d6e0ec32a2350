//! The values a plan is computed from: what the repo wants (`DesiredState`) and what the cluster
//! has (`LiveState`). Adapters fill `LiveState`; nothing here knows how.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Where a live config value comes from, as Kafka's DescribeConfigs reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigSource {
    /// Set on this topic (the only kind `mesh` sets or resets).
    DynamicTopic,
    DynamicBroker,
    DynamicDefaultBroker,
    StaticBroker,
    Default,
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveConfig {
    /// `None` for sensitive values Kafka does not return.
    pub value: Option<String>,
    pub source: ConfigSource,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    /// Every config DescribeConfigs returned for the topic.
    pub configs: BTreeMap<String, LiveConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    Topic,
    Group,
    Cluster,
    TransactionalId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternType {
    Literal,
    Prefixed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Allow,
    Deny,
}

/// One Kafka ACL binding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    pub principal: String,
    pub resource_type: ResourceType,
    pub resource_name: String,
    pub pattern: PatternType,
    pub operation: Operation,
    pub permission: Permission,
    pub host: String,
}

impl AclBinding {
    pub fn allow(
        principal: &str,
        resource_type: ResourceType,
        name: &str,
        pattern: PatternType,
        operation: Operation,
    ) -> Self {
        AclBinding {
            principal: principal.to_string(),
            resource_type,
            resource_name: name.to_string(),
            pattern,
            operation,
            permission: Permission::Allow,
            host: "*".to_string(),
        }
    }
}

/// What `apply` records about a product in the catalog topic (key: the product id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRecord {
    pub product: String,
    pub domain: String,
    pub topic: String,
    pub description: String,
    pub owners: Vec<String>,
    pub quality: String,
    pub sla: String,
    pub status: String,
    pub tags: Vec<String>,
    pub inputs: Vec<String>,
    /// Config keys the product declared at this apply: a key later removed from the file is reset.
    pub declared_configs: Vec<String>,
    /// `since`, `sunset`, `replacement`, `reason` of a deprecated product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation: Option<BTreeMap<String, String>>,
    /// The git revision applied, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// RFC 3339 time of the apply that wrote the record.
    #[serde(default)]
    pub applied_at: String,
    /// What this apply set (partitions, configs, ACLs, schema fingerprints), for `mesh drift`;
    /// `None` in records written before drift tracking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<crate::drift::Applied>,
}

impl CatalogRecord {
    /// Whether two records describe the same product state (ignoring when and from which
    /// revision they were applied).
    pub fn same_content(&self, other: &CatalogRecord) -> bool {
        let strip = |r: &CatalogRecord| CatalogRecord {
            revision: None,
            applied_at: String::new(),
            ..r.clone()
        };
        strip(self) == strip(other)
    }
}

/// Everything `mesh` reads from the cluster for one plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveState {
    pub brokers: usize,
    /// Managed topics that exist (declared in the repo or recorded in the catalog).
    pub topics: BTreeMap<String, LiveTopic>,
    /// ACL bindings of the principals the repo declares (others are never read into a plan).
    pub acls: BTreeSet<AclBinding>,
    pub catalog_topic_exists: bool,
    /// The catalog: product id → its last applied record.
    pub catalog: BTreeMap<String, CatalogRecord>,
    /// Managed subjects as the Schema Registry has them (empty when the plan has no registry).
    #[serde(default)]
    pub subjects: BTreeMap<String, crate::registry::LiveSubject>,
}

/// A Schema Registry subject as the repo wants it (`<topic>-value`, `<topic>-key`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredSubject {
    pub product: String,
    pub subject: String,
    /// `AVRO`, `JSON` or `PROTOBUF`.
    pub schema_type: String,
    /// The schema file's text, as registered.
    pub schema: String,
    /// Repo-relative path of the schema file.
    pub file: String,
    pub compatibility: String,
}

/// A topic as the repo wants it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredTopic {
    pub product: String,
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub config: BTreeMap<String, String>,
}

/// Everything the repo wants, derived from a valid `Mesh` for one environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredState {
    pub catalog_topic: String,
    /// By topic name.
    pub topics: BTreeMap<String, DesiredTopic>,
    pub acls: BTreeSet<AclBinding>,
    /// Principals declared anywhere in the repo: the only ones whose ACLs `mesh` manages.
    pub principals: BTreeSet<String>,
    /// Product id → record (without `applied_at`).
    pub catalog: BTreeMap<String, CatalogRecord>,
    /// By subject name.
    pub subjects: BTreeMap<String, DesiredSubject>,
}
