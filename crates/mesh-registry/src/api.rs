//! The Confluent Schema Registry calls `mesh` needs, and the `mesh_plan::registry` traits on
//! top of them. Which answers mean "absent" rather than "failed" is decided here, by the
//! documented `error_code`s only (the messages differ between registries).

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::{join_all, try_join};
use futures_util::{StreamExt, stream};
use mesh_plan::AdapterError;
use mesh_plan::registry::{
    Compatibility, LiveSubject, RegisteredSchema, RegistryReader, RegistryWriter,
};
use reqwest::Method;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use crate::reply::{
    CompatibilityReply, ConfigReply, ListedReply, Page, RegisterReply, SchemaReply,
};
use crate::{RegistryClient, RegistryError};

/// Items asked for per page of `GET /schemas` (Confluent caps pages at its
/// `schema.search.max.limit`, 1,000 by default; `reply::next_page` copes with lower caps).
const PAGE: usize = 1000;

/// Subject not found (also: every version soft-deleted).
const SUBJECT_NOT_FOUND: i64 = 40401;
/// Version not found (Apicurio answers it for `versions/latest` of an unknown subject).
const VERSION_NOT_FOUND: i64 = 40402;
/// The subject is soft-deleted (a second soft delete).
const SUBJECT_SOFT_DELETED: i64 = 40404;
/// Confluent 7.x: the subject has no subject-level compatibility.
const SUBJECT_LEVEL_NOT_SET: i64 = 40408;

fn is_code(e: &RegistryError, codes: &[i64]) -> bool {
    e.error_code().is_some_and(|c| codes.contains(&c))
}

/// A 404 or 405 that is not one of the API's own "not found" codes: the route does not exist
/// on this registry (an older or partial implementation of the API).
fn route_missing(e: &RegistryError) -> bool {
    match e {
        RegistryError::Api { status: 405, .. } => true,
        RegistryError::Api {
            status: 404,
            error_code,
            ..
        } => !matches!(error_code, Some(40400..=40499)),
        _ => false,
    }
}

/// Whether a registry answers the bulk listing `GET /schemas?subjectPrefix=…&latestOnly=true`
/// (Confluent Platform and Cloud do; Apicurio 2.6's ccompat API answers 404; Apicurio 3.3.3
/// answers with the schema texts but not their subjects, which counts as no listing; Karapace
/// versions differ): unknown until its first answer, then remembered.
#[derive(Debug, Default)]
pub(crate) struct BulkSupport(std::sync::atomic::AtomicU8);

const BULK_UNKNOWN: u8 = 0;
const BULK_YES: u8 = 1;
const BULK_NO: u8 = 2;

impl BulkSupport {
    fn get(&self) -> u8 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
    /// Known to be missing on this registry.
    pub(crate) fn known_not(&self) -> bool {
        self.get() == BULK_NO
    }
    pub(crate) fn set(&self, yes: bool) {
        let v = if yes { BULK_YES } else { BULK_NO };
        self.0.store(v, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether a failed `GET /schemas` says the registry has no such listing (so subjects are read
/// one by one), rather than that the registry failed: a missing route, or a success whose body
/// is not the documented list of schemas with their subjects.
fn listing_unsupported(e: &RegistryError) -> bool {
    route_missing(e) || matches!(e, RegistryError::InvalidResponse { .. })
}

/// The managed subjects grouped for bulk listings: by the text before their first `.` (a
/// domain's topics, by the default topic naming), each group listed under the longest prefix
/// its members share — so a listing returns little beyond the subjects asked about, however
/// many others the registry holds.
fn prefix_groups(subjects: &BTreeSet<String>) -> Vec<(String, Vec<&str>)> {
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in subjects {
        let key = s.split_once('.').map_or(s.as_str(), |(head, _)| head);
        groups.entry(key).or_default().push(s);
    }
    groups
        .into_values()
        .map(|members| {
            let mut prefix = members[0];
            for m in &members[1..] {
                let common = prefix
                    .char_indices()
                    .zip(m.chars())
                    .find(|((_, a), b)| a != b)
                    .map_or(prefix.len().min(m.len()), |((i, _), _)| i);
                prefix = &prefix[..common];
            }
            (prefix.to_owned(), members)
        })
        .collect()
}

/// What a bulk listing says about one subject's latest version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Listed {
    /// Its latest live version.
    Found(RegisteredSchema),
    /// The listing is complete and does not name it: no live version.
    Absent,
    /// No listing (unsupported, or one that could not be completed): ask the subject.
    Unknown,
}

/// `{"schema": …}` plus `schemaType` unless Avro (the API's default, and older registries
/// know no `schemaType`).
fn schema_body(schema_type: &str, schema: &str) -> Value {
    let kind = schema_type.trim().to_ascii_uppercase();
    if kind.is_empty() || kind == "AVRO" {
        json!({ "schema": schema })
    } else {
        json!({ "schemaType": kind, "schema": schema })
    }
}

fn compatible() -> Compatibility {
    Compatibility {
        compatible: true,
        messages: Vec::new(),
    }
}

impl RegistryClient {
    /// Every subject the registry holds (with a live version), sorted: `GET /subjects`.
    pub fn list_subjects(&self) -> Result<BTreeSet<String>, RegistryError> {
        self.block_on(async {
            let list: Vec<String> = self.send(Method::GET, &["subjects"], &[], None).await?;
            Ok(list.into_iter().collect())
        })?
    }

    /// Reads the subjects with at most `concurrency` requests in flight. Where the registry
    /// lists schemas in bulk (`GET /schemas`, one paged listing per group of subjects sharing a
    /// prefix) the latest versions come from there; elsewhere each subject's latest version is
    /// asked for. Then per subject: its level (`GET /config/{s}`, which no bulk call offers),
    /// and with history, when the latest version is above 1, its version list and the other
    /// versions. A subject the registry does not know is `LiveSubject::default()`. Stops at
    /// the first failure.
    pub fn read_subjects(
        &self,
        subjects: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, LiveSubject>, RegistryError> {
        self.block_on(async {
            if let Some(read) = self.read_by_export(subjects).await {
                return Ok(read);
            }
            let listed = self.list_latest(subjects).await?;
            let mut reads = stream::iter(subjects)
                .map(|s| {
                    let known = listed.get(s.as_str()).cloned().unwrap_or(Listed::Unknown);
                    async move { (s, self.read_subject(s, known).await) }
                })
                .buffer_unordered(self.concurrency);
            let mut out = BTreeMap::new();
            while let Some((subject, live)) = reads.next().await {
                out.insert(subject.clone(), live?);
            }
            // Subjects with no live version may still be soft-deleted: one listing tells.
            if out.values().any(|s: &LiveSubject| s.latest.is_none()) {
                let listed: Vec<String> = self
                    .send(Method::GET, &["subjects"], &[("deleted", "true")], None)
                    .await?;
                for name in listed {
                    if let Some(s) = out.get_mut(&name)
                        && s.latest.is_none()
                    {
                        s.soft_deleted = true;
                    }
                }
            }
            Ok(out)
        })?
    }

    /// What the bulk listings say about each subject; empty where the registry has none.
    async fn list_latest<'s>(
        &self,
        subjects: &'s BTreeSet<String>,
    ) -> Result<BTreeMap<&'s str, Listed>, RegistryError> {
        let mut out = BTreeMap::new();
        if subjects.is_empty() || self.bulk.get() == BULK_NO {
            return Ok(out);
        }
        let mut groups = prefix_groups(subjects).into_iter();
        // The first group alone: its answer says whether the others are worth asking.
        if self.bulk.get() == BULK_UNKNOWN
            && let Some((prefix, members)) = groups.next()
        {
            let listing = self.list_prefix(&prefix).await?;
            self.bulk.set(listing.is_some());
            let Some(listing) = listing else {
                return Ok(out);
            };
            merge(&mut out, &members, listing);
        }
        let mut lists = stream::iter(groups)
            .map(|(prefix, members)| async move { (members, self.list_prefix(&prefix).await) })
            .buffer_unordered(self.concurrency);
        while let Some((members, listing)) = lists.next().await {
            match listing? {
                Some(listing) => merge(&mut out, &members, listing),
                // Changed its answer since: ask these subjects one by one.
                None => self.bulk.set(false),
            }
        }
        Ok(out)
    }

    /// The latest version of every subject under `prefix`, page by page, and whether the
    /// listing is known complete; `None` when the registry has no such listing.
    async fn list_prefix(
        &self,
        prefix: &str,
    ) -> Result<Option<(BTreeMap<String, RegisteredSchema>, bool)>, RegistryError> {
        let mut latest = BTreeMap::new();
        let (mut offset, mut previous_first) = (0, None::<String>);
        let limit = PAGE.to_string();
        loop {
            let from = offset.to_string();
            let query = [
                ("subjectPrefix", prefix),
                ("latestOnly", "true"),
                ("offset", from.as_str()),
                ("limit", limit.as_str()),
            ];
            let page: Vec<ListedReply> =
                match self.send(Method::GET, &["schemas"], &query, None).await {
                    Ok(page) => page,
                    Err(e) if listing_unsupported(&e) => return Ok(None),
                    Err(e) => return Err(e),
                };
            let page: Vec<(String, RegisteredSchema)> = page.into_iter().map(Into::into).collect();
            let first = page.first().map(|(s, _)| s.clone());
            let step = crate::reply::next_page(
                offset,
                PAGE,
                page.len(),
                first.as_deref(),
                previous_first.as_deref(),
            );
            for (subject, schema) in page {
                // Only what was asked under this prefix; a registry that ignores the prefix
                // answers more.
                if subject.starts_with(prefix) {
                    latest.insert(subject, schema);
                }
            }
            match step {
                Page::Next(next) => {
                    offset = next;
                    previous_first = first;
                }
                Page::Done { complete } => return Ok(Some((latest, complete))),
            }
        }
    }

    pub(crate) async fn read_subject(
        &self,
        subject: &str,
        listed: Listed,
    ) -> Result<LiveSubject, RegistryError> {
        let versions = async {
            let latest = match listed {
                Listed::Found(latest) => Some(latest),
                Listed::Absent => None,
                Listed::Unknown => self.latest_version(subject).await?.pop(),
            };
            match latest {
                None => Ok(Vec::new()),
                // Versions are numbered from 1: a latest version 1 is the only one.
                Some(latest) if !self.history || latest.version <= 1 => Ok(vec![latest]),
                Some(latest) => self.all_versions(subject, latest).await,
            }
        };
        // try_join: the first failure ends the read without waiting for the other request.
        let (versions, compatibility) = try_join(versions, self.subject_level(subject)).await?;
        let history = if self.history {
            versions.clone()
        } else {
            Vec::new()
        };
        Ok(LiveSubject {
            latest: versions.into_iter().last(),
            history,
            compatibility,
            soft_deleted: false,
        })
    }

    /// Every live version, oldest first, given the latest one (not fetched again); empty when
    /// the subject is gone since.
    async fn all_versions(
        &self,
        subject: &str,
        latest: RegisteredSchema,
    ) -> Result<Vec<RegisteredSchema>, RegistryError> {
        let list: Vec<i32> = match self
            .send(Method::GET, &["subjects", subject, "versions"], &[], None)
            .await
        {
            Ok(list) => list,
            Err(e) if is_code(&e, &[SUBJECT_NOT_FOUND]) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let others = list.iter().filter(|&&v| v != latest.version);
        let fetched = join_all(others.map(|v| async move {
            let v = v.to_string();
            self.send::<SchemaReply>(
                Method::GET,
                &["subjects", subject, "versions", &v],
                &[],
                None,
            )
            .await
        }))
        .await;
        let mut versions = Vec::with_capacity(fetched.len() + 1);
        for reply in fetched {
            match reply {
                Ok(r) => versions.push(RegisteredSchema::from(r)),
                // Deleted between the list and the fetch: it is gone, so leave it out.
                Err(e) if is_code(&e, &[SUBJECT_NOT_FOUND, VERSION_NOT_FOUND]) => {}
                Err(e) => return Err(e),
            }
        }
        if list.contains(&latest.version) {
            versions.push(latest);
        }
        versions.sort_by_key(|v| v.version);
        Ok(versions)
    }

    /// The latest version alone (at most one element).
    async fn latest_version(&self, subject: &str) -> Result<Vec<RegisteredSchema>, RegistryError> {
        match self
            .send::<SchemaReply>(
                Method::GET,
                &["subjects", subject, "versions", "latest"],
                &[],
                None,
            )
            .await
        {
            Ok(r) => Ok(vec![r.into()]),
            Err(e) if is_code(&e, &[SUBJECT_NOT_FOUND, VERSION_NOT_FOUND]) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The subject-level compatibility; `None` when the registry says none is set (no
    /// `defaultToGlobal`: the global level is not the subject's).
    async fn subject_level(&self, subject: &str) -> Result<Option<String>, RegistryError> {
        match self
            .send::<ConfigReply>(Method::GET, &["config", subject], &[], None)
            .await
        {
            Ok(c) => Ok(c.level()),
            Err(e) if is_code(&e, &[SUBJECT_NOT_FOUND, SUBJECT_LEVEL_NOT_SET]) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Asks the registry whether `schema` may be registered under `subject`, under the
    /// subject's current level.
    ///
    /// The Confluent API has no per-request level, so `level` changes nothing except that
    /// `NONE` answers "compatible" without asking. A caller that is about to change a
    /// subject's level must set it first (`set_compatibility`) to have the check use it.
    /// A subject with no versions accepts anything: compatible.
    ///
    /// Uses `POST /compatibility/subjects/{s}/versions?verbose=true`, which checks against
    /// every version the level requires (all of them for `*_TRANSITIVE`), and falls back to
    /// `…/versions/latest` on registries without that route.
    pub fn check_compatibility(
        &self,
        subject: &str,
        schema_type: &str,
        schema: &str,
        level: Option<&str>,
    ) -> Result<Compatibility, RegistryError> {
        if level.is_some_and(|l| l.trim().eq_ignore_ascii_case("NONE")) {
            return Ok(compatible());
        }
        let body = schema_body(schema_type, schema);
        self.block_on(async {
            let verbose = [("verbose", "true")];
            let all = ["compatibility", "subjects", subject, "versions"];
            let latest = ["compatibility", "subjects", subject, "versions", "latest"];
            let mut reply = self
                .send::<CompatibilityReply>(Method::POST, &all, &verbose, Some(&body))
                .await;
            if reply.as_ref().is_err_and(route_missing) {
                reply = self
                    .send(Method::POST, &latest, &verbose, Some(&body))
                    .await;
            }
            match reply {
                Ok(r) => Ok(Compatibility::from(r)),
                Err(e) if is_code(&e, &[SUBJECT_NOT_FOUND, VERSION_NOT_FOUND]) => Ok(compatible()),
                Err(e) => Err(e),
            }
        })?
    }

    /// Sets the subject-level compatibility (`PUT /config/{subject}`); works before the
    /// subject's first version.
    pub fn set_compatibility(&self, subject: &str, level: &str) -> Result<(), RegistryError> {
        let body = json!({ "compatibility": level.trim().to_ascii_uppercase() });
        self.block_on(async {
            self.send::<IgnoredAny>(Method::PUT, &["config", subject], &[], Some(&body))
                .await
                .map(drop)
        })?
    }

    /// Registers `schema` under `subject` and returns its schema id. Registering a text the
    /// subject already has returns the existing id and adds no version.
    pub fn register(
        &self,
        subject: &str,
        schema_type: &str,
        schema: &str,
    ) -> Result<i32, RegistryError> {
        let body = schema_body(schema_type, schema);
        self.block_on(async {
            self.send::<RegisterReply>(
                Method::POST,
                &["subjects", subject, "versions"],
                &[],
                Some(&body),
            )
            .await
            .map(|r| r.id)
        })?
    }

    /// Removes a subject: soft delete, then hard delete (`?permanent=true`), then its
    /// subject-level config. A subject already gone (or already soft-deleted) is fine, so a
    /// retried apply succeeds.
    pub fn delete_subject(&self, subject: &str) -> Result<(), RegistryError> {
        self.block_on(async {
            let path = ["subjects", subject];
            match self
                .send::<IgnoredAny>(Method::DELETE, &path, &[], None)
                .await
            {
                Ok(_) => {}
                Err(e) if is_code(&e, &[SUBJECT_NOT_FOUND, SUBJECT_SOFT_DELETED]) => {}
                Err(e) => return Err(e),
            }
            let permanent = [("permanent", "true")];
            match self
                .send::<IgnoredAny>(Method::DELETE, &path, &permanent, None)
                .await
            {
                Ok(_) => {}
                Err(e) if is_code(&e, &[SUBJECT_NOT_FOUND]) => {}
                Err(e) => return Err(e),
            }
            // A level set on a subject that never got a version survives the deletes above.
            match self
                .send::<IgnoredAny>(Method::DELETE, &["config", subject], &[], None)
                .await
            {
                Ok(_) => Ok(()),
                Err(e)
                    if is_code(&e, &[SUBJECT_NOT_FOUND, SUBJECT_LEVEL_NOT_SET])
                        || route_missing(&e) =>
                {
                    Ok(())
                }
                Err(e) => Err(e),
            }
        })?
    }
}

/// Records what one group's listing says about its members.
fn merge<'s>(
    out: &mut BTreeMap<&'s str, Listed>,
    members: &[&'s str],
    (mut latest, complete): (BTreeMap<String, RegisteredSchema>, bool),
) {
    for &m in members {
        let listed = match latest.remove(m) {
            Some(schema) => Listed::Found(schema),
            None if complete => Listed::Absent,
            None => Listed::Unknown,
        };
        out.insert(m, listed);
    }
}

impl RegistryReader for RegistryClient {
    fn read_subjects(
        &self,
        subjects: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, LiveSubject>, AdapterError> {
        RegistryClient::read_subjects(self, subjects).map_err(AdapterError::from)
    }

    fn check_compatibility(
        &self,
        subject: &str,
        schema_type: &str,
        schema: &str,
        level: Option<&str>,
    ) -> Result<Compatibility, AdapterError> {
        RegistryClient::check_compatibility(self, subject, schema_type, schema, level)
            .map_err(AdapterError::from)
    }
}

impl RegistryWriter for RegistryClient {
    fn set_compatibility(&self, subject: &str, level: &str) -> Result<(), AdapterError> {
        RegistryClient::set_compatibility(self, subject, level).map_err(AdapterError::from)
    }

    fn register(
        &self,
        subject: &str,
        schema_type: &str,
        schema: &str,
    ) -> Result<i32, AdapterError> {
        RegistryClient::register(self, subject, schema_type, schema).map_err(AdapterError::from)
    }

    fn delete_subject(&self, subject: &str) -> Result<(), AdapterError> {
        RegistryClient::delete_subject(self, subject).map_err(AdapterError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avro_has_no_schema_type_others_do() {
        assert_eq!(schema_body("AVRO", "x"), json!({"schema": "x"}));
        assert_eq!(schema_body("avro", "x"), json!({"schema": "x"}));
        assert_eq!(
            schema_body("json", "{}"),
            json!({"schemaType": "JSON", "schema": "{}"})
        );
        assert_eq!(
            schema_body("PROTOBUF", "syntax"),
            json!({"schemaType": "PROTOBUF", "schema": "syntax"})
        );
    }

    fn api(status: u16, error_code: Option<i64>) -> RegistryError {
        RegistryError::Api {
            url: "u".into(),
            request: "r".into(),
            status,
            error_code,
            message: String::new(),
        }
    }

    #[test]
    fn a_listing_is_unsupported_on_a_missing_route_or_a_foreign_answer_only() {
        assert!(listing_unsupported(&api(404, Some(0)))); // Apicurio 2.6
        assert!(listing_unsupported(&api(405, None)));
        assert!(listing_unsupported(&RegistryError::InvalidResponse {
            url: "u".into(),
            request: "GET /schemas".into(),
            reason: "expected a sequence".into(),
        }));
        // The registry failing is a failure, not a reason to read another way.
        assert!(!listing_unsupported(&api(500, Some(50001))));
        assert!(!listing_unsupported(&api(401, Some(40101))));
        assert!(!listing_unsupported(&RegistryError::Unreachable {
            url: "u".into(),
            reason: "refused".into(),
            timed_out: false,
        }));
    }

    #[test]
    fn subjects_are_listed_by_domain_under_their_longest_common_prefix() {
        let subjects: BTreeSet<String> = [
            "sales.orders-value",
            "sales.orders-key",
            "sales.returns-value",
            "marketing.clicks-value",
            "plain-value",
            "plain-key",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let groups = prefix_groups(&subjects);
        let shown: Vec<(&str, usize)> = groups.iter().map(|(p, m)| (p.as_str(), m.len())).collect();
        assert_eq!(
            shown,
            [
                ("", 1),
                ("marketing.clicks-value", 1),
                ("plain-key", 1),
                ("plain-value", 1),
                ("sales.", 3),
            ]
        );
        // Every subject in exactly one group, under a prefix of its own name.
        let mut all: Vec<&str> = groups.iter().flat_map(|(_, m)| m.clone()).collect();
        all.sort();
        assert_eq!(all, subjects.iter().map(String::as_str).collect::<Vec<_>>());
        for (prefix, members) in &groups {
            assert!(members.iter().all(|m| m.starts_with(prefix.as_str())));
        }
        // Multi-byte characters are cut on a character boundary.
        let greek: BTreeSet<String> = ["δ.αβ-value", "δ.αγ-value"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(prefix_groups(&greek)[0].0, "δ.α");
    }

    fn schema(version: i32) -> RegisteredSchema {
        RegisteredSchema {
            version,
            id: version,
            schema_type: "AVRO".into(),
            schema: "{}".into(),
        }
    }

    #[test]
    fn an_unlisted_subject_is_absent_only_when_the_listing_is_complete() {
        let listing = || [("a.x-value".to_string(), schema(2))].into_iter().collect();
        let mut out = BTreeMap::new();
        merge(&mut out, &["a.x-value", "a.y-value"], (listing(), true));
        assert_eq!(out["a.x-value"], Listed::Found(schema(2)));
        assert_eq!(out["a.y-value"], Listed::Absent);
        let mut out = BTreeMap::new();
        merge(&mut out, &["a.x-value", "a.y-value"], (listing(), false));
        assert_eq!(out["a.x-value"], Listed::Found(schema(2)));
        assert_eq!(out["a.y-value"], Listed::Unknown);
    }

    #[test]
    fn only_foreign_404s_mean_a_missing_route() {
        assert!(route_missing(&api(404, None)));
        assert!(route_missing(&api(404, Some(0)))); // Apicurio's unknown path
        assert!(route_missing(&api(404, Some(404)))); // Confluent's (Jersey) unknown path
        assert!(route_missing(&api(405, Some(405))));
        assert!(!route_missing(&api(404, Some(40401))));
        assert!(!route_missing(&api(404, Some(40402))));
        assert!(!route_missing(&api(422, Some(42201))));
    }
}
