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

impl KafkaCluster {
    /// Every consumer group with a committed offset on any of `topics`, one entry per group
    /// and topic, sorted by group then topic. One ListGroups (plus DescribeGroups, done by
    /// librdkafka), then ListConsumerGroupOffsets for all groups, sent concurrently.
    pub fn committed_offsets(
        &self,
        topics: &BTreeSet<String>,
    ) -> Result<Vec<GroupTopicOffsets>, KafkaError> {
        let action = "list consumer groups";
        let list = self
            .producer
            .client()
            .fetch_group_list(None, self.timeout)
            .map_err(|e| self.rd_failure(action, &e))?;
        let groups: BTreeMap<String, (String, usize)> = list
            .groups()
            .iter()
            .map(|g| {
                (
                    g.name().to_owned(),
                    (g.state().to_owned(), g.members().len()),
                )
            })
            .collect();
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
                let (state, members) = groups
                    .get(&commit.group)
                    .cloned()
                    .unwrap_or_else(|| ("Unknown".into(), 0));
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
