//! When each consumer group last committed offsets on a topic: the "idle for `retire_idle_days`"
//! half of the retirement check, and the "recently active groups" of a plan's impact.
//!
//! Kafka's OffsetFetch answers the committed offset only, so the time is read where the group
//! coordinator keeps it: the offset-commit records of the internal `__consumer_offsets` topic.
//! Only the partitions that hold the groups concerned are read (a group lives on partition
//! `(Java String.hashCode(group) & 0x7fffffff) % partitions`), from the start to the end
//! measured now. Keys of versions 0 and 1 are offset commits (group, topic, partition); values of
//! versions 0–4 carry the commit timestamp (version 4, the first flexible one, is what Kafka 4's
//! group coordinator writes: compact metadata string, tagged fields after the timestamp); a null
//! value deletes the commit. A value of another
//! version is counted as "committed now", so an unknown format can only block a retirement,
//! never allow one. Reading needs READ and DESCRIBE on topic `__consumer_offsets`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use mesh_plan::GroupActivity;
use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::producer::Producer;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaErrorCode;

use crate::{KafkaCluster, KafkaError};

/// The internal topic where group coordinators keep committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// What reading the commit times needs, for error messages.
const NEEDS: &str = "read topic __consumer_offsets, to tell when consumer groups last committed \
     (grant the user mesh logs in as READ and DESCRIBE on topic __consumer_offsets, e.g. \
     kafka-acls --add --allow-principal User:<mesh> --operation Read --operation Describe \
     --topic __consumer_offsets)";

/// Java's `String.hashCode`, over UTF-16 code units, as Kafka uses it to place a group.
pub fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The `__consumer_offsets` partition that holds `group` (Kafka's `partitionFor`).
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    (java_hash(group) & 0x7fff_ffff) % partitions.max(1)
}

/// A decoded `__consumer_offsets` key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OffsetsKey {
    /// An offset commit (key versions 0 and 1).
    Commit {
        group: String,
        topic: String,
        partition: i32,
    },
    /// Group metadata (version 2) or a version this code does not know.
    Other,
}

/// A cursor over Kafka's big-endian wire types.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    /// An unsigned varint (Kafka's flexible versions).
    fn uvarint(&mut self) -> Option<u32> {
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u32::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    /// A compact string: unsigned varint length + 1 (0: null, read as empty).
    fn compact_string(&mut self) -> Option<String> {
        let len = self.uvarint()?;
        if len == 0 {
            return Some(String::new());
        }
        let bytes = self.take(usize::try_from(len - 1).ok()?)?;
        String::from_utf8(bytes.to_vec()).ok()
    }
    /// A string with an int16 length (-1: null, read as empty).
    fn string(&mut self) -> Option<String> {
        let len = self.i16()?;
        if len < 0 {
            return Some(String::new());
        }
        let bytes = self.take(usize::try_from(len).ok()?)?;
        String::from_utf8(bytes.to_vec()).ok()
    }
}

/// Decodes a key; `None` when it is malformed.
pub fn decode_key(bytes: &[u8]) -> Option<OffsetsKey> {
    let mut w = Wire(bytes);
    match w.i16()? {
        0 | 1 => Some(OffsetsKey::Commit {
            group: w.string()?,
            topic: w.string()?,
            partition: w.i32()?,
        }),
        _ => Some(OffsetsKey::Other),
    }
}

/// The commit timestamp (ms since the Unix epoch) of an offset-commit value; `None` when the
/// version is unknown or the value malformed (callers count that as "committed now").
pub fn decode_commit_time(bytes: &[u8]) -> Option<i64> {
    let mut w = Wire(bytes);
    match w.i16()? {
        // offset, metadata, commit timestamp (v1 adds an expire timestamp after it).
        0..=2 => {
            w.i64()?;
            w.string()?;
            w.i64()
        }
        // offset, leader epoch, metadata, commit timestamp.
        3 => {
            w.i64()?;
            w.i32()?;
            w.string()?;
            w.i64()
        }
        // Flexible (Kafka 4): the same with a compact metadata string; tagged fields (the
        // topic id) follow the timestamp and are not needed.
        4 => {
            w.i64()?;
            w.i32()?;
            w.compact_string()?;
            w.i64()
        }
        _ => None,
    }
}

/// The latest state of one commit key while reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Commit {
    At(i64),
    Unknown,
    Deleted,
}

/// Folds `(key, value)` records, oldest first, into the last commit time per (group, topic) of
/// the groups and topics asked for: the latest record of a partition wins, a null value deletes
/// it, and a group's time on a topic is the latest over its partitions (`None`: unknown).
pub fn last_commits<'r>(
    records: impl IntoIterator<Item = (&'r [u8], Option<&'r [u8]>)>,
    groups: &BTreeSet<String>,
    topics: &BTreeSet<String>,
) -> BTreeMap<(String, String), Option<i64>> {
    let mut latest: BTreeMap<(String, String, i32), Commit> = BTreeMap::new();
    for (key, value) in records {
        let Some(OffsetsKey::Commit {
            group,
            topic,
            partition,
        }) = decode_key(key)
        else {
            continue;
        };
        if !groups.contains(&group) || !topics.contains(&topic) {
            continue;
        }
        let commit = match value {
            None => Commit::Deleted,
            Some(v) => decode_commit_time(v).map_or(Commit::Unknown, Commit::At),
        };
        latest.insert((group, topic, partition), commit);
    }
    let mut out: BTreeMap<(String, String), Option<i64>> = BTreeMap::new();
    for ((group, topic, _), commit) in latest {
        let time = match commit {
            Commit::Deleted => continue,
            Commit::Unknown => None,
            Commit::At(t) => Some(t),
        };
        out.entry((group, topic))
            .and_modify(|known| {
                *known = match (*known, time) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                }
            })
            .or_insert(time);
    }
    out
}

impl KafkaCluster {
    /// For each of `topics`: the consumer groups with committed offsets on it, their state and
    /// members now, and when they last committed there; and the groups whose members are
    /// assigned the topic but never committed on it (a consumer that does not commit, or one
    /// that just started). Every topic asked for is in the answer (with no groups when nobody
    /// reads it).
    pub fn group_activity(
        &self,
        topics: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<GroupActivity>>, KafkaError> {
        let mut out: BTreeMap<String, Vec<GroupActivity>> =
            topics.iter().map(|t| (t.clone(), Vec::new())).collect();
        if topics.is_empty() {
            return Ok(out);
        }
        let now = self.groups_now()?;
        let committed = self.committed_in(&now, topics)?;
        // Assigned but never committed: no commit time to read, and still a reader.
        for (group, g) in &now {
            for topic in g.assigned.intersection(topics) {
                if !committed
                    .iter()
                    .any(|c| &c.group == group && &c.topic == topic)
                {
                    out.entry(topic.clone()).or_default().push(GroupActivity {
                        group: group.clone(),
                        state: g.state.clone(),
                        members: g.members,
                        last_commit_ms: None,
                        never_committed: true,
                    });
                }
            }
        }
        if committed.is_empty() {
            return Ok(out);
        }
        let groups: BTreeSet<String> = committed.iter().map(|c| c.group.clone()).collect();
        let times = self.commit_times(&groups, topics)?;
        for c in committed {
            let last = times.get(&(c.group.clone(), c.topic.clone())).copied();
            out.entry(c.topic).or_default().push(GroupActivity {
                group: c.group,
                state: c.state,
                members: c.members,
                // A commit OffsetFetch knows but the log no longer shows (a race with a
                // deletion, or compaction in progress) counts as now.
                last_commit_ms: last.flatten(),
                never_committed: false,
            });
        }
        Ok(out)
    }

    /// The last commit time per (group, topic), read from the `__consumer_offsets` partitions of
    /// `groups`.
    pub fn commit_times(
        &self,
        groups: &BTreeSet<String>,
        topics: &BTreeSet<String>,
    ) -> Result<BTreeMap<(String, String), Option<i64>>, KafkaError> {
        let metadata = self
            .producer
            .client()
            .fetch_metadata(Some(OFFSETS_TOPIC), self.timeout)
            .map_err(|e| self.rd_failure(NEEDS, &e))?;
        let Some(meta) = metadata.topics().iter().find(|t| t.name() == OFFSETS_TOPIC) else {
            return Ok(BTreeMap::new());
        };
        match meta.error().map(RDKafkaErrorCode::from) {
            None => {}
            // No group ever committed on this cluster: the topic is created on first use.
            Some(RDKafkaErrorCode::UnknownTopicOrPartition) => return Ok(BTreeMap::new()),
            Some(code) => return Err(self.failure(NEEDS, Some(code), &code.to_string())),
        }
        let count = i32::try_from(meta.partitions().len()).unwrap_or(i32::MAX);
        if count == 0 {
            return Ok(BTreeMap::new());
        }
        let partitions: BTreeSet<i32> = groups.iter().map(|g| partition_for(g, count)).collect();
        let records = self.read_partitions(&partitions)?;
        Ok(last_commits(
            records.iter().map(|(k, v)| (k.as_slice(), v.as_deref())),
            groups,
            topics,
        ))
    }

    /// Every record (key, value) of these `__consumer_offsets` partitions up to the ends
    /// measured now, oldest first per partition.
    #[allow(clippy::type_complexity)]
    fn read_partitions(
        &self,
        partitions: &BTreeSet<i32>,
    ) -> Result<Vec<(Vec<u8>, Option<Vec<u8>>)>, KafkaError> {
        let consumer = self.reader_consumer()?;
        let mut ends = BTreeMap::new();
        let mut assignment = TopicPartitionList::new();
        for &p in partitions {
            let (low, high) = consumer
                .fetch_watermarks(OFFSETS_TOPIC, p, self.timeout)
                .map_err(|e| self.rd_failure(NEEDS, &e))?;
            if high > low {
                ends.insert(p, high);
                assignment
                    .add_partition_offset(OFFSETS_TOPIC, p, Offset::Offset(low))
                    .map_err(|e| self.rd_failure(NEEDS, &e))?;
            }
        }
        let mut out = Vec::new();
        if ends.is_empty() {
            return Ok(out);
        }
        consumer
            .assign(&assignment)
            .map_err(|e| self.rd_failure(NEEDS, &e))?;
        let mut pending: BTreeSet<i32> = ends.keys().copied().collect();
        let deadline = Instant::now() + self.timeout;
        while !pending.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.failure(NEEDS, Some(RDKafkaErrorCode::RequestTimedOut), ""));
            }
            match consumer.poll(left.min(Duration::from_millis(500))) {
                None => {}
                Some(Ok(m)) => {
                    let (p, offset) = (m.partition(), m.offset());
                    if !pending.contains(&p) || offset >= ends[&p] {
                        continue;
                    }
                    if let Some(key) = m.key() {
                        out.push((key.to_vec(), m.payload().map(<[u8]>::to_vec)));
                    }
                    if offset + 1 >= ends[&p] {
                        pending.remove(&p);
                    }
                }
                Some(Err(RdKafkaError::PartitionEOF(p))) => {
                    pending.remove(&p);
                }
                // As for the catalog reader: it needs no group of its own.
                Some(Err(e)) if crate::read::is_group_noise(&e) => {}
                Some(Err(e)) => return Err(self.rd_failure(NEEDS, &e)),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> Vec<u8> {
        let mut v = (s.len() as i16).to_be_bytes().to_vec();
        v.extend(s.as_bytes());
        v
    }

    fn key(version: i16, group: &str, topic: &str, partition: i32) -> Vec<u8> {
        let mut v = version.to_be_bytes().to_vec();
        v.extend(string(group));
        v.extend(string(topic));
        v.extend(partition.to_be_bytes());
        v
    }

    fn value(version: i16, time: i64) -> Vec<u8> {
        let mut v = version.to_be_bytes().to_vec();
        v.extend(42i64.to_be_bytes());
        if version >= 3 {
            v.extend(7i32.to_be_bytes());
        }
        if version >= 4 {
            v.push(5); // compact string: length 4 + 1
            v.extend(b"meta");
        } else {
            v.extend(string("meta"));
        }
        v.extend(time.to_be_bytes());
        if version == 1 {
            v.extend((time + 1_000).to_be_bytes());
        }
        if version >= 4 {
            v.push(0); // no tagged fields
        }
        v
    }

    #[test]
    fn groups_are_placed_as_kafka_places_them() {
        // Values of Java's "…".hashCode().
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("a"), 97);
        assert_eq!(java_hash("hello"), 99_162_322);
        assert_eq!(java_hash("console-consumer-12345"), 158_455_506);
        assert_eq!(partition_for("hello", 50), 99_162_322 % 50);
        // The famous string whose hash is i32::MIN: the mask, not abs(), keeps it in range.
        assert_eq!(java_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        // Non-ASCII text hashes over UTF-16 code units.
        assert_eq!(java_hash("é"), 0xe9);
        assert_eq!(java_hash("😀"), 0xd83d * 31 + 0xde00);
    }

    #[test]
    fn keys_and_values_of_every_known_version_decode() {
        for v in [0, 1] {
            assert_eq!(
                decode_key(&key(v, "g", "sales.orders", 3)),
                Some(OffsetsKey::Commit {
                    group: "g".into(),
                    topic: "sales.orders".into(),
                    partition: 3
                })
            );
        }
        let mut meta = 2i16.to_be_bytes().to_vec();
        meta.extend(string("g"));
        assert_eq!(decode_key(&meta), Some(OffsetsKey::Other));
        assert_eq!(decode_key(&key(0, "g", "t", 0)[..6]), None, "truncated");
        for v in 0..=4 {
            assert_eq!(
                decode_commit_time(&value(v, 1_700_000_000_123)),
                Some(1_700_000_000_123)
            );
        }
        assert_eq!(decode_commit_time(&value(5, 1)), None, "unknown version");
        // Version 4 with a null metadata string and a tagged topic id after the timestamp.
        let mut v4 = 4i16.to_be_bytes().to_vec();
        v4.extend(1i64.to_be_bytes());
        v4.extend((-1i32).to_be_bytes());
        v4.push(0);
        v4.extend(77i64.to_be_bytes());
        v4.extend([1, 0, 16]);
        v4.extend([0xab; 16]);
        assert_eq!(decode_commit_time(&v4), Some(77));
        // A metadata string longer than 127 bytes takes a two-byte varint.
        let mut long = 4i16.to_be_bytes().to_vec();
        long.extend(1i64.to_be_bytes());
        long.extend(0i32.to_be_bytes());
        long.extend([0x81, 0x01]); // 129 = 128 + 1
        long.extend([b'm'; 128]);
        long.extend(5i64.to_be_bytes());
        assert_eq!(decode_commit_time(&long), Some(5));
        assert_eq!(decode_commit_time(&value(3, 1)[..10]), None, "truncated");
        // A null metadata string.
        let mut v = 2i16.to_be_bytes().to_vec();
        v.extend(1i64.to_be_bytes());
        v.extend((-1i16).to_be_bytes());
        v.extend(99i64.to_be_bytes());
        assert_eq!(decode_commit_time(&v), Some(99));
    }

    #[test]
    fn the_latest_record_wins_deletions_remove_and_unknown_means_now() {
        let groups: BTreeSet<String> = ["a", "b", "c", "d"].map(String::from).into();
        let topics: BTreeSet<String> = ["t".to_string()].into();
        let recs: Vec<(Vec<u8>, Option<Vec<u8>>)> = vec![
            (key(1, "a", "t", 0), Some(value(3, 100))),
            (key(1, "a", "t", 1), Some(value(3, 300))),
            (key(1, "a", "t", 0), Some(value(3, 200))),
            (key(1, "b", "t", 0), Some(value(3, 500))),
            (key(1, "b", "t", 0), None),
            (key(1, "c", "t", 0), Some(value(3, 100))),
            (key(1, "c", "t", 1), Some(value(9, 0))),
            (key(1, "d", "other", 0), Some(value(3, 100))),
            (key(1, "z", "t", 0), Some(value(3, 100))),
            (b"garbage".to_vec(), Some(b"x".to_vec())),
        ];
        let got = last_commits(
            recs.iter().map(|(k, v)| (k.as_slice(), v.as_deref())),
            &groups,
            &topics,
        );
        let want: BTreeMap<(String, String), Option<i64>> = [
            (("a".to_string(), "t".to_string()), Some(300)),
            (("c".to_string(), "t".to_string()), None),
        ]
        .into();
        assert_eq!(got, want);
    }
}
