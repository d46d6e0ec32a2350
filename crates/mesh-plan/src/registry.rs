//! What the plan needs from a Schema Registry (the Confluent REST API). The registry adapter
//! implements these; tests can implement them in memory.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::AdapterError;

/// The latest registered version of a subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredSchema {
    pub version: i32,
    pub id: i32,
    /// `AVRO`, `JSON` or `PROTOBUF` (the registry omits it for Avro; the adapter fills it in).
    pub schema_type: String,
    /// The schema text as the registry returns it.
    pub schema: String,
}

impl RegisteredSchema {
    /// Whether this is `schema` of `schema_type`, compared the way a plan compares them (the
    /// normalised text), not byte for byte: registries reformat what they store.
    pub fn is(&self, schema_type: &str, schema: &str) -> bool {
        let format = crate::plan::format_of(schema_type);
        self.schema_type.eq_ignore_ascii_case(schema_type)
            && mesh_schema::compat::normalise(&self.schema, format)
                == mesh_schema::compat::normalise(schema, format)
    }
}

/// One subject as the registry has it.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LiveSubject {
    /// `None` when the subject has no (non-deleted) version.
    pub latest: Option<RegisteredSchema>,
    /// Every registered (non-deleted) version, oldest first (for transitive checks, which name
    /// the version a change breaks); may be empty when the adapter reads only the latest.
    #[serde(default)]
    pub history: Vec<RegisteredSchema>,
    /// The subject-level compatibility (`BACKWARD`, …), `None` when only the global level applies.
    pub compatibility: Option<String>,
    /// Every version is soft-deleted (`latest` is `None`) but the subject is not yet deleted
    /// for good: a retirement whose permanent delete failed, to be finished.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub soft_deleted: bool,
}

/// The registry's verdict on a candidate schema.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Compatibility {
    pub compatible: bool,
    /// Why not, as the registry says (empty when compatible or when it gives no reasons).
    pub messages: Vec<String>,
}

pub trait RegistryReader {
    /// Reads the given subjects concurrently (bounded); a subject the registry does not know is
    /// returned as `LiveSubject::default()`.
    fn read_subjects(
        &self,
        subjects: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, LiveSubject>, AdapterError>;
    /// Asks the registry whether `schema` may be registered under `subject`, under the subject's
    /// level (or `level` when given, for a subject whose level is about to change).
    fn check_compatibility(
        &self,
        subject: &str,
        schema_type: &str,
        schema: &str,
        level: Option<&str>,
    ) -> Result<Compatibility, AdapterError>;
}

pub trait RegistryWriter {
    fn set_compatibility(&self, subject: &str, level: &str) -> Result<(), AdapterError>;
    /// Registers a version; returns the schema id.
    fn register(&self, subject: &str, schema_type: &str, schema: &str)
    -> Result<i32, AdapterError>;
    /// Removes a subject the way the registry expects: a soft delete, then a hard delete.
    fn delete_subject(&self, subject: &str) -> Result<(), AdapterError>;
}
