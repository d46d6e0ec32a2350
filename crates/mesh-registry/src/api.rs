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

use crate::reply::{CompatibilityReply, ConfigReply, RegisterReply, SchemaReply};
use crate::{RegistryClient, RegistryError};

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

    /// Reads the subjects with at most `concurrency` requests in flight (each subject costs
    /// its config, its version list and each version; or config + latest without history).
    /// A subject the registry does not know is `LiveSubject::default()`. Stops at the first
    /// failure.
    pub fn read_subjects(
        &self,
        subjects: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, LiveSubject>, RegistryError> {
        self.block_on(async {
            let mut reads = stream::iter(subjects)
                .map(|s| async move { (s, self.read_subject(s).await) })
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

    async fn read_subject(&self, subject: &str) -> Result<LiveSubject, RegistryError> {
        // try_join: the first failure ends the read without waiting for the other request.
        let (versions, compatibility) = if self.history {
            try_join(self.all_versions(subject), self.subject_level(subject)).await?
        } else {
            try_join(self.latest_version(subject), self.subject_level(subject)).await?
        };
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

    /// Every live version, oldest first; empty when the subject is unknown.
    async fn all_versions(&self, subject: &str) -> Result<Vec<RegisteredSchema>, RegistryError> {
        let list: Vec<i32> = match self
            .send(Method::GET, &["subjects", subject, "versions"], &[], None)
            .await
        {
            Ok(list) => list,
            Err(e) if is_code(&e, &[SUBJECT_NOT_FOUND]) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let fetched = join_all(list.iter().map(|v| async move {
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
        let mut versions = Vec::with_capacity(fetched.len());
        for reply in fetched {
            match reply {
                Ok(r) => versions.push(RegisteredSchema::from(r)),
                // Deleted between the list and the fetch: it is gone, so leave it out.
                Err(e) if is_code(&e, &[SUBJECT_NOT_FOUND, VERSION_NOT_FOUND]) => {}
                Err(e) => return Err(e),
            }
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
