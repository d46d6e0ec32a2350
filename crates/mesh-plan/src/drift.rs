//! Drift: what changed on managed resources outside `mesh` since the last apply. The catalog
//! records what each apply set ([`Applied`]); drift compares those records with the live state,
//! so it is independent of repo edits that were not applied yet. Pure, like the plan.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::SmallMap;
use crate::state::*;

/// What an apply set for one product, recorded in its catalog record (`applied`): the basis of
/// `mesh drift`. Records written before drift existed have none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub partitions: i32,
    pub replication_factor: i32,
    /// Config values as applied (normalised: durations and sizes in ms and bytes).
    #[serde(default)]
    pub configs: Configs,
    /// ACL bindings on the product's topic, and the group READ bindings of the principals that
    /// read it (a group is not tied to one product; drift compares the union of all records).
    /// Sorted and without duplicates, also when read back ([`sorted_acls`]). A list rather than
    /// a set: a plan holds every record twice (desired and read back), and the smallest node of
    /// a `BTreeSet` of bindings is about a kilobyte, 40 MiB at 10,000 products.
    #[serde(default, deserialize_with = "sorted_acls")]
    pub acls: Vec<AclBinding>,
    /// Subject name → what was registered.
    #[serde(default)]
    pub subjects: SmallMap<AppliedSubject>,
    /// Connectors that consume or produce the product: what mesh manages on the Connect cluster
    /// (a recorded connector whose file is gone is deleted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub connectors: BTreeMap<String, AppliedConnector>,
}

/// Config key → value as applied.
pub type Configs = SmallMap<String>;

/// A connector as applied. Values that are secret, or come from mesh's environment, are not
/// recorded (the catalog topic is readable by many): only their keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedConnector {
    pub class: String,
    pub state: crate::connect::ConnectorState,
    /// Config values as applied, except sensitive ones.
    pub config: BTreeMap<String, String>,
    /// Keys whose values are sensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
}

impl AppliedConnector {
    pub fn of(c: &crate::connect::DesiredConnector) -> Self {
        let (sensitive, plain): (Vec<_>, Vec<_>) =
            c.config.iter().partition(|(k, _)| c.is_sensitive(k));
        AppliedConnector {
            class: c.class.clone(),
            state: c.state,
            config: plain
                .into_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            sensitive: sensitive.into_iter().map(|(k, _)| k.clone()).collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedSubject {
    /// SHA-256 (hex) of the schema text in normal form (`mesh_schema::compat::normalise`).
    pub schema_sha256: String,
    pub schema_type: String,
    pub compatibility: String,
}

/// SHA-256 (lower-case hex) of a schema text in normal form.
pub fn schema_fingerprint(schema: &str, schema_type: &str) -> String {
    let normal = mesh_schema::compat::normalise(schema, crate::plan::format_of(schema_type));
    Sha256::digest(normal.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads [`Applied::acls`] as a sorted list without duplicates, whatever order a record has.
fn sorted_acls<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<AclBinding>, D::Error> {
    let mut acls = Vec::<AclBinding>::deserialize(d)?;
    acls.sort_unstable();
    acls.dedup();
    acls.shrink_to_fit();
    Ok(acls)
}

/// Fills each catalog record of `d` with what applying `d` sets for its product. The bindings
/// of `d` share their names first, so the records' copies of them hold no copies of names.
pub fn record_applied(d: &mut DesiredState) {
    let mut names = Names::default();
    d.acls = std::mem::take(&mut d.acls)
        .into_iter()
        .map(|mut b| {
            b.share_names(&mut names);
            b
        })
        .collect();
    let mut by_product: BTreeMap<String, Applied> = BTreeMap::new();
    // The bindings indexed once (topic bindings by topic name, group bindings by principal):
    // scanning every binding for every topic is quadratic, half a second at 2,000 products.
    let mut on_topics: BTreeMap<&str, Vec<&AclBinding>> = BTreeMap::new();
    let mut groups_of: BTreeMap<&str, Vec<&AclBinding>> = BTreeMap::new();
    let mut beyond_of: BTreeMap<&str, Vec<&AclBinding>> = BTreeMap::new();
    for b in &d.acls {
        match (b.resource_type, b.pattern) {
            (ResourceType::Topic, PatternType::Prefixed) | (ResourceType::TransactionalId, _) => {
                beyond_of.entry(&b.principal).or_default().push(b)
            }
            (ResourceType::Topic, _) => on_topics.entry(&b.resource_name).or_default().push(b),
            (ResourceType::Group, _) => groups_of.entry(&b.principal).or_default().push(b),
            _ => {}
        }
    }
    for t in d.topics.values() {
        let on = on_topics
            .get(t.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        // Principals that READ the topic: their group bindings belong to it too.
        let readers: BTreeSet<&str> = on
            .iter()
            .filter(|b| b.operation == Operation::Read)
            .map(|b| &*b.principal)
            .collect();
        let mut acls: BTreeSet<AclBinding> = on.iter().map(|b| (*b).clone()).collect();
        for r in &readers {
            if let Some(groups) = groups_of.get(r) {
                acls.extend(groups.iter().map(|b| (*b).clone()));
            }
        }
        // Principals that read or write it: so do the bindings their kind implies beyond any
        // one topic (a transactional id, a Streams application's internal-topic prefix).
        for user in on.iter().map(|b| &*b.principal) {
            if let Some(beyond) = beyond_of.get(user) {
                acls.extend(beyond.iter().map(|b| (*b).clone()));
            }
        }
        by_product.insert(
            t.product.clone(),
            Applied {
                partitions: t.partitions,
                replication_factor: t.replication_factor,
                configs: t.config.clone(),
                acls: acls.into_iter().collect(),
                subjects: SmallMap::default(),
                connectors: BTreeMap::new(),
            },
        );
    }
    for c in d.connectors.values() {
        if let Some(a) = by_product.get_mut(&c.product) {
            a.connectors.insert(c.name.clone(), AppliedConnector::of(c));
        }
    }
    for s in d.subjects.values() {
        if let Some(a) = by_product.get_mut(&s.product) {
            a.subjects.insert(
                s.subject.clone(),
                AppliedSubject {
                    schema_sha256: schema_fingerprint(&s.schema, &s.schema_type),
                    schema_type: s.schema_type.clone(),
                    compatibility: s.compatibility.clone(),
                },
            );
        }
    }
    for (id, record) in &mut d.catalog {
        record.applied = by_product.remove(id).map(|mut a| {
            // A record lives through the whole plan, and most name one or two subjects.
            a.subjects.shrink_to_fit();
            a
        });
    }
}

/// One change made outside `mesh`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// The product it concerns (`None` for an ACL added outside mesh).
    pub product: Option<String>,
    #[serde(flatten)]
    pub change: DriftChange,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriftChange {
    TopicDeleted {
        topic: String,
    },
    Partitions {
        topic: String,
        applied: i32,
        live: i32,
    },
    ReplicationFactor {
        topic: String,
        applied: i32,
        live: i32,
    },
    /// `live: None`: the key has no value on the topic any more.
    Config {
        topic: String,
        key: String,
        applied: String,
        live: Option<String>,
    },
    AclRemoved {
        binding: AclBinding,
    },
    /// A binding of a principal mesh manages that no apply created.
    AclAdded {
        binding: AclBinding,
    },
    SubjectDeleted {
        subject: String,
    },
    /// The latest version is not the schema mesh registered.
    SchemaVersion {
        subject: String,
        live_version: i32,
    },
    Compatibility {
        subject: String,
        applied: String,
        live: Option<String>,
    },
    ConnectorDeleted {
        connector: String,
    },
    /// A config key of a connector differs from what was applied (`live: None`: removed;
    /// `applied: None`: added outside mesh). Sensitive values are never shown, only their keys.
    ConnectorConfig {
        connector: String,
        key: String,
        applied: Option<String>,
        live: Option<String>,
    },
    /// Paused, stopped or resumed outside mesh.
    ConnectorState {
        connector: String,
        applied: crate::connect::ConnectorState,
        live: String,
    },
}

/// How a live connector differs from what was applied. Values from mesh's environment and
/// secrets were not recorded: only whether their keys are still there is compared.
fn connector_drift(
    name: &str,
    want: &AppliedConnector,
    have: &crate::connect::LiveConnector,
) -> Vec<DriftChange> {
    let mut out = Vec::new();
    let keys: BTreeSet<&String> = want
        .config
        .keys()
        .chain(want.sensitive.iter())
        .chain(have.config.keys())
        .collect();
    for key in keys {
        let sensitive = want.sensitive.contains(key);
        let applied = want.config.get(key);
        let live = have.config.get(key);
        let differs = if sensitive {
            live.is_none()
        } else {
            applied != live
        };
        if differs {
            let hide = |v: Option<&String>| {
                v.map(|v| {
                    if sensitive || crate::connect::is_sensitive(key, None) {
                        crate::connect::SENSITIVE.to_string()
                    } else {
                        v.clone()
                    }
                })
            };
            out.push(DriftChange::ConnectorConfig {
                connector: name.to_string(),
                key: key.clone(),
                applied: hide(applied),
                live: hide(live),
            });
        }
    }
    let live_state = crate::connect::ConnectorState::ALL
        .into_iter()
        .find(|s| s.connect_name() == have.state);
    // FAILED and friends are health, not drift; a pause or stop made by hand is.
    if let Some(state) = live_state
        && state != want.state
    {
        out.push(DriftChange::ConnectorState {
            connector: name.to_string(),
            applied: want.state,
            live: have.state.clone(),
        });
    }
    out
}

/// The result of a drift check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DriftReport {
    pub drift: Vec<Drift>,
    /// Products whose catalog record predates drift tracking (no `applied`): nothing to compare
    /// until the next apply records it.
    pub unrecorded: Vec<String>,
}

/// The principals whose live ACLs drift needs: those of every recorded binding.
pub fn managed_principals(catalog: &BTreeMap<String, CatalogRecord>) -> BTreeSet<String> {
    catalog
        .values()
        .filter_map(|r| r.applied.as_ref())
        .flat_map(|a| a.acls.iter().map(|b| b.principal.to_string()))
        .collect()
}

/// Compares the catalog's applied state with `live` (which must hold the recorded topics, the
/// ACLs of [`managed_principals`] and the recorded subjects). Deterministic order: per product,
/// then ACLs.
pub fn drift(catalog: &BTreeMap<String, CatalogRecord>, live: &LiveState) -> DriftReport {
    let mut report = DriftReport::default();
    let mut applied_acls: BTreeMap<&AclBinding, &str> = BTreeMap::new();
    for (id, record) in catalog {
        let Some(applied) = &record.applied else {
            report.unrecorded.push(id.clone());
            continue;
        };
        let mut push = |change| {
            report.drift.push(Drift {
                product: Some(id.clone()),
                change,
            })
        };
        for b in &applied.acls {
            applied_acls.entry(b).or_insert(id);
        }
        let topic = &record.topic;
        match live.topics.get(topic) {
            None => push(DriftChange::TopicDeleted {
                topic: topic.clone(),
            }),
            Some(have) => {
                if have.partitions != applied.partitions {
                    push(DriftChange::Partitions {
                        topic: topic.clone(),
                        applied: applied.partitions,
                        live: have.partitions,
                    });
                }
                if have.replication_factor != applied.replication_factor {
                    push(DriftChange::ReplicationFactor {
                        topic: topic.clone(),
                        applied: applied.replication_factor,
                        live: have.replication_factor,
                    });
                }
                for (key, value) in &applied.configs {
                    let live_value = match have.configs.get(key) {
                        // A sensitive value Kafka does not return cannot be compared.
                        Some(LiveConfig { value: None, .. }) => continue,
                        Some(LiveConfig { value: Some(v), .. }) => Some(v),
                        None => None,
                    };
                    if !live_value.is_some_and(|v| crate::plan::same_value(key, v, value)) {
                        push(DriftChange::Config {
                            topic: topic.clone(),
                            key: key.clone(),
                            applied: value.clone(),
                            live: live_value.cloned(),
                        });
                    }
                }
            }
        }
        for (name, want) in &applied.subjects {
            let have = live.subjects.get(name);
            let Some(latest) = have.and_then(|h| h.latest.as_ref()) else {
                push(DriftChange::SubjectDeleted {
                    subject: name.clone(),
                });
                continue;
            };
            if latest.schema_type != want.schema_type
                || schema_fingerprint(&latest.schema, &latest.schema_type) != want.schema_sha256
            {
                push(DriftChange::SchemaVersion {
                    subject: name.clone(),
                    live_version: latest.version,
                });
            }
            let level = have.and_then(|h| h.compatibility.clone());
            if level.as_deref() != Some(want.compatibility.as_str()) {
                push(DriftChange::Compatibility {
                    subject: name.clone(),
                    applied: want.compatibility.clone(),
                    live: level,
                });
            }
        }
        // Connectors, when the Connect cluster was read.
        if let Some(connectors) = &live.connectors {
            for (name, want) in &applied.connectors {
                match connectors.get(name) {
                    None => push(DriftChange::ConnectorDeleted {
                        connector: name.clone(),
                    }),
                    Some(have) => {
                        for change in connector_drift(name, want, have) {
                            push(change);
                        }
                    }
                }
            }
        }
    }
    for (b, id) in &applied_acls {
        if !live.acls.contains(*b) {
            report.drift.push(Drift {
                product: Some(id.to_string()),
                change: DriftChange::AclRemoved {
                    binding: (*b).clone(),
                },
            });
        }
    }
    let principals = managed_principals(catalog);
    for b in &live.acls {
        if principals.contains(&*b.principal) && !applied_acls.contains_key(b) {
            report.drift.push(Drift {
                product: None,
                change: DriftChange::AclAdded { binding: b.clone() },
            });
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{LiveSubject, RegisteredSchema};

    const AVRO: &str =
        r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;

    fn desired() -> DesiredState {
        let mut d = DesiredState::default();
        d.topics.insert(
            "sales.orders".into(),
            DesiredTopic {
                product: "sales.orders".into(),
                name: "sales.orders".into(),
                partitions: 3,
                replication_factor: 1,
                config: [("retention.ms".to_string(), "604800000".to_string())].into(),
            },
        );
        let w = |op| {
            AclBinding::allow(
                "User:writer",
                ResourceType::Topic,
                "sales.orders",
                PatternType::Literal,
                op,
            )
        };
        let r = |op| {
            AclBinding::allow(
                "User:reader",
                ResourceType::Topic,
                "sales.orders",
                PatternType::Literal,
                op,
            )
        };
        d.acls = [
            w(Operation::Write),
            w(Operation::Describe),
            r(Operation::Read),
            r(Operation::Describe),
            AclBinding::allow(
                "User:reader",
                ResourceType::Group,
                "finance.",
                PatternType::Prefixed,
                Operation::Read,
            ),
        ]
        .into();
        d.subjects.insert(
            "sales.orders-value".into(),
            DesiredSubject {
                product: "sales.orders".into(),
                subject: "sales.orders-value".into(),
                schema_type: "AVRO".into(),
                schema: AVRO.into(),
                file: "domains/sales/schemas/order.avsc".into(),
                compatibility: "BACKWARD".into(),
            },
        );
        d.catalog.insert(
            "sales.orders".into(),
            CatalogRecord {
                product: "sales.orders".into(),
                domain: "sales".into(),
                topic: "sales.orders".into(),
                description: "d".into(),
                owners: vec![],
                quality: "raw".into(),
                sla: "tier-3".into(),
                status: "active".into(),
                tags: vec![],
                inputs: vec![],
                declared_configs: vec!["retention.ms".into()],
                deprecation: None,
                revision: None,
                applied_at: String::new(),
                applied: None,
            },
        );
        record_applied(&mut d);
        d
    }

    /// The live state right after applying `desired()`.
    fn live(d: &DesiredState) -> LiveState {
        let mut l = LiveState::default();
        l.topics.insert(
            "sales.orders".into(),
            LiveTopic {
                name: "sales.orders".into(),
                partitions: 3,
                replication_factor: 1,
                configs: [(
                    "retention.ms".to_string(),
                    LiveConfig {
                        value: Some("604800000".into()),
                        source: ConfigSource::DynamicTopic,
                    },
                )]
                .into(),
            },
        );
        l.acls = d.acls.clone();
        l.subjects.insert(
            "sales.orders-value".into(),
            LiveSubject {
                // Whitespace differs: the same schema in normal form.
                latest: Some(RegisteredSchema {
                    version: 1,
                    id: 1,
                    schema_type: "AVRO".into(),
                    schema: AVRO.replace(',', ", "),
                }),
                history: vec![],
                compatibility: Some("BACKWARD".into()),
                soft_deleted: false,
            },
        );
        l.catalog = d.catalog.clone();
        l
    }

    fn kinds(r: &DriftReport) -> Vec<String> {
        r.drift
            .iter()
            .map(|d| {
                serde_json::to_value(d).unwrap()["kind"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn connectors_changed_paused_or_deleted_by_hand_are_drift_and_secrets_stay_hidden() {
        use crate::connect::{ConnectorState, DesiredConnector, LiveConnector};
        let mut d = desired();
        let config: BTreeMap<String, String> = [
            ("name", "orders-sink"),
            ("connector.class", "FileStreamSink"),
            ("topics", "sales.orders"),
            ("file", "/tmp/a.txt"),
            ("consumer.override.sasl.jaas.config", "${SINK_JAAS}"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        d.connectors.insert(
            "orders-sink".into(),
            DesiredConnector {
                name: "orders-sink".into(),
                domain: "sales".into(),
                product: "sales.orders".into(),
                sink: true,
                file: "domains/sales/connectors/orders-sink.toml".into(),
                class: "FileStreamSink".into(),
                state: ConnectorState::Running,
                config: config.clone(),
                resolved: None,
            },
        );
        record_applied(&mut d);
        let recorded = &d.catalog["sales.orders"]
            .applied
            .as_ref()
            .unwrap()
            .connectors["orders-sink"];
        assert_eq!(recorded.sensitive, ["consumer.override.sasl.jaas.config"]);
        assert!(
            !recorded
                .config
                .contains_key("consumer.override.sasl.jaas.config")
        );

        let mut expanded = config.clone();
        expanded.insert(
            "consumer.override.sasl.jaas.config".into(),
            "the-secret-line".into(),
        );
        let mut l = live(&d);
        let running = LiveConnector {
            config: expanded.clone(),
            state: "RUNNING".into(),
            ..Default::default()
        };
        l.connectors = Some([("orders-sink".to_string(), running.clone())].into());
        assert!(drift(&l.catalog, &l).drift.is_empty());
        // Not read (no Connect cluster asked): nothing to say.
        l.connectors = None;
        assert!(drift(&l.catalog, &l).drift.is_empty());

        let mut changed = running.clone();
        changed.config.insert("file".into(), "/tmp/b.txt".into());
        changed
            .config
            .insert("errors.tolerance".into(), "all".into());
        changed.config.insert(
            "consumer.override.sasl.jaas.config".into(),
            "another-secret".into(),
        );
        changed.state = "PAUSED".into();
        l.connectors = Some([("orders-sink".to_string(), changed)].into());
        let r = drift(&l.catalog, &l);
        assert_eq!(
            kinds(&r),
            ["connector_config", "connector_config", "connector_state"],
            "{r:#?}"
        );
        let text = format!("{r:?}");
        assert!(text.contains("/tmp/b.txt") && text.contains("errors.tolerance"));
        assert!(!text.contains("secret"), "{text}");

        let mut failed = running.clone();
        failed.state = "FAILED".into();
        l.connectors = Some([("orders-sink".to_string(), failed)].into());
        assert!(
            drift(&l.catalog, &l).drift.is_empty(),
            "a failure is not drift"
        );

        l.connectors = Some(BTreeMap::new());
        assert_eq!(kinds(&drift(&l.catalog, &l)), ["connector_deleted"]);
    }

    #[test]
    fn a_record_holds_its_topic_bindings_and_the_group_bindings_of_its_readers() {
        let d = desired();
        let a = d.catalog["sales.orders"].applied.as_ref().unwrap();
        assert_eq!(
            a.acls,
            d.acls.iter().cloned().collect::<Vec<_>>(),
            "every binding of the fixture concerns sales.orders"
        );
        let mut other = desired();
        other.acls.insert(AclBinding::allow(
            "User:someone-else",
            ResourceType::Group,
            "x",
            PatternType::Literal,
            Operation::Read,
        ));
        record_applied(&mut other);
        assert_eq!(
            other.catalog["sales.orders"].applied.as_ref().unwrap().acls,
            d.acls.iter().cloned().collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_record_read_back_holds_its_bindings_sorted_and_once_whatever_was_written() {
        let d = desired();
        let record = &d.catalog["sales.orders"];
        let acls = &record.applied.as_ref().unwrap().acls;
        assert!(acls.len() > 1, "{acls:?}");
        // Written by something else: the bindings reversed, one of them twice.
        let mut value = serde_json::to_value(record).unwrap();
        let written = value["applied"]["acls"].as_array_mut().unwrap();
        written.reverse();
        let again = written[0].clone();
        written.push(again);
        let bytes = serde_json::to_vec(&value).unwrap();
        let (key, back) = CatalogRecord::decode(Some(b"sales.orders"), Some(&bytes)).unwrap();
        let back = back.unwrap();
        assert_eq!(key, "sales.orders");
        assert_eq!(&back.applied.as_ref().unwrap().acls, acls);
        assert!(back.same_content(record), "{back:#?}");
        // When and from which revision it was applied do not count; anything else does.
        let mut later = back.clone();
        later.applied_at = "2030-01-01T00:00:00Z".into();
        later.revision = Some("abc123".into());
        assert!(later.same_content(record));
        later.description.push('!');
        assert!(!later.same_content(record));
        let mut fewer = back.clone();
        fewer.applied.as_mut().unwrap().acls.pop();
        assert!(!fewer.same_content(record));
    }

    #[test]
    fn applied_maps_read_and_write_as_a_json_object_sorted_by_key() {
        let configs: Configs =
            serde_json::from_str(r#"{"retention.ms": "1", "cleanup.policy": "delete"}"#).unwrap();
        assert_eq!(
            configs.iter().collect::<Vec<_>>(),
            [
                (&"cleanup.policy".to_string(), &"delete".to_string()),
                (&"retention.ms".to_string(), &"1".to_string())
            ]
        );
        assert_eq!(configs.get("retention.ms").map(String::as_str), Some("1"));
        assert_eq!(
            configs.get("cleanup.policy").map(String::as_str),
            Some("delete")
        );
        assert_eq!(configs.get("segment.ms"), None);
        assert_eq!((configs.len(), configs.is_empty()), (2, false));
        assert_eq!(
            serde_json::to_string(&configs).unwrap(),
            r#"{"cleanup.policy":"delete","retention.ms":"1"}"#
        );
        // A key twice in a record written by something else: the last one, as with a map.
        let twice: Configs = serde_json::from_str(r#"{"a": "1", "a": "2"}"#).unwrap();
        assert_eq!(twice.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(twice.get("a").map(String::as_str), Some("2"));
        assert!(Configs::default().is_empty());
        assert_eq!(
            serde_json::from_str::<Configs>("{}").unwrap(),
            Configs::default()
        );
        // Inserting keeps the order and replaces a key's value; retain keeps what it is told.
        let mut map = configs.clone();
        map.insert("segment.ms".into(), "9".into());
        map.insert("a.first".into(), "0".into());
        map.insert("retention.ms".into(), "2".into());
        assert_eq!(
            map.keys().map(String::as_str).collect::<Vec<_>>(),
            ["a.first", "cleanup.policy", "retention.ms", "segment.ms"]
        );
        assert_eq!(map.get("retention.ms").map(String::as_str), Some("2"));
        map.retain(|k, _| k != "a.first");
        assert_eq!(map.len(), 3);
        assert_eq!(map.get("a.first"), None);
        assert_eq!(map.get("segment.ms").map(String::as_str), Some("9"));
    }

    #[test]
    fn bindings_share_their_names_in_the_desired_state_and_in_records_read_back() {
        let d = desired();
        // Every binding of a principal, in the desired set and in the records, holds one copy
        // of its name; so does every binding on a topic.
        let mut first: BTreeMap<&str, &Name> = BTreeMap::new();
        let records = d.catalog.values().filter_map(|r| r.applied.as_ref());
        for b in d.acls.iter().chain(records.flat_map(|a| a.acls.iter())) {
            for name in [&b.principal, &b.resource_name, &b.host] {
                let shared = *first.entry(&**name).or_insert(name);
                assert!(Name::ptr_eq(shared, name), "{name} is held twice");
            }
        }
        assert!(first.contains_key("*") && first.len() > 3, "{first:?}");
        // Read back: two records naming the same principal share it once their names are.
        let record = &d.catalog["sales.orders"];
        let bytes = serde_json::to_vec(record).unwrap();
        let decode = || {
            CatalogRecord::decode(Some(b"sales.orders"), Some(&bytes))
                .unwrap()
                .1
                .unwrap()
        };
        let (mut one, mut two) = (decode(), decode());
        let principal = |r: &CatalogRecord| r.applied.as_ref().unwrap().acls[0].principal.clone();
        assert!(!Name::ptr_eq(&principal(&one), &principal(&two)));
        let mut names = Names::default();
        one.share_names(&mut names);
        two.share_names(&mut names);
        assert!(Name::ptr_eq(&principal(&one), &principal(&two)));
        // Sharing changes no value.
        assert_eq!(one, decode());
        assert_eq!(serde_json::to_vec(&two).unwrap(), bytes);
    }

    #[test]
    fn the_record_holds_what_apply_sets() {
        let d = desired();
        let a = d.catalog["sales.orders"].applied.as_ref().unwrap();
        assert_eq!((a.partitions, a.replication_factor), (3, 1));
        assert_eq!(a.configs.get("retention.ms").unwrap(), "604800000");
        assert_eq!(
            a.acls,
            d.acls.iter().cloned().collect::<Vec<_>>(),
            "topic bindings and the reader's group binding"
        );
        let s = a.subjects.get("sales.orders-value").unwrap();
        assert_eq!(s.schema_sha256.len(), 64);
        assert_eq!(s.compatibility, "BACKWARD");
        // It survives the catalog's JSON, and old records without it still load.
        let json = serde_json::to_string(&d.catalog["sales.orders"]).unwrap();
        let back: CatalogRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d.catalog["sales.orders"]);
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        old.as_object_mut().unwrap().remove("applied");
        let old: CatalogRecord = serde_json::from_value(old).unwrap();
        assert_eq!(old.applied, None);
    }

    #[test]
    fn no_drift_right_after_apply() {
        let d = desired();
        let r = drift(&d.catalog, &live(&d));
        assert_eq!(r, DriftReport::default());
    }

    #[test]
    fn every_kind_of_change_outside_mesh_is_reported() {
        let d = desired();
        let mut l = live(&d);
        let t = l.topics.get_mut("sales.orders").unwrap();
        t.partitions = 6;
        t.replication_factor = 2;
        t.configs.get_mut("retention.ms").unwrap().value = Some("86400000".into());
        let removed = AclBinding::allow(
            "User:writer",
            ResourceType::Topic,
            "sales.orders",
            PatternType::Literal,
            Operation::Write,
        );
        l.acls.remove(&removed);
        let added = AclBinding::allow(
            "User:reader",
            ResourceType::Topic,
            "other",
            PatternType::Literal,
            Operation::Read,
        );
        l.acls.insert(added.clone());
        // Someone else's binding is none of mesh's business.
        l.acls.insert(AclBinding::allow(
            "User:stranger",
            ResourceType::Topic,
            "sales.orders",
            PatternType::Literal,
            Operation::Read,
        ));
        let s = l.subjects.get_mut("sales.orders-value").unwrap();
        s.latest.as_mut().unwrap().schema = AVRO.replace("Order", "Order2");
        s.latest.as_mut().unwrap().version = 2;
        s.compatibility = Some("NONE".into());
        let r = drift(&d.catalog, &l);
        assert_eq!(
            kinds(&r),
            [
                "partitions",
                "replication_factor",
                "config",
                "schema_version",
                "compatibility",
                "acl_removed",
                "acl_added"
            ]
        );
        assert_eq!(
            r.drift[0].change,
            DriftChange::Partitions {
                topic: "sales.orders".into(),
                applied: 3,
                live: 6
            }
        );
        assert_eq!(
            r.drift[2].change,
            DriftChange::Config {
                topic: "sales.orders".into(),
                key: "retention.ms".into(),
                applied: "604800000".into(),
                live: Some("86400000".into())
            }
        );
        assert_eq!(
            r.drift[5].change,
            DriftChange::AclRemoved { binding: removed }
        );
        assert_eq!(r.drift[5].product.as_deref(), Some("sales.orders"));
        assert_eq!(r.drift[6].change, DriftChange::AclAdded { binding: added });
        assert_eq!(r.drift[6].product, None);
    }

    #[test]
    fn deleted_topics_subjects_and_configs_are_reported() {
        let d = desired();
        let mut l = live(&d);
        l.topics
            .get_mut("sales.orders")
            .unwrap()
            .configs
            .remove("retention.ms");
        l.subjects.clear();
        let r = drift(&d.catalog, &l);
        assert_eq!(kinds(&r), ["config", "subject_deleted"]);
        l.topics.clear();
        let r = drift(&d.catalog, &l);
        assert_eq!(kinds(&r), ["topic_deleted", "subject_deleted"]);
    }

    #[test]
    fn inherited_equal_values_and_records_without_applied_state_are_no_drift() {
        let d = desired();
        let mut l = live(&d);
        // Reset outside mesh, but the default is the applied value: nothing to report.
        l.topics
            .get_mut("sales.orders")
            .unwrap()
            .configs
            .get_mut("retention.ms")
            .unwrap()
            .source = ConfigSource::Default;
        assert!(drift(&d.catalog, &l).drift.is_empty());
        let mut old = d.catalog.clone();
        old.get_mut("sales.orders").unwrap().applied = None;
        l.topics.clear();
        let r = drift(&old, &l);
        assert!(r.drift.is_empty());
        assert_eq!(r.unrecorded, ["sales.orders"]);
    }
}
