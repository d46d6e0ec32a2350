//! The three exports of `mesh-repo-example` as insta snapshots (`INSTA_UPDATE=always`
//! regenerates; review the diff), and the properties every export must have: deterministic,
//! valid entity names, parseable output.

use std::path::Path;

use mesh_model::Mesh;

/// The example repo, loaded for `env`.
fn example(env: Option<&str>) -> Mesh {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mesh-repo-example");
    let files = mesh_repo::from_dir(&dir).expect("the example repo reads");
    let (mesh, ds) = mesh_model::load(&files.files, env);
    assert!(
        !ds.iter().any(|d| d.is_error()),
        "the example is valid: {ds:?}"
    );
    mesh
}

const TIME: &str = "2026-11-05T10:00:00Z";

fn joined(files: &[(String, String)]) -> String {
    files
        .iter()
        .map(|(path, text)| format!("===== {path}\n{text}"))
        .collect()
}

#[test]
fn odcs_snapshot() {
    let files = mesh_export::odcs(&example(Some("prod")));
    assert_eq!(files.len(), example(None).products.len());
    insta::assert_snapshot!(joined(&files));
}

#[test]
fn backstage_snapshot() {
    let files = mesh_export::backstage(&example(None));
    insta::assert_snapshot!(joined(&files));
}

#[test]
fn openlineage_snapshot() {
    let files = mesh_export::openlineage(&example(Some("prod")), TIME).unwrap();
    insta::assert_snapshot!(joined(&files));
}

#[test]
fn exports_are_deterministic() {
    for env in [None, Some("prod"), Some("local")] {
        let (a, b) = (example(env), example(env));
        assert_eq!(mesh_export::odcs(&a), mesh_export::odcs(&b));
        assert_eq!(mesh_export::backstage(&a), mesh_export::backstage(&b));
    }
    let (a, b) = (example(Some("prod")), example(Some("prod")));
    assert_eq!(
        mesh_export::openlineage(&a, TIME).unwrap(),
        mesh_export::openlineage(&b, TIME).unwrap()
    );
}

#[test]
fn openlineage_needs_an_environment() {
    let e = mesh_export::openlineage(&example(None), TIME).unwrap_err();
    assert!(e.to_string().contains("--env"), "{e}");
}

#[test]
fn without_env_every_cluster_is_a_server_with_env_only_its_own() {
    let all = mesh_export::odcs(&example(None));
    let one = mesh_export::odcs(&example(Some("local")));
    let servers = |text: &str| text.matches("type: \"kafka\"").count();
    assert_eq!(servers(&all[0].1), 4, "{}", all[0].1);
    assert_eq!(servers(&one[0].1), 1);
    assert!(
        one[0].1.contains("host: \"127.0.0.1:19092\""),
        "{}",
        one[0].1
    );
}

#[test]
fn openlineage_jobs_read_the_inputs_and_write_the_topic() {
    let files = mesh_export::openlineage(&example(Some("prod")), TIME).unwrap();
    let events: Vec<serde_json::Value> = files[0]
        .1
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let job = |name: &str| {
        events
            .iter()
            .find(|e| e["job"]["name"] == name)
            .unwrap_or_else(|| panic!("no job {name}"))
    };
    let names = |list: &serde_json::Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|d| {
                assert_eq!(d["namespace"], "kafka://kafka-1.prod.acme.internal:9093");
                d["name"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    let orders = job("sales.orders");
    assert_eq!(orders["job"]["namespace"], "acme");
    assert_eq!(
        names(&orders["inputs"]),
        ["sales.checkout-events", "customers.profiles"]
    );
    assert_eq!(names(&orders["outputs"]), ["sales.orders"]);
    let fields = &orders["outputs"][0]["facets"]["schema"]["fields"];
    assert!(
        fields
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "lines" && f["fields"][0]["name"] == "sku"),
        "{fields}"
    );
    // A reading principal: what it consumes in, what it produces out.
    let reader = job("sales/order-service");
    assert!(names(&reader["inputs"]).contains(&"customers.profiles".to_owned()));
    assert_eq!(names(&reader["outputs"]), ["sales.orders"]);
    assert!(events.iter().all(|e| e["eventTime"] == TIME));
}
