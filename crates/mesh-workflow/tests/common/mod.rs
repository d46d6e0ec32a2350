//! A Kafka cluster and a Schema Registry in memory, behind the adapter traits, for driving the
//! workflow the way the binary does. Every write is logged (with the SPEC §4 rank of what it
//! does), and failures can be injected per call.
//!
//! The reader is deliberately more generous than the real one: it returns every topic and every
//! ACL it holds, not only the managed ones, so that what the plan leaves alone is the planner's
//! own doing.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use mesh_plan::registry::{
    Compatibility, LiveSubject, RegisteredSchema, RegistryReader, RegistryWriter,
};
use mesh_plan::*;

/// The catalog topic of every desired state here.
pub const CATALOG: &str = "_mesh-catalog";

/// Where a write belongs in SPEC §4's order: creates (ACLs; catalog topic; topics; configs and
/// partitions; schemas), then deletions in reverse (ACLs, subjects, topics), then the catalog
/// records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    /// ACLs come before the topics they name (SPEC §4: before or with them, so that a busy
    /// broker enforces them at once), never after a deletion.
    AclCreates,
    CatalogTopic,
    Topics,
    ConfigsAndPartitions,
    Schemas,
    /// Connectors: after their ACLs and schemas.
    Connectors,
    /// The first of the deletions.
    ConnectorDeletes,
    AclDeletes,
    SubjectDeletes,
    TopicDeletes,
    Catalog,
}

/// The cluster's whole state: what a generous reader returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct World {
    pub brokers: usize,
    pub topics: BTreeMap<String, LiveTopic>,
    pub acls: BTreeSet<AclBinding>,
    pub catalog_topic: Option<String>,
    pub catalog: BTreeMap<String, CatalogRecord>,
    pub groups: BTreeMap<String, Vec<GroupActivity>>,
    pub subjects: BTreeMap<String, LiveSubject>,
    /// Kafka Connect's connectors (every one, managed or not).
    pub connectors: BTreeMap<String, mesh_plan::connect::LiveConnector>,
}

/// A failure to inject: the next call of `call` fails with `error`.
#[derive(Clone, Debug)]
pub struct Fault {
    pub call: &'static str,
    pub error: AdapterError,
}

#[derive(Default)]
pub struct Memory {
    pub world: Mutex<World>,
    /// Every item written: (rank, call, name).
    pub log: Mutex<Vec<(Rank, &'static str, String)>>,
    pub faults: Mutex<Vec<Fault>>,
}

impl Memory {
    pub fn new(world: World) -> Self {
        Memory {
            world: Mutex::new(world),
            ..Default::default()
        }
    }

    pub fn world(&self) -> World {
        self.world.lock().unwrap().clone()
    }

    pub fn fail_next(&self, call: &'static str, error: AdapterError) {
        self.faults.lock().unwrap().push(Fault { call, error });
    }

    fn fault(&self, call: &str) -> Option<AdapterError> {
        let mut faults = self.faults.lock().unwrap();
        let i = faults.iter().position(|f| f.call == call)?;
        Some(faults.remove(i).error)
    }

    fn log(&self, rank: Rank, call: &'static str, name: impl Into<String>) {
        self.log.lock().unwrap().push((rank, call, name.into()));
    }

    /// A batch call: all items fail with an injected fault, or each is applied by `one`.
    fn batch<T>(
        &self,
        call: &'static str,
        items: &[T],
        mut one: impl FnMut(&mut World, &T) -> Result<(), AdapterError>,
    ) -> Vec<Result<(), AdapterError>> {
        if let Some(e) = self.fault(call) {
            return items.iter().map(|_| Err(e.clone())).collect();
        }
        let mut world = self.world.lock().unwrap();
        items.iter().map(|item| one(&mut world, item)).collect()
    }
}

fn not_found(what: &str) -> AdapterError {
    AdapterError::new(ErrorKind::NotFound, format!("{what} does not exist"))
}

impl ClusterReader for Memory {
    fn read(&self, request: &ReadRequest) -> Result<LiveState, AdapterError> {
        if let Some(e) = self.fault("read") {
            return Err(e);
        }
        let w = self.world.lock().unwrap();
        let exists = w.catalog_topic.as_deref() == Some(request.catalog_topic.as_str());
        Ok(LiveState {
            brokers: w.brokers,
            topics: w.topics.clone(),
            acls: w.acls.clone(),
            catalog_topic_exists: exists,
            catalog: if exists {
                w.catalog.clone()
            } else {
                BTreeMap::new()
            },
            subjects: BTreeMap::new(),
            groups: BTreeMap::new(),
            connectors: None,
        })
    }

    fn acls_of(&self, principals: &BTreeSet<String>) -> Result<BTreeSet<AclBinding>, AdapterError> {
        if let Some(e) = self.fault("acls_of") {
            return Err(e);
        }
        let _ = principals;
        Ok(self.world.lock().unwrap().acls.clone())
    }

    fn group_activity(
        &self,
        topics: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<GroupActivity>>, AdapterError> {
        if let Some(e) = self.fault("group_activity") {
            return Err(e);
        }
        let w = self.world.lock().unwrap();
        Ok(topics
            .iter()
            .map(|t| (t.clone(), w.groups.get(t).cloned().unwrap_or_default()))
            .collect())
    }
}

impl ClusterWriter for Memory {
    fn create_topics(&self, topics: &[NewTopic]) -> Vec<Result<(), AdapterError>> {
        for t in topics {
            let rank = if t.name == CATALOG {
                Rank::CatalogTopic
            } else {
                Rank::Topics
            };
            self.log(rank, "create_topics", &t.name);
        }
        self.batch("create_topics", topics, |w, t| {
            if w.topics.contains_key(&t.name) || w.catalog_topic.as_ref() == Some(&t.name) {
                return Err(AdapterError::new(
                    ErrorKind::Conflict,
                    format!("Topic '{}' already exists.", t.name),
                ));
            }
            if t.name == CATALOG {
                w.catalog_topic = Some(t.name.clone());
                return Ok(());
            }
            let configs = t
                .config
                .iter()
                .map(|(k, v)| {
                    let c = LiveConfig {
                        value: Some(v.clone()),
                        source: ConfigSource::DynamicTopic,
                    };
                    (k.clone(), c)
                })
                .collect();
            w.topics.insert(
                t.name.clone(),
                LiveTopic {
                    name: t.name.clone(),
                    partitions: t.partitions,
                    replication_factor: t.replication_factor,
                    configs,
                },
            );
            Ok(())
        })
    }

    fn alter_configs(&self, changes: &[ConfigChange]) -> Vec<Result<(), AdapterError>> {
        for c in changes {
            self.log(Rank::ConfigsAndPartitions, "alter_configs", &c.topic);
        }
        self.batch("alter_configs", changes, |w, c| {
            let t = w
                .topics
                .get_mut(&c.topic)
                .ok_or_else(|| not_found(&c.topic))?;
            for (k, v) in &c.set {
                let value = LiveConfig {
                    value: Some(v.clone()),
                    source: ConfigSource::DynamicTopic,
                };
                t.configs.insert(k.clone(), value);
            }
            for k in &c.delete {
                t.configs.remove(k);
            }
            Ok(())
        })
    }

    fn create_partitions(&self, topics: &[(String, i32)]) -> Vec<Result<(), AdapterError>> {
        for (t, _) in topics {
            self.log(Rank::ConfigsAndPartitions, "create_partitions", t);
        }
        self.batch("create_partitions", topics, |w, (name, n)| {
            let t = w.topics.get_mut(name).ok_or_else(|| not_found(name))?;
            if *n <= t.partitions {
                return Err(AdapterError::invalid(format!(
                    "Topic currently has {} partitions, which is higher than the requested {n}.",
                    t.partitions
                )));
            }
            t.partitions = *n;
            Ok(())
        })
    }

    fn create_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        for a in acls {
            self.log(Rank::AclCreates, "create_acls", acl_name(a));
        }
        self.batch("create_acls", acls, |w, a| {
            w.acls.insert(a.clone());
            Ok(())
        })
    }

    fn delete_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        for a in acls {
            self.log(Rank::AclDeletes, "delete_acls", acl_name(a));
        }
        self.batch("delete_acls", acls, |w, a| {
            w.acls.remove(a);
            Ok(())
        })
    }

    fn delete_topics(&self, topics: &[String]) -> Vec<Result<(), AdapterError>> {
        for t in topics {
            self.log(Rank::TopicDeletes, "delete_topics", t);
        }
        self.batch("delete_topics", topics, |w, t| {
            w.topics.remove(t).map(|_| ()).ok_or_else(|| not_found(t))
        })
    }

    fn write_catalog(
        &self,
        catalog_topic: &str,
        records: &[(String, Option<CatalogRecord>)],
    ) -> Result<(), AdapterError> {
        for (k, _) in records {
            self.log(Rank::Catalog, "write_catalog", k);
        }
        if let Some(e) = self.fault("write_catalog") {
            return Err(e);
        }
        let mut w = self.world.lock().unwrap();
        if w.catalog_topic.as_deref() != Some(catalog_topic) {
            return Err(not_found(catalog_topic));
        }
        for (k, r) in records {
            match r {
                Some(r) => w.catalog.insert(k.clone(), r.clone()),
                None => w.catalog.remove(k),
            };
        }
        Ok(())
    }
}

/// An ACL binding as one name, for the log.
pub fn acl_name(a: &AclBinding) -> String {
    format!(
        "{} {:?} {:?}:{}:{:?}",
        a.principal, a.operation, a.resource_type, a.resource_name, a.pattern
    )
}

impl RegistryReader for Memory {
    fn read_subjects(
        &self,
        subjects: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, LiveSubject>, AdapterError> {
        if let Some(e) = self.fault("read_subjects") {
            return Err(e);
        }
        let w = self.world.lock().unwrap();
        Ok(subjects
            .iter()
            .map(|s| (s.clone(), w.subjects.get(s).cloned().unwrap_or_default()))
            .collect())
    }

    fn check_compatibility(
        &self,
        _subject: &str,
        _schema_type: &str,
        _schema: &str,
        _level: Option<&str>,
    ) -> Result<Compatibility, AdapterError> {
        if let Some(e) = self.fault("check_compatibility") {
            return Err(e);
        }
        Ok(Compatibility {
            compatible: true,
            messages: Vec::new(),
        })
    }
}

impl mesh_plan::connect::ConnectReader for Memory {
    fn connectors(
        &self,
    ) -> Result<BTreeMap<String, mesh_plan::connect::LiveConnector>, AdapterError> {
        if let Some(e) = self.fault("connectors") {
            return Err(e);
        }
        Ok(self.world.lock().unwrap().connectors.clone())
    }

    fn validate(
        &self,
        _class: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<Vec<mesh_plan::connect::ConfigProblem>, AdapterError> {
        if let Some(e) = self.fault("validate") {
            return Err(e);
        }
        Ok(config
            .iter()
            .filter(|(_, v)| v.as_str() == "invalid")
            .map(|(k, _)| mesh_plan::connect::ConfigProblem {
                key: k.clone(),
                message: "Invalid value".into(),
            })
            .collect())
    }
}

impl mesh_plan::connect::ConnectWriter for Memory {
    fn put_config(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<(), AdapterError> {
        self.log(Rank::Connectors, "put_config", name);
        if let Some(e) = self.fault("put_config") {
            return Err(e);
        }
        let mut w = self.world.lock().unwrap();
        let c =
            w.connectors
                .entry(name.into())
                .or_insert_with(|| mesh_plan::connect::LiveConnector {
                    state: "RUNNING".into(),
                    ..Default::default()
                });
        c.config = config.clone();
        Ok(())
    }

    fn set_state(
        &self,
        name: &str,
        state: mesh_plan::connect::ConnectorState,
    ) -> Result<(), AdapterError> {
        self.log(Rank::Connectors, "set_state", name);
        let mut w = self.world.lock().unwrap();
        let c = w.connectors.get_mut(name).ok_or_else(|| not_found(name))?;
        c.state = state.connect_name().into();
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), AdapterError> {
        self.log(Rank::ConnectorDeletes, "delete_connector", name);
        self.world.lock().unwrap().connectors.remove(name);
        Ok(())
    }
}

impl RegistryWriter for Memory {
    fn set_compatibility(&self, subject: &str, level: &str) -> Result<(), AdapterError> {
        self.log(Rank::Schemas, "set_compatibility", subject);
        if let Some(e) = self.fault("set_compatibility") {
            return Err(e);
        }
        let mut w = self.world.lock().unwrap();
        w.subjects.entry(subject.into()).or_default().compatibility = Some(level.into());
        Ok(())
    }

    fn register(
        &self,
        subject: &str,
        schema_type: &str,
        schema: &str,
    ) -> Result<i32, AdapterError> {
        self.log(Rank::Schemas, "register", subject);
        if let Some(e) = self.fault("register") {
            return Err(e);
        }
        let mut w = self.world.lock().unwrap();
        let s = w.subjects.entry(subject.into()).or_default();
        if let Some(l) = &s.latest
            && l.schema == schema
        {
            return Ok(l.id);
        }
        let version = s.latest.as_ref().map_or(1, |l| l.version + 1);
        let registered = RegisteredSchema {
            version,
            id: version,
            schema_type: schema_type.into(),
            schema: schema.into(),
        };
        s.history.push(registered.clone());
        s.latest = Some(registered);
        s.soft_deleted = false;
        Ok(version)
    }

    fn delete_subject(&self, subject: &str) -> Result<(), AdapterError> {
        self.log(Rank::SubjectDeletes, "delete_subject", subject);
        if let Some(e) = self.fault("delete_subject") {
            return Err(e);
        }
        self.world.lock().unwrap().subjects.remove(subject);
        Ok(())
    }
}

/// A validated mesh with no products: the governance context for desired states made by hand
/// (no lineage, no `change` rules, no diagnostics).
pub fn empty_report() -> mesh_check::Report {
    let files: BTreeMap<String, Vec<u8>> = [(
        "mesh.toml".to_string(),
        b"[mesh]\nname = \"props\"\n\n[environments.mem]\nbootstrap_servers = \"mem:9092\"\n"
            .to_vec(),
    )]
    .into();
    let today = mesh_model::doc::Date::from_unix_days(20_000);
    let report = mesh_check::validate(&files, Some("mem"), today);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    report
}
