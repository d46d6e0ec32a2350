//! Reading subjects from Apicurio Registry 2's export gives what reading them one by one
//! through the Confluent API gives, on the project's sandbox registry (Apicurio 2.6 in a
//! temporary folder on free ports): versions and ids (content shared between subjects, so
//! content ids and global ids differ), schema types, levels set and unset, a level without a
//! version, soft-deleted subjects and versions, and a subject the registry does not know. The
//! registry is written with plain HTTP/1.0 over a `TcpStream`, no client of ours.
//!
//! Needs Java 17+ and, on the first run, Maven with access to Maven Central.

use std::collections::BTreeSet;
use std::time::Duration;

use mesh_registry::{Auth, RegistryClient};
use mesh_sandbox::{Ephemeral, down};

mod common;
use common::http_with as http;

fn ok(port: u16, method: &str, path: &str, body: &str) -> String {
    let (code, answer) = http(port, method, path, body);
    assert_eq!(code, 200, "{method} {path}: {answer}");
    answer
}

fn register(port: u16, subject: &str, schema_type: Option<&str>, schema: &str) -> i64 {
    let mut body = serde_json::json!({ "schema": schema });
    if let Some(t) = schema_type {
        body["schemaType"] = t.into();
    }
    let answer = ok(
        port,
        "POST",
        &format!("/subjects/{subject}/versions"),
        &body.to_string(),
    );
    serde_json::from_str::<serde_json::Value>(&answer).unwrap()["id"]
        .as_i64()
        .unwrap()
}

fn level(port: u16, subject: &str, level: &str) {
    ok(
        port,
        "PUT",
        &format!("/config/{subject}"),
        &format!(r#"{{"compatibility":"{level}"}}"#),
    );
}

const V1: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;
const V2: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"note","type":["null","string"],"default":null}]}"#;
const JSON_V1: &str = r#"{"type":"object","properties":{"id":{"type":"string"}}}"#;
const PROTO_V1: &str =
    "syntax = \"proto3\";\npackage shop;\n\nmessage Order {\n  string id = 1;\n}\n";

fn client(sb: &Ephemeral, export_from: Option<usize>, history: bool) -> RegistryClient {
    RegistryClient::new(&sb.cfg.registry_url(), Auth::None, Duration::from_secs(20))
        .expect("a client")
        .with_export_from(export_from)
        .with_history(history)
}

#[test]
fn the_export_reads_as_the_confluent_api_does() {
    let sb = Ephemeral::start(&[], &mut |m| eprintln!("[up] {m}")).expect("sandbox starts");
    let port = sb.cfg.registry_port;

    // Two versions and a level; the first version's text again under another subject (one
    // content, two global ids); JSON and Protobuf; soft deletes of a subject and of a version;
    // a level set before any version.
    let a1 = register(port, "t.a-value", None, V1);
    register(port, "t.a-value", None, V2);
    level(port, "t.a-value", "BACKWARD");
    assert_eq!(register(port, "t.b-value", None, V1), a1, "shared content");
    register(port, "t.c-value", Some("JSON"), JSON_V1);
    level(port, "t.c-value", "FULL");
    register(port, "t.d-value", Some("PROTOBUF"), PROTO_V1);
    register(port, "t.e-value", None, V1);
    ok(port, "DELETE", "/subjects/t.e-value", "");
    register(port, "t.f-value", None, V1);
    register(port, "t.f-value", None, V2);
    ok(port, "DELETE", "/subjects/t.f-value/versions/1", "");
    level(port, "t.g-value", "FORWARD");

    let wanted: BTreeSet<String> = ["a", "b", "c", "d", "e", "f", "g", "new"]
        .iter()
        .map(|s| format!("t.{s}-value"))
        .collect();
    for history in [true, false] {
        let one_by_one = client(&sb, None, history);
        let expected = one_by_one.read_subjects(&wanted).expect("read one by one");
        assert!(one_by_one.requests_sent() >= 2 * wanted.len());

        let exported = client(&sb, Some(1), history);
        let read = exported
            .read_subjects(&wanted)
            .expect("read from the export");
        assert_eq!(read, expected, "history: {history}");
        // The count, the export, and a sample of at most four subjects read one by one.
        let sent = exported.requests_sent();
        assert!(
            sent < 2 * wanted.len(),
            "{sent} requests: the export was not used"
        );

        // What the reads say, against the registry's own answers.
        let a = &read["t.a-value"];
        assert_eq!(a.latest.as_ref().map(|l| l.version), Some(2));
        assert_eq!(a.compatibility.as_deref(), Some("BACKWARD"));
        assert_eq!(
            read["t.b-value"].latest.as_ref().map(|l| l.id),
            Some(a1 as i32)
        );
        assert_eq!(
            read["t.c-value"].latest.as_ref().unwrap().schema_type,
            "JSON"
        );
        assert_eq!(
            read["t.d-value"].latest.as_ref().unwrap().schema_type,
            "PROTOBUF"
        );
        assert!(read["t.e-value"].soft_deleted && read["t.e-value"].latest.is_none());
        let f = &read["t.f-value"];
        assert_eq!(f.latest.as_ref().map(|l| l.version), Some(2));
        if history {
            assert_eq!(
                f.history.len(),
                1,
                "the soft-deleted version is not history"
            );
            assert_eq!(a.history.len(), 2);
        }
        assert_eq!(read["t.g-value"].compatibility.as_deref(), Some("FORWARD"));
        assert!(read["t.g-value"].latest.is_none());
        assert_eq!(read["t.new-value"], Default::default());
    }

    // A registry holding many more artifacts than a read asks for is read one by one.
    for i in 0..20 {
        register(
            port,
            &format!("other.x{i}-value"),
            None,
            &V1.replace("Order", &format!("X{i}")),
        );
    }
    let exported = client(&sb, Some(1), true);
    let few: BTreeSet<String> = ["t.a-value".to_owned(), "t.b-value".to_owned()].into();
    let read = exported.read_subjects(&few).unwrap();
    assert_eq!(
        read["t.a-value"].latest.as_ref().map(|l| l.version),
        Some(2)
    );
    // The artifact count, then two requests or more per subject.
    assert!(exported.requests_sent() > 2 * few.len());

    down(&sb.cfg).expect("sandbox stops");
}
