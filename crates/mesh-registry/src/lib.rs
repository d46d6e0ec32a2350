//! The Schema Registry adapter of `mesh`: [`RegistryClient`] implements
//! `mesh_plan::registry::{RegistryReader, RegistryWriter}` over HTTP.
//!
//! It speaks only the documented Confluent Schema Registry REST API (media type
//! `application/vnd.schemaregistry.v1+json`), so the same code works against Confluent
//! Platform and Cloud, Karapace and Apicurio's `/apis/ccompat/v7`:
//!
//! | what | request |
//! | --- | --- |
//! | read a subject | `GET /subjects/{s}/versions` + `GET /subjects/{s}/versions/{v}` each (or `…/versions/latest` without history), `GET /config/{s}` |
//! | check a schema | `POST /compatibility/subjects/{s}/versions?verbose=true` (`…/versions/latest` where that route is missing) |
//! | set a level | `PUT /config/{s}` |
//! | register | `POST /subjects/{s}/versions` (`schemaType` for JSON and PROTOBUF, omitted for AVRO) |
//! | delete | `DELETE /subjects/{s}`, `DELETE /subjects/{s}?permanent=true`, `DELETE /config/{s}` |
//!
//! "Absent" is decided by the API's `error_code`s (40401 subject not found, 40402 version not
//! found, 40408 no subject-level compatibility), never by message texts, which differ between
//! registries. Reads run concurrently with a bound on requests in flight
//! ([`RegistryClient::with_concurrency`]).
//!
//! Architecture invariant: the only crate that knows HTTP and the registry's wire format.
//! Credentials live in [`Auth`] only: never in URLs, `Debug` output or errors (texts from the
//! network are redacted before they reach an error).

mod api;
mod client;
mod error;
pub mod reply;

pub use client::{Auth, DEFAULT_CONCURRENCY, RegistryClient, Tls};
pub use error::RegistryError;
