//! The adapter against a real Schema Registry: the project's sandbox (Apicurio Registry with
//! its Confluent-compatible API) in a temporary folder on free ports. What the adapter wrote is
//! checked with plain HTTP/1.0 over a `TcpStream`, so the checks use no client of ours.
//!
//! Needs Java 17+ and, on the first run, Maven with access to Maven Central.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use mesh_plan::ErrorKind;
use mesh_plan::registry::{RegistryReader, RegistryWriter};
use mesh_registry::{Auth, RegistryClient, RegistryError};
use mesh_sandbox::{Ephemeral, down};

fn start() -> Ephemeral {
    Ephemeral::start(&[], &mut |m| eprintln!("[up] {m}")).expect("sandbox starts")
}

mod common;

/// A plain HTTP/1.0 exchange with the registry's ccompat API, without a body.
fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    common::http_with(port, method, path, "")
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn set(subjects: &[&str]) -> BTreeSet<String> {
    subjects.iter().map(|s| s.to_string()).collect()
}

const V1: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;
/// V1 plus an optional field with a default: BACKWARD compatible.
const V2: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"note","type":["null","string"],"default":null}]}"#;
/// V2 plus a field without a default: a BACKWARD reader cannot read old data.
const V3_BREAKING: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"note","type":["null","string"],"default":null},{"name":"qty","type":"int"}]}"#;
const JSON_V1: &str = r#"{"type":"object","properties":{"id":{"type":"string"}}}"#;
const JSON_BREAKING: &str = r#"{"type":"object","properties":{"id":{"type":"integer"}}}"#;
const PROTO_V1: &str =
    "syntax = \"proto3\";\npackage shop;\n\nmessage Order {\n  string id = 1;\n}\n";

#[test]
fn the_adapter_against_a_real_registry() {
    let sb = start();
    let port = sb.cfg.registry_port;
    let reg = RegistryClient::new(&sb.cfg.registry_url(), Auth::None, Duration::from_secs(10))
        .expect("a client");
    let subject = "shop.orders-value";

    // An unknown subject reads as the default; the traits say the same as the inherent API.
    let live = RegistryReader::read_subjects(&reg, &set(&[subject])).unwrap();
    assert_eq!(live[subject], Default::default());

    // A level can be set before the first version, and reads back.
    RegistryWriter::set_compatibility(&reg, subject, "BACKWARD").unwrap();
    let (code, body) = http(port, "GET", &format!("/config/{subject}"));
    assert_eq!(
        (code, json(&body)["compatibilityLevel"].as_str()),
        (200, Some("BACKWARD"))
    );
    let live = reg.read_subjects(&set(&[subject])).unwrap();
    assert_eq!(live[subject].compatibility.as_deref(), Some("BACKWARD"));
    assert_eq!(live[subject].latest, None);

    // A first version is compatible with nothing registered.
    let verdict = reg.check_compatibility(subject, "AVRO", V1, None).unwrap();
    assert!(verdict.compatible, "{verdict:?}");

    let id1 = RegistryWriter::register(&reg, subject, "AVRO", V1).unwrap();
    // The same text again: same id, no new version.
    assert_eq!(reg.register(subject, "AVRO", V1).unwrap(), id1);
    let (code, body) = http(port, "GET", &format!("/subjects/{subject}/versions"));
    assert_eq!((code, body.trim()), (200, "[1]"));
    // Every subject, for `mesh import`.
    assert!(reg.list_subjects().unwrap().contains(subject));
    let live = &reg.read_subjects(&set(&[subject])).unwrap()[subject];
    let latest = live.latest.as_ref().expect("a version");
    assert_eq!(
        (latest.version, latest.id, latest.schema_type.as_str()),
        (1, id1, "AVRO")
    );
    assert_eq!(latest.schema, V1);
    assert_eq!(texts(&live.history), vec![V1]);

    // A compatible evolution.
    let verdict = RegistryReader::check_compatibility(&reg, subject, "AVRO", V2, None).unwrap();
    assert!(
        verdict.compatible && verdict.messages.is_empty(),
        "{verdict:?}"
    );
    let id2 = reg.register(subject, "AVRO", V2).unwrap();
    assert_ne!(id2, id1);
    let live = &reg.read_subjects(&set(&[subject])).unwrap()[subject];
    assert_eq!(
        live.latest.as_ref().map(|l| (l.version, l.id)),
        Some((2, id2))
    );
    assert_eq!(texts(&live.history), vec![V1, V2]);
    assert_eq!(live.compatibility.as_deref(), Some("BACKWARD"));

    // An incompatible one: the registry says why, and refuses to register it.
    let verdict = reg
        .check_compatibility(subject, "AVRO", V3_BREAKING, None)
        .unwrap();
    eprintln!("incompatible: {verdict:?}");
    assert!(!verdict.compatible);
    assert!(
        verdict.messages.iter().any(|m| m.contains("qty")),
        "{verdict:?}"
    );
    // Under NONE anything goes, without asking.
    assert!(
        reg.check_compatibility(subject, "AVRO", V3_BREAKING, Some("NONE"))
            .unwrap()
            .compatible
    );
    let err = reg.register(subject, "AVRO", V3_BREAKING).unwrap_err();
    eprintln!("refused registration: {err}");
    assert!(
        matches!(err, RegistryError::Api { status: 409, .. }),
        "{err:?}"
    );
    let text = RegistryWriter::register(&reg, subject, "AVRO", V3_BREAKING).unwrap_err();
    assert!(
        text.message.contains("HTTP 409") && text.message.contains(subject),
        "{text}"
    );
    assert_eq!(text.kind, ErrorKind::Conflict, "{text}");

    // JSON Schema and Protobuf go with their schemaType and read back as such.
    let json_subject = "shop.events-value";
    let proto_subject = "shop.orders-proto-value";
    let json_id = reg.register(json_subject, "JSON", JSON_V1).unwrap();
    let proto_id = reg.register(proto_subject, "PROTOBUF", PROTO_V1).unwrap();
    for (s, kind, text) in [
        (json_subject, "JSON", JSON_V1),
        (proto_subject, "PROTOBUF", PROTO_V1),
    ] {
        let (code, body) = http(port, "GET", &format!("/subjects/{s}/versions/latest"));
        assert_eq!(code, 200, "{body}");
        let raw = json(&body);
        assert_eq!(raw["schemaType"], kind);
        assert_eq!(raw["schema"], text);
    }
    let live = reg
        .read_subjects(&set(&[json_subject, proto_subject]))
        .unwrap();
    let j = live[json_subject].latest.as_ref().unwrap();
    let p = live[proto_subject].latest.as_ref().unwrap();
    assert_eq!((j.schema_type.as_str(), j.id), ("JSON", json_id));
    assert_eq!((p.schema_type.as_str(), p.id), ("PROTOBUF", proto_id));
    assert_eq!(p.schema, PROTO_V1);
    // No subject-level config: Apicurio 2.6 answers NONE for an existing subject (see docs).
    eprintln!(
        "unset level of an existing subject reads as {:?}",
        live[json_subject].compatibility
    );
    // The sandbox registry has no global rule (see docs/local-cluster.md): the subject's own.
    reg.set_compatibility(json_subject, "BACKWARD").unwrap();
    let verdict = reg
        .check_compatibility(json_subject, "JSON", JSON_BREAKING, None)
        .unwrap();
    assert!(
        !verdict.compatible,
        "under the subject's BACKWARD level: {verdict:?}"
    );
    assert_eq!(
        reg.register(proto_subject, "PROTOBUF", PROTO_V1).unwrap(),
        proto_id
    );

    // A subject name that needs encoding.
    let odd = "odd name/with slash é";
    let odd_id = reg.register(odd, "AVRO", r#""string""#).unwrap();
    let live = reg.read_subjects(&set(&[odd])).unwrap();
    assert_eq!(live[odd].latest.as_ref().map(|l| l.id), Some(odd_id));
    let (code, body) = http(port, "GET", "/subjects");
    assert_eq!(code, 200);
    assert!(
        json(&body).as_array().unwrap().iter().any(|s| s == odd),
        "{body}"
    );

    // Many subjects, read concurrently.
    let many: Vec<String> = (0..50).map(|i| format!("bulk.p{i:02}-value")).collect();
    let began = Instant::now();
    for (i, s) in many.iter().enumerate() {
        reg.register(s, "AVRO", V1).unwrap();
        if i % 2 == 0 {
            reg.register(s, "AVRO", V2).unwrap();
        }
    }
    eprintln!(
        "registered 75 versions in 50 subjects one by one in {:?}",
        began.elapsed()
    );
    let wanted: BTreeSet<String> = many
        .iter()
        .cloned()
        .chain(["bulk.unknown".to_owned()])
        .collect();
    let timed = |client: &RegistryClient, label: &str| {
        let began = Instant::now();
        let live = client.read_subjects(&wanted).unwrap();
        let took = began.elapsed();
        eprintln!(
            "read_subjects of 51 subjects ({label}): {took:?} = {:.0} subjects/s",
            51.0 / took.as_secs_f64()
        );
        live
    };
    let _warm = timed(&reg, "warm-up, concurrency 16, history");
    let live = timed(&reg, "concurrency 16, history");
    assert_eq!(live.len(), 51);
    assert_eq!(live["bulk.unknown"], Default::default());
    for (i, s) in many.iter().enumerate() {
        let l = &live[s];
        let versions = if i % 2 == 0 { 2 } else { 1 };
        assert_eq!(l.latest.as_ref().unwrap().version, versions, "{s}");
        assert_eq!(l.history.len(), versions as usize, "{s}");
    }
    let latest_only =
        RegistryClient::new(&sb.cfg.registry_url(), Auth::None, Duration::from_secs(10))
            .unwrap()
            .with_history(false);
    let l = timed(&latest_only, "concurrency 16, latest only");
    assert_eq!(l["bulk.p00-value"].latest.as_ref().unwrap().version, 2);
    assert!(l["bulk.p00-value"].history.is_empty());
    let serial = RegistryClient::new(&sb.cfg.registry_url(), Auth::None, Duration::from_secs(10))
        .unwrap()
        .with_concurrency(1);
    assert_eq!(timed(&serial, "concurrency 1, history"), live);
    let wide = RegistryClient::new(&sb.cfg.registry_url(), Auth::None, Duration::from_secs(10))
        .unwrap()
        .with_concurrency(64);
    assert_eq!(timed(&wide, "concurrency 64, history"), live);

    // A subject left soft-deleted (its permanent delete failed) reads as such, a subject never
    // registered does not, and delete_subject finishes the first.
    let half = "shop.half-deleted";
    reg.register(half, "AVRO", V1).unwrap();
    let (code, body) = http(port, "DELETE", &format!("/subjects/{half}"));
    assert_eq!(code, 200, "{body}");
    let l = reg.read_subjects(&set(&[half, "shop.never"])).unwrap();
    assert!(l[half].soft_deleted && l[half].latest.is_none(), "{l:?}");
    assert_eq!(l["shop.never"], Default::default());
    reg.delete_subject(half).unwrap();
    assert_eq!(
        reg.read_subjects(&set(&[half])).unwrap()[half],
        Default::default()
    );

    // Delete: soft, then hard; afterwards the registry knows nothing of the subject.
    RegistryWriter::delete_subject(&reg, subject).unwrap();
    let (code, body) = http(port, "GET", &format!("/subjects/{subject}/versions"));
    assert_eq!(
        (code, json(&body)["error_code"].as_i64()),
        (404, Some(40401)),
        "{body}"
    );
    let (code, body) = http(port, "GET", "/subjects?deleted=true");
    assert_eq!(code, 200);
    assert!(
        !body.contains(subject),
        "still listed as soft-deleted: {body}"
    );
    let (code, _) = http(port, "GET", &format!("/config/{subject}"));
    assert_eq!(code, 404);
    assert_eq!(
        reg.read_subjects(&set(&[subject])).unwrap()[subject],
        Default::default()
    );
    // Again: already gone is fine.
    reg.delete_subject(subject).unwrap();
    // A subject that only ever had a level.
    reg.set_compatibility("shop.config-only", "FULL").unwrap();
    reg.delete_subject("shop.config-only").unwrap();
    let (code, body) = http(port, "GET", "/config/shop.config-only");
    assert_eq!(code, 404, "{body}");
    // The encoded name too.
    reg.delete_subject(odd).unwrap();
    let (_, body) = http(port, "GET", "/subjects?deleted=true");
    assert!(
        !json(&body).as_array().unwrap().iter().any(|s| s == odd),
        "{body}"
    );

    avro_resolution_agrees_with_the_registry(&reg);

    down(&sb.cfg).expect("down");
}

fn texts(history: &[mesh_plan::registry::RegisteredSchema]) -> Vec<&str> {
    history.iter().map(|v| v.schema.as_str()).collect()
}

#[derive(serde::Deserialize)]
struct Cases {
    case: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    writer: String,
    reader: String,
    compatible: bool,
}

/// mesh's offline Avro check (`mesh_schema::avro_resolve`) and the registry agree on every case
/// of the specification's table: the writer registered first, the reader checked under
/// BACKWARD (the new schema reads data written with the old one).
fn avro_resolution_agrees_with_the_registry(reg: &RegistryClient) {
    let table: Cases = toml::from_str(include_str!(
        "../../mesh-schema/tests/avro_resolution_cases.toml"
    ))
    .unwrap();
    let mut disagreements = Vec::new();
    for (i, c) in table.case.iter().enumerate() {
        let subject = format!("agreement.{i}");
        reg.register(&subject, "AVRO", &c.writer)
            .unwrap_or_else(|e| panic!("{}: the registry refused the writer: {e}", c.name));
        reg.set_compatibility(&subject, "BACKWARD").unwrap();
        let verdict = reg
            .check_compatibility(&subject, "AVRO", &c.reader, None)
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let ours = {
            let parse = |t: &str| {
                mesh_schema::avro_resolve::Schema::parse(&serde_json::from_str(t).unwrap()).unwrap()
            };
            mesh_schema::avro_resolve::can_read(&parse(&c.reader), &parse(&c.writer))
        };
        if verdict.compatible != c.compatible || ours.is_empty() != c.compatible {
            disagreements.push(format!(
                "{}: table {}, registry {} {:?}, mesh {:?}",
                c.name, c.compatible, verdict.compatible, verdict.messages, ours
            ));
        }
    }
    eprintln!(
        "Avro resolution: {} cases, {} disagreement(s) with the registry",
        table.case.len(),
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

#[test]
fn a_closed_port_is_unreachable_at_once() {
    let port = {
        let l = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/apis/ccompat/v7");
    let reg = RegistryClient::new(&url, Auth::None, Duration::from_secs(10)).unwrap();
    let many: BTreeSet<String> = (0..200).map(|i| format!("s{i}")).collect();
    let began = Instant::now();
    let err = reg.read_subjects(&many).unwrap_err();
    let took = began.elapsed();
    eprintln!("closed port: {took:?}: {err}");
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("the Schema Registry at {url} is unreachable")),
        "{err}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    let text = RegistryWriter::register(&reg, "s", "AVRO", V1).unwrap_err();
    assert!(text.message.contains("is unreachable"), "{text}");
    assert_eq!(text.kind, ErrorKind::Unreachable, "{text}");
    assert!(text.retryable(true));
}

#[test]
fn a_silent_server_is_a_timeout() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts connections (the kernel does) but never answers.
    let reg = RegistryClient::new(
        &format!("http://127.0.0.1:{port}"),
        Auth::None,
        Duration::from_millis(500),
    )
    .unwrap();
    let began = Instant::now();
    let err = reg.set_compatibility("s", "BACKWARD").unwrap_err();
    let took = began.elapsed();
    eprintln!("silent server: {took:?}: {err}");
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("no answer within 0.5 s"), "{err}");
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    drop(listener);
}

/// Apicurio in the sandbox has no authentication, so a one-shot server stands in for a
/// registry that rejects the credentials: it records the request and answers 401.
#[test]
fn rejected_credentials_are_reported_without_the_secret() {
    for (auth, header, secrets) in [
        (
            Auth::Basic {
                user: "svc-mesh".into(),
                password: "pa55-w0rd".into(),
            },
            "authorization: Basic c3ZjLW1lc2g6cGE1NS13MHJk",
            vec!["pa55-w0rd", "c3ZjLW1lc2g6cGE1NS13MHJk"],
        ),
        (
            Auth::Bearer {
                token: "eyJ-token-value".into(),
            },
            "authorization: Bearer eyJ-token-value",
            vec!["eyJ-token-value"],
        ),
    ] {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen, requests) = std::sync::mpsc::channel();
        // Answers every connection (a read makes two requests at once) until the test ends.
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut s) = conn else { return };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let text = reject(&mut s);
                    let _ = seen.send(text);
                });
            }
        });
        let reg = RegistryClient::new(
            &format!("http://127.0.0.1:{port}"),
            auth,
            Duration::from_secs(5),
        )
        .unwrap();
        let err = reg.read_subjects(&set(&["x"])).unwrap_err();
        let request = requests.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(
            request
                .to_ascii_lowercase()
                .contains(&header.to_ascii_lowercase()),
            "{request}"
        );
        assert!(
            matches!(err, RegistryError::Unauthorized { status: 401, .. }),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err:?}");
        let shown = [
            err.to_string(),
            format!("{err:?}"),
            format!("{reg:?}"),
            reg.to_string(),
        ];
        assert!(shown[0].contains("authentication failed"), "{}", shown[0]);
        for text in &shown {
            for secret in &secrets {
                assert!(!text.contains(secret), "{secret} leaked: {text}");
            }
        }
    }
}

/// Reads one request and answers 401 with a message that echoes the `Authorization` header,
/// as an unhelpful server might; returns the request's head.
fn reject(s: &mut TcpStream) -> String {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request).into_owned();
    let echoed = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .unwrap_or("")
        .replace('"', "");
    let body = format!(r#"{{"error_code":40101,"message":"Unauthorized: {echoed}"}}"#);
    let _ = write!(
        s,
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    text
}
