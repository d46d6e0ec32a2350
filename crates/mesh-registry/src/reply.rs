//! The bodies the registry answers, as values: every answer `mesh` reads is decoded here, by
//! pure functions the client calls after reading a body (and which the fuzzer calls on any
//! bytes). A registry is someone else's server: a body that is not what the API documents is
//! an error with an excerpt of it, never a panic.

use std::collections::BTreeSet;

use mesh_plan::registry::{Compatibility, RegisteredSchema};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// `GET /subjects/{s}/versions/{v}` (and `…/latest`).
#[derive(Deserialize)]
pub(crate) struct SchemaReply {
    id: i32,
    version: i32,
    schema: String,
    /// Absent for Avro.
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
}

impl From<SchemaReply> for RegisteredSchema {
    fn from(r: SchemaReply) -> Self {
        RegisteredSchema {
            version: r.version,
            id: r.id,
            schema_type: r.schema_type.unwrap_or_else(|| "AVRO".to_owned()),
            schema: r.schema,
        }
    }
}

/// `GET /config/{s}`.
#[derive(Deserialize)]
pub(crate) struct ConfigReply {
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: Option<String>,
    /// What `PUT /config` answers; accepted on reads too.
    compatibility: Option<String>,
}

impl ConfigReply {
    /// The subject-level compatibility it names, if any.
    pub(crate) fn level(self) -> Option<String> {
        self.compatibility_level.or(self.compatibility)
    }
}

/// `POST /compatibility/subjects/{s}/versions?verbose=true`.
#[derive(Deserialize)]
pub(crate) struct CompatibilityReply {
    is_compatible: bool,
    /// Confluent (`verbose=true`).
    #[serde(default)]
    messages: Option<Vec<String>>,
    /// Apicurio (`verbose=true`): one text, or `null`.
    #[serde(default)]
    reason: Option<String>,
}

impl From<CompatibilityReply> for Compatibility {
    fn from(r: CompatibilityReply) -> Self {
        if r.is_compatible {
            return Compatibility {
                compatible: true,
                messages: Vec::new(),
            };
        }
        let mut messages = r.messages.unwrap_or_default();
        messages.extend(r.reason.filter(|s| !s.trim().is_empty()));
        Compatibility {
            compatible: false,
            messages,
        }
    }
}

/// One element of `GET /schemas` (Confluent's listing of the schemas under a subject prefix):
/// a schema as `GET /subjects/{s}/versions/{v}` answers it, with its subject.
#[derive(Deserialize)]
pub(crate) struct ListedReply {
    subject: String,
    #[serde(flatten)]
    schema: SchemaReply,
}

impl From<ListedReply> for (String, RegisteredSchema) {
    fn from(r: ListedReply) -> Self {
        (r.subject, RegisteredSchema::from(r.schema))
    }
}

/// `POST /subjects/{s}/versions`.
#[derive(Deserialize)]
pub(crate) struct RegisterReply {
    pub(crate) id: i32,
}

/// Decodes a success body as `T`; the error says why, with an excerpt of the body.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("{e}; body: {}", excerpt(body)))
}

/// The API's error body: its `error_code` and message; the body's excerpt as the message when
/// it is not the API's JSON (a proxy's HTML page, say).
pub fn failure(body: &[u8]) -> (Option<i64>, String) {
    #[derive(Deserialize)]
    struct ErrorBody {
        error_code: Option<i64>,
        message: Option<String>,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => (b.error_code, b.message.unwrap_or_default()),
        Err(_) => (None, excerpt(body)),
    }
}

/// `GET /subjects`.
pub fn subjects(body: &[u8]) -> Result<BTreeSet<String>, String> {
    decode::<Vec<String>>(body).map(|l| l.into_iter().collect())
}

/// `GET /subjects/{s}/versions`.
pub fn versions(body: &[u8]) -> Result<Vec<i32>, String> {
    decode(body)
}

/// `GET /subjects/{s}/versions/{v}`.
pub fn schema(body: &[u8]) -> Result<RegisteredSchema, String> {
    decode::<SchemaReply>(body).map(RegisteredSchema::from)
}

/// `GET /config/{s}`.
pub fn level(body: &[u8]) -> Result<Option<String>, String> {
    decode::<ConfigReply>(body).map(ConfigReply::level)
}

/// `GET /schemas?subjectPrefix=…&latestOnly=true`: each listed schema with its subject, in
/// the order of the answer. An answer of another shape (a registry without the route may
/// answer anything) is an error.
pub fn listed_schemas(body: &[u8]) -> Result<Vec<(String, RegisteredSchema)>, String> {
    decode::<Vec<ListedReply>>(body).map(|l| l.into_iter().map(Into::into).collect())
}

/// What to do after one page of a paged listing (`offset`, `limit`) came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// Ask for the next page, from this offset.
    Next(usize),
    /// The listing is over. `complete`: every matching item was listed, so one that was not is
    /// absent; false when the server gave no way to tell (it ignored the offset and answered the
    /// same page again), so an item not listed must be asked about on its own.
    Done { complete: bool },
}

/// The paging decision for a listing asked for `limit` items from `offset`, whose answer held
/// `len` items starting with `first`; `previous_first` is the first item of the page before.
/// A server may cap the page below `limit` (so a short page is not the end: only an empty one
/// is), ignore `limit` (a page longer than asked holds everything from `offset`), or ignore
/// `offset` (the same page again).
pub fn next_page(
    offset: usize,
    limit: usize,
    len: usize,
    first: Option<&str>,
    previous_first: Option<&str>,
) -> Page {
    match first {
        None => Page::Done { complete: true },
        Some(_) if offset > 0 && first == previous_first => Page::Done { complete: false },
        Some(_) if len > limit => Page::Done { complete: true },
        Some(_) => Page::Next(offset + len),
    }
}

/// `POST /compatibility/subjects/{s}/versions?verbose=true`.
pub fn compatibility(body: &[u8]) -> Result<Compatibility, String> {
    decode::<CompatibilityReply>(body).map(Compatibility::from)
}

/// `POST /subjects/{s}/versions`: the schema id.
pub fn registered_id(body: &[u8]) -> Result<i32, String> {
    decode::<RegisterReply>(body).map(|r| r.id)
}

/// A short, single-line excerpt of a body that is not the API's JSON.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_verbose_shapes_are_read() {
        let confluent = compatibility(
            br#"{"is_compatible":false,"messages":["READER_FIELD_MISSING_DEFAULT_VALUE"]}"#,
        )
        .unwrap();
        assert_eq!(confluent.messages, ["READER_FIELD_MISSING_DEFAULT_VALUE"]);
        let apicurio =
            compatibility(br#"{"is_compatible":false,"reason":"Causes: c at /fields/1"}"#).unwrap();
        assert_eq!(apicurio.messages, ["Causes: c at /fields/1"]);
        let bare = compatibility(br#"{"is_compatible":true}"#).unwrap();
        assert!(bare.compatible && bare.messages.is_empty());
    }

    #[test]
    fn answers_become_values() {
        let s = schema(br#"{"id": 3, "version": 2, "schema": "{}"}"#).unwrap();
        assert_eq!((s.id, s.version, s.schema_type.as_str()), (3, 2, "AVRO"));
        assert_eq!(
            level(br#"{"compatibilityLevel": "FULL"}"#)
                .unwrap()
                .as_deref(),
            Some("FULL")
        );
        assert_eq!(
            level(br#"{"compatibility": "NONE"}"#).unwrap().as_deref(),
            Some("NONE")
        );
        assert_eq!(versions(b"[1, 2]").unwrap(), [1, 2]);
        assert_eq!(subjects(br#"["b", "a"]"#).unwrap().len(), 2);
        assert_eq!(registered_id(br#"{"id": 9}"#).unwrap(), 9);
    }

    #[test]
    fn a_schema_listing_names_each_subject() {
        let listed = listed_schemas(
            br#"[{"subject":"a.x-value","version":2,"id":7,"schema":"{}"},
                 {"subject":"c.j-value","version":1,"id":9,"schemaType":"JSON","schema":"{}","references":[]}]"#,
        )
        .unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].0, "a.x-value");
        assert_eq!((listed[0].1.version, listed[0].1.id), (2, 7));
        assert_eq!(listed[0].1.schema_type, "AVRO");
        assert_eq!(
            (listed[1].0.as_str(), listed[1].1.schema_type.as_str()),
            ("c.j-value", "JSON")
        );
        assert!(listed_schemas(b"[]").unwrap().is_empty());
        // Other shapes: an error body, a list of names, a schema without its subject.
        for body in [
            &br#"{"error_code":0,"message":"RESTEASY003210: Could not find resource"}"#[..],
            br#"["a.x-value"]"#,
            br#"[{"version":1,"id":1,"schema":"{}"}]"#,
            b"<html>404</html>",
        ] {
            assert!(
                listed_schemas(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn paging_stops_only_when_the_listing_is_known_to_be_over() {
        // An empty page ends it, complete.
        assert_eq!(
            next_page(0, 1000, 0, None, None),
            Page::Done { complete: true }
        );
        assert_eq!(
            next_page(1000, 1000, 0, None, Some("a")),
            Page::Done { complete: true }
        );
        // A full page or a short one (a server may cap pages below the limit): ask on.
        assert_eq!(next_page(0, 1000, 1000, Some("a"), None), Page::Next(1000));
        assert_eq!(next_page(0, 1000, 20, Some("a"), None), Page::Next(20));
        assert_eq!(
            next_page(20, 1000, 20, Some("u"), Some("a")),
            Page::Next(40)
        );
        // More than asked: the server ignores `limit` and sent everything from the offset.
        assert_eq!(
            next_page(0, 1000, 1001, Some("a"), None),
            Page::Done { complete: true }
        );
        // The same page again: the server ignores `offset`; what is not listed is unknown.
        assert_eq!(
            next_page(20, 1000, 20, Some("a"), Some("a")),
            Page::Done { complete: false }
        );
    }

    #[test]
    fn foreign_bodies_are_errors_with_an_excerpt() {
        let e = schema(b"<html>\n<body>502 Bad Gateway</body></html>").unwrap_err();
        assert!(
            e.ends_with("body: <html> <body>502 Bad Gateway</body></html>"),
            "{e}"
        );
        assert_eq!(
            failure(br#"{"error_code": 40401, "message": "Subject not found"}"#),
            (Some(40401), "Subject not found".to_string())
        );
        assert_eq!(failure(b"oops"), (None, "oops".to_string()));
        let long = "é".repeat(400);
        assert_eq!(excerpt(long.as_bytes()).chars().count(), 301);
    }
}
