//! Kafka's admin API, made directly against librdkafka's C API (`rdkafka::bindings`), for the
//! calls rdkafka 0.39's safe `AdminClient` lacks (CreateAcls, DescribeAcls, DeleteAcls,
//! IncrementalAlterConfigs, DescribeCluster, ListConsumerGroupOffsets; DeleteTopics for the same
//! per-topic messages) or gets wrong: its
//! DescribeConfigs never looks at the per-resource error, so a topic that does not exist or
//! may not be described comes back as "no configs"; its CreateTopics and CreatePartitions keep
//! the error code but drop the broker's message ("Invalid value abc for configuration
//! retention.ms"). The only unsafe code of this crate (`lib.rs` denies it everywhere else).
//!
//! Every call follows one pattern: build the C request objects, each owned by an [`Owned`]
//! guard that frees it on every path; send the request with `AdminOptions` carrying the request
//! timeout onto a private queue (so rdkafka's own admin polling thread never sees our events);
//! wait on that queue for the result event, at most the request timeout plus a margin; copy
//! everything out into Rust values; drop the guards. librdkafka copies request objects when a
//! call is made and the result event owns everything reachable from it, so no pointer read here
//! outlives the guard of the object it came from.

#![warn(clippy::undocumented_unsafe_blocks)]

use std::ffi::{CStr, CString, c_char, c_int};
use std::marker::PhantomData;
use std::ptr;
use std::time::{Duration, Instant};

use mesh_plan::{
    AclBinding, ConfigChange, ConfigSource, LiveConfig, Names, NewTopic, Operation, PatternType,
    Permission, ResourceType,
};
use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use rdkafka::types::RDKafkaErrorCode;

// Raw views of the librdkafka functions whose enum results can carry a value straight from the
// wire (librdkafka stores a broker's error code or config source unchecked): reading a value a
// Rust enum of the bindings lacks through that enum would be undefined behaviour, so these are
// read as integers and converted with a check. Same symbols, ABI-compatible return type (a C
// enum is an `int`).
unsafe extern "C" {
    #[link_name = "rd_kafka_event_error"]
    fn event_error_raw(event: *mut rd::rd_kafka_event_t) -> c_int;
    #[link_name = "rd_kafka_topic_result_error"]
    fn topic_result_error_raw(result: *const rd::rd_kafka_topic_result_t) -> c_int;
    #[link_name = "rd_kafka_ConfigResource_error"]
    fn config_resource_error_raw(resource: *const rd::rd_kafka_ConfigResource_t) -> c_int;
    #[link_name = "rd_kafka_error_code"]
    fn error_code_raw(error: *const rd::rd_kafka_error_t) -> c_int;
    #[link_name = "rd_kafka_ConfigEntry_source"]
    fn config_entry_source_raw(entry: *const rd::rd_kafka_ConfigEntry_t) -> c_int;
    #[link_name = "rd_kafka_ConsumerGroupDescription_state"]
    fn group_state_raw(group: *const rd::rd_kafka_ConsumerGroupDescription_t) -> c_int;
}

/// `None` for "no error"; a code librdkafka has no name for becomes `Unknown`.
fn error_code(raw: c_int) -> Option<RDKafkaErrorCode> {
    match rd::rd_kafka_resp_err_t::try_from(raw) {
        Ok(rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR) => None,
        Ok(code) => Some(RDKafkaErrorCode::from(code)),
        Err(_) => Some(RDKafkaErrorCode::Unknown),
    }
}

/// Extra time to wait for a result event beyond the request timeout librdkafka enforces itself.
const WAIT_MARGIN: Duration = Duration::from_secs(2);
/// Size of the buffers librdkafka writes argument errors into.
const ERRSTR_LEN: usize = 512;

/// Why a whole request failed (per-item failures are [`ItemError`]s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AdminError {
    /// No result arrived within the request timeout (plus a margin).
    TimedOut,
    /// librdkafka or the broker rejected the request as a whole.
    Request {
        code: RDKafkaErrorCode,
        message: String,
    },
    /// librdkafka refused an argument before sending anything (e.g. a NUL byte in a name).
    Invalid(String),
}

/// The broker's (or librdkafka's) verdict on one item of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemError {
    pub code: RDKafkaErrorCode,
    pub message: String,
}

/// A topic's configs by name.
/// A list sorted by key, not a map: 10,000 topics of a few keys each are megabytes of B-tree nodes.
pub(crate) type TopicConfigs = mesh_plan::SmallMap<LiveConfig>;

/// Per-item results of a batch, keyed by the item's name (topic).
pub(crate) type Named<T> = Vec<(String, Result<T, ItemError>)>;
pub(crate) type NamedResults = Named<()>;

/// Committed offsets of one consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupCommits {
    pub group: String,
    /// `(topic, partition, committed offset)`; partitions without a commit are left out.
    pub offsets: Result<Vec<(String, i32, i64)>, ItemError>,
}

/// A consumer group as DescribeConsumerGroups describes it: classic groups and groups of the
/// KIP-848 consumer protocol alike (librdkafka asks each kind with its own API).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct GroupDescription {
    /// As the ListGroups states are named: `Stable`, `Empty`, `PreparingRebalance`, ….
    pub state: String,
    pub members: usize,
    /// The topics its members are assigned partitions of.
    pub assigned: std::collections::BTreeSet<String>,
}

/// The name Kafka gives a group state; librdkafka's numbering, read as an integer.
fn group_state_name(raw: c_int) -> &'static str {
    match raw {
        1 => "PreparingRebalance",
        2 => "CompletingRebalance",
        3 => "Stable",
        4 => "Dead",
        5 => "Empty",
        _ => "Unknown",
    }
}

/// A librdkafka handle borrowed from an rdkafka client, plus the timeout each request gets.
pub(crate) struct Admin<'c> {
    rk: *mut rd::rd_kafka_t,
    timeout: Duration,
    _client: PhantomData<&'c ()>,
}

impl<'c> Admin<'c> {
    /// Borrows `client`'s handle; the borrow keeps the handle alive for as long as `Admin` is.
    pub(crate) fn new<C: ClientContext>(client: &'c Client<C>, timeout: Duration) -> Admin<'c> {
        Admin {
            rk: client.native_ptr(),
            timeout,
            _client: PhantomData,
        }
    }

    /// CreateTopics, one request; each topic's configs are set at creation. Results are keyed
    /// by topic name. Names must be unique (librdkafka rejects duplicates as a whole).
    pub(crate) fn create_topics(&self, topics: &[NewTopic]) -> Result<NamedResults, AdminError> {
        let mut guards = Vec::with_capacity(topics.len());
        for t in topics {
            let name = c_string(&t.name)?;
            let mut errstr = ErrStr::new();
            // SAFETY: `name` is a NUL-terminated string that outlives the call and `errstr` is a
            // writable buffer of the length passed; librdkafka copies the name.
            let raw = unsafe {
                rd::rd_kafka_NewTopic_new(
                    name.as_ptr(),
                    t.partitions,
                    t.replication_factor,
                    errstr.ptr(),
                    ERRSTR_LEN,
                )
            };
            let topic = Owned::new(raw, rd::rd_kafka_NewTopic_destroy)
                .ok_or_else(|| AdminError::Invalid(errstr.text()))?;
            for (key, value) in &t.config {
                let (key_c, value_c) = (c_string(key)?, c_string(value)?);
                // SAFETY: `topic` is a live NewTopic owned by its guard; both strings are
                // NUL-terminated and outlive the call, which copies them.
                let err = unsafe {
                    rd::rd_kafka_NewTopic_set_config(topic.ptr, key_c.as_ptr(), value_c.as_ptr())
                };
                if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                    return Err(AdminError::Invalid(format!(
                        "topic {}: config {key}: {}",
                        t.name,
                        RDKafkaErrorCode::from(err)
                    )));
                }
            }
            guards.push(topic);
        }
        let mut ptrs: Vec<_> = guards.iter().map(|g| g.ptr).collect();
        let mut request = self.request(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATETOPICS,
            true,
        )?;
        request.send(|rk, options, queue| {
            // SAFETY: `ptrs` holds live NewTopic objects (kept alive by `guards`) and its
            // length is passed; `options` and `queue` are live (owned by `request`).
            unsafe { rd::rd_kafka_CreateTopics(rk, ptrs.as_mut_ptr(), ptrs.len(), options, queue) }
        });
        let event = request.wait(rd::RD_KAFKA_EVENT_CREATETOPICS_RESULT)?;
        // SAFETY: the event is a live CREATETOPICS_RESULT event (type checked by `wait`).
        let result = unsafe { rd::rd_kafka_event_CreateTopics_result(event.ptr) };
        let mut count = 0;
        // SAFETY: `result` belongs to the live event; `count` receives the array length.
        let array = unsafe { rd::rd_kafka_CreateTopics_result_topics(result, &mut count) };
        // SAFETY: `array` has `count` topic results owned by the event, which outlives this.
        Ok(unsafe { topic_results(array, count) })
    }

    /// CreatePartitions, one request: raises each topic to the given total partition count.
    pub(crate) fn create_partitions(
        &self,
        topics: &[(String, i32)],
    ) -> Result<NamedResults, AdminError> {
        let mut guards = Vec::with_capacity(topics.len());
        for (name, total) in topics {
            let name_c = c_string(name)?;
            let total = usize::try_from(*total).map_err(|_| {
                AdminError::Invalid(format!("topic {name}: partition count {total} is negative"))
            })?;
            let mut errstr = ErrStr::new();
            // SAFETY: as for NewTopic_new: a NUL-terminated name and a writable error buffer.
            let raw = unsafe {
                rd::rd_kafka_NewPartitions_new(name_c.as_ptr(), total, errstr.ptr(), ERRSTR_LEN)
            };
            guards.push(
                Owned::new(raw, rd::rd_kafka_NewPartitions_destroy)
                    .ok_or_else(|| AdminError::Invalid(errstr.text()))?,
            );
        }
        let mut ptrs: Vec<_> = guards.iter().map(|g| g.ptr).collect();
        let mut request = self.request(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEPARTITIONS,
            true,
        )?;
        request.send(|rk, options, queue| {
            // SAFETY: `ptrs` holds live NewPartitions objects kept alive by `guards`.
            unsafe {
                rd::rd_kafka_CreatePartitions(rk, ptrs.as_mut_ptr(), ptrs.len(), options, queue)
            }
        });
        let event = request.wait(rd::RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT)?;
        // SAFETY: a live CREATEPARTITIONS_RESULT event.
        let result = unsafe { rd::rd_kafka_event_CreatePartitions_result(event.ptr) };
        let mut count = 0;
        // SAFETY: `result` belongs to the live event.
        let array = unsafe { rd::rd_kafka_CreatePartitions_result_topics(result, &mut count) };
        // SAFETY: `array` has `count` topic results owned by the event.
        Ok(unsafe { topic_results(array, count) })
    }

    /// DeleteTopics, one request. Results keyed by topic name.
    pub(crate) fn delete_topics(&self, topics: &[String]) -> Result<NamedResults, AdminError> {
        let mut guards = Vec::with_capacity(topics.len());
        for name in topics {
            let name_c = c_string(name)?;
            // SAFETY: a NUL-terminated name that outlives the call, which copies it.
            let raw = unsafe { rd::rd_kafka_DeleteTopic_new(name_c.as_ptr()) };
            guards.push(
                Owned::new(raw, rd::rd_kafka_DeleteTopic_destroy).ok_or_else(|| {
                    AdminError::Invalid(format!("topic {name}: librdkafka refused the name"))
                })?,
            );
        }
        let mut ptrs: Vec<_> = guards.iter().map(|g| g.ptr).collect();
        let mut request = self.request(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETETOPICS,
            true,
        )?;
        request.send(|rk, options, queue| {
            // SAFETY: `ptrs` holds live DeleteTopic objects kept alive by `guards`.
            unsafe { rd::rd_kafka_DeleteTopics(rk, ptrs.as_mut_ptr(), ptrs.len(), options, queue) }
        });
        let event = request.wait(rd::RD_KAFKA_EVENT_DELETETOPICS_RESULT)?;
        // SAFETY: a live DELETETOPICS_RESULT event.
        let result = unsafe { rd::rd_kafka_event_DeleteTopics_result(event.ptr) };
        let mut count = 0;
        // SAFETY: `result` belongs to the live event.
        let array = unsafe { rd::rd_kafka_DeleteTopics_result_topics(result, &mut count) };
        // SAFETY: `array` has `count` topic results owned by the event.
        Ok(unsafe { topic_results(array, count) })
    }

    /// DescribeConfigs of topics, one request: every config with its value (`None` for a
    /// sensitive one) and source. Results keyed by topic; a topic that does not exist answers
    /// `UnknownTopicOrPartition`, one that may not be described `TopicAuthorizationFailed`.
    pub(crate) fn describe_topic_configs(
        &self,
        topics: &[&str],
        keys: Option<&[&str]>,
    ) -> Result<Named<TopicConfigs>, AdminError> {
        let keys = match keys {
            Some(keys) => keys
                .iter()
                .map(|k| c_string(k))
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let mut guards = Vec::with_capacity(topics.len());
        for topic in topics {
            let name = c_string(topic)?;
            // SAFETY: a NUL-terminated name that librdkafka copies.
            let raw = unsafe {
                rd::rd_kafka_ConfigResource_new(
                    rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
                    name.as_ptr(),
                )
            };
            let guard = Owned::new(raw, rd::rd_kafka_ConfigResource_destroy).ok_or_else(|| {
                AdminError::Invalid(format!("topic {topic}: cannot build a config resource"))
            })?;
            for key in &keys {
                // SAFETY: a live ConfigResource and NUL-terminated strings that librdkafka
                // copies. A describe sends only the names; the value must not be NULL.
                let err = unsafe {
                    rd::rd_kafka_ConfigResource_set_config(guard.ptr, key.as_ptr(), c"".as_ptr())
                };
                if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                    return Err(AdminError::Invalid(format!(
                        "topic {topic}: cannot ask for config {key:?}"
                    )));
                }
            }
            guards.push(guard);
        }
        let mut ptrs: Vec<_> = guards.iter().map(|g| g.ptr).collect();
        let mut request = self.request(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS,
            false,
        )?;
        request.send(|rk, options, queue| {
            // SAFETY: `ptrs` holds live ConfigResource objects kept alive by `guards`.
            unsafe {
                rd::rd_kafka_DescribeConfigs(rk, ptrs.as_mut_ptr(), ptrs.len(), options, queue)
            }
        });
        let event = request.wait(rd::RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT)?;
        // SAFETY: a live DESCRIBECONFIGS_RESULT event.
        let result = unsafe { rd::rd_kafka_event_DescribeConfigs_result(event.ptr) };
        let mut count = 0;
        // SAFETY: `result` belongs to the live event.
        let array = unsafe { rd::rd_kafka_DescribeConfigs_result_resources(result, &mut count) };
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            // SAFETY: `array` has `count` resources owned by the event; each one's entries
            // (and their strings) are owned by it and copied out at once; the source is read
            // as an integer (see `config_entry_source_raw`).
            let item = unsafe {
                let resource = *array.add(i);
                let name = text(rd::rd_kafka_ConfigResource_name(resource));
                let status = item_result(
                    config_resource_error_raw(resource),
                    rd::rd_kafka_ConfigResource_error_string(resource),
                );
                let configs = status.map(|()| {
                    let mut n = 0;
                    let entries = rd::rd_kafka_ConfigResource_configs(resource, &mut n);
                    (0..n)
                        .map(|j| {
                            let entry = *entries.add(j);
                            let value = rd::rd_kafka_ConfigEntry_value(entry);
                            let config = LiveConfig {
                                value: (!value.is_null()).then(|| text(value)),
                                source: config_source(config_entry_source_raw(entry)),
                            };
                            (text(rd::rd_kafka_ConfigEntry_name(entry)), config)
                        })
                        .collect()
                });
                (name, configs)
            };
            out.push(item);
        }
        Ok(out)
    }

    /// IncrementalAlterConfigs on topics, one request: SET for `set`, DELETE (reset to the
    /// broker default) for `delete`; keys not named are not touched. Results keyed by topic.
    pub(crate) fn incremental_alter_configs(
        &self,
        changes: &[ConfigChange],
    ) -> Result<NamedResults, AdminError> {
        use rd::rd_kafka_AlterConfigOpType_t::{
            RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE as DELETE,
            RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET as SET,
        };
        let mut guards = Vec::with_capacity(changes.len());
        for change in changes {
            let name = c_string(&change.topic)?;
            // SAFETY: a NUL-terminated name that librdkafka copies.
            let raw = unsafe {
                rd::rd_kafka_ConfigResource_new(
                    rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
                    name.as_ptr(),
                )
            };
            let resource =
                Owned::new(raw, rd::rd_kafka_ConfigResource_destroy).ok_or_else(|| {
                    AdminError::Invalid(format!(
                        "topic {}: cannot build a config resource",
                        change.topic
                    ))
                })?;
            let ops = change
                .set
                .iter()
                .map(|(k, v)| (k, SET, Some(v)))
                .chain(change.delete.iter().map(|k| (k, DELETE, None)));
            for (key, op, value) in ops {
                let key_c = c_string(key)?;
                let value_c = value.map(|v| c_string(v)).transpose()?;
                let value_ptr = value_c.as_ref().map_or(ptr::null(), |v| v.as_ptr());
                // SAFETY: `resource` is live; the strings are NUL-terminated (the value may be
                // NULL for DELETE, as documented) and are copied by the call.
                let err = unsafe {
                    rd::rd_kafka_ConfigResource_add_incremental_config(
                        resource.ptr,
                        key_c.as_ptr(),
                        op,
                        value_ptr,
                    )
                };
                if let Some(err) = Owned::new(err, rd::rd_kafka_error_destroy) {
                    // SAFETY: `err` is a live error object owned by its guard.
                    let message = unsafe { text(rd::rd_kafka_error_string(err.ptr)) };
                    return Err(AdminError::Invalid(format!(
                        "topic {}: config {key}: {message}",
                        change.topic
                    )));
                }
            }
            guards.push(resource);
        }
        let mut ptrs: Vec<_> = guards.iter().map(|g| g.ptr).collect();
        let mut request = self.request(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS,
            false,
        )?;
        request.send(|rk, options, queue| {
            // SAFETY: `ptrs` holds live ConfigResource objects kept alive by `guards`.
            unsafe {
                rd::rd_kafka_IncrementalAlterConfigs(
                    rk,
                    ptrs.as_mut_ptr(),
                    ptrs.len(),
                    options,
                    queue,
                )
            }
        });
        let event = request.wait(rd::RD_KAFKA_EVENT_INCREMENTALALTERCONFIGS_RESULT)?;
        // SAFETY: a live INCREMENTALALTERCONFIGS_RESULT event.
        let result = unsafe { rd::rd_kafka_event_IncrementalAlterConfigs_result(event.ptr) };
        let mut count = 0;
        // SAFETY: `result` belongs to the live event.
        let array =
            unsafe { rd::rd_kafka_IncrementalAlterConfigs_result_resources(result, &mut count) };
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            // SAFETY: `array` has `count` resources owned by the event; the strings they return
            // live as long as the event and are copied out at once.
            let item = unsafe {
                let resource = *array.add(i);
                let name = text(rd::rd_kafka_ConfigResource_name(resource));
                let code = config_resource_error_raw(resource);
                (
                    name,
                    item_result(code, rd::rd_kafka_ConfigResource_error_string(resource)),
                )
            };
            out.push(item);
        }
        Ok(out)
    }

    /// CreateAcls, one request; results in request order.
    pub(crate) fn create_acls(
        &self,
        acls: &[AclBinding],
    ) -> Result<Vec<Result<(), ItemError>>, AdminError> {
        let guards = acls
            .iter()
            .map(|b| acl_object(b, false))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ptrs: Vec<_> = guards.iter().map(|g| g.ptr).collect();
        let mut request =
            self.request(rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS, false)?;
        request.send(|rk, options, queue| {
            // SAFETY: `ptrs` holds live AclBinding objects kept alive by `guards`.
            unsafe { rd::rd_kafka_CreateAcls(rk, ptrs.as_mut_ptr(), ptrs.len(), options, queue) }
        });
        let event = request.wait(rd::RD_KAFKA_EVENT_CREATEACLS_RESULT)?;
        // SAFETY: a live CREATEACLS_RESULT event.
        let result = unsafe { rd::rd_kafka_event_CreateAcls_result(event.ptr) };
        let mut count = 0;
        // SAFETY: `result` belongs to the live event.
        let array = unsafe { rd::rd_kafka_CreateAcls_result_acls(result, &mut count) };
        check_count("CreateAcls", count, acls.len())?;
        // SAFETY: `array` has `count` acl results owned by the event; a NULL error means success
        // and a non-NULL one is owned by its result (not freed here).
        Ok((0..count)
            .map(|i| unsafe { error_object_result(rd::rd_kafka_acl_result_error(*array.add(i))) })
            .collect())
    }

    /// Every ACL binding of the cluster, from one DescribeAcls whose filter matches everything.
    pub(crate) fn describe_all_acls(&self) -> Result<Vec<AclBinding>, AdminError> {
        self.describe_acls(&[None])
    }

    /// The ACL bindings of these principals (on any resource, pattern, host, operation and
    /// permission): one DescribeAcls per principal, all in flight at once. The answers hold
    /// only their bindings, however many other bindings the cluster has.
    pub(crate) fn describe_acls_of(
        &self,
        principals: &[&str],
    ) -> Result<Vec<AclBinding>, AdminError> {
        let principals = principals
            .iter()
            .map(|p| c_string(p))
            .collect::<Result<Vec<_>, _>>()?;
        let filters: Vec<Option<&CStr>> = principals.iter().map(|p| Some(p.as_c_str())).collect();
        self.describe_acls(&filters)
    }

    /// DescribeAcls with one filter per entry, each matching every binding of its principal
    /// (`None`: of every principal); the bindings of all answers, names shared. Bindings with
    /// a resource type, operation or pattern `mesh` has no name for are left out: `mesh` can
    /// never manage them.
    fn describe_acls(&self, principals: &[Option<&CStr>]) -> Result<Vec<AclBinding>, AdminError> {
        let mut filters = Vec::with_capacity(principals.len());
        for principal in principals {
            let mut errstr = ErrStr::new();
            // SAFETY: NULL name/host (and principal) mean "any", as documented for filters; a
            // principal is a NUL-terminated string that outlives the call (librdkafka copies
            // it); `errstr` is a writable buffer of the length passed.
            let raw = unsafe {
                rd::rd_kafka_AclBindingFilter_new(
                    rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_ANY,
                    ptr::null(),
                    rd::rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_ANY,
                    principal.map_or(ptr::null(), CStr::as_ptr),
                    ptr::null(),
                    rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_ANY,
                    rd::rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_ANY,
                    errstr.ptr(),
                    ERRSTR_LEN,
                )
            };
            filters.push(
                Owned::new(raw, rd::rd_kafka_AclBinding_destroy)
                    .ok_or_else(|| AdminError::Invalid(errstr.text()))?,
            );
        }
        let mut request = self.request(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBEACLS,
            false,
        )?;
        for filter in &filters {
            request.send(|rk, options, queue| {
                // SAFETY: `filter` is a live AclBindingFilter owned by its guard.
                unsafe { rd::rd_kafka_DescribeAcls(rk, filter.ptr, options, queue) }
            });
        }
        // Bindings share their names (a principal's name is in every binding of it).
        let mut names = Names::default();
        let mut acls = Vec::new();
        for _ in &filters {
            let event = request.wait(rd::RD_KAFKA_EVENT_DESCRIBEACLS_RESULT)?;
            // SAFETY: a live DESCRIBEACLS_RESULT event.
            let result = unsafe { rd::rd_kafka_event_DescribeAcls_result(event.ptr) };
            let mut count = 0;
            // SAFETY: `result` belongs to the live event.
            let array = unsafe { rd::rd_kafka_DescribeAcls_result_acls(result, &mut count) };
            acls.reserve(count);
            // SAFETY: `array` has `count` bindings owned by the event.
            acls.extend((0..count).filter_map(|i| unsafe { read_acl(*array.add(i), &mut names) }));
        }
        Ok(acls)
    }

    /// DeleteAcls, one request with one exact-match filter per binding (the binding's own
    /// resource type, name, LITERAL/PREFIXED pattern, principal, host, operation and
    /// permission — never ANY/MATCH), so nothing else can match. Each result is the number of
    /// bindings the broker deleted for that filter (0 if it was already gone).
    pub(crate) fn delete_acls(
        &self,
        acls: &[AclBinding],
    ) -> Result<Vec<Result<usize, ItemError>>, AdminError> {
        let guards = acls
            .iter()
            .map(|b| acl_object(b, true))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ptrs: Vec<_> = guards.iter().map(|g| g.ptr).collect();
        let mut request =
            self.request(rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETEACLS, false)?;
        request.send(|rk, options, queue| {
            // SAFETY: `ptrs` holds live AclBindingFilter objects kept alive by `guards`.
            unsafe { rd::rd_kafka_DeleteAcls(rk, ptrs.as_mut_ptr(), ptrs.len(), options, queue) }
        });
        let event = request.wait(rd::RD_KAFKA_EVENT_DELETEACLS_RESULT)?;
        // SAFETY: a live DELETEACLS_RESULT event.
        let result = unsafe { rd::rd_kafka_event_DeleteAcls_result(event.ptr) };
        let mut count = 0;
        // SAFETY: `result` belongs to the live event.
        let array = unsafe { rd::rd_kafka_DeleteAcls_result_responses(result, &mut count) };
        check_count("DeleteAcls", count, acls.len())?;
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            // SAFETY: `array` has `count` responses owned by the event; the error (if any) is
            // owned by its response.
            let item = unsafe {
                let response = *array.add(i);
                error_object_result(rd::rd_kafka_DeleteAcls_result_response_error(response)).map(
                    |()| {
                        let mut matched = 0;
                        rd::rd_kafka_DeleteAcls_result_response_matching_acls(
                            response,
                            &mut matched,
                        );
                        matched
                    },
                )
            };
            out.push(item);
        }
        Ok(out)
    }

    /// DescribeTopics for these names, in one request: each topic that exists and that the
    /// principal may describe, with its partitions. A topic the answer has an error for
    /// (unknown, not authorised, being deleted) is left out, as a metadata request for every
    /// topic leaves it out.
    pub(crate) fn describe_topics(
        &self,
        topics: &[&str],
    ) -> Result<Vec<TopicDescription>, AdminError> {
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let names = topics
            .iter()
            .map(|t| c_string(t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut pointers: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        // SAFETY: `pointers` holds `pointers.len()` NUL-terminated strings, alive for the call
        // (librdkafka copies them).
        let raw = unsafe {
            rd::rd_kafka_TopicCollection_of_topic_names(pointers.as_mut_ptr(), pointers.len())
        };
        let collection =
            Owned::new(raw, rd::rd_kafka_TopicCollection_destroy).ok_or_else(|| {
                AdminError::Invalid("librdkafka could not make a topic collection".into())
            })?;
        let mut request = self.request(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
            false,
        )?;
        request.send(|rk, options, queue| {
            // SAFETY: `collection` is live (owned by its guard) for the call, which copies it.
            unsafe { rd::rd_kafka_DescribeTopics(rk, collection.ptr, options, queue) }
        });
        let event = request.wait(rd::RD_KAFKA_EVENT_DESCRIBETOPICS_RESULT)?;
        // SAFETY: a live DESCRIBETOPICS_RESULT event; everything read below belongs to it and
        // is copied before it is destroyed.
        unsafe {
            let result = rd::rd_kafka_event_DescribeTopics_result(event.ptr);
            let mut count = 0;
            let array = rd::rd_kafka_DescribeTopics_result_topics(result, &mut count);
            let mut out = Vec::with_capacity(count);
            for i in 0..count {
                let topic = *array.add(i);
                let error = rd::rd_kafka_TopicDescription_error(topic);
                if !error.is_null()
                    && rd::rd_kafka_error_code(error)
                        != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
                {
                    continue;
                }
                let mut n = 0;
                let parts = rd::rd_kafka_TopicDescription_partitions(topic, &mut n);
                let mut partitions = Vec::with_capacity(n);
                for j in 0..n {
                    let part = *parts.add(j);
                    let leader = rd::rd_kafka_TopicPartitionInfo_leader(part);
                    let mut replicas = 0;
                    let replica_nodes =
                        rd::rd_kafka_TopicPartitionInfo_replicas(part, &mut replicas);
                    let mut isr = 0;
                    rd::rd_kafka_TopicPartitionInfo_isr(part, &mut isr);
                    partitions.push(PartitionDescription {
                        id: rd::rd_kafka_TopicPartitionInfo_partition(part),
                        leader: (!leader.is_null()).then(|| rd::rd_kafka_Node_id(leader)),
                        replicas: (0..replicas)
                            .map(|r| rd::rd_kafka_Node_id(*replica_nodes.add(r)))
                            .collect(),
                        isr,
                    });
                }
                if partitions.is_empty() {
                    continue;
                }
                partitions.sort_unstable_by_key(|p| p.id);
                out.push(TopicDescription {
                    name: text(rd::rd_kafka_TopicDescription_name(topic)),
                    partitions,
                });
            }
            Ok(out)
        }
    }

    /// The ids of the brokers in the cluster, from DescribeCluster.
    pub(crate) fn broker_ids(&self) -> Result<Vec<i32>, AdminError> {
        let mut request = self.request(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECLUSTER,
            false,
        )?;
        request.send(|rk, options, queue| {
            // SAFETY: `options` and `queue` are live (owned by `request`).
            unsafe { rd::rd_kafka_DescribeCluster(rk, options, queue) }
        });
        let event = request.wait(rd::RD_KAFKA_EVENT_DESCRIBECLUSTER_RESULT)?;
        let mut count = 0;
        // SAFETY: a live DESCRIBECLUSTER_RESULT event; the array of `count` nodes belongs to it.
        unsafe {
            let result = rd::rd_kafka_event_DescribeCluster_result(event.ptr);
            let nodes = rd::rd_kafka_DescribeCluster_result_nodes(result, &mut count);
            Ok((0..count)
                .map(|i| rd::rd_kafka_Node_id(*nodes.add(i)))
                .collect())
        }
    }

    /// The operations the principal may perform on the cluster resource, from DescribeCluster
    /// with `include_authorized_operations` (Kafka applies its implications: ALTER allows
    /// DESCRIBE, and so on). Empty if the broker reported none.
    pub(crate) fn cluster_authorized_operations(&self) -> Result<Vec<Operation>, AdminError> {
        let mut request = self.request(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECLUSTER,
            false,
        )?;
        // SAFETY: the options are live (owned by `request`); a returned error is ours to free.
        let err = unsafe {
            rd::rd_kafka_AdminOptions_set_include_authorized_operations(request.options.ptr, 1)
        };
        if let Some(err) = Owned::new(err, rd::rd_kafka_error_destroy) {
            // SAFETY: `err` is a live error object owned by its guard.
            let message = unsafe { text(rd::rd_kafka_error_string(err.ptr)) };
            return Err(AdminError::Invalid(message));
        }
        request.send(|rk, options, queue| {
            // SAFETY: `options` and `queue` are live (owned by `request`).
            unsafe { rd::rd_kafka_DescribeCluster(rk, options, queue) }
        });
        let event = request.wait(rd::RD_KAFKA_EVENT_DESCRIBECLUSTER_RESULT)?;
        // SAFETY: a live DESCRIBECLUSTER_RESULT event.
        let result = unsafe { rd::rd_kafka_event_DescribeCluster_result(event.ptr) };
        let mut count = 0;
        // SAFETY: `result` belongs to the live event; the array (owned by it) has `count`
        // entries. It is read as plain integers, so a value outside Rust's enum cannot occur.
        let ops = unsafe {
            let array =
                rd::rd_kafka_DescribeCluster_result_authorized_operations(result, &mut count);
            if array.is_null() {
                &[][..]
            } else {
                std::slice::from_raw_parts(array.cast::<u32>(), count)
            }
        };
        Ok(ops
            .iter()
            .filter_map(|&n| {
                OPERATIONS
                    .iter()
                    .find(|(_, c)| *c as u32 == n)
                    .map(|(o, _)| *o)
            })
            .collect())
    }

    /// ListConsumerGroupOffsets for each group (librdkafka takes one group per request, so
    /// the requests are all sent at once on one queue and awaited together). Kafka returns
    /// the committed offset only, not when it was committed.
    pub(crate) fn list_group_offsets(
        &self,
        groups: &[String],
    ) -> Result<Vec<GroupCommits>, AdminError> {
        let mut request = self.request(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
            false,
        )?;
        let mut guards = Vec::with_capacity(groups.len());
        for group in groups {
            let name = c_string(group)?;
            // SAFETY: a NUL-terminated group id (copied); NULL partitions means "all".
            let raw =
                unsafe { rd::rd_kafka_ListConsumerGroupOffsets_new(name.as_ptr(), ptr::null()) };
            let item = Owned::new(raw, rd::rd_kafka_ListConsumerGroupOffsets_destroy).ok_or_else(
                || AdminError::Invalid(format!("group {group}: cannot build the request")),
            )?;
            let mut one = [item.ptr];
            request.send(|rk, options, queue| {
                // SAFETY: `one` holds one live request object (its guard is kept in `guards`
                // until all results are in); exactly one element, as librdkafka requires.
                unsafe {
                    rd::rd_kafka_ListConsumerGroupOffsets(rk, one.as_mut_ptr(), 1, options, queue)
                }
            });
            guards.push(item);
        }
        let mut out = Vec::with_capacity(groups.len());
        for _ in 0..groups.len() {
            // A request that failed as a whole does not say which group it was for: the
            // batch fails.
            let event = request.wait(rd::RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT)?;
            // SAFETY: a live LISTCONSUMERGROUPOFFSETS_RESULT event.
            let result = unsafe { rd::rd_kafka_event_ListConsumerGroupOffsets_result(event.ptr) };
            let mut count = 0;
            // SAFETY: `result` belongs to the live event.
            let array =
                unsafe { rd::rd_kafka_ListConsumerGroupOffsets_result_groups(result, &mut count) };
            for i in 0..count {
                // SAFETY: `array` has `count` group results owned by the event; the partition
                // list is owned by its group result and holds `cnt` elements.
                out.push(unsafe { group_commits(*array.add(i)) });
            }
        }
        Ok(out)
    }

    /// DescribeConsumerGroups for `groups` in one request (librdkafka sends it to each group's
    /// coordinator): state, members and the topics they are assigned.
    pub(crate) fn describe_groups(
        &self,
        groups: &[String],
    ) -> Result<Named<GroupDescription>, AdminError> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let mut request = self.request(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS,
            false,
        )?;
        let names = groups
            .iter()
            .map(|g| c_string(g))
            .collect::<Result<Vec<_>, _>>()?;
        let mut pointers: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        request.send(|rk, options, queue| {
            // SAFETY: `pointers` holds `len` NUL-terminated strings owned by `names`, alive
            // until the end of this function; librdkafka copies them.
            unsafe {
                rd::rd_kafka_DescribeConsumerGroups(
                    rk,
                    pointers.as_mut_ptr(),
                    pointers.len(),
                    options,
                    queue,
                )
            }
        });
        let event = request.wait(rd::RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT)?;
        // SAFETY: a live DESCRIBECONSUMERGROUPS_RESULT event.
        let result = unsafe { rd::rd_kafka_event_DescribeConsumerGroups_result(event.ptr) };
        let mut count = 0;
        // SAFETY: `result` belongs to the live event.
        let array =
            unsafe { rd::rd_kafka_DescribeConsumerGroups_result_groups(result, &mut count) };
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            // SAFETY: `array` has `count` live descriptions owned by the event.
            out.push(unsafe { group_description(*array.add(i)) });
        }
        Ok(out)
    }

    fn request(
        &self,
        op: rd::rd_kafka_admin_op_t,
        operation_timeout: bool,
    ) -> Result<Request<'_>, AdminError> {
        // SAFETY: `self.rk` is a live client handle for the lifetime of `self`.
        let queue = Owned::new(
            unsafe { rd::rd_kafka_queue_new(self.rk) },
            rd::rd_kafka_queue_destroy,
        )
        .ok_or_else(|| AdminError::Invalid("librdkafka could not create a queue".into()))?;
        // SAFETY: as above; `op` is a valid admin operation.
        let options = Owned::new(
            unsafe { rd::rd_kafka_AdminOptions_new(self.rk, op) },
            rd::rd_kafka_AdminOptions_destroy,
        )
        .ok_or_else(|| AdminError::Invalid("librdkafka could not create admin options".into()))?;
        let millis = c_int::try_from(self.timeout.as_millis())
            .unwrap_or(c_int::MAX)
            .max(1);
        let mut errstr = ErrStr::new();
        // SAFETY: `options` is live; `errstr` is a writable buffer of the length passed.
        let err = unsafe {
            rd::rd_kafka_AdminOptions_set_request_timeout(
                options.ptr,
                millis,
                errstr.ptr(),
                ERRSTR_LEN,
            )
        };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(AdminError::Invalid(errstr.text()));
        }
        if operation_timeout {
            // The broker waits up to this long for the change to reach all brokers before it
            // answers, so a read right after a create sees the new topic.
            // SAFETY: as above.
            let err = unsafe {
                rd::rd_kafka_AdminOptions_set_operation_timeout(
                    options.ptr,
                    millis,
                    errstr.ptr(),
                    ERRSTR_LEN,
                )
            };
            if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                return Err(AdminError::Invalid(errstr.text()));
            }
        }
        Ok(Request {
            rk: self.rk,
            queue,
            options,
            deadline: Instant::now() + self.timeout + WAIT_MARGIN,
            _admin: PhantomData,
        })
    }
}

/// One or more admin requests in flight on a private result queue.
struct Request<'a> {
    rk: *mut rd::rd_kafka_t,
    queue: Owned<rd::rd_kafka_queue_t>,
    options: Owned<rd::rd_kafka_AdminOptions_t>,
    deadline: Instant,
    _admin: PhantomData<&'a ()>,
}

impl Request<'_> {
    /// Sends a request: `call` gets the client handle, the options and the result queue.
    fn send(
        &mut self,
        call: impl FnOnce(
            *mut rd::rd_kafka_t,
            *const rd::rd_kafka_AdminOptions_t,
            *mut rd::rd_kafka_queue_t,
        ),
    ) {
        call(self.rk, self.options.ptr, self.queue.ptr);
    }

    /// Waits for the next result event of type `expected` until the deadline, and turns an
    /// error on the event itself (the request as a whole failed) into an [`AdminError`].
    fn wait(&mut self, expected: c_int) -> Result<Owned<rd::rd_kafka_event_t>, AdminError> {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(AdminError::TimedOut);
            }
            let millis = c_int::try_from(left.as_millis())
                .unwrap_or(c_int::MAX)
                .max(1);
            // SAFETY: the queue is live (owned by `self`); the returned event, if any, is ours
            // to destroy, which the guard does.
            let Some(event) = Owned::new(
                unsafe { rd::rd_kafka_queue_poll(self.queue.ptr, millis) },
                rd::rd_kafka_event_destroy,
            ) else {
                continue;
            };
            // SAFETY: `event` is live.
            if unsafe { rd::rd_kafka_event_type(event.ptr) } != expected {
                continue; // nothing else is routed to this queue; ignore (and free) it anyway
            }
            // SAFETY: `event` is live; the error string belongs to it and is copied at once.
            let (code, message) = unsafe {
                (
                    error_code(event_error_raw(event.ptr)),
                    text(rd::rd_kafka_event_error_string(event.ptr)),
                )
            };
            if let Some(code) = code {
                return Err(
                    if code == RDKafkaErrorCode::RequestTimedOut
                        || code == RDKafkaErrorCode::OperationTimedOut
                    {
                        AdminError::TimedOut
                    } else {
                        AdminError::Request { code, message }
                    },
                );
            }
            return Ok(event);
        }
    }
}

/// Owns one librdkafka object and frees it with its destructor when dropped.
struct Owned<T> {
    ptr: *mut T,
    free: unsafe extern "C" fn(*mut T),
}

impl<T> Owned<T> {
    /// `None` for a NULL pointer (librdkafka's "failed" or "nothing"). `free` must be the
    /// destructor librdkafka documents for objects returned by the call that produced `ptr`.
    fn new(ptr: *mut T, free: unsafe extern "C" fn(*mut T)) -> Option<Owned<T>> {
        (!ptr.is_null()).then_some(Owned { ptr, free })
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` is non-NULL, owned by this guard alone (never handed to anything that
        // frees it) and `free` is its documented destructor, so it is freed exactly once.
        unsafe { (self.free)(self.ptr) }
    }
}

/// A topic as DescribeTopics shows it.
pub(crate) struct TopicDescription {
    pub name: String,
    /// Sorted by id.
    pub partitions: Vec<PartitionDescription>,
}

pub(crate) struct PartitionDescription {
    pub id: i32,
    /// `None` while the partition has no leader.
    pub leader: Option<i32>,
    /// Broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: usize,
}

/// A buffer librdkafka writes an argument error into.
struct ErrStr([c_char; ERRSTR_LEN]);

impl ErrStr {
    fn new() -> ErrStr {
        ErrStr([0; ERRSTR_LEN])
    }

    fn ptr(&mut self) -> *mut c_char {
        self.0.as_mut_ptr()
    }

    fn text(&self) -> String {
        // The buffer starts zeroed and librdkafka always NUL-terminates within its length;
        // stop at the first NUL or at the end, whichever comes first.
        let bytes: Vec<u8> = self
            .0
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if text.is_empty() {
            "librdkafka refused the request".to_owned()
        } else {
            text
        }
    }
}

fn c_string(s: &str) -> Result<CString, AdminError> {
    CString::new(s).map_err(|_| AdminError::Invalid(format!("{s:?} contains a NUL byte")))
}

fn check_count(what: &str, got: usize, sent: usize) -> Result<(), AdminError> {
    if got == sent {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "{what}: {got} results for {sent} items"
        )))
    }
}

/// Copies a C string; NULL becomes "".
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid during the call.
unsafe fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: guaranteed by the caller.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// An item result from an error code and its message (NULL or empty: the code's description).
///
/// # Safety
/// `message` as for [`text`].
unsafe fn item_result(raw_code: c_int, message: *const c_char) -> Result<(), ItemError> {
    let Some(code) = error_code(raw_code) else {
        return Ok(());
    };
    // SAFETY: guaranteed by the caller.
    let message = unsafe { text(message) };
    Err(ItemError {
        message: match (message.is_empty(), code) {
            (false, _) => message,
            (true, RDKafkaErrorCode::Unknown) => format!("Kafka error code {raw_code}"),
            (true, code) => code.to_string(),
        },
        code,
    })
}

/// An item result from an `rd_kafka_error_t` that is NULL on success and owned by someone else.
///
/// # Safety
/// `error` is NULL or a live error object.
unsafe fn error_object_result(error: *const rd::rd_kafka_error_t) -> Result<(), ItemError> {
    if error.is_null() {
        return Ok(());
    }
    // SAFETY: `error` is live (caller); its string belongs to it and is copied at once.
    unsafe { item_result(error_code_raw(error), rd::rd_kafka_error_string(error)) }
}

/// # Safety
/// `array` points to `count` live topic results.
unsafe fn topic_results(
    array: *mut *const rd::rd_kafka_topic_result_t,
    count: usize,
) -> NamedResults {
    (0..count)
        .map(|i| {
            // SAFETY: guaranteed by the caller; strings are copied at once.
            unsafe {
                let topic = *array.add(i);
                let name = text(rd::rd_kafka_topic_result_name(topic));
                (
                    name,
                    item_result(
                        topic_result_error_raw(topic),
                        rd::rd_kafka_topic_result_error_string(topic),
                    ),
                )
            }
        })
        .collect()
}

/// # Safety
/// `group` is a live group description.
unsafe fn group_description(
    group: *const rd::rd_kafka_ConsumerGroupDescription_t,
) -> (String, Result<GroupDescription, ItemError>) {
    // SAFETY: guaranteed by the caller; the id is copied at once.
    let name = unsafe { text(rd::rd_kafka_ConsumerGroupDescription_group_id(group)) };
    // SAFETY: as above; the error is owned by the description.
    let error = unsafe { error_object_result(rd::rd_kafka_ConsumerGroupDescription_error(group)) };
    if let Err(e) = error {
        return (name, Err(e));
    }
    // SAFETY: as above; the state is read as an integer (see `group_state_raw`).
    let state = group_state_name(unsafe { group_state_raw(group) }).to_string();
    // SAFETY: as above.
    let members = unsafe { rd::rd_kafka_ConsumerGroupDescription_member_count(group) };
    let mut assigned = std::collections::BTreeSet::new();
    for m in 0..members {
        // SAFETY: `m` is below the member count; members and their assignments (possibly
        // NULL) are owned by the description.
        let list = unsafe {
            let member = rd::rd_kafka_ConsumerGroupDescription_member(group, m);
            if member.is_null() {
                continue;
            }
            let assignment = rd::rd_kafka_MemberDescription_assignment(member);
            if assignment.is_null() {
                continue;
            }
            rd::rd_kafka_MemberAssignment_partitions(assignment)
        };
        if list.is_null() {
            continue;
        }
        // SAFETY: a non-NULL list is live; `cnt` elements of `elems` are initialised, each
        // topic a NUL-terminated string owned by the list, copied at once.
        unsafe {
            for j in 0..usize::try_from((*list).cnt).unwrap_or(0) {
                assigned.insert(text((*(*list).elems.add(j)).topic));
            }
        }
    }
    (
        name,
        Ok(GroupDescription {
            state,
            members,
            assigned,
        }),
    )
}

/// # Safety
/// `group` is a live group result.
unsafe fn group_commits(group: *const rd::rd_kafka_group_result_t) -> GroupCommits {
    // SAFETY: guaranteed by the caller.
    let name = unsafe { text(rd::rd_kafka_group_result_name(group)) };
    // SAFETY: as above; the error is owned by the group result.
    if let Err(e) = unsafe { error_object_result(rd::rd_kafka_group_result_error(group)) } {
        return GroupCommits {
            group: name,
            offsets: Err(e),
        };
    }
    // SAFETY: the list (possibly NULL) is owned by the group result.
    let list = unsafe { rd::rd_kafka_group_result_partitions(group) };
    let mut offsets = Vec::new();
    let count = if list.is_null() {
        0
    } else {
        // SAFETY: a non-NULL list is live; its `cnt` is read by value.
        unsafe { (*list).cnt }
    };
    for i in 0..usize::try_from(count).unwrap_or(0) {
        // SAFETY: `elems` has `cnt` initialised elements owned by the list. Fields are read
        // through raw pointers, the error code as an integer (see `error_code`), so no
        // reference to a possibly out-of-range enum value is ever made; `topic` is a
        // NUL-terminated string owned by the list and copied at once.
        let (topic, partition, offset, err) = unsafe {
            let e = (*list).elems.add(i);
            let err = ptr::addr_of!((*e).err).cast::<c_int>().read();
            ((*e).topic, (*e).partition, (*e).offset, err)
        };
        // A partition without a committed offset reports a negative (logical) offset.
        if offset >= 0 && error_code(err).is_none() {
            // SAFETY: see above.
            offsets.push((unsafe { text(topic) }, partition, offset));
        }
    }
    GroupCommits {
        group: name,
        offsets: Ok(offsets),
    }
}

/// A C ACL binding (or an exact-match filter with the same fields) for `b`.
fn acl_object(
    b: &AclBinding,
    filter: bool,
) -> Result<Owned<rd::rd_kafka_AclBinding_t>, AdminError> {
    let (name, principal, host) = (
        c_string(&b.resource_name)?,
        c_string(&b.principal)?,
        c_string(&b.host)?,
    );
    let mut errstr = ErrStr::new();
    let make = if filter {
        rd::rd_kafka_AclBindingFilter_new
    } else {
        rd::rd_kafka_AclBinding_new
    };
    // SAFETY: the strings are NUL-terminated and outlive the call (which copies them), the
    // enums are valid values, and `errstr` is a writable buffer of the length passed.
    let raw = unsafe {
        make(
            resource_type_to_c(b.resource_type),
            name.as_ptr(),
            pattern_to_c(b.pattern),
            principal.as_ptr(),
            host.as_ptr(),
            operation_to_c(b.operation),
            permission_to_c(b.permission),
            errstr.ptr(),
            ERRSTR_LEN,
        )
    };
    Owned::new(raw, rd::rd_kafka_AclBinding_destroy)
        .ok_or_else(|| AdminError::Invalid(errstr.text()))
}

/// # Safety
/// `acl` is a live ACL binding.
unsafe fn read_acl(acl: *const rd::rd_kafka_AclBinding_t, names: &mut Names) -> Option<AclBinding> {
    // SAFETY: guaranteed by the caller; strings are copied at once.
    unsafe {
        Some(AclBinding {
            principal: names.get(&text(rd::rd_kafka_AclBinding_principal(acl))),
            resource_type: resource_type_from_c(rd::rd_kafka_AclBinding_restype(acl))?,
            resource_name: names.get(&text(rd::rd_kafka_AclBinding_name(acl))),
            pattern: pattern_from_c(rd::rd_kafka_AclBinding_resource_pattern_type(acl))?,
            operation: operation_from_c(rd::rd_kafka_AclBinding_operation(acl))?,
            permission: permission_from_c(rd::rd_kafka_AclBinding_permission_type(acl))?,
            host: names.get(&text(rd::rd_kafka_AclBinding_host(acl))),
        })
    }
}

/// Kafka's `ConfigSource` numbering (librdkafka passes it through).
fn config_source(raw: c_int) -> ConfigSource {
    match raw {
        1 => ConfigSource::DynamicTopic,
        2 => ConfigSource::DynamicBroker,
        3 => ConfigSource::DynamicDefaultBroker,
        4 => ConfigSource::StaticBroker,
        5 => ConfigSource::Default,
        _ => ConfigSource::Unknown,
    }
}

fn resource_type_to_c(t: ResourceType) -> rd::rd_kafka_ResourceType_t {
    use rd::rd_kafka_ResourceType_t as C;
    match t {
        ResourceType::Topic => C::RD_KAFKA_RESOURCE_TOPIC,
        ResourceType::Group => C::RD_KAFKA_RESOURCE_GROUP,
        // librdkafka calls the cluster resource ("kafka-cluster") BROKER.
        ResourceType::Cluster => C::RD_KAFKA_RESOURCE_BROKER,
        ResourceType::TransactionalId => C::RD_KAFKA_RESOURCE_TRANSACTIONAL_ID,
    }
}

fn resource_type_from_c(t: rd::rd_kafka_ResourceType_t) -> Option<ResourceType> {
    use rd::rd_kafka_ResourceType_t as C;
    match t {
        C::RD_KAFKA_RESOURCE_TOPIC => Some(ResourceType::Topic),
        C::RD_KAFKA_RESOURCE_GROUP => Some(ResourceType::Group),
        C::RD_KAFKA_RESOURCE_BROKER => Some(ResourceType::Cluster),
        C::RD_KAFKA_RESOURCE_TRANSACTIONAL_ID => Some(ResourceType::TransactionalId),
        _ => None,
    }
}

fn pattern_to_c(p: PatternType) -> rd::rd_kafka_ResourcePatternType_t {
    use rd::rd_kafka_ResourcePatternType_t as C;
    match p {
        PatternType::Literal => C::RD_KAFKA_RESOURCE_PATTERN_LITERAL,
        PatternType::Prefixed => C::RD_KAFKA_RESOURCE_PATTERN_PREFIXED,
    }
}

fn pattern_from_c(p: rd::rd_kafka_ResourcePatternType_t) -> Option<PatternType> {
    use rd::rd_kafka_ResourcePatternType_t as C;
    match p {
        C::RD_KAFKA_RESOURCE_PATTERN_LITERAL => Some(PatternType::Literal),
        C::RD_KAFKA_RESOURCE_PATTERN_PREFIXED => Some(PatternType::Prefixed),
        _ => None,
    }
}

const OPERATIONS: [(Operation, rd::rd_kafka_AclOperation_t); 11] = {
    use rd::rd_kafka_AclOperation_t as C;
    [
        (Operation::All, C::RD_KAFKA_ACL_OPERATION_ALL),
        (Operation::Read, C::RD_KAFKA_ACL_OPERATION_READ),
        (Operation::Write, C::RD_KAFKA_ACL_OPERATION_WRITE),
        (Operation::Create, C::RD_KAFKA_ACL_OPERATION_CREATE),
        (Operation::Delete, C::RD_KAFKA_ACL_OPERATION_DELETE),
        (Operation::Alter, C::RD_KAFKA_ACL_OPERATION_ALTER),
        (Operation::Describe, C::RD_KAFKA_ACL_OPERATION_DESCRIBE),
        (
            Operation::ClusterAction,
            C::RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION,
        ),
        (
            Operation::DescribeConfigs,
            C::RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS,
        ),
        (
            Operation::AlterConfigs,
            C::RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS,
        ),
        (
            Operation::IdempotentWrite,
            C::RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE,
        ),
    ]
};

fn operation_to_c(op: Operation) -> rd::rd_kafka_AclOperation_t {
    OPERATIONS
        .iter()
        .find(|(o, _)| *o == op)
        .map(|(_, c)| *c)
        .expect("OPERATIONS lists every Operation")
}

fn operation_from_c(op: rd::rd_kafka_AclOperation_t) -> Option<Operation> {
    OPERATIONS.iter().find(|(_, c)| *c == op).map(|(o, _)| *o)
}

fn permission_to_c(p: Permission) -> rd::rd_kafka_AclPermissionType_t {
    use rd::rd_kafka_AclPermissionType_t as C;
    match p {
        Permission::Allow => C::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
        Permission::Deny => C::RD_KAFKA_ACL_PERMISSION_TYPE_DENY,
    }
}

fn permission_from_c(p: rd::rd_kafka_AclPermissionType_t) -> Option<Permission> {
    use rd::rd_kafka_AclPermissionType_t as C;
    match p {
        C::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW => Some(Permission::Allow),
        C::RD_KAFKA_ACL_PERMISSION_TYPE_DENY => Some(Permission::Deny),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for (op, _) in OPERATIONS {
            assert_eq!(operation_from_c(operation_to_c(op)), Some(op));
        }
        for t in [
            ResourceType::Topic,
            ResourceType::Group,
            ResourceType::Cluster,
            ResourceType::TransactionalId,
        ] {
            assert_eq!(resource_type_from_c(resource_type_to_c(t)), Some(t));
        }
        for p in [PatternType::Literal, PatternType::Prefixed] {
            assert_eq!(pattern_from_c(pattern_to_c(p)), Some(p));
        }
        for p in [Permission::Allow, Permission::Deny] {
            assert_eq!(permission_from_c(permission_to_c(p)), Some(p));
        }
        assert_eq!(
            operation_from_c(rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_ANY),
            None
        );
    }

    #[test]
    fn raw_codes_and_sources_are_checked_not_trusted() {
        assert_eq!(error_code(0), None);
        assert_eq!(error_code(36), Some(RDKafkaErrorCode::TopicAlreadyExists));
        assert_eq!(error_code(-187), Some(RDKafkaErrorCode::AllBrokersDown));
        // Codes librdkafka 2.12 has no name for (newer brokers define them).
        assert_eq!(error_code(120), Some(RDKafkaErrorCode::Unknown));
        assert_eq!(error_code(10_000), Some(RDKafkaErrorCode::Unknown));
        assert_eq!(config_source(1), ConfigSource::DynamicTopic);
        assert_eq!(config_source(5), ConfigSource::Default);
        assert_eq!(config_source(8), ConfigSource::Unknown);
    }

    #[test]
    fn argument_errors_are_reported_not_sent() {
        // Building an ACL object needs no client: librdkafka validates the arguments locally.
        let mut b = AclBinding::allow(
            "User:a",
            ResourceType::Topic,
            "t",
            PatternType::Literal,
            Operation::Read,
        );
        assert!(acl_object(&b, false).is_ok());
        assert!(acl_object(&b, true).is_ok());
        b.resource_name = "t\0x".into();
        assert!(matches!(acl_object(&b, false), Err(AdminError::Invalid(m)) if m.contains("NUL")));
    }
}
