//! Reading a whole cluster, not only what a mesh manages: every topic with its configs, and
//! every ACL binding. `mesh import` adopts a cluster from this.

use std::collections::{BTreeMap, BTreeSet};

use mesh_plan::{AclBinding, LiveTopic};

use crate::{KafkaCluster, KafkaError};

impl KafkaCluster {
    /// Every topic `keep` accepts, with its partitions, replication factor and configs (one
    /// metadata request, batched DescribeConfigs). Topics the principal may not DESCRIBE are not
    /// in the metadata, so they are not seen.
    pub fn all_topics(
        &self,
        keep: impl Fn(&str) -> bool,
    ) -> Result<BTreeMap<String, LiveTopic>, KafkaError> {
        self.pump();
        let visible = self.topic_metadata()?;
        let names: BTreeSet<&str> = visible
            .keys()
            .map(String::as_str)
            .filter(|n| keep(n))
            .collect();
        let configs = self.describe_configs_of(&names, None)?;
        Ok(configs
            .into_iter()
            .filter_map(|(name, configs)| {
                let shape = visible.get(&name)?;
                let topic = LiveTopic {
                    name: name.clone(),
                    partitions: i32::try_from(shape.partitions.len()).unwrap_or(i32::MAX),
                    replication_factor: shape.replication_factor,
                    configs,
                };
                Some((name, topic))
            })
            .collect())
    }

    /// Every ACL binding of the cluster, of every principal. An error (never an empty set) when
    /// the principal may not describe ACLs.
    pub fn all_acls(&self) -> Result<BTreeSet<AclBinding>, KafkaError> {
        self.check_may_describe_acls()?;
        Ok(self
            .admin()
            .describe_all_acls()
            .map_err(|e| self.admin_failure("describe ACLs", e))?
            .into_iter()
            .collect())
    }
}
