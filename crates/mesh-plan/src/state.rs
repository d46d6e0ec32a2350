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
    /// The configs DescribeConfigs returned for the topic: every one, or the keys the
    /// [`crate::ReadRequest`] asked for.
    pub configs: crate::SmallMap<LiveConfig>,
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

/// A name held by many ACL bindings (a principal, a topic, a host): shared, not copied, by
/// every binding [`Names`] made or re-pointed. A plan of 10,000 products holds each binding up
/// to three times (desired, in the desired and in the read-back catalog records) and a
/// principal's name in thousands of them. `ArcStr` rather than `Arc<str>`: one pointer instead
/// of a pointer and a length, so a binding is 32 bytes instead of 56 (380,000 bindings in that
/// plan, 9 MB).
pub type Name = arcstr::ArcStr;

/// One Kafka ACL binding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    pub principal: Name,
    pub resource_type: ResourceType,
    pub resource_name: Name,
    pub pattern: PatternType,
    pub operation: Operation,
    pub permission: Permission,
    pub host: Name,
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
            principal: principal.into(),
            resource_type,
            resource_name: name.into(),
            pattern,
            operation,
            permission: Permission::Allow,
            host: "*".into(),
        }
    }

    /// Points the binding's names at the copies `names` holds (making them the first time).
    pub fn share_names(&mut self, names: &mut Names) {
        names.share(&mut self.principal);
        names.share(&mut self.resource_name);
        names.share(&mut self.host);
    }
}

/// One copy of each name, for bindings to share ([`AclBinding::share_names`]).
#[derive(Debug, Default)]
pub struct Names(std::collections::HashSet<Name>);

impl Names {
    /// The shared copy of `name`.
    pub fn get(&mut self, name: &str) -> Name {
        if let Some(shared) = self.0.get(name) {
            return shared.clone();
        }
        let shared: Name = name.into();
        self.0.insert(shared.clone());
        shared
    }

    /// Replaces `name` with the shared copy of its text.
    pub fn share(&mut self, name: &mut Name) {
        match self.0.get(&**name) {
            Some(shared) => *name = shared.clone(),
            None => {
                self.0.insert(name.clone());
            }
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
    /// Decodes a record of the catalog topic as read back (its key and value): the product id
    /// and the record, `None` for a tombstone. Anything may have written to the topic, so a
    /// malformed record is an error that says what is wrong, never a panic.
    pub fn decode(
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<(String, Option<CatalogRecord>), String> {
        let key = key
            .ok_or("the record has no key")
            .and_then(|k| std::str::from_utf8(k).map_err(|_| "the key is not UTF-8"))?;
        let record = match value {
            None => None,
            Some(bytes) => Some(serde_json::from_slice(bytes).map_err(|e| e.to_string())?),
        };
        Ok((key.to_owned(), record))
    }

    /// Points the names of its applied ACL bindings at the copies `names` holds: a catalog
    /// read back holds each principal's name once, not once per binding.
    pub fn share_names(&mut self, names: &mut Names) {
        for b in self.applied.iter_mut().flat_map(|a| a.acls.iter_mut()) {
            b.share_names(names);
        }
    }

    /// Whether two records describe the same product state (ignoring when and from which
    /// revision they were applied).
    pub fn same_content(&self, other: &CatalogRecord) -> bool {
        // Every field named, so that a new one cannot be left out of the comparison; no copies
        // (a plan compares every record).
        let CatalogRecord {
            product,
            domain,
            topic,
            description,
            owners,
            quality,
            sla,
            status,
            tags,
            inputs,
            declared_configs,
            deprecation,
            revision: _,
            applied_at: _,
            applied,
        } = self;
        *product == other.product
            && *domain == other.domain
            && *topic == other.topic
            && *description == other.description
            && *owners == other.owners
            && *quality == other.quality
            && *sla == other.sla
            && *status == other.status
            && *tags == other.tags
            && *inputs == other.inputs
            && *declared_configs == other.declared_configs
            && *deprecation == other.deprecation
            && *applied == other.applied
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
    /// Topic → the consumer groups with committed offsets on it, for the topics whose activity
    /// matters to this plan (retirement candidates, breaking changes). A topic missing here was
    /// not read: a retirement of it is refused rather than assumed idle.
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<GroupActivity>>,
    /// The connectors mesh manages (declared or recorded in the catalog) that the Connect
    /// cluster has; `None` when the environment has no Connect cluster (nothing is planned for
    /// connectors then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectors: Option<BTreeMap<String, crate::connect::LiveConnector>>,
}

/// A consumer group with committed offsets on a topic, and when it last committed there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupActivity {
    pub group: String,
    /// As the group coordinator reports it: `Stable` means members are consuming right now.
    pub state: String,
    /// Members in the group now.
    pub members: usize,
    /// The latest commit time on the topic, milliseconds since the Unix epoch; `None` when it
    /// could not be told (an unknown record version), which counts as "committed now".
    pub last_commit_ms: Option<i64>,
    /// Its members are assigned the topic, and it never committed there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub never_committed: bool,
}

/// One `[[consumes]]` entry as the plan needs it: who reads which product, and who to ask.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredConsumer {
    /// The product it names (which may no longer be declared: then it blocks a retirement).
    pub product: String,
    pub domain: String,
    /// The principal's short name in the domain.
    pub principal: String,
    pub group: String,
    /// The domain's owners.
    pub owners: Vec<String>,
    /// domain.toml, and the 1-based line of the entry.
    pub file: String,
    pub line: usize,
}

/// Who a declared principal belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalOwner {
    pub domain: String,
    /// Short name in the domain.
    pub name: String,
    pub owners: Vec<String>,
}

/// A Schema Registry subject as the repo wants it (`<topic>-value`, `<topic>-key`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredSubject {
    pub product: String,
    pub subject: String,
    /// `AVRO`, `JSON` or `PROTOBUF`.
    pub schema_type: String,
    /// The schema file's text, as registered (shared with the loaded repo's source, not copied:
    /// 12,000 subjects are megabytes of text).
    pub schema: std::sync::Arc<str>,
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
    pub config: crate::SmallMap<String>,
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
    /// Every `[[consumes]]` entry, in repo order.
    pub consumers: Vec<DesiredConsumer>,
    /// Kafka principal (`User:…`) → its domain and owners.
    pub principal_owners: BTreeMap<String, PrincipalOwner>,
    /// Kafka Connect connectors, by name.
    pub connectors: BTreeMap<String, crate::connect::DesiredConnector>,
    /// `retire_idle_days` of mesh.toml: how long a topic must have had no commits to be retired.
    pub retire_idle_days: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan of 10,000 products holds some 380,000 bindings; each byte of one is 0.4 MB.
    #[test]
    fn a_binding_is_four_words() {
        assert_eq!(std::mem::size_of::<Name>(), std::mem::size_of::<usize>());
        assert!(std::mem::size_of::<AclBinding>() <= 4 * std::mem::size_of::<usize>());
    }

    #[test]
    fn names_hand_out_one_copy_per_text() {
        let mut names = Names::default();
        let a = names.get("User:alice");
        let mut b: Name = String::from("User:alice").into();
        assert!(!Name::ptr_eq(&a, &b));
        names.share(&mut b);
        assert!(Name::ptr_eq(&a, &b));
        assert_eq!(&*b, "User:alice");
    }
}
