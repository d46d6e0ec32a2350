//! The Kafka side of the apply lock (the state machine is `mesh_plan::lock`): the lock topic
//! (one partition, broker timestamps), appending a record with `acks=all` and learning its
//! offset, and reading the partition from its start up to a given offset.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use mesh_plan::NewTopic;
use mesh_plan::lock::{LockEvent, LockRecord};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::{KafkaCluster, KafkaError};

/// The key of every lock record (one partition: the key only documents what the record is).
const KEY: &[u8] = b"mesh-apply-lock";

/// Lock records are kept a week: far longer than any lease, short enough to stay small.
const RETENTION_MS: &str = "604800000";

impl KafkaCluster {
    /// Creates the lock topic when it does not exist (one partition, `LogAppendTime`, up to
    /// three replicas); checks that an existing one has exactly one partition and broker
    /// timestamps, since the lock is only safe with both.
    pub fn ensure_lock_topic(&self, topic: &str) -> Result<(), KafkaError> {
        let action = format!("prepare the lock topic {topic}");
        if !self.lock_topic_exists(topic)? {
            let brokers = self
                .admin()
                .broker_ids()
                .map_err(|e| self.admin_failure(&action, e))?
                .len();
            let replicas = brokers.clamp(1, 3) as i32;
            let mut config = BTreeMap::from([
                ("message.timestamp.type".to_string(), "LogAppendTime".into()),
                ("cleanup.policy".to_string(), "delete".into()),
                ("retention.ms".to_string(), RETENTION_MS.into()),
            ]);
            if replicas == 3 {
                // acks=all means two copies at least, so a claim survives a broker's loss.
                config.insert("min.insync.replicas".into(), "2".into());
            }
            let new = NewTopic {
                name: topic.to_owned(),
                partitions: 1,
                replication_factor: replicas,
                config,
            };
            let answers = self
                .admin()
                .create_topics(&[new])
                .map_err(|e| self.admin_failure(&action, e))?;
            for (_, answer) in answers {
                match answer {
                    Ok(()) => {}
                    // Another mesh created it first: fine, it is checked below.
                    Err(e) if e.code == RDKafkaErrorCode::TopicAlreadyExists => {}
                    Err(e) => return Err(self.failure(&action, Some(e.code), &e.message)),
                }
            }
        }
        // Each metadata request may reach another broker, and a broker learns of a new topic a
        // moment after the controller made it: "not there yet" is waited out, not refused.
        let partitions = self.partitions_of(topic)?;
        if partitions != 1 {
            return Err(self.lock_topic_refused(
                &action,
                format!("it has {partitions} partitions; the lock needs exactly one"),
            ));
        }
        // The configs of a topic just made may not be known yet to the broker asked (found on
        // three brokers under load): an answer without the value is asked again, until the
        // timeout; only a value, or still none at the end, is judged.
        let kind = self.poll(Duration::from_millis(200), || {
            let configs = self
                .admin()
                .describe_topic_configs(&[topic], None)
                .map_err(|e| self.admin_failure(&action, e))?;
            Ok(configs
                .into_iter()
                .find(|(name, _)| name == topic)
                .and_then(|(_, r)| r.ok())
                .and_then(|c| c.get("message.timestamp.type").cloned())
                .and_then(|c| c.value))
        })?;
        if kind.as_deref() != Some("LogAppendTime") {
            return Err(self.lock_topic_refused(
                &action,
                format!(
                    "message.timestamp.type is {}; the lock needs LogAppendTime (broker clocks)",
                    kind.as_deref().unwrap_or("unknown")
                ),
            ));
        }
        Ok(())
    }

    /// Whether the lock topic exists (`mesh unlock` on a cluster never locked creates nothing).
    pub fn lock_topic_exists(&self, topic: &str) -> Result<bool, KafkaError> {
        Ok(self
            .topic_shapes(&BTreeSet::from([topic]))?
            .contains_key(topic))
    }

    fn lock_topic_refused(&self, action: &str, why: String) -> KafkaError {
        KafkaError::Request {
            action: action.to_owned(),
            bootstrap: self.settings.bootstrap.clone(),
            detail: format!("{why} (help: delete the topic; mesh creates it again on first use)"),
            kind: mesh_plan::ErrorKind::Invalid,
        }
    }

    /// The partition count of `topic` (0: absent), waiting (up to the timeout) while the
    /// metadata does not show it yet.
    pub(crate) fn partitions_of(&self, topic: &str) -> Result<usize, KafkaError> {
        let n = self.poll(Duration::from_millis(100), || {
            let topics = self.topic_shapes(&BTreeSet::from([topic]))?;
            Ok(topics
                .get(topic)
                .map(|s| s.partitions.len())
                .filter(|&n| n > 0))
        })?;
        Ok(n.unwrap_or(0))
    }

    /// Asks `ask` every `every` until it has an answer or the timeout has passed (`None`):
    /// for what a broker learns a moment after the controller decided it.
    fn poll<T>(
        &self,
        every: Duration,
        mut ask: impl FnMut() -> Result<Option<T>, KafkaError>,
    ) -> Result<Option<T>, KafkaError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let answer = ask()?;
            if answer.is_some() || Instant::now() >= deadline {
                return Ok(answer);
            }
            std::thread::sleep(every);
        }
    }

    /// Appends a lock record with `acks=all` and returns its offset.
    pub fn append_lock_event(&self, topic: &str, event: &LockEvent) -> Result<i64, KafkaError> {
        let action = format!("write the lock topic {topic}");
        // Serialising a lock event cannot fail: plain strings and numbers.
        let payload = serde_json::to_vec(event).expect("a lock event serialises");
        // Delivery reports land in the shared context: one write at a time.
        let _one_writer = self
            .write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.context.take_deliveries();
        let record: BaseRecord<'_, [u8], [u8], usize> = BaseRecord::with_opaque_to(topic, 0)
            .key(KEY)
            .payload(payload.as_slice())
            .partition(0);
        if let Err((e, _)) = self.producer.send(record) {
            return Err(self.rd_failure(&action, &e));
        }
        self.producer
            .flush(self.timeout)
            .map_err(|e| self.rd_failure(&action, &e))?;
        match self
            .context
            .take_deliveries()
            .into_iter()
            .find(|(i, _)| *i == 0)
        {
            Some((_, Ok(offset))) => Ok(offset),
            Some((_, Err(detail))) => Err(KafkaError::Request {
                action,
                bootstrap: self.settings.bootstrap.clone(),
                detail,
                kind: mesh_plan::ErrorKind::Other,
            }),
            None => Err(self.failure(&action, Some(RDKafkaErrorCode::MessageTimedOut), "")),
        }
    }

    /// The lock records from the start of the partition up to `upto` (inclusive), or up to the
    /// end as it is now when `upto` is `None`. Records that are not lock events (written by
    /// something else) are skipped: every reader skips them alike, so they decide nothing.
    pub fn read_lock_records(
        &self,
        topic: &str,
        upto: Option<i64>,
    ) -> Result<Vec<LockRecord>, KafkaError> {
        let action = format!("read the lock topic {topic}");
        let consumer = self.reader_consumer()?;
        let (low, high) = consumer
            .fetch_watermarks(topic, 0, self.timeout)
            .map_err(|e| self.rd_failure(&action, &e))?;
        let last = match upto {
            Some(offset) => offset,
            None => high - 1,
        };
        if last < low {
            return Ok(Vec::new());
        }
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, 0, Offset::Offset(low))
            .map_err(|e| self.rd_failure(&action, &e))?;
        consumer
            .assign(&assignment)
            .map_err(|e| self.rd_failure(&action, &e))?;
        let mut records = Vec::new();
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.failure(&action, Some(RDKafkaErrorCode::RequestTimedOut), ""));
            }
            match consumer.poll(left.min(Duration::from_millis(500))) {
                None => {}
                Some(Ok(message)) => {
                    let offset = message.offset();
                    if offset > last {
                        break;
                    }
                    let event = LockEvent::decode(message.payload());
                    if let Some(event) = event {
                        records.push(LockRecord {
                            offset,
                            timestamp_ms: message.timestamp().to_millis().unwrap_or(0),
                            event,
                        });
                    }
                    if offset >= last {
                        break;
                    }
                }
                // The end as the broker saw it; the record waited for is acknowledged by all
                // in-sync replicas, so it shows up (keep polling until the deadline).
                Some(Err(RdKafkaError::PartitionEOF(_))) => {}
                // The reader never joins its group (see `reader_consumer`).
                Some(Err(e)) if crate::read::is_group_noise(&e) => {}
                Some(Err(e)) => return Err(self.rd_failure(&action, &e)),
            }
        }
        Ok(records)
    }
}
