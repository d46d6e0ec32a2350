//! Reading subjects in bulk and one by one gives the same answer: a small registry in memory,
//! served over HTTP by a std thread, once with Confluent's `GET /schemas` listing (paged, with
//! a page cap below what the client asks for) and once without it (404 as Apicurio 2.6's
//! ccompat API answers), read through the real client.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_registry::{Auth, RegistryClient};

/// A version: (version, id, schema type); its text is derived from the version.
type Version = (i32, i32, &'static str);

/// subject → (level, versions), and soft-deleted subjects.
struct Registry {
    subjects: BTreeMap<&'static str, (Option<&'static str>, Vec<Version>)>,
    soft_deleted: Vec<&'static str>,
    /// Whether `GET /schemas` exists.
    bulk: bool,
    /// Whether its items name their subject (Apicurio 3.3.3's answer only has `schema`).
    names: bool,
    /// The most items one page of `GET /schemas` holds, whatever `limit` says.
    cap: usize,
    /// Served under `/apis/ccompat/v7` as Apicurio serves its Confluent API, with this answer to
    /// its native API's export (`None`: the native API is missing, 404).
    apicurio: Option<Option<Vec<u8>>>,
}

fn registry(bulk: bool) -> Registry {
    let mut subjects = BTreeMap::new();
    subjects.insert(
        "sales.orders-value",
        (Some("BACKWARD"), vec![(1, 1, "AVRO")]),
    );
    subjects.insert(
        "sales.orders-key",
        (None, vec![(1, 2, "AVRO"), (2, 5, "AVRO"), (4, 9, "AVRO")]),
    );
    subjects.insert("sales.returns-value", (Some("FULL"), vec![(1, 3, "JSON")]));
    subjects.insert("marketing.clicks-value", (None, vec![(1, 4, "PROTOBUF")]));
    // Not managed: listed under the prefix "sales." but never asked about.
    subjects.insert("sales.unmanaged-value", (None, vec![(1, 6, "AVRO")]));
    // A level set before any version.
    subjects.insert("sales.new-value", (Some("NONE"), vec![]));
    Registry {
        subjects,
        soft_deleted: vec!["sales.gone-value"],
        bulk,
        names: true,
        cap: 2,
        apicurio: None,
    }
}

fn schema_json(subject: &str, (v, id, kind): Version) -> serde_json::Value {
    let mut s = serde_json::json!({
        "subject": subject, "version": v, "id": id, "schema": format!("{{\"v\":{v}}}"),
    });
    if kind != "AVRO" {
        s["schemaType"] = kind.into();
    }
    s
}

/// The answer to one request: status and JSON body.
fn answer(r: &Registry, path: &str) -> (u16, serde_json::Value) {
    let not_found = |code: i64| {
        (
            404,
            serde_json::json!({"error_code": code, "message": "no"}),
        )
    };
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .unwrap_or("")
            .to_string()
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["schemas"] if r.bulk => {
            assert_eq!(param("latestOnly"), "true");
            let prefix = param("subjectPrefix");
            let offset: usize = param("offset").parse().unwrap_or(0);
            let limit: usize = param("limit").parse().unwrap_or(usize::MAX);
            let all: Vec<serde_json::Value> = r
                .subjects
                .iter()
                .filter(|(s, _)| s.starts_with(prefix.as_str()))
                .filter_map(|(s, (_, versions))| versions.last().map(|v| schema_json(s, *v)))
                .map(|item| match r.names {
                    true => item,
                    false => serde_json::json!({"schema": item["schema"]}),
                })
                .collect();
            let page: Vec<_> = all
                .into_iter()
                .skip(offset)
                .take(limit.min(r.cap))
                .collect();
            (200, page.into())
        }
        ["schemas"] => not_found(0),
        ["subjects"] => {
            assert_eq!(param("deleted"), "true");
            // Subjects with a version, live or soft-deleted (a level alone is no subject).
            let mut names: Vec<&str> = r
                .subjects
                .iter()
                .filter(|(_, (_, v))| !v.is_empty())
                .map(|(s, _)| *s)
                .collect();
            names.extend(&r.soft_deleted);
            (200, names.into())
        }
        ["config", s] => match r.subjects.get(s) {
            Some((Some(level), _)) => (200, serde_json::json!({"compatibilityLevel": level})),
            Some((None, _)) => not_found(40408),
            None => not_found(40401),
        },
        ["subjects", s, "versions"] => match r.subjects.get(s) {
            Some((_, v)) if !v.is_empty() => {
                (200, v.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().into())
            }
            _ => not_found(40401),
        },
        ["subjects", s, "versions", v] => {
            let Some((_, versions)) = r.subjects.get(s).filter(|(_, v)| !v.is_empty()) else {
                return not_found(40401);
            };
            let found = if *v == "latest" {
                versions.last()
            } else {
                versions.iter().find(|(n, _, _)| n.to_string() == *v)
            };
            match found {
                Some(found) => (200, schema_json(s, *found)),
                None => not_found(40402),
            }
        }
        _ => not_found(0),
    }
}

/// Serves `r` on a free port until the test ends; every request path is recorded.
fn serve(r: Registry) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let r = Arc::new(r);
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(s) = conn else { return };
            let (r, log) = (r.clone(), log.clone());
            std::thread::spawn(move || connection(s, &r, &log));
        }
    });
    (format!("http://127.0.0.1:{port}"), seen)
}

/// Answers the requests of one keep-alive connection (none of them has a body).
fn connection(s: TcpStream, r: &Registry, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut out = s;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                break;
            }
        }
        let path = path.replace("%2F", "/");
        log.lock().unwrap().push(path.clone());
        let (status, body) = match (&r.apicurio, path.strip_prefix("/apis/ccompat/v7")) {
            (None, _) => {
                let (status, body) = answer(r, &path);
                (status, body.to_string().into_bytes())
            }
            (Some(_), Some(ccompat)) => {
                let (status, body) = answer(r, ccompat);
                (status, body.to_string().into_bytes())
            }
            (Some(Some(_)), None) if path.starts_with("/apis/registry/v2/search/artifacts") => {
                (200, br#"{"artifacts":[],"count":1}"#.to_vec())
            }
            (Some(Some(zip)), None) if path == "/apis/registry/v2/admin/export" => {
                (200, zip.clone())
            }
            (Some(_), None) => (404, br#"{"error_code":404,"message":"no"}"#.to_vec()),
        };
        let _ = write!(
            out,
            "HTTP/1.1 {status} X\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = out.write_all(&body);
    }
}

fn managed() -> BTreeSet<String> {
    [
        "sales.orders-value",
        "sales.orders-key",
        "sales.returns-value",
        "sales.new-value",
        "sales.gone-value",
        "sales.never-value",
        "marketing.clicks-value",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn bulk_and_one_by_one_reads_agree() {
    let read = |bulk: bool, history: bool| {
        let (url, seen) = serve(registry(bulk));
        let client = RegistryClient::new(&url, Auth::None, Duration::from_secs(10))
            .unwrap()
            .with_history(history);
        let first = client.read_subjects(&managed()).unwrap();
        let requests = seen.lock().unwrap().clone();
        // A second read on the same client remembers whether the listing exists.
        seen.lock().unwrap().clear();
        let second = client.read_subjects(&managed()).unwrap();
        assert_eq!(first, second);
        (first, requests, seen.lock().unwrap().clone())
    };
    for history in [true, false] {
        let (bulk, bulk_requests, bulk_again) = read(true, history);
        let (single, single_requests, single_again) = read(false, history);
        assert_eq!(bulk, single, "history: {history}");

        let latest_asked = |r: &[String]| r.iter().filter(|p| p.ends_with("/latest")).count();
        let listings = |r: &[String]| r.iter().filter(|p| p.starts_with("/schemas")).count();
        // With the listing: no subject asked for its latest version; "marketing.clicks-value"
        // (one item, then an empty page) and "sales." (4 items, in pages of at most 2, then
        // an empty page).
        assert_eq!(latest_asked(&bulk_requests), 0, "{bulk_requests:#?}");
        assert_eq!(listings(&bulk_requests), 5, "{bulk_requests:#?}");
        assert_eq!(listings(&bulk_again), 5, "{bulk_again:#?}");
        // Without it: one refused listing, then each subject on its own; not asked again.
        assert_eq!(listings(&single_requests), 1, "{single_requests:#?}");
        assert_eq!(latest_asked(&single_requests), managed().len());
        assert_eq!(listings(&single_again), 0, "{single_again:#?}");
        // Only a subject with versions above 1 has its list and other versions read.
        let lists = |r: &[String]| r.iter().filter(|p| p.ends_with("/versions")).count();
        assert_eq!(lists(&bulk_requests), usize::from(history));
        assert_eq!(lists(&single_requests), usize::from(history));
    }

    let (got, _, _) = read(true, true);
    let key = &got["sales.orders-key"];
    assert_eq!(
        key.history.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2, 4]
    );
    assert_eq!(key.latest.as_ref().map(|v| v.id), Some(9));
    assert_eq!(key.compatibility, None);
    let returns = &got["sales.returns-value"];
    assert_eq!(returns.compatibility.as_deref(), Some("FULL"));
    assert_eq!(
        returns.latest.as_ref().map(|v| v.schema_type.as_str()),
        Some("JSON")
    );
    let new = &got["sales.new-value"];
    assert!(new.latest.is_none() && !new.soft_deleted);
    assert_eq!(new.compatibility.as_deref(), Some("NONE"));
    assert!(got["sales.gone-value"].soft_deleted);
    assert_eq!(
        got["sales.never-value"],
        mesh_plan::registry::LiveSubject::default()
    );
    assert!(!got.contains_key("sales.unmanaged-value"));
}

/// Apicurio 3.3.3 answers `GET /schemas` with items that hold only the schema text: no subject
/// to file it under. Such a listing is of no use, and the subjects are read one by one, also
/// when the first prefix listed had nothing (an empty list looks like Confluent's answer).
#[test]
fn a_listing_without_subject_names_is_read_one_by_one() {
    let (url, _) = serve(registry(false));
    let client = RegistryClient::new(&url, Auth::None, Duration::from_secs(10)).unwrap();
    let mut asked = managed();
    // Sorts before "marketing.": listed first, and the registry has nothing under it.
    asked.insert("analytics.none-value".to_string());
    let one_by_one = client.read_subjects(&asked).unwrap();
    assert!(one_by_one["marketing.clicks-value"].latest.is_some());
    assert!(one_by_one["analytics.none-value"].latest.is_none());

    let mut r = registry(true);
    r.names = false;
    let (url, seen) = serve(r);
    let client = RegistryClient::new(&url, Auth::None, Duration::from_secs(10)).unwrap();
    assert_eq!(client.read_subjects(&asked).unwrap(), one_by_one);
    let requests = seen.lock().unwrap().clone();
    let listings = requests
        .iter()
        .filter(|p| p.starts_with("/schemas"))
        .count();
    let latest = requests.iter().filter(|p| p.ends_with("/latest")).count();
    // "analytics.none-value" alone (empty: the listing seems to work), then the other two
    // groups at once (items without names): each subject outside the empty group is asked
    // about on its own.
    assert_eq!(listings, 3, "{requests:#?}");
    assert_eq!(latest, asked.len() - 1, "{requests:#?}");
    // Not tried again on the same client.
    seen.lock().unwrap().clear();
    assert_eq!(client.read_subjects(&asked).unwrap(), one_by_one);
    let again = seen.lock().unwrap().clone();
    assert_eq!(
        again.iter().filter(|p| p.starts_with("/schemas")).count(),
        0,
        "{again:#?}"
    );
}

/// A zip of `entries` (name, text), stored, with an end-of-central-directory record: the shape
/// of Apicurio's export, small.
fn stored_zip(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, text) in entries {
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method, time, date
        out.extend_from_slice(&crc32fast::hash(text.as_bytes()).to_le_bytes());
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 18]);
    out
}

/// On an Apicurio-style URL the export is tried first; where the native API is missing, or
/// where its export disagrees with what the Confluent API answers for a sample subject, the
/// subjects are read one by one, with the same result, and the export is not tried again.
#[test]
fn an_export_that_cannot_stand_for_the_confluent_api_is_not_used() {
    let (url, _) = serve(registry(false));
    let expected = RegistryClient::new(&url, Auth::None, Duration::from_secs(10))
        .unwrap()
        .read_subjects(&managed())
        .unwrap();
    // The version's text differs from what `GET …/versions/latest` answers (`{"v":1}`).
    let disagreeing = stored_zip(&[
        (
            "manifest-x.Manifest.json",
            r#"{"systemName":"apicurio-registry","systemVersion":"2.6.13.Final"}"#,
        ),
        ("content/h1.Content.json", r#"{"contentId":1}"#),
        ("content/h1.Content.data", r#"{"other":1}"#),
        (
            "groups/default/artifacts/sales.orders-value/versions/1.ArtifactVersion.json",
            r#"{"globalId":1,"groupId":null,"artifactId":"sales.orders-value","version":"1","artifactType":"AVRO","state":"ENABLED","contentId":1}"#,
        ),
    ]);
    for (export, what) in [
        (None, "no native API"),
        (Some(disagreeing), "a disagreeing export"),
    ] {
        let mut r = registry(false);
        r.apicurio = Some(export.clone());
        let (base, seen) = serve(r);
        let client = RegistryClient::new(
            &format!("{base}/apis/ccompat/v7"),
            Auth::None,
            Duration::from_secs(10),
        )
        .unwrap()
        .with_export_from(Some(1));
        assert_eq!(
            client.read_subjects(&managed()).unwrap(),
            expected,
            "{what}"
        );
        let requests = seen.lock().unwrap().clone();
        let native = |r: &[String], p: &str| r.iter().filter(|x| x.starts_with(p)).count();
        assert_eq!(
            native(&requests, "/apis/registry/v2/search"),
            1,
            "{what}: {requests:#?}"
        );
        assert_eq!(
            native(&requests, "/apis/registry/v2/admin/export"),
            usize::from(export.is_some()),
            "{what}: {requests:#?}"
        );
        // Not tried again on the same client.
        seen.lock().unwrap().clear();
        assert_eq!(
            client.read_subjects(&managed()).unwrap(),
            expected,
            "{what}"
        );
        let again = seen.lock().unwrap().clone();
        assert_eq!(
            native(&again, "/apis/registry/v2/"),
            0,
            "{what}: {again:#?}"
        );
    }
}
