//! Applying a plan (`ClusterWriter`): each call is one batched request, and yields one result
//! per item, carrying the broker's message. Nothing outside the items given is touched. Each
//! request is preceded by a metadata read (`KafkaCluster::refresh_controller`), so that it goes
//! to a broker that is up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mesh_plan::{
    AclBinding, AdapterError, CatalogRecord, ClusterWriter, ConfigChange, ErrorKind, NewTopic,
};
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer};

use crate::error::kind_of;
use crate::ffi::{AdminError, ItemError, NamedResults};
use crate::settings::Redactor;
use crate::{KafkaCluster, KafkaError};

/// Per-item results of a batch in which some items were not sent (invalid or duplicate).
struct Batch {
    results: Vec<Option<Result<(), AdapterError>>>,
    /// Indices of the items to send.
    send: Vec<usize>,
}

impl Batch {
    /// `check` returns the reason an item cannot be sent; an item whose name already appeared
    /// in the batch is refused (librdkafka rejects a batch with duplicate names as a whole).
    fn new<'a>(
        names: impl Iterator<Item = &'a str>,
        check: impl Fn(usize) -> Option<String>,
    ) -> Batch {
        let mut seen = BTreeMap::new();
        let mut results = Vec::new();
        let mut send = Vec::new();
        for (i, name) in names.enumerate() {
            let refusal = if name.contains('\0') {
                Some(format!("{name:?} contains a NUL byte"))
            } else if let Some(first) = seen.insert(name, i) {
                seen.insert(name, first);
                Some(format!(
                    "{name} appears more than once in this batch (first as item {})",
                    first + 1
                ))
            } else {
                check(i)
            };
            match refusal {
                Some(r) => results.push(Some(Err(AdapterError::invalid(r)))),
                None => {
                    results.push(None);
                    send.push(i);
                }
            }
        }
        Batch { results, send }
    }

    /// Fills in the results of the sent items from `(name, result)` pairs; an item the broker
    /// did not answer for gets an error. `action` is what the batch does ("create topics").
    fn finish_by_name(
        mut self,
        redactor: &Redactor,
        action: &str,
        name_of: impl Fn(usize) -> String,
        outcome: Result<NamedResults, AdapterError>,
    ) -> Vec<Result<(), AdapterError>> {
        match outcome {
            Err(whole) => {
                for &i in &self.send {
                    self.results[i] = Some(Err(whole.clone()));
                }
            }
            Ok(answers) => {
                let by_name: BTreeMap<String, Result<(), ItemError>> =
                    answers.into_iter().collect();
                for &i in &self.send {
                    let answer = by_name.get(&name_of(i)).cloned();
                    self.results[i] = Some(match answer {
                        Some(r) => r.map_err(|e| item_error(redactor, action, &e)),
                        None => Err(AdapterError::other(
                            "the broker sent no result for this item",
                        )),
                    });
                }
            }
        }
        self.results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(AdapterError::other("not sent"))))
            .collect()
    }
}

/// One item's error: the broker's message (redacted), of the kind its code stands for.
fn item_error(redactor: &Redactor, action: &str, e: &ItemError) -> AdapterError {
    AdapterError::new(kind_of(e.code, action), redactor.apply(&e.message))
}

impl KafkaCluster {
    /// Waits (at most the timeout) until the metadata shows each topic with at least the given
    /// number of partitions. In KRaft mode a broker answers CreateTopics once the controller
    /// committed the change, and its own metadata catches up a moment later; waiting here
    /// means that a read, or a catalog write, right after a create sees the new topics.
    fn await_metadata(&self, want: &BTreeMap<&str, usize>) {
        if want.is_empty() {
            return;
        }
        let deadline = Instant::now() + self.timeout;
        while Instant::now() < deadline {
            if let Ok(topics) = self.topic_metadata()
                && want
                    .iter()
                    .all(|(t, n)| topics.get(*t).is_some_and(|s| s.partitions.len() >= *n))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A whole-request failure as the error every item of the batch reports.
    fn batch_failure(&self, action: &str, e: AdminError) -> AdapterError {
        self.admin_failure(action, e).into()
    }

    /// [`ClusterWriter::write_catalog`] with a typed error.
    pub fn write_catalog_records(
        &self,
        catalog_topic: &str,
        records: &[(String, Option<CatalogRecord>)],
    ) -> Result<(), KafkaError> {
        let action = format!("write the catalog topic {catalog_topic}");
        if records.is_empty() {
            return Ok(());
        }
        // Created in apply's first phase; a broker may learn of it a moment later.
        if self.partitions_of(catalog_topic)? == 0 {
            return Err(KafkaError::Request {
                action,
                bootstrap: self.settings.bootstrap.clone(),
                detail: "the topic does not exist (apply creates it before writing the catalog)"
                    .into(),
                kind: ErrorKind::NotFound,
            });
        }
        let payloads = records
            .iter()
            .map(|(_, r)| r.as_ref().map(serde_json::to_vec).transpose())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| KafkaError::Request {
                action: action.clone(),
                bootstrap: self.settings.bootstrap.clone(),
                detail: format!("cannot encode a record: {e}"),
                kind: ErrorKind::Invalid,
            })?;
        let producer = &self.producer;
        // Delivery reports land in the shared context: one catalog write at a time.
        let _one_writer = self
            .write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.context.take_deliveries();
        let deadline = Instant::now() + self.timeout;
        for (i, ((key, _), payload)) in records.iter().zip(&payloads).enumerate() {
            let mut record: BaseRecord<'_, [u8], [u8], usize> =
                BaseRecord::with_opaque_to(catalog_topic, i).key(key.as_bytes());
            if let Some(bytes) = payload {
                record = record.payload(bytes.as_slice());
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((RdKafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                        if Instant::now() < deadline =>
                    {
                        // The local queue is full: serve delivery reports, then retry.
                        producer.poll(Duration::from_millis(100));
                        record = back;
                    }
                    Err((e, _)) => {
                        // Do not leave the records already queued to be sent later.
                        let _ = producer.flush(deadline.saturating_duration_since(Instant::now()));
                        return Err(self.rd_failure(&action, &e));
                    }
                }
            }
        }
        producer
            .flush(deadline.saturating_duration_since(Instant::now()))
            .map_err(|e| self.rd_failure(&action, &e))?;
        let mut outcome: Vec<Option<Result<(), String>>> = vec![None; records.len()];
        for (i, result) in self.context.take_deliveries() {
            if let Some(slot) = outcome.get_mut(i) {
                *slot = Some(result.map(|_offset| ()));
            }
        }
        let failures: Vec<String> = outcome
            .iter()
            .zip(records)
            .filter_map(|(o, (key, _))| match o {
                Some(Ok(())) => None,
                Some(Err(e)) => Some(format!("{key}: {e}")),
                None => Some(format!("{key}: no delivery report")),
            })
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(KafkaError::Request {
                action,
                bootstrap: self.settings.bootstrap.clone(),
                detail: format!(
                    "{} of {} records failed: {}",
                    failures.len(),
                    records.len(),
                    failures.join("; ")
                ),
                kind: ErrorKind::Other,
            })
        }
    }
}

impl ClusterWriter for KafkaCluster {
    fn create_topics(&self, topics: &[NewTopic]) -> Vec<Result<(), AdapterError>> {
        let batch = Batch::new(topics.iter().map(|t| t.name.as_str()), |i| {
            let t = &topics[i];
            // librdkafka's own limits (it would refuse the whole batch otherwise).
            if !(1..=100_000).contains(&t.partitions) {
                return Some(format!("partition count {} is out of range", t.partitions));
            }
            if !(1..=i32::from(i16::MAX)).contains(&t.replication_factor) {
                let rf = t.replication_factor;
                return Some(format!("replication factor {rf} is out of range"));
            }
            t.config
                .iter()
                .find(|(k, v)| k.contains('\0') || v.contains('\0'))
                .map(|(k, _)| format!("config {k:?} contains a NUL byte"))
        });
        if batch.send.is_empty() {
            return batch.finish_by_name(
                &self.settings.redactor,
                "create topics",
                |i| topics[i].name.clone(),
                Ok(Vec::new()),
            );
        }
        let send: Vec<NewTopic> = batch.send.iter().map(|&i| topics[i].clone()).collect();
        self.refresh_controller();
        let outcome = self
            .admin()
            .create_topics(&send)
            .map_err(|e| self.batch_failure("create topics", e));
        let results = batch.finish_by_name(
            &self.settings.redactor,
            "create topics",
            |i| topics[i].name.clone(),
            outcome,
        );
        let created: BTreeMap<&str, usize> = topics
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(t, _)| (t.name.as_str(), usize::try_from(t.partitions).unwrap_or(0)))
            .collect();
        self.await_metadata(&created);
        results
    }

    fn alter_configs(&self, changes: &[ConfigChange]) -> Vec<Result<(), AdapterError>> {
        let batch = Batch::new(changes.iter().map(|c| c.topic.as_str()), |i| {
            let c = &changes[i];
            if let Some(k) = c.set.keys().find(|k| c.delete.contains(*k)) {
                return Some(format!("config {k} is both set and deleted"));
            }
            let keys = c.set.iter().flat_map(|(k, v)| [k, v]).chain(&c.delete);
            keys.into_iter()
                .find(|s| s.contains('\0'))
                .map(|s| format!("{s:?} contains a NUL byte"))
        });
        // A change with nothing to do needs no request.
        let (empty, send): (Vec<usize>, Vec<usize>) = batch
            .send
            .iter()
            .partition(|&&i| changes[i].set.is_empty() && changes[i].delete.is_empty());
        let mut batch = batch;
        for i in empty {
            batch.results[i] = Some(Ok(()));
        }
        batch.send = send;
        if batch.send.is_empty() {
            return batch.finish_by_name(
                &self.settings.redactor,
                "alter topic configs",
                |i| changes[i].topic.clone(),
                Ok(Vec::new()),
            );
        }
        let send: Vec<ConfigChange> = batch.send.iter().map(|&i| changes[i].clone()).collect();
        self.refresh_controller();
        let outcome = self
            .admin()
            .incremental_alter_configs(&send)
            .map_err(|e| self.batch_failure("alter topic configs", e));
        batch.finish_by_name(
            &self.settings.redactor,
            "alter topic configs",
            |i| changes[i].topic.clone(),
            outcome,
        )
    }

    fn create_partitions(&self, topics: &[(String, i32)]) -> Vec<Result<(), AdapterError>> {
        let batch = Batch::new(topics.iter().map(|(t, _)| t.as_str()), |i| {
            (topics[i].1 < 1).then(|| format!("partition count {} is not positive", topics[i].1))
        });
        if batch.send.is_empty() {
            return batch.finish_by_name(
                &self.settings.redactor,
                "create partitions",
                |i| topics[i].0.clone(),
                Ok(Vec::new()),
            );
        }
        let send: Vec<(String, i32)> = batch.send.iter().map(|&i| topics[i].clone()).collect();
        self.refresh_controller();
        let outcome = self
            .admin()
            .create_partitions(&send)
            .map_err(|e| self.batch_failure("create partitions", e));
        let results = batch.finish_by_name(
            &self.settings.redactor,
            "create partitions",
            |i| topics[i].0.clone(),
            outcome,
        );
        let grown: BTreeMap<&str, usize> = topics
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|((t, n), _)| (t.as_str(), usize::try_from(*n).unwrap_or(0)))
            .collect();
        self.await_metadata(&grown);
        results
    }

    fn delete_topics(&self, topics: &[String]) -> Vec<Result<(), AdapterError>> {
        let batch = Batch::new(topics.iter().map(String::as_str), |_| None);
        if batch.send.is_empty() {
            return batch.finish_by_name(
                &self.settings.redactor,
                "delete topics",
                |i| topics[i].clone(),
                Ok(Vec::new()),
            );
        }
        let send: Vec<String> = batch.send.iter().map(|&i| topics[i].clone()).collect();
        self.refresh_controller();
        let outcome = self
            .admin()
            .delete_topics(&send)
            .map_err(|e| self.batch_failure("delete topics", e));
        batch.finish_by_name(
            &self.settings.redactor,
            "delete topics",
            |i| topics[i].clone(),
            outcome,
        )
    }

    fn create_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        if acls.is_empty() {
            return Vec::new();
        }
        self.refresh_controller();
        match self.admin().create_acls(acls) {
            Ok(results) => results
                .into_iter()
                .map(|r| r.map_err(|e| item_error(&self.settings.redactor, "create ACLs", &e)))
                .collect(),
            Err(e) => vec![Err(self.batch_failure("create ACLs", e)); acls.len()],
        }
    }

    fn delete_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        if acls.is_empty() {
            return Vec::new();
        }
        self.refresh_controller();
        match self.admin().delete_acls(acls) {
            // Deleting a binding that is already gone is a success: the end state is the same.
            Ok(results) => results
                .into_iter()
                .map(|r| {
                    r.map(|_matched| ())
                        .map_err(|e| item_error(&self.settings.redactor, "delete ACLs", &e))
                })
                .collect(),
            Err(e) => vec![Err(self.batch_failure("delete ACLs", e)); acls.len()],
        }
    }

    fn write_catalog(
        &self,
        catalog_topic: &str,
        records: &[(String, Option<CatalogRecord>)],
    ) -> Result<(), AdapterError> {
        self.write_catalog_records(catalog_topic, records)
            .map_err(AdapterError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_refuse_duplicates_and_invalid_items_without_sending_them() {
        let names = ["a", "b", "a", "c\0", "d"];
        let batch = Batch::new(names.iter().copied(), |i| {
            (i == 4).then(|| "bad".to_owned())
        });
        assert_eq!(batch.send, vec![0, 1]);
        let results = batch.finish_by_name(
            &Redactor::default(),
            "create topics",
            |i| names[i].to_owned(),
            Ok(vec![
                ("a".into(), Ok(())),
                (
                    "b".into(),
                    Err(ItemError {
                        code: RDKafkaErrorCode::TopicAlreadyExists,
                        message: "exists".into(),
                    }),
                ),
            ]),
        );
        let err = |i: usize| results[i].clone().unwrap_err();
        assert_eq!(results[0], Ok(()));
        assert_eq!(err(1), AdapterError::new(ErrorKind::Conflict, "exists"));
        assert!(err(2).message.contains("more than once"));
        assert!(err(3).message.contains("NUL"));
        assert_eq!(err(4), AdapterError::invalid("bad"));
        for i in 2..5 {
            assert_eq!(err(i).kind, ErrorKind::Invalid, "{}", err(i));
        }
    }

    #[test]
    fn a_whole_batch_failure_is_every_sent_item_s_error() {
        let names = ["a", "b"];
        let batch = Batch::new(names.iter().copied(), |_| None);
        let down = AdapterError::new(ErrorKind::Unreachable, "down");
        let results = batch.finish_by_name(
            &Redactor::default(),
            "create topics",
            |i| names[i].to_owned(),
            Err(down.clone()),
        );
        assert_eq!(results, vec![Err(down.clone()), Err(down)]);
        let batch = Batch::new(names.iter().copied(), |_| None);
        let results = batch.finish_by_name(
            &Redactor::default(),
            "create topics",
            |i| names[i].to_owned(),
            Ok(vec![("a".into(), Ok(()))]),
        );
        assert!(
            results[1]
                .as_ref()
                .unwrap_err()
                .message
                .contains("no result")
        );
    }

    #[test]
    fn item_errors_keep_the_broker_s_message_redacted_and_get_the_kind_of_their_code() {
        let e = |code, message: &str| ItemError {
            code,
            message: message.into(),
        };
        let r = Redactor::default();
        let denied = item_error(
            &r,
            "create ACLs",
            &e(RDKafkaErrorCode::ClusterAuthorizationFailed, "denied"),
        );
        assert_eq!(
            denied.kind,
            ErrorKind::Unauthorized {
                operation: "create ACLs".into()
            }
        );
        assert_eq!(denied.message, "denied");
        let gone = item_error(
            &r,
            "delete topics",
            &e(RDKafkaErrorCode::UnknownTopicOrPartition, "unknown topic"),
        );
        assert_eq!(gone.kind, ErrorKind::NotFound);
        let invalid = item_error(
            &r,
            "create partitions",
            &e(RDKafkaErrorCode::InvalidPartitions, "cannot shrink"),
        );
        assert_eq!(invalid.kind, ErrorKind::Invalid);
    }
}
