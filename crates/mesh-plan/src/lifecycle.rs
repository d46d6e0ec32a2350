//! A product's end of life and the reach of breaking changes (SPEC §4): when a product whose file
//! was removed may be retired (and the actions that retire it), the impact of every breaking or
//! destructive change, and the warnings consumers of deprecated products get. Pure: "now" is an
//! argument, in milliseconds since the Unix epoch.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::plan::{Action, Plan, PlanError};
use crate::state::*;

const DAY_MS: i64 = 86_400_000;

/// Why a product cannot be retired yet, each with who can clear it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    /// The applied catalog record does not say `deprecated`.
    NotDeprecated { status: String, owners: Vec<String> },
    /// The recorded sunset is still ahead (or none was recorded).
    SunsetNotPassed {
        sunset: Option<String>,
        owners: Vec<String>,
    },
    /// A `[[consumes]]` entry still names the product.
    Consumer(AffectedConsumer),
    /// A product still lists it in `inputs`.
    Input {
        product: String,
        owners: Vec<String>,
    },
    /// A consumer group has members now, or committed within `retire_idle_days`.
    Group(RecentGroup),
    /// The consumer groups of the topic were not read, so it cannot be told idle.
    ActivityUnknown { topic: String },
}

impl Blocker {
    /// One sentence naming the blocker and who owns it.
    pub fn describe(&self) -> String {
        match self {
            Blocker::NotDeprecated { status, owners } => format!(
                "the applied catalog says it is {status}, not deprecated (owners: {}): deprecate it first (status = \"deprecated\" and a [deprecation] sunset), apply, and remove it after the sunset",
                owners.join(", ")
            ),
            Blocker::SunsetNotPassed {
                sunset: Some(s),
                owners,
            } => format!(
                "its sunset {s} has not passed (owners: {})",
                owners.join(", ")
            ),
            Blocker::SunsetNotPassed {
                sunset: None,
                owners,
            } => format!(
                "no sunset date was applied (owners: {}): set [deprecation] sunset and apply before removing it",
                owners.join(", ")
            ),
            Blocker::Consumer(c) => format!(
                "consumer {}/{} (group {}, owners: {}) still consumes it at {}:{}: that [[consumes]] entry must go first",
                c.domain,
                c.principal,
                c.group,
                c.owners.join(", "),
                c.file,
                c.line
            ),
            Blocker::Input { product, owners } => format!(
                "product {product} (owners: {}) still lists it in inputs",
                owners.join(", ")
            ),
            Blocker::Group(g) => format!("consumer group {}", g.describe()),
            Blocker::ActivityUnknown { topic } => format!(
                "the consumer groups of topic {topic} were not read, so it cannot be told idle"
            ),
        }
    }
}

/// What kind of breaking or destructive change an [`Impact`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImpactKind {
    /// A schema the registry (or the local check) finds incompatible.
    IncompatibleSchema,
    /// A product retired: its ACLs, subjects, topic and catalog record deleted.
    Retirement,
    /// More partitions on a keyed or compacted topic: keys move to other partitions.
    PartitionIncrease,
    /// A principal loses READ on a topic.
    NarrowedAccess,
}

/// Who a breaking or destructive change reaches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Impact {
    pub kind: ImpactKind,
    pub product: String,
    pub topic: String,
    /// The change in one line.
    pub change: String,
    /// Products derived from it (through `inputs`), nearest first, with owners.
    pub downstream: Vec<AffectedProduct>,
    /// Declared consumers of it or of a downstream product.
    pub consumers: Vec<AffectedConsumer>,
    /// Consumer groups that committed offsets on the topic within `retire_idle_days`, or have
    /// members now.
    pub groups: Vec<RecentGroup>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AffectedProduct {
    pub id: String,
    pub owners: Vec<String>,
    /// 1 for a product derived directly from it.
    pub depth: usize,
}

/// A declared consumer (`[[consumes]]`), with where it is declared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AffectedConsumer {
    /// The product it consumes.
    pub product: String,
    pub domain: String,
    pub principal: String,
    pub group: String,
    pub owners: Vec<String>,
    pub file: String,
    pub line: usize,
}

impl From<&DesiredConsumer> for AffectedConsumer {
    fn from(c: &DesiredConsumer) -> Self {
        AffectedConsumer {
            product: c.product.clone(),
            domain: c.domain.clone(),
            principal: c.principal.clone(),
            group: c.group.clone(),
            owners: c.owners.clone(),
            file: c.file.clone(),
            line: c.line,
        }
    }
}

/// A consumer group seen on the topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecentGroup {
    pub group: String,
    pub state: String,
    pub members: usize,
    /// RFC 3339; `None` when the time could not be told (counted as now).
    pub last_commit: Option<String>,
    /// Assigned the topic, never committed on it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub never_committed: bool,
}

impl RecentGroup {
    fn of(g: &GroupActivity) -> Self {
        RecentGroup {
            group: g.group.clone(),
            state: g.state.clone(),
            members: g.members,
            last_commit: g.last_commit_ms.map(rfc3339),
            never_committed: g.never_committed,
        }
    }

    /// "sales.x (Stable, 2 member(s), last commit 2026-11-20T10:00:00Z)".
    pub fn describe(&self) -> String {
        let when = match &self.last_commit {
            Some(t) => format!("last commit {t}"),
            None if self.never_committed => "assigned the topic, never committed".to_string(),
            None => "last commit time unknown".to_string(),
        };
        format!(
            "{} ({}, {} member(s), {when})",
            self.group, self.state, self.members
        )
    }
}

/// A consumer told that what it reads is deprecated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeprecationWarning {
    pub product: String,
    pub sunset: Option<String>,
    pub replacement: Option<String>,
    pub consumer: AffectedConsumer,
}

impl DeprecationWarning {
    pub fn describe(&self) -> String {
        let c = &self.consumer;
        format!(
            "{}/{} ({}:{}, owners: {}) consumes {}, which is deprecated: sunset {}{}",
            c.domain,
            c.principal,
            c.file,
            c.line,
            c.owners.join(", "),
            self.product,
            self.sunset.as_deref().unwrap_or("not set"),
            self.replacement
                .as_ref()
                .map(|r| format!(", move to {r}"))
                .unwrap_or_default()
        )
    }
}

/// Whether a group still counts as a reader of the topic at `now_ms`.
fn is_recent(g: &GroupActivity, now_ms: i64, idle_days: u32) -> bool {
    g.state == "Stable"
        || g.members > 0
        || g.last_commit_ms
            .is_none_or(|t| now_ms.saturating_sub(t) < i64::from(idle_days) * DAY_MS)
}

/// The products recorded in the catalog but no longer declared: each is either retired (the
/// returned actions, ACL deletes aside, which the ACL diff plans) or refused with every blocker
/// (pushed to `p.errors`).
pub(crate) fn retirements(
    desired: &DesiredState,
    live: &LiveState,
    now_ms: i64,
    p: &mut Plan,
) -> Vec<Action> {
    let mut subjects = Vec::new();
    let mut topics = Vec::new();
    let mut tombstones = Vec::new();
    for (id, record) in &live.catalog {
        if desired.catalog.contains_key(id) {
            continue;
        }
        let blockers = blockers(id, record, desired, live, now_ms);
        if !blockers.is_empty() {
            p.errors.push(PlanError {
                blockers,
                ..PlanError::new(
                    Some(id),
                    format!(
                        "{id} (topic {}) is no longer declared in the repo, and cannot be retired yet",
                        record.topic
                    ),
                    format!(
                        "clear every blocker listed, or restore its file under domains/{}/products/ until then",
                        record.domain
                    ),
                )
            });
            continue;
        }
        // A topic some declared product (still) uses, or the catalog itself, is never deleted.
        let shared =
            desired.topics.contains_key(&record.topic) || record.topic == desired.catalog_topic;
        if !shared {
            for suffix in ["value", "key"] {
                let subject = format!("{}-{suffix}", record.topic);
                // A soft-deleted subject is a retirement whose permanent delete failed: the
                // delete is planned again, so nothing is left behind.
                let exists = live
                    .subjects
                    .get(&subject)
                    .is_some_and(|s| s.latest.is_some() || s.soft_deleted);
                if exists && !desired.subjects.contains_key(&subject) {
                    subjects.push(Action::DeleteSubject {
                        product: id.clone(),
                        subject,
                    });
                }
            }
            if live.topics.contains_key(&record.topic) {
                topics.push(Action::DeleteTopic {
                    product: id.clone(),
                    topic: record.topic.clone(),
                });
            }
        }
        tombstones.push(Action::RetireProduct {
            product: id.clone(),
            previous: Box::new(record.clone()),
        });
    }
    subjects
        .into_iter()
        .chain(topics)
        .chain(tombstones)
        .collect()
}

/// Every reason `id` cannot be retired at `now_ms`; empty when it can.
fn blockers(
    id: &str,
    record: &CatalogRecord,
    desired: &DesiredState,
    live: &LiveState,
    now_ms: i64,
) -> Vec<Blocker> {
    let mut out = Vec::new();
    if record.status != "deprecated" {
        out.push(Blocker::NotDeprecated {
            status: record.status.clone(),
            owners: record.owners.clone(),
        });
    } else {
        let sunset = record
            .deprecation
            .as_ref()
            .and_then(|d| d.get("sunset"))
            .cloned();
        let passed = sunset
            .as_deref()
            .and_then(date_ms)
            .is_some_and(|s| now_ms >= s);
        if !passed {
            out.push(Blocker::SunsetNotPassed {
                sunset,
                owners: record.owners.clone(),
            });
        }
    }
    out.extend(
        desired
            .consumers
            .iter()
            .filter(|c| c.product == id)
            .map(|c| Blocker::Consumer(c.into())),
    );
    out.extend(
        desired
            .catalog
            .values()
            .filter(|r| r.inputs.iter().any(|i| i == id))
            .map(|r| Blocker::Input {
                product: r.product.clone(),
                owners: r.owners.clone(),
            }),
    );
    match live.groups.get(&record.topic) {
        None => out.push(Blocker::ActivityUnknown {
            topic: record.topic.clone(),
        }),
        Some(groups) => out.extend(
            groups
                .iter()
                .filter(|g| is_recent(g, now_ms, desired.retire_idle_days))
                .map(|g| Blocker::Group(RecentGroup::of(g))),
        ),
    }
    out
}

/// The topics whose consumer groups a plan needs: those of retirement candidates and of
/// breaking or destructive changes. A caller reads them into `LiveState::groups` and plans again.
pub fn activity_topics(plan: &Plan, desired: &DesiredState, live: &LiveState) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = live
        .catalog
        .iter()
        .filter(|(id, _)| !desired.catalog.contains_key(*id))
        .map(|(_, r)| r.topic.clone())
        .collect();
    out.extend(plan.impacts.iter().map(|i| i.topic.clone()));
    out
}

/// The impact of each breaking or destructive change of `plan`: incompatible schemas (errors
/// with a subject), retirements, partition increases on keyed or compacted topics, and READ
/// taken from a principal. Sorted by kind, then product.
pub fn impacts(plan: &Plan, desired: &DesiredState, live: &LiveState, now_ms: i64) -> Vec<Impact> {
    let topic_of = |product: &str| -> Option<String> {
        desired
            .catalog
            .get(product)
            .or_else(|| live.catalog.get(product))
            .map(|r| r.topic.clone())
    };
    let product_of_topic = |topic: &str| crate::changes::product_of_topic(desired, live, topic);
    let mut out = Vec::new();
    let mut push = |kind, product: String, topic: String, change: String| {
        out.push(impact_of(
            kind, &product, &topic, change, desired, live, now_ms,
        ));
    };
    let mut seen_subjects = BTreeSet::new();
    for e in &plan.errors {
        let (Some(subject), Some(product)) = (&e.subject, &e.product) else {
            continue;
        };
        if !seen_subjects.insert(subject.clone()) {
            continue;
        }
        let topic = topic_of(product).unwrap_or_default();
        push(
            ImpactKind::IncompatibleSchema,
            product.clone(),
            topic,
            format!("incompatible new schema for subject {subject}"),
        );
    }
    for a in &plan.actions {
        match a {
            Action::RetireProduct { product, previous } => push(
                ImpactKind::Retirement,
                product.clone(),
                previous.topic.clone(),
                format!(
                    "retire {product}: delete its ACLs, subjects, topic {} and catalog record",
                    previous.topic
                ),
            ),
            Action::AddPartitions {
                product,
                topic,
                from,
                to,
            } => {
                let keyed = desired.subjects.contains_key(&format!("{topic}-key"));
                let compacted = desired
                    .topics
                    .get(topic)
                    .and_then(|t| t.config.get("cleanup.policy"))
                    .is_some_and(|v| v.to_ascii_lowercase().contains("compact"));
                if keyed || compacted {
                    let why = if keyed { "keyed" } else { "compacted" };
                    push(
                        ImpactKind::PartitionIncrease,
                        product.clone(),
                        topic.clone(),
                        format!(
                            "partitions {from} → {to} on {why} topic {topic}: records of one key land on a different partition from now on, breaking per-key order{}",
                            if compacted {
                                " and compaction of older records"
                            } else {
                                ""
                            }
                        ),
                    )
                }
            }
            Action::DeleteAcl { binding }
                if binding.resource_type == ResourceType::Topic
                    && binding.operation == Operation::Read =>
            {
                let who = match desired.principal_owners.get(&*binding.principal) {
                    Some(o) => format!(
                        "{} ({}/{}, owners: {})",
                        binding.principal,
                        o.domain,
                        o.name,
                        o.owners.join(", ")
                    ),
                    None => binding.principal.to_string(),
                };
                let product = product_of_topic(&binding.resource_name).unwrap_or_default();
                push(
                    ImpactKind::NarrowedAccess,
                    product,
                    binding.resource_name.to_string(),
                    format!("{who} loses READ on topic {}", binding.resource_name),
                )
            }
            _ => {}
        }
    }
    out.sort_by(|a, b| (a.kind, &a.product, &a.change).cmp(&(b.kind, &b.product, &b.change)));
    out
}

/// The downstream products (lineage through `inputs`), consumers and recently active groups of
/// one change to `product`.
fn impact_of(
    kind: ImpactKind,
    product: &str,
    topic: &str,
    change: String,
    desired: &DesiredState,
    live: &LiveState,
    now_ms: i64,
) -> Impact {
    // Breadth first over "is an input of", nearest first; each product once.
    let mut downstream = Vec::new();
    let mut seen = BTreeSet::from([product.to_string()]);
    let mut frontier = vec![product.to_string()];
    let mut depth = 0;
    while !frontier.is_empty() {
        depth += 1;
        let mut next = Vec::new();
        for r in desired.catalog.values() {
            if !seen.contains(&r.product) && r.inputs.iter().any(|i| frontier.contains(i)) {
                seen.insert(r.product.clone());
                next.push(r.product.clone());
                downstream.push(AffectedProduct {
                    id: r.product.clone(),
                    owners: r.owners.clone(),
                    depth,
                });
            }
        }
        frontier = next;
    }
    let consumers = desired
        .consumers
        .iter()
        .filter(|c| seen.contains(&c.product))
        .map(AffectedConsumer::from)
        .collect();
    let groups = live
        .groups
        .get(topic)
        .into_iter()
        .flatten()
        .filter(|g| is_recent(g, now_ms, desired.retire_idle_days))
        .map(RecentGroup::of)
        .collect();
    Impact {
        kind,
        product: product.to_string(),
        topic: topic.to_string(),
        change,
        downstream,
        consumers,
        groups,
    }
}

/// A warning for every consumer of a deprecated product.
pub fn deprecations(desired: &DesiredState) -> Vec<DeprecationWarning> {
    let mut out = Vec::new();
    for c in &desired.consumers {
        let Some(r) = desired.catalog.get(&c.product) else {
            continue;
        };
        if r.status != "deprecated" {
            continue;
        }
        let field = |k: &str| r.deprecation.as_ref().and_then(|d| d.get(k)).cloned();
        out.push(DeprecationWarning {
            product: c.product.clone(),
            sunset: field("sunset"),
            replacement: field("replacement"),
            consumer: c.into(),
        });
    }
    out
}

/// Midnight UTC of a `YYYY-MM-DD` date, in milliseconds since the Unix epoch.
pub fn date_ms(date: &str) -> Option<i64> {
    let d = mesh_model::doc::Date::parse(date)?;
    // Howard Hinnant's days_from_civil, the inverse of `Date::from_unix_days`.
    let (m, day) = (i64::from(d.month), i64::from(d.day));
    let y = i64::from(d.year) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * DAY_MS)
}

/// Milliseconds since the Unix epoch as RFC 3339 UTC, second precision.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let date = mesh_model::doc::Date::from_unix_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{date}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_round_trip() {
        assert_eq!(date_ms("1970-01-01"), Some(0));
        assert_eq!(date_ms("2000-03-01"), Some(951_868_800_000));
        assert_eq!(rfc3339(951_868_800_000 + 3_723_000), "2000-03-01T01:02:03Z");
        for days in [-1000i64, 0, 59, 60, 365, 11_016, 20_000, 30_000] {
            let d = mesh_model::doc::Date::from_unix_days(days).to_string();
            assert_eq!(date_ms(&d), Some(days * DAY_MS), "{d}");
        }
        assert_eq!(date_ms("2026-02-30"), None);
    }

    #[test]
    fn a_group_is_recent_when_it_has_members_or_committed_within_the_window() {
        let now = 100 * DAY_MS;
        let g = |state: &str, members, last| GroupActivity {
            group: "g".into(),
            state: state.into(),
            members,
            last_commit_ms: last,
            never_committed: false,
        };
        assert!(is_recent(&g("Empty", 0, Some(now - 6 * DAY_MS)), now, 7));
        assert!(!is_recent(&g("Empty", 0, Some(now - 7 * DAY_MS)), now, 7));
        assert!(is_recent(&g("Stable", 1, Some(now - 70 * DAY_MS)), now, 7));
        assert!(
            is_recent(&g("Empty", 0, None), now, 7),
            "unknown counts as now"
        );
        assert!(!is_recent(&g("Empty", 0, Some(now - 1)), now, 0));
        // Assigned the topic and never committed: a reader, and said so.
        let watcher = GroupActivity {
            never_committed: true,
            ..g("Stable", 2, None)
        };
        assert!(is_recent(&watcher, now, 0));
        assert_eq!(
            RecentGroup::of(&watcher).describe(),
            "g (Stable, 2 member(s), assigned the topic, never committed)"
        );
    }
}
