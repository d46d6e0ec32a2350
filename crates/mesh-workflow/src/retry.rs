//! Retries with backoff: wrappers around the adapter traits that send a request again after a
//! transient failure (nothing answered, or not in time) — blindly only where sending it twice
//! has the effect of sending it once, and after looking at the cluster where it does not.
//!
//! | operation | idempotent? | after a transient failure |
//! | --- | --- | --- |
//! | every read (cluster state, ACLs, group activity, subjects, compatibility checks) | yes | sent again |
//! | alter topic configs (incremental SET/DELETE of values) | yes | sent again |
//! | delete ACLs (exact bindings; one already gone is a success) | yes | sent again |
//! | write catalog records (keyed, compacted: the last record per key wins) | yes | sent again |
//! | set a compatibility level (`PUT /config/{s}`) | yes | sent again |
//! | register a schema (`POST /subjects/{s}/versions`: the same text returns the same id, no new version) | yes, by content | sent again |
//! | delete a subject (soft + hard + config; each "already gone" is a success) | yes | sent again |
//! | create topics | no (the second attempt meets the first) | the topics are read: one there as planned is done, one absent is created again, one there but different is a conflict |
//! | create partitions (raise to a total) | no | read: at the total is done, below is sent again |
//! | delete topics | no | read: gone is done, still there is sent again |
//! | create ACLs | not assumed | the principals' ACLs are read: a binding present is done, a missing one is sent again |
//!
//! Every other failure (refused, invalid, unauthorized, not found, a conflict, an unclassified
//! server error such as HTTP 500) is returned at once: sending it again would meet the same
//! answer, or might do something nobody planned.
//!
//! The wait between two attempts grows exponentially ([`RetryPolicy`]), and every wait goes
//! through the caller's [`Pause`], which may refuse it (a run's total retry budget is spent, or
//! the run is being cancelled): then the failure stands. This crate has no clock of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mesh_plan::connect::{
    ConfigProblem, ConnectReader, ConnectWriter, ConnectorState, LiveConnector,
};
use mesh_plan::registry::{Compatibility, LiveSubject, RegistryReader, RegistryWriter};
use mesh_plan::{
    AclBinding, AdapterError, CatalogRecord, ClusterReader, ClusterWriter, ConfigChange, ErrorKind,
    GroupActivity, LiveState, NewTopic, ReadRequest,
};

/// How often and how patiently a request is tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (1: no retry).
    pub attempts: u32,
    /// The wait before the first retry; each further retry waits twice as long as the last…
    pub first_delay: Duration,
    /// …but never longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts, waiting 0.25 s, 0.5 s and 1 s between them: at most 1.75 s of waiting
    /// per request on top of the requests' own timeouts.
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the second attempt): `first_delay ×
    /// 2^(retry−1)`, at most `max_delay`.
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.first_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }

    /// The most a request can wait between its attempts.
    pub fn max_total_delay(&self) -> Duration {
        (1..self.attempts).map(|r| self.delay(r)).sum()
    }
}

/// How a retry waits: the caller's clock, and its say on whether to wait at all.
pub trait Pause: Sync {
    /// Waits `delay` before a retry. Returns false, without waiting, when the caller will not
    /// retry any more (its total retry budget is spent, or the run is being cancelled): the
    /// failure then stands.
    fn pause(&self, delay: Duration) -> bool;
}

/// A retry about to happen, for people (`mesh` prints it as a note).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retried {
    /// What is tried again ("register a schema under sales.orders-value").
    pub operation: String,
    /// The attempt about to be made (2 for the first retry), of `attempts`.
    pub attempt: u32,
    pub attempts: u32,
    /// The wait before it.
    pub delay: Duration,
    /// Why: the failure of the previous attempt.
    pub error: AdapterError,
}

/// The retry settings the wrappers share: the policy, the caller's pause, and who hears about
/// each retry.
pub struct Retry<'a> {
    pub policy: RetryPolicy,
    pub pause: &'a dyn Pause,
    pub on_retry: &'a (dyn Fn(&Retried) + Sync),
}

impl Retry<'_> {
    /// Announces retry number `retry` of `operation` and waits for it; false when the caller
    /// refused the wait.
    fn wait(&self, operation: &dyn Fn() -> String, retry: u32, error: &AdapterError) -> bool {
        let delay = self.policy.delay(retry);
        if !self.pause.pause(delay) {
            return false;
        }
        (self.on_retry)(&Retried {
            operation: operation(),
            attempt: retry + 1,
            attempts: self.policy.attempts,
            delay,
            error: error.clone(),
        });
        true
    }

    /// Runs `f` until it succeeds, fails for good, or the attempts or the caller's patience
    /// run out. `idempotent`: whether `f` may simply be sent again.
    pub fn run<T>(
        &self,
        operation: &dyn Fn() -> String,
        idempotent: bool,
        mut f: impl FnMut() -> Result<T, AdapterError>,
    ) -> Result<T, AdapterError> {
        let mut retry = 0;
        loop {
            match f() {
                Err(e)
                    if e.retryable(idempotent)
                        && retry + 1 < self.policy.attempts
                        && self.wait(operation, retry + 1, &e) =>
                {
                    retry += 1;
                }
                result => return result,
            }
        }
    }

    /// A batch of idempotent items: the items that failed transiently are sent again, alone.
    fn batch<I: Clone>(
        &self,
        operation: &dyn Fn() -> String,
        items: &[I],
        send: impl Fn(&[I]) -> Vec<Result<(), AdapterError>>,
    ) -> Vec<Result<(), AdapterError>> {
        let mut results = send(items);
        for retry in 1..self.policy.attempts {
            let pending = transient(&results);
            let Some(&first) = pending.first() else { break };
            if !self.wait(operation, retry, err(&results[first])) {
                break;
            }
            let again: Vec<I> = pending.iter().map(|&i| items[i].clone()).collect();
            for (i, r) in pending.into_iter().zip(send(&again)) {
                results[i] = r;
            }
        }
        results
    }

    /// A batch of items that must not be sent blindly: after a transient failure, `verify`
    /// looks at the cluster; items already as planned are done, items not there are sent again,
    /// items there but otherwise are conflicts. An item refused on its second sending is
    /// looked at once more (the first sending may have landed after all).
    fn checked<I: Clone>(
        &self,
        operation: &dyn Fn() -> String,
        items: &[I],
        send: impl Fn(&[I]) -> Vec<Result<(), AdapterError>>,
        verify: impl Fn(&[&I]) -> Result<Vec<Verdict>, AdapterError>,
    ) -> Vec<Result<(), AdapterError>> {
        let mut results = send(items);
        let mut sent_again = BTreeSet::new();
        for retry in 1..self.policy.attempts {
            let pending = transient(&results);
            let Some(&first) = pending.first() else { break };
            if !self.wait(operation, retry, err(&results[first])) {
                break;
            }
            let refs: Vec<&I> = pending.iter().map(|&i| &items[i]).collect();
            let verdicts = match verify(&refs) {
                Ok(v) => v,
                // The look itself failed: try again next round, if there is one.
                Err(e) if e.is_transient() => continue,
                Err(_) => break,
            };
            let mut resend = Vec::new();
            for (i, v) in pending.into_iter().zip(verdicts) {
                match v {
                    Verdict::Done => results[i] = Ok(()),
                    Verdict::Differs(why) => {
                        results[i] = Err(AdapterError::new(ErrorKind::Conflict, why))
                    }
                    Verdict::Absent => resend.push(i),
                }
            }
            let again: Vec<I> = resend.iter().map(|&i| items[i].clone()).collect();
            let answers = if again.is_empty() {
                Vec::new()
            } else {
                send(&again)
            };
            for (i, r) in resend.into_iter().zip(answers) {
                sent_again.insert(i);
                results[i] = r;
            }
        }
        // Refused after being sent again ("already exists", "already has 6 partitions", "no
        // such topic"): the earlier sending may have landed late. Look once more.
        let refused: Vec<usize> = sent_again
            .into_iter()
            .filter(|&i| results[i].as_ref().is_err_and(|e| !e.is_transient()))
            .collect();
        if !refused.is_empty() {
            let refs: Vec<&I> = refused.iter().map(|&i| &items[i]).collect();
            if let Ok(verdicts) = verify(&refs) {
                for (i, v) in refused.into_iter().zip(verdicts) {
                    if v == Verdict::Done {
                        results[i] = Ok(());
                    }
                }
            }
        }
        results
    }
}

/// What a look at the cluster says about one item of a non-idempotent batch.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// Already as planned: nothing more to do.
    Done,
    /// Not done: may be sent again.
    Absent,
    /// There, but not as planned: someone else's doing, or a partial effect.
    Differs(String),
}

fn transient(results: &[Result<(), AdapterError>]) -> Vec<usize> {
    (0..results.len())
        .filter(|&i| results[i].as_ref().is_err_and(AdapterError::is_transient))
        .collect()
}

fn err(r: &Result<(), AdapterError>) -> &AdapterError {
    match r {
        Err(e) => e,
        Ok(()) => unreachable!("only failed results are pending"),
    }
}

/// A reader or a registry that retries: every call is a read (or, for a registry writer, an
/// idempotent write — see the module docs), sent again after a transient failure.
pub struct Retrying<'a, T: ?Sized> {
    pub inner: &'a T,
    pub retry: &'a Retry<'a>,
}

impl<T: ClusterReader + ?Sized> ClusterReader for Retrying<'_, T> {
    fn read(&self, request: &ReadRequest) -> Result<LiveState, AdapterError> {
        let op = || "read the cluster".to_owned();
        self.retry.run(&op, true, || self.inner.read(request))
    }

    fn acls_of(&self, principals: &BTreeSet<String>) -> Result<BTreeSet<AclBinding>, AdapterError> {
        let op = || "read ACLs".to_owned();
        self.retry.run(&op, true, || self.inner.acls_of(principals))
    }

    fn group_activity(
        &self,
        topics: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<GroupActivity>>, AdapterError> {
        let op = || "read consumer group activity".to_owned();
        self.retry
            .run(&op, true, || self.inner.group_activity(topics))
    }

    fn health_note(&self, topics: &BTreeSet<String>) -> Option<String> {
        self.inner.health_note(topics)
    }
}

impl<T: RegistryReader + ?Sized> RegistryReader for Retrying<'_, T> {
    fn read_subjects(
        &self,
        subjects: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, LiveSubject>, AdapterError> {
        let op = || "read the Schema Registry's subjects".to_owned();
        self.retry
            .run(&op, true, || self.inner.read_subjects(subjects))
    }

    fn check_compatibility(
        &self,
        subject: &str,
        schema_type: &str,
        schema: &str,
        level: Option<&str>,
    ) -> Result<Compatibility, AdapterError> {
        let op = || format!("check the compatibility of a new version of {subject}");
        self.retry.run(&op, true, || {
            self.inner
                .check_compatibility(subject, schema_type, schema, level)
        })
    }
}

impl<T: RegistryWriter + RegistryReader + Sync + ?Sized> RegistryWriter for Retrying<'_, T> {
    fn set_compatibility(&self, subject: &str, level: &str) -> Result<(), AdapterError> {
        let op = || format!("set the compatibility level of {subject}");
        self.retry
            .run(&op, true, || self.inner.set_compatibility(subject, level))
    }

    /// Idempotent by content: the registry answers a text the subject already has with the
    /// existing id and adds no version, so a registration whose answer was lost may be sent
    /// again. Not under every race, though: Apicurio answers a second registration that
    /// arrives while the first is still creating the subject with 409 "already exists". So a
    /// registration refused after a retry is checked: when the subject's latest version is
    /// this text, it is done (the earlier attempt landed), and its id is returned.
    fn register(
        &self,
        subject: &str,
        schema_type: &str,
        schema: &str,
    ) -> Result<i32, AdapterError> {
        let op = || format!("register a schema under {subject}");
        let policy = self.retry.policy;
        let mut retry = 0;
        loop {
            let e = match self.inner.register(subject, schema_type, schema) {
                Ok(id) => return Ok(id),
                Err(e) => e,
            };
            if retry > 0 && !e.is_transient() {
                let look = || -> Option<i32> {
                    let subjects = self
                        .inner
                        .read_subjects(&[subject.to_owned()].into())
                        .ok()?;
                    let latest = subjects.get(subject)?.latest.as_ref()?;
                    latest.is(schema_type, schema).then_some(latest.id)
                };
                if let Some(id) = look() {
                    return Ok(id);
                }
                return Err(e);
            }
            if !(e.retryable(true)
                && retry + 1 < policy.attempts
                && self.retry.wait(&op, retry + 1, &e))
            {
                return Err(e);
            }
            retry += 1;
        }
    }

    fn delete_subject(&self, subject: &str) -> Result<(), AdapterError> {
        let op = || format!("delete the subject {subject}");
        self.retry
            .run(&op, true, || self.inner.delete_subject(subject))
    }
}

impl<T: ConnectReader + ?Sized> ConnectReader for Retrying<'_, T> {
    fn connectors(&self) -> Result<BTreeMap<String, LiveConnector>, AdapterError> {
        let op = || "read the Connect cluster's connectors".to_owned();
        self.retry.run(&op, true, || self.inner.connectors())
    }

    fn validate(
        &self,
        class: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<Vec<ConfigProblem>, AdapterError> {
        let op = || format!("validate a {class} config");
        self.retry
            .run(&op, true, || self.inner.validate(class, config))
    }
}

/// Every Connect write is idempotent: a config PUT replaces the whole config, pause, stop and
/// resume set a state, and the adapter counts a delete of a connector already gone as done.
impl<T: ConnectWriter + ?Sized> ConnectWriter for Retrying<'_, T> {
    fn put_config(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<(), AdapterError> {
        let op = || format!("configure the connector {name}");
        self.retry
            .run(&op, true, || self.inner.put_config(name, config))
    }

    fn set_state(&self, name: &str, state: ConnectorState) -> Result<(), AdapterError> {
        let op = || format!("set the connector {name} {}", state.as_str());
        self.retry
            .run(&op, true, || self.inner.set_state(name, state))
    }

    fn delete(&self, name: &str) -> Result<(), AdapterError> {
        let op = || format!("delete the connector {name}");
        self.retry.run(&op, true, || self.inner.delete(name))
    }
}

/// A cluster writer that retries: idempotent batches are sent again, the others only after
/// `reader` has shown what the failed attempt left behind (see the module docs).
pub struct RetryingWriter<'a, W: ?Sized, R: ?Sized> {
    pub writer: &'a W,
    pub reader: &'a R,
    /// The catalog topic, which a look at the cluster reads too (and which the first phase
    /// may be creating).
    pub catalog_topic: &'a str,
    pub retry: &'a Retry<'a>,
}

impl<W: ClusterWriter + ?Sized, R: ClusterReader + ?Sized> RetryingWriter<'_, W, R> {
    /// The topics (and whether the catalog topic exists) as the reader sees them now.
    fn look(&self, topics: BTreeSet<String>) -> Result<LiveState, AdapterError> {
        self.reader.read(&ReadRequest {
            topics,
            principals: BTreeSet::new(),
            catalog_topic: self.catalog_topic.to_owned(),
            connectors: BTreeSet::new(),
            // Every config: a look is rare, and compares whatever the creates set.
            config_keys: None,
        })
    }

    fn exists(&self, live: &LiveState, topic: &str) -> bool {
        if topic == self.catalog_topic {
            live.catalog_topic_exists
        } else {
            live.topics.contains_key(topic)
        }
    }
}

impl<W: ClusterWriter + ?Sized, R: ClusterReader + ?Sized> ClusterWriter
    for RetryingWriter<'_, W, R>
{
    fn create_topics(&self, topics: &[NewTopic]) -> Vec<Result<(), AdapterError>> {
        let op = || "create topics".to_owned();
        self.retry.checked(
            &op,
            topics,
            |t| self.writer.create_topics(t),
            |pending| {
                let live = self.look(pending.iter().map(|t| t.name.clone()).collect())?;
                Ok(pending
                    .iter()
                    .map(|t| {
                        if t.name == self.catalog_topic {
                            return if live.catalog_topic_exists {
                                Verdict::Done
                            } else {
                                Verdict::Absent
                            };
                        }
                        let Some(l) = live.topics.get(&t.name) else {
                            return Verdict::Absent;
                        };
                        let configs_differ: Vec<&str> = t
                            .config
                            .iter()
                            .filter(|(k, v)| {
                                l.configs.get(k).and_then(|c| c.value.as_deref())
                                    != Some(v.as_str())
                            })
                            .map(|(k, _)| k.as_str())
                            .collect();
                        if l.partitions == t.partitions
                            && l.replication_factor == t.replication_factor
                            && configs_differ.is_empty()
                        {
                            Verdict::Done
                        } else {
                            Verdict::Differs(format!(
                                "topic {} exists, but not as planned: {} partitions, replication \
                                 {} (planned {}, {}){}; run plan again",
                                t.name,
                                l.partitions,
                                l.replication_factor,
                                t.partitions,
                                t.replication_factor,
                                if configs_differ.is_empty() {
                                    String::new()
                                } else {
                                    format!(", configs {} differ", configs_differ.join(", "))
                                }
                            ))
                        }
                    })
                    .collect())
            },
        )
    }

    fn alter_configs(&self, changes: &[ConfigChange]) -> Vec<Result<(), AdapterError>> {
        let op = || "alter topic configs".to_owned();
        self.retry
            .batch(&op, changes, |c| self.writer.alter_configs(c))
    }

    fn create_partitions(&self, topics: &[(String, i32)]) -> Vec<Result<(), AdapterError>> {
        let op = || "create partitions".to_owned();
        self.retry.checked(
            &op,
            topics,
            |t| self.writer.create_partitions(t),
            |pending| {
                let live = self.look(pending.iter().map(|(t, _)| t.clone()).collect())?;
                Ok(pending
                    .iter()
                    .map(|(t, to)| match live.topics.get(t) {
                        Some(l) if l.partitions == *to => Verdict::Done,
                        Some(l) if l.partitions < *to => Verdict::Absent,
                        Some(l) => Verdict::Differs(format!(
                            "topic {t} has {} partitions, more than the planned {to}; run plan again",
                            l.partitions
                        )),
                        None => Verdict::Differs(format!(
                            "topic {t} no longer exists; run plan again"
                        )),
                    })
                    .collect())
            },
        )
    }

    /// Kafka's CreateAcls accepts a binding that exists as a success, but whether a lost
    /// answer's request landed is looked up rather than assumed.
    fn create_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        let op = || "create ACLs".to_owned();
        self.retry.checked(
            &op,
            acls,
            |a| self.writer.create_acls(a),
            |pending| {
                let principals = pending.iter().map(|a| a.principal.to_string()).collect();
                let live = self.reader.acls_of(&principals)?;
                Ok(pending
                    .iter()
                    .map(|a| {
                        if live.contains(*a) {
                            Verdict::Done
                        } else {
                            Verdict::Absent
                        }
                    })
                    .collect())
            },
        )
    }

    fn delete_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        let op = || "delete ACLs".to_owned();
        self.retry.batch(&op, acls, |a| self.writer.delete_acls(a))
    }

    fn delete_topics(&self, topics: &[String]) -> Vec<Result<(), AdapterError>> {
        let op = || "delete topics".to_owned();
        self.retry.checked(
            &op,
            topics,
            |t| self.writer.delete_topics(t),
            |pending| {
                let live = self.look(pending.iter().map(|t| (*t).clone()).collect())?;
                Ok(pending
                    .iter()
                    .map(|t| {
                        if self.exists(&live, t) {
                            Verdict::Absent
                        } else {
                            Verdict::Done
                        }
                    })
                    .collect())
            },
        )
    }

    fn write_catalog(
        &self,
        catalog_topic: &str,
        records: &[(String, Option<CatalogRecord>)],
    ) -> Result<(), AdapterError> {
        let op = || format!("write the catalog topic {catalog_topic}");
        self.retry.run(&op, true, || {
            self.writer.write_catalog(catalog_topic, records)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records the waits it is asked for; refuses them once `budget` waits were made.
    struct Waits {
        made: Mutex<Vec<Duration>>,
        budget: usize,
    }

    impl Waits {
        fn new(budget: usize) -> Self {
            Waits {
                made: Mutex::new(Vec::new()),
                budget,
            }
        }
        fn made(&self) -> Vec<Duration> {
            self.made.lock().unwrap().clone()
        }
    }

    impl Pause for Waits {
        fn pause(&self, delay: Duration) -> bool {
            let mut made = self.made.lock().unwrap();
            if made.len() >= self.budget {
                return false;
            }
            made.push(delay);
            true
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            first_delay: ms(100),
            max_delay: ms(250),
        }
    }

    fn e(kind: ErrorKind) -> AdapterError {
        let message = format!("{kind:?}");
        AdapterError::new(kind, message)
    }

    #[test]
    fn delays_grow_exponentially_and_are_bounded() {
        let p = policy();
        assert_eq!(
            (1..6).map(|r| p.delay(r)).collect::<Vec<_>>(),
            [ms(100), ms(200), ms(250), ms(250), ms(250)]
        );
        assert_eq!(p.max_total_delay(), ms(550));
        // No overflow however many retries.
        assert_eq!(p.delay(u32::MAX), ms(250));
        assert_eq!(RetryPolicy::default().max_total_delay(), ms(1750));
    }

    #[test]
    fn only_transient_failures_of_idempotent_requests_are_retried() {
        let unauthorized = ErrorKind::Unauthorized {
            operation: "x".into(),
        };
        for (kind, idempotent, calls) in [
            (ErrorKind::Unreachable, true, 4),
            (ErrorKind::TimedOut, true, 4),
            (ErrorKind::Unreachable, false, 1),
            (ErrorKind::TimedOut, false, 1),
            (ErrorKind::NotFound, true, 1),
            (ErrorKind::Conflict, true, 1),
            (ErrorKind::Invalid, true, 1),
            (ErrorKind::Unauthenticated, true, 1),
            (unauthorized, true, 1),
            (ErrorKind::Other, true, 1),
        ] {
            let waits = Waits::new(usize::MAX);
            let heard = Mutex::new(Vec::new());
            let retry = Retry {
                policy: policy(),
                pause: &waits,
                on_retry: &|r| heard.lock().unwrap().push(r.attempt),
            };
            let n = Mutex::new(0);
            let r: Result<(), _> = retry.run(&|| "op".into(), idempotent, || {
                *n.lock().unwrap() += 1;
                Err(e(kind.clone()))
            });
            assert_eq!(r, Err(e(kind.clone())), "the last failure stands");
            assert_eq!(
                *n.lock().unwrap(),
                calls,
                "{kind:?} idempotent={idempotent}"
            );
            assert_eq!(waits.made().len(), calls - 1);
            assert_eq!(
                *heard.lock().unwrap(),
                (2..=calls as u32).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn a_retry_that_succeeds_returns_its_answer_and_a_refused_wait_stops() {
        let waits = Waits::new(usize::MAX);
        let retry = Retry {
            policy: policy(),
            pause: &waits,
            on_retry: &|_| {},
        };
        let n = Mutex::new(0);
        let r = retry.run(&|| "op".into(), true, || {
            let mut n = n.lock().unwrap();
            *n += 1;
            if *n < 3 {
                Err(e(ErrorKind::Unreachable))
            } else {
                Ok(42)
            }
        });
        assert_eq!(r, Ok(42));
        assert_eq!(waits.made(), [ms(100), ms(200)]);

        // The caller's budget allows one wait: two attempts in all.
        let waits = Waits::new(1);
        let retry = Retry {
            policy: policy(),
            pause: &waits,
            on_retry: &|_| {},
        };
        let n = Mutex::new(0);
        let r: Result<(), _> = retry.run(&|| "op".into(), true, || {
            *n.lock().unwrap() += 1;
            Err(e(ErrorKind::TimedOut))
        });
        assert_eq!(r, Err(e(ErrorKind::TimedOut)));
        assert_eq!(*n.lock().unwrap(), 2);
    }

    #[test]
    fn idempotent_batches_resend_only_the_items_that_failed_transiently() {
        let waits = Waits::new(usize::MAX);
        let retry = Retry {
            policy: policy(),
            pause: &waits,
            on_retry: &|_| {},
        };
        let sent = Mutex::new(Vec::new());
        let results = retry.batch(&|| "op".into(), &["a", "b", "c"], |items| {
            let mut sent = sent.lock().unwrap();
            sent.push(items.to_vec());
            items
                .iter()
                .map(|&i| match (i, sent.len()) {
                    ("a", _) => Ok(()),
                    ("b", 1) => Err(e(ErrorKind::Unreachable)),
                    ("b", _) => Ok(()),
                    _ => Err(e(ErrorKind::Invalid)),
                })
                .collect()
        });
        assert_eq!(results, [Ok(()), Ok(()), Err(e(ErrorKind::Invalid))]);
        assert_eq!(*sent.lock().unwrap(), [vec!["a", "b", "c"], vec!["b"]]);
    }

    #[test]
    fn checked_batches_look_before_sending_again() {
        let waits = Waits::new(usize::MAX);
        let retry = Retry {
            policy: policy(),
            pause: &waits,
            on_retry: &|_| {},
        };
        // "landed": the first attempt was carried out but its answer lost; "lost": it was not;
        // "other": someone made it differently; "late": it landed after the look.
        let sent = Mutex::new(Vec::new());
        let looks = Mutex::new(0);
        let results = retry.checked(
            &|| "create".into(),
            &["landed", "lost", "other", "late", "bad"],
            |items| {
                let mut sent = sent.lock().unwrap();
                let first = sent.is_empty();
                sent.push(items.to_vec());
                items
                    .iter()
                    .map(|&i| match i {
                        "bad" => Err(e(ErrorKind::Invalid)),
                        _ if first => Err(e(ErrorKind::TimedOut)),
                        "late" => Err(e(ErrorKind::Conflict)),
                        _ => Ok(()),
                    })
                    .collect()
            },
            |pending| {
                let mut looks = looks.lock().unwrap();
                *looks += 1;
                Ok(pending
                    .iter()
                    .map(|&&i| match i {
                        "landed" => Verdict::Done,
                        "other" => Verdict::Differs("made otherwise".into()),
                        "late" if *looks > 1 => Verdict::Done,
                        _ => Verdict::Absent,
                    })
                    .collect())
            },
        );
        assert_eq!(
            results,
            [
                Ok(()),
                Ok(()),
                Err(AdapterError::new(ErrorKind::Conflict, "made otherwise")),
                Ok(()),
                Err(e(ErrorKind::Invalid)),
            ]
        );
        // Never sent blindly: only what the look found missing went out again, once.
        assert_eq!(
            *sent.lock().unwrap(),
            [
                vec!["landed", "lost", "other", "late", "bad"],
                vec!["lost", "late"]
            ]
        );
        assert_eq!(waits.made(), [ms(100)]);
    }

    /// A registry whose first registration times out after landing, and whose second is
    /// refused as a conflict (Apicurio while the first is still creating the subject).
    struct Racing {
        latest: Mutex<Option<mesh_plan::registry::RegisteredSchema>>,
        calls: Mutex<u32>,
    }

    impl RegistryReader for Racing {
        fn read_subjects(
            &self,
            subjects: &BTreeSet<String>,
        ) -> Result<BTreeMap<String, LiveSubject>, AdapterError> {
            let latest = self.latest.lock().unwrap().clone();
            Ok(subjects
                .iter()
                .map(|s| {
                    let live = LiveSubject {
                        latest: latest.clone(),
                        ..Default::default()
                    };
                    (s.clone(), live)
                })
                .collect())
        }
        fn check_compatibility(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: Option<&str>,
        ) -> Result<Compatibility, AdapterError> {
            unreachable!()
        }
    }

    impl RegistryWriter for Racing {
        fn set_compatibility(&self, _: &str, _: &str) -> Result<(), AdapterError> {
            unreachable!()
        }
        fn register(&self, _: &str, schema_type: &str, schema: &str) -> Result<i32, AdapterError> {
            let mut calls = self.calls.lock().unwrap();
            *calls += 1;
            if *calls == 1 {
                *self.latest.lock().unwrap() = Some(mesh_plan::registry::RegisteredSchema {
                    version: 1,
                    id: 7,
                    schema_type: schema_type.into(),
                    // Stored reformatted.
                    schema: format!("{schema}\n"),
                });
                return Err(e(ErrorKind::TimedOut));
            }
            Err(e(ErrorKind::Conflict))
        }
        fn delete_subject(&self, _: &str) -> Result<(), AdapterError> {
            unreachable!()
        }
    }

    #[test]
    fn a_registration_refused_after_a_retry_is_done_when_the_subject_has_its_text() {
        let waits = Waits::new(usize::MAX);
        let retry = Retry {
            policy: policy(),
            pause: &waits,
            on_retry: &|_| {},
        };
        let schema = r#"{"type":"string"}"#;
        let racing = Racing {
            latest: Mutex::new(None),
            calls: Mutex::new(0),
        };
        let r = Retrying {
            inner: &racing,
            retry: &retry,
        };
        assert_eq!(r.register("s", "AVRO", schema), Ok(7));
        // Another text under the subject: the conflict stands.
        *racing.calls.lock().unwrap() = 0;
        *racing.latest.lock().unwrap() = None;
        let other = Racing {
            latest: Mutex::new(None),
            calls: Mutex::new(1),
        };
        *other.latest.lock().unwrap() = Some(mesh_plan::registry::RegisteredSchema {
            version: 1,
            id: 3,
            schema_type: "AVRO".into(),
            schema: r#"{"type":"int"}"#.into(),
        });
        let r = Retrying {
            inner: &other,
            retry: &retry,
        };
        assert_eq!(r.register("s", "AVRO", schema), Err(e(ErrorKind::Conflict)));
        // A refusal of the first attempt is not looked into: it stands at once.
        assert_eq!(*other.calls.lock().unwrap(), 2);
    }

    #[test]
    fn a_checked_batch_whose_look_fails_for_good_keeps_its_errors() {
        let waits = Waits::new(usize::MAX);
        let retry = Retry {
            policy: policy(),
            pause: &waits,
            on_retry: &|_| {},
        };
        let sent = Mutex::new(0);
        let results = retry.checked(
            &|| "create".into(),
            &["a"],
            |items| {
                *sent.lock().unwrap() += 1;
                items.iter().map(|_| Err(e(ErrorKind::TimedOut))).collect()
            },
            |_| Err(e(ErrorKind::Unauthenticated)),
        );
        assert_eq!(results, [Err(e(ErrorKind::TimedOut))]);
        assert_eq!(*sent.lock().unwrap(), 1, "nothing sent without a look");
    }
}
