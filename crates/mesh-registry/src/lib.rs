//! The Schema Registry adapter of `mesh`: [`RegistryClient`] implements
//! `mesh_plan::registry::{RegistryReader, RegistryWriter}` over HTTP.
//!
//! It speaks only the documented Confluent Schema Registry REST API (media type
//! `application/vnd.schemaregistry.v1+json`), so the same code works against Confluent
//! Platform and Cloud, Karapace and Apicurio's `/apis/ccompat/v7`:
//!
//! | what | request |
//! | --- | --- |
//! | read subjects | `GET /schemas?subjectPrefix=…&latestOnly=true` (paged; one listing per group of subjects sharing a prefix) where the registry has it, else `GET /subjects/{s}/versions/latest`; then per subject `GET /config/{s}`, and with history, when the latest version is above 1, `GET /subjects/{s}/versions` and each other version; `GET /subjects?deleted=true` when some subject has no live version |
//! | check a schema | `POST /compatibility/subjects/{s}/versions?verbose=true` (`…/versions/latest` where that route is missing) |
//! | set a level | `PUT /config/{s}` |
//! | register | `POST /subjects/{s}/versions` (`schemaType` for JSON and PROTOBUF, omitted for AVRO) |
//! | delete | `DELETE /subjects/{s}`, `DELETE /subjects/{s}?permanent=true`, `DELETE /config/{s}` |
//!
//! On Apicurio Registry 2 (a `…/apis/ccompat/v7` URL), a read of at least
//! [`DEFAULT_EXPORT_FROM`] subjects comes from one `GET /apis/registry/v2/admin/export` instead,
//! checked against a few subjects read the Confluent way (`export.rs`), where the registry holds
//! at most [`LARGER_AT_MOST`] times as many artifacts as the read asks for.
//!
//! "Absent" is decided by the API's `error_code`s (40401 subject not found, 40402 version not
//! found, 40408 no subject-level compatibility), never by message texts, which differ between
//! registries. Reads run concurrently with a bound on requests in flight
//! ([`RegistryClient::with_concurrency`]). Whether a registry has the bulk listing is learnt
//! from its first answer (a 404 or 405 that is not one of the API's own codes, or a body that
//! is not a list of schemas with their subjects, means no) and remembered by the client.
//!
//! Architecture invariant: the only crate that knows HTTP and the registry's wire format.
//! Credentials live in [`Auth`] only: never in URLs, `Debug` output or errors (texts from the
//! network are redacted before they reach an error).

mod api;
mod client;
mod error;
mod export;
pub mod reply;

pub use client::{Auth, DEFAULT_CONCURRENCY, RegistryClient, Tls, base_url, mask_userinfo};
pub use error::RegistryError;
pub use export::{DEFAULT_EXPORT_FROM, LARGER_AT_MOST};
