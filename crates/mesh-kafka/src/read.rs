//! Reading the live state (`ClusterReader`): one metadata request, one DescribeAcls, and, at the
//! same time, DescribeConfigs for all managed topics (batched, a few requests in flight, only the
//! config keys the request and the catalog name) and the catalog topic read from its beginning to
//! the high watermarks measured at the start.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use mesh_plan::{
    AclBinding, AdapterError, CatalogRecord, ClusterReader, GroupActivity, LiveState, LiveTopic,
    Names, Operation, ReadRequest,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::producer::Producer;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::context::MeshContext;
use crate::ffi::{PartitionDescription, TopicDescription};
use crate::{KafkaCluster, KafkaError};

/// Topics per DescribeConfigs request: large enough to be one request for most meshes, small
/// enough to keep a response far below the broker's limits.
const DESCRIBE_BATCH: usize = 500;

/// DescribeConfigs requests in flight at once, so that a cluster far away costs one round trip
/// per four batches rather than per batch (on the local sandbox it makes no difference).
const DESCRIBE_IN_FLIGHT: usize = 4;

/// The `group.id` of the catalog reader (it never joins the group nor commits).
const CATALOG_READER_GROUP: &str = "mesh-catalog-reader";

/// The brokers and the state of the managed topics' partitions, as the metadata shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// The brokers that are registered and answering.
    pub brokers: BTreeSet<i32>,
    /// Brokers that replica lists name but that are not answering.
    pub missing_brokers: BTreeSet<i32>,
    /// Partitions of managed topics with fewer in-sync replicas than replicas.
    pub under_replicated: usize,
    /// Partitions of managed topics without a leader.
    pub leaderless: usize,
}

impl Health {
    /// A one-line note for people, or `None` when everything is in sync.
    pub fn note(&self) -> Option<String> {
        if self.missing_brokers.is_empty() && self.under_replicated == 0 && self.leaderless == 0 {
            return None;
        }
        let ids = |s: &BTreeSet<i32>| s.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
        let mut note = format!("read from broker(s) {}", ids(&self.brokers));
        if !self.missing_brokers.is_empty() {
            note.push_str(&format!(
                "; broker(s) {} hold replicas but do not answer",
                ids(&self.missing_brokers)
            ));
        }
        note.push_str(&format!(
            "; {} partition(s) of managed topics under-replicated, {} without a leader. The plan is \
             complete, but new topics need as many live brokers as their replication factor",
            self.under_replicated, self.leaderless
        ));
        Some(note)
    }
}

/// Up to this many principals, their ACLs are read with one DescribeAcls each; more, with one
/// that matches every binding ([`KafkaCluster::principal_acls`]).
pub(crate) const PER_PRINCIPAL_READS: usize = 32;

/// Up to this many topics, their metadata comes from one DescribeTopics naming them; more, from
/// one metadata request for every topic: librdkafka's DescribeTopics takes CPU that grows faster
/// than the number of topics it names (0.9 s more than the metadata request at 10,000).
pub(crate) const DESCRIBE_TOPICS_MAX: usize = 1000;

/// A topic as the metadata shows it.
pub(crate) struct TopicShape {
    pub partitions: Vec<i32>,
    pub replication_factor: i32,
}

impl TopicShape {
    /// Its partition ids and the replica count of partition 0 (the first: they are sorted).
    fn of(t: &TopicDescription) -> TopicShape {
        let replicas = t.partitions.first().map_or(0, |p| p.replicas.len());
        TopicShape {
            partitions: t.partitions.iter().map(|p| p.id).collect(),
            replication_factor: i32::try_from(replicas).unwrap_or(i32::MAX),
        }
    }
}

struct TopicsAndCatalog {
    catalog_topic_exists: bool,
    catalog: BTreeMap<String, CatalogRecord>,
    topics: BTreeMap<String, LiveTopic>,
}

impl KafkaCluster {
    /// [`ClusterReader::read`] with a typed error.
    ///
    /// Kafka leaves topics a principal may not DESCRIBE out of the metadata, and librdkafka
    /// drops the error of a refused DescribeAcls (2.12.1: an empty list comes back). So the
    /// existence of each topic is decided by DescribeConfigs (which says "unknown topic" or
    /// "not authorized" per topic), and ACLs are read only after DescribeCluster confirmed
    /// that the principal may describe them: missing rights are an error, never an empty
    /// state.
    pub fn read_state(&self, request: &ReadRequest) -> Result<LiveState, KafkaError> {
        self.pump();
        let brokers = self
            .admin()
            .broker_ids()
            .map_err(|e| self.admin_failure("describe the cluster", e))?
            .len();
        // ACLs do not depend on anything else: fetch them while the catalog and configs load.
        let (acls, rest) = std::thread::scope(|s| {
            let acls = s.spawn(|| self.principal_acls(&request.principals));
            let rest = self.read_topics_and_catalog(request);
            // A panic in the ACL thread is a bug in this crate; re-raise it here.
            (
                acls.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                rest,
            )
        });
        let rest = rest?;
        Ok(LiveState {
            brokers,
            topics: rest.topics,
            acls: acls?,
            catalog_topic_exists: rest.catalog_topic_exists,
            catalog: rest.catalog,
            // Subjects live in the Schema Registry; the registry adapter fills them in.
            subjects: Default::default(),
            // Read on demand (`group_activity`), for the topics a plan needs.
            groups: Default::default(),
            // Connectors live in Connect; the Connect adapter fills them in.
            connectors: None,
        })
    }

    /// The catalog, and the managed topics that exist (declared ∪ recorded in the catalog).
    fn read_topics_and_catalog(
        &self,
        request: &ReadRequest,
    ) -> Result<TopicsAndCatalog, KafkaError> {
        let catalog_topic = request.catalog_topic.as_str();
        let first: BTreeSet<&str> = request
            .topics
            .iter()
            .map(String::as_str)
            .chain([catalog_topic])
            .collect();
        // The managed topics' metadata only (declared and the catalog topic now, recorded ones
        // once the catalog is read): never every topic of a cluster the repo shares.
        let mut visible = self.topic_shapes(&first)?;
        let keys = request.config_keys.as_ref();
        // The catalog is read while the configs load when the metadata shows its topic; whether
        // it exists is still decided by DescribeConfigs, as for every topic.
        let (configs, early) = std::thread::scope(|s| {
            let early = visible
                .get(catalog_topic)
                .map(|shape| s.spawn(move || self.read_catalog(catalog_topic, &shape.partitions)));
            let configs = self.describe_configs_of(&first, keys);
            // A panic in the catalog thread is a bug in this crate; re-raise it here.
            let early = early.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            (configs, early)
        });
        let mut configs = configs?;
        let catalog_topic_exists = configs.contains_key(catalog_topic);
        let catalog = match early {
            _ if !catalog_topic_exists => BTreeMap::new(),
            Some(read) => read?,
            None => {
                let shape = self.shape(&visible, catalog_topic)?;
                self.read_catalog(catalog_topic, &shape.partitions)?
            }
        };
        // Keys only the catalog names (declared at an earlier apply, since removed from every
        // file) are compared too: read them for the declared topics as well.
        let keys: Option<BTreeSet<String>> = keys.map(|asked| {
            let recorded = catalog.values().flat_map(|r| {
                let applied = r.applied.iter().flat_map(|a| a.configs.keys());
                r.declared_configs.iter().chain(applied)
            });
            asked.iter().chain(recorded).cloned().collect()
        });
        if let (Some(all), Some(asked)) = (&keys, &request.config_keys)
            && all.len() > asked.len()
        {
            let more: BTreeSet<String> = all.difference(asked).cloned().collect();
            for (topic, extra) in self.describe_configs_of(&first, Some(&more))? {
                configs.entry(topic).or_default().extend(extra);
            }
        }
        let recorded: BTreeSet<&str> = catalog
            .values()
            .map(|r| r.topic.as_str())
            .filter(|t| !first.contains(t))
            .collect();
        configs.extend(self.describe_configs_of(&recorded, keys.as_ref())?);
        visible.extend(self.topic_shapes(&recorded)?);
        let managed: BTreeSet<&str> = request
            .topics
            .iter()
            .map(String::as_str)
            .chain(recorded)
            .collect();
        let mut topics = BTreeMap::new();
        for (name, configs) in configs {
            if !managed.contains(name.as_str()) {
                continue;
            }
            let shape = self.shape(&visible, &name)?;
            let topic = LiveTopic {
                name: name.clone(),
                partitions: i32::try_from(shape.partitions.len()).unwrap_or(i32::MAX),
                replication_factor: shape.replication_factor,
                configs,
            };
            topics.insert(name, topic);
        }
        Ok(TopicsAndCatalog {
            catalog_topic_exists,
            catalog,
            topics,
        })
    }

    /// The metadata of a topic DescribeConfigs showed to exist; missing from the metadata means
    /// the principal may not DESCRIBE it.
    fn shape<'a>(
        &self,
        visible: &'a BTreeMap<String, TopicShape>,
        topic: &str,
    ) -> Result<&'a TopicShape, KafkaError> {
        visible.get(topic).ok_or_else(|| {
            self.failure(
                &format!("describe topic {topic}"),
                Some(RDKafkaErrorCode::TopicAuthorizationFailed),
                "the topic exists but the metadata leaves it out (DESCRIBE is not allowed)",
            )
        })
    }

    /// The metadata of these topics: up to [`DESCRIBE_TOPICS_MAX`] of them from one
    /// DescribeTopics naming them (so a repo that manages a few topics of a large cluster reads
    /// only those), more from one metadata request for every topic. A topic that does not
    /// exist, that the principal may not describe or that the metadata has an error for is
    /// left out.
    pub(crate) fn describe_managed(
        &self,
        topics: &BTreeSet<&str>,
    ) -> Result<Vec<TopicDescription>, KafkaError> {
        if topics.len() <= DESCRIBE_TOPICS_MAX {
            let names: Vec<&str> = topics.iter().copied().collect();
            return self
                .admin()
                .describe_topics(&names)
                .map_err(|e| self.admin_failure("describe topics", e));
        }
        Ok(self
            .every_topic()?
            .into_iter()
            .filter(|t| topics.contains(t.name.as_str()))
            .collect())
    }

    /// The partitions and replication factor of these topics ([`Self::describe_managed`]).
    pub(crate) fn topic_shapes(
        &self,
        topics: &BTreeSet<&str>,
    ) -> Result<BTreeMap<String, TopicShape>, KafkaError> {
        Ok(self
            .describe_managed(topics)?
            .into_iter()
            .map(|t| (t.name.clone(), TopicShape::of(&t)))
            .collect())
    }

    /// One metadata request for all topics: each topic's partitions and replication factor (of
    /// partition 0). Topics the metadata reports an error for (being deleted, say) are left out.
    pub(crate) fn topic_metadata(&self) -> Result<BTreeMap<String, TopicShape>, KafkaError> {
        Ok(self
            .every_topic()?
            .iter()
            .map(|t| (t.name.clone(), TopicShape::of(t)))
            .collect())
    }

    /// One metadata request for all topics: each topic with its partitions, sorted. Topics the
    /// metadata reports an error for (being deleted, say), or shows without partitions, are
    /// left out.
    fn every_topic(&self) -> Result<Vec<TopicDescription>, KafkaError> {
        let md = self
            .producer
            .client()
            .fetch_metadata(None, self.timeout)
            .map_err(|e| self.rd_failure("read the cluster metadata", &e))?;
        let topics = md
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .map(|t| {
                let mut partitions: Vec<PartitionDescription> = t
                    .partitions()
                    .iter()
                    .map(|p| PartitionDescription {
                        id: p.id(),
                        leader: (p.leader() >= 0).then_some(p.leader()),
                        replicas: p.replicas().to_vec(),
                        isr: p.isr().len(),
                    })
                    .collect();
                partitions.sort_unstable_by_key(|p| p.id);
                TopicDescription {
                    name: t.name().to_owned(),
                    partitions,
                }
            })
            .collect();
        Ok(topics)
    }

    /// What the metadata says about the brokers and the `topics` (managed ones): which brokers
    /// answered, which brokers the replica lists name that did not, and how many partitions are
    /// under-replicated or without a leader. For a note in plans made while a broker is down.
    pub fn health(&self, topics: &BTreeSet<String>) -> Result<Health, KafkaError> {
        let admin = self.admin();
        let brokers: BTreeSet<i32> = admin
            .broker_ids()
            .map_err(|e| self.admin_failure("describe the cluster", e))?
            .into_iter()
            .collect();
        let described = self.describe_managed(&topics.iter().map(String::as_str).collect())?;
        let mut health = Health {
            brokers: brokers.clone(),
            ..Health::default()
        };
        for p in described.iter().flat_map(|t| &t.partitions) {
            health
                .missing_brokers
                .extend(p.replicas.iter().filter(|r| !brokers.contains(r)));
            if p.leader.is_none() {
                health.leaderless += 1;
            }
            if p.isr < p.replicas.len() {
                health.under_replicated += 1;
            }
        }
        Ok(health)
    }

    /// DescribeConfigs for `topics` (every config, or only `keys`), [`DESCRIBE_BATCH`] per
    /// request and up to [`DESCRIBE_IN_FLIGHT`] requests at once; a topic that does not exist
    /// is left out of the answer, one the principal may not describe is an error.
    pub(crate) fn describe_configs_of(
        &self,
        topics: &BTreeSet<&str>,
        keys: Option<&BTreeSet<String>>,
    ) -> Result<BTreeMap<String, crate::ffi::TopicConfigs>, KafkaError> {
        let names: Vec<&str> = topics.iter().copied().collect();
        let chunks: Vec<&[&str]> = names.chunks(DESCRIBE_BATCH).collect();
        let keys: Option<Vec<&str>> = keys.map(|k| k.iter().map(String::as_str).collect());
        let describe = |chunk: &[&str]| {
            self.admin()
                .describe_topic_configs(chunk, keys.as_deref())
                .map_err(|e| self.admin_failure("describe topic configs", e))
        };
        // A shared queue of chunks: each worker takes the next one when its answer is in.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || {
            let mut answers = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(chunk) = chunks.get(i) else {
                    return Ok(answers);
                };
                answers.push(describe(chunk)?);
            }
        };
        let workers = DESCRIBE_IN_FLIGHT.min(chunks.len());
        let answers: Vec<Result<Vec<_>, KafkaError>> = if workers <= 1 {
            vec![work()]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..workers).map(|_| s.spawn(work)).collect();
                handles
                    .into_iter()
                    // A panic in a worker is a bug in this crate; re-raise it here.
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        };
        let mut out = BTreeMap::new();
        for results in answers {
            for (name, result) in results?.into_iter().flatten() {
                match result {
                    Ok(configs) => {
                        out.insert(name, configs);
                    }
                    // Does not exist (or was deleted since the metadata request).
                    Err(e) if e.code == RDKafkaErrorCode::UnknownTopicOrPartition => {}
                    Err(e) => {
                        let action = format!("describe the configs of topic {name}");
                        return Err(self.failure(&action, Some(e.code), &e.message));
                    }
                }
            }
        }
        Ok(out)
    }

    /// All ACL bindings of `principals`. Up to [`PER_PRINCIPAL_READS`] principals, one
    /// DescribeAcls each (all in flight at once), so a repo that manages a few principals on a
    /// cluster with many others' bindings reads only its own; beyond that, one DescribeAcls
    /// that matches everything, filtered here (a Kafka filter takes one principal, and the
    /// broker scans its bindings once per filter).
    pub(crate) fn principal_acls(
        &self,
        principals: &BTreeSet<String>,
    ) -> Result<BTreeSet<AclBinding>, KafkaError> {
        if principals.is_empty() {
            return Ok(BTreeSet::new());
        }
        self.check_may_describe_acls()?;
        let admin = self.admin();
        let all = if principals.len() <= PER_PRINCIPAL_READS {
            let names: Vec<&str> = principals.iter().map(String::as_str).collect();
            admin.describe_acls_of(&names)
        } else {
            admin.describe_all_acls()
        }
        .map_err(|e| self.admin_failure("describe ACLs", e))?;
        Ok(all
            .into_iter()
            .filter(|b| principals.contains(&*b.principal))
            .collect())
    }

    /// librdkafka returns an empty list, not an error, when DescribeAcls is refused: asks
    /// DescribeCluster first whether the principal may describe ACLs.
    pub(crate) fn check_may_describe_acls(&self) -> Result<(), KafkaError> {
        let allowed = self
            .admin()
            .cluster_authorized_operations()
            .map_err(|e| self.admin_failure("describe the cluster", e))?;
        if !allowed
            .iter()
            .any(|op| matches!(op, Operation::Describe | Operation::Alter | Operation::All))
        {
            return Err(self.failure(
                "describe ACLs",
                Some(RDKafkaErrorCode::ClusterAuthorizationFailed),
                "DESCRIBE on the cluster is not allowed",
            ));
        }
        Ok(())
    }

    /// The catalog: every record of `topic` up to the high watermarks measured now, the latest
    /// per key winning and tombstones removing. The topic is compacted, so this is the last
    /// applied state of each product.
    pub(crate) fn read_catalog(
        &self,
        topic: &str,
        partitions: &[i32],
    ) -> Result<BTreeMap<String, CatalogRecord>, KafkaError> {
        let action = format!("read the catalog topic {topic}");
        let consumer = self.reader_consumer()?;
        // Where each partition ends now; records written after this are not part of the read.
        let mut ends = BTreeMap::new();
        let mut assignment = TopicPartitionList::new();
        for &p in partitions {
            let (low, high) = consumer
                .fetch_watermarks(topic, p, self.timeout)
                .map_err(|e| self.rd_failure(&action, &e))?;
            if high > low {
                ends.insert(p, high);
                assignment
                    .add_partition_offset(topic, p, Offset::Offset(low))
                    .map_err(|e| self.rd_failure(&action, &e))?;
            }
        }
        let mut latest: BTreeMap<String, Option<CatalogRecord>> = BTreeMap::new();
        let mut names = Names::default();
        if ends.is_empty() {
            return Ok(BTreeMap::new());
        }
        consumer
            .assign(&assignment)
            .map_err(|e| self.rd_failure(&action, &e))?;
        let mut pending: BTreeSet<i32> = ends.keys().copied().collect();
        let deadline = Instant::now() + self.timeout;
        while !pending.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.failure(&action, Some(RDKafkaErrorCode::RequestTimedOut), ""));
            }
            match consumer.poll(left.min(Duration::from_millis(500))) {
                None => {}
                Some(Ok(message)) => {
                    let (p, offset) = (message.partition(), message.offset());
                    if !pending.contains(&p) || offset >= ends[&p] {
                        continue;
                    }
                    let (key, mut record) = CatalogRecord::decode(message.key(), message.payload())
                        .map_err(|detail| catalog_error(topic, p, offset, detail))?;
                    if let Some(record) = &mut record {
                        record.share_names(&mut names);
                    }
                    latest.insert(key, record);
                    if offset + 1 >= ends[&p] {
                        pending.remove(&p);
                    }
                }
                // Reached the end of a partition (compaction can leave the last offsets empty).
                Some(Err(RdKafkaError::PartitionEOF(p))) => {
                    pending.remove(&p);
                }
                Some(Err(e)) if is_group_noise(&e) => {}
                Some(Err(e)) => return Err(self.rd_failure(&action, &e)),
            }
        }
        Ok(latest
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect())
    }

    /// A consumer that reports partition ends. librdkafka needs a `group.id` to assign
    /// partitions, but this consumer never subscribes (so never joins the group) and never
    /// commits: it reads from explicit offsets.
    pub(crate) fn reader_consumer(&self) -> Result<BaseConsumer<MeshContext>, KafkaError> {
        let mut config = self.settings.config.clone();
        config
            .set("group.id", CATALOG_READER_GROUP)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("allow.auto.create.topics", "false")
            // librdkafka fetches ahead up to 64 MiB by default: a whole catalog of 10,000
            // products (~20 MiB) sat in its buffers while the records were decoded. A few
            // fetches ahead keep the read as fast (docs/benchmarks.md, "Session 9").
            .set("queued.max.messages.kbytes", "4096")
            // and look again soon when the queue was full (the default waits a second).
            .set("fetch.queue.backoff.ms", "5");
        config
            .create_with_context(self.context.clone())
            .map_err(|e: RdKafkaError| KafkaError::Config {
                detail: self.settings.redactor.apply(&e.to_string()),
            })
    }
}

impl ClusterReader for KafkaCluster {
    fn read(&self, request: &ReadRequest) -> Result<LiveState, AdapterError> {
        self.read_state(request).map_err(AdapterError::from)
    }

    fn acls_of(&self, principals: &BTreeSet<String>) -> Result<BTreeSet<AclBinding>, AdapterError> {
        self.principal_acls(principals).map_err(AdapterError::from)
    }

    fn group_activity(
        &self,
        topics: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<GroupActivity>>, AdapterError> {
        KafkaCluster::group_activity(self, topics).map_err(AdapterError::from)
    }

    /// A broker down does not stop a plan, but people should know what it was made from; a
    /// health check that fails says nothing.
    fn health_note(&self, topics: &BTreeSet<String>) -> Option<String> {
        self.health(topics).ok().and_then(|h| h.note())
    }
}

fn catalog_error(topic: &str, partition: i32, offset: i64, detail: String) -> KafkaError {
    KafkaError::Catalog {
        topic: topic.to_owned(),
        partition,
        offset,
        detail,
    }
}

/// An error a reader of assigned partitions rides out: about the consumer group (librdkafka
/// looks up the coordinator of any consumer with a `group.id`, but such a reader needs no group,
/// so a principal without rights on it, or a coordinator not ready yet, is no error), or about
/// one broker of several being unreachable.
pub(crate) fn is_group_noise(e: &RdKafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::GroupAuthorizationFailed
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                // One broker of several going away (its connection fails, its partitions move
                // to another leader): librdkafka reconnects and fetches from the new leader, so
                // the reader goes on until its deadline rather than failing the plan.
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotLeaderForPartition
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_notes_only_trouble() {
        assert_eq!(Health::default().note(), None);
        let h = Health {
            brokers: [1, 2].into(),
            missing_brokers: [3].into(),
            under_replicated: 14,
            leaderless: 0,
        };
        let note = h.note().unwrap();
        assert!(
            note.starts_with("read from broker(s) 1, 2; broker(s) 3 hold replicas"),
            "{note}"
        );
        assert!(
            note.contains("14 partition(s) of managed topics under-replicated"),
            "{note}"
        );
    }
}
