//! Which consumer groups have committed offsets on which topics: the input of the retirement
//! check ("no consumer group has committed offsets on it within `retire_idle_days`").
//!
//! Kafka's OffsetFetch answers the committed offset only, not when it was committed, so
//! "when" is not available here. What is: the group's state (`Stable` means members are
//! consuming right now, `Empty` that none are) and the committed offsets, which callers can
//! compare between runs or against the topic's end offsets. Kafka itself expires the offsets
//! of an `Empty` group after `offsets.retention.minutes` (default 7 days), so a group still
//! listed here without members committed within that window.

use std::collections::{BTreeMap, BTreeSet};

use rdkafka::producer::Producer;

use crate::{KafkaCluster, KafkaError};

/// Groups per batch of ListConsumerGroupOffsets requests in flight at once.
const GROUP_BATCH: usize = 64;
/// Groups per DescribeConsumerGroups request.
const DESCRIBE_BATCH: usize = 256;

/// The offsets one consumer group has committed on one topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupTopicOffsets {
    pub group: String,
    /// The group's state as the coordinator reports it: `Stable`, `Empty`,
    /// `PreparingRebalance`, `CompletingRebalance`, `Dead`, or `Unknown`.
    pub state: String,
    /// Members in the group now (0 for a group nobody consumes with at the moment).
    pub members: usize,
    pub topic: String,
    /// Partition → committed offset (the next offset the group will read).
    pub committed: BTreeMap<i32, i64>,
}

/// A consumer group as ListGroups and DescribeGroups show it now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GroupNow {
    pub state: String,
    pub members: usize,
    /// The topics its members are assigned partitions of (consumer groups only).
    pub assigned: BTreeSet<String>,
}

impl KafkaCluster {
    /// Every consumer group with a committed offset on any of `topics`, one entry per group
    /// and topic, sorted by group then topic. One ListGroups (plus DescribeGroups, done by
    /// librdkafka), then ListConsumerGroupOffsets for all groups, sent concurrently.
    pub fn committed_offsets(
        &self,
        topics: &BTreeSet<String>,
    ) -> Result<Vec<GroupTopicOffsets>, KafkaError> {
        let groups = self.groups_now()?;
        self.committed_in(&groups, topics)
    }

    /// Every group now, with its state, members and the topics its members are assigned:
    /// ListGroups for the names, then DescribeConsumerGroups, which also describes groups of the
    /// KIP-848 consumer protocol (whose members and assignments DescribeGroups does not show).
    pub(crate) fn groups_now(&self) -> Result<BTreeMap<String, GroupNow>, KafkaError> {
        let list = self
            .producer
            .client()
            .fetch_group_list(None, self.timeout)
            .map_err(|e| self.rd_failure("list consumer groups", &e))?;
        let mut out: BTreeMap<String, GroupNow> = list
            .groups()
            .iter()
            .map(|g| {
                (
                    g.name().to_owned(),
                    GroupNow {
                        state: g.state().to_owned(),
                        members: g.members().len(),
                        assigned: BTreeSet::new(),
                    },
                )
            })
            .collect();
        let names: Vec<String> = out.keys().cloned().collect();
        for chunk in names.chunks(DESCRIBE_BATCH) {
            let described = self
                .admin()
                .describe_groups(chunk)
                .map_err(|e| self.admin_failure("describe consumer groups", e))?;
            for (name, description) in described {
                // A group that cannot be described (gone since the listing, or another
                // kind of group) keeps what ListGroups said.
                if let (Ok(d), Some(g)) = (description, out.get_mut(&name)) {
                    *g = GroupNow {
                        state: d.state,
                        members: d.members,
                        assigned: d.assigned,
                    };
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn committed_in(
        &self,
        groups: &BTreeMap<String, GroupNow>,
        topics: &BTreeSet<String>,
    ) -> Result<Vec<GroupTopicOffsets>, KafkaError> {
        let names: Vec<String> = groups.keys().cloned().collect();
        let mut out = Vec::new();
        for chunk in names.chunks(GROUP_BATCH) {
            let commits = self
                .admin()
                .list_group_offsets(chunk)
                .map_err(|e| self.admin_failure("list committed offsets", e))?;
            for commit in commits {
                let offsets = commit.offsets.map_err(|e| {
                    self.failure(
                        &format!("list the committed offsets of group {}", commit.group),
                        Some(e.code),
                        &e.message,
                    )
                })?;
                let mut by_topic: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::new();
                for (topic, partition, offset) in offsets {
                    if topics.contains(&topic) {
                        by_topic.entry(topic).or_default().insert(partition, offset);
                    }
                }
                let now = groups.get(&commit.group);
                let (state, members) = now.map_or_else(
                    || ("Unknown".to_string(), 0),
                    |g| (g.state.clone(), g.members),
                );
                out.extend(
                    by_topic
                        .into_iter()
                        .map(|(topic, committed)| GroupTopicOffsets {
                            group: commit.group.clone(),
                            state: state.clone(),
                            members,
                            topic,
                            committed,
                        }),
                );
            }
        }
        out.sort_by(|a, b| (&a.group, &a.topic).cmp(&(&b.group, &b.topic)));
        Ok(out)
    }
}
