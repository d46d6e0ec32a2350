//! Connectors reconciled with a real Kafka Connect worker (the sandbox's `--connect`), checked
//! through Connect's REST API with curl and through Kafka's own tools, never through code of
//! ours.
//!
//! The example mesh (with its own `invoices-to-warehouse` sink) gets two connectors in its `logistics` domain, each running as its own
//! declared principal (the worker logs in as `connect`; a connector's `*.override.sasl.jaas.config`
//! comes from mesh's environment, `${VAR}`, and never shows): a FileStreamSource writes lines of
//! a file into the `logistics.carrier-scans` product, and a FileStreamSink copies the product
//! into another file — with only the ACLs mesh derived. Then a config change and a pause show as
//! an update and converge; a pause by hand is drift and the next apply resumes it; deleting the sink's file deletes the connector; a connector made by
//! hand through the REST API is left alone throughout; and bad input (a value Connect refuses, an
//! unknown class, an unset variable, a Connect cluster that is down) fails the plan with nothing
//! applied.

mod common;
use common::*;

use std::path::Path;

use mesh_sandbox::{Ephemeral, Options};

const IMPORTER_PW: &str = "importer-pw-4711";
const ARCHIVER_PW: &str = "archiver-pw-0815";
const LOADER_PW: &str = "loader-pw-1234";

fn jaas(user: &str, password: &str) -> String {
    format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{user}\" password=\"{password}\";"
    )
}

/// `curl` against the Connect REST API: (HTTP status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let all = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = all.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// mesh with the connectors' login lines in its environment.
fn mesh_env(repo: &Path, args: &[&str]) -> std::process::Output {
    mesh_command(repo, args)
        .env("SCAN_IMPORTER_JAAS", jaas("scan-importer", IMPORTER_PW))
        .env("SCAN_ARCHIVER_JAAS", jaas("scan-archiver", ARCHIVER_PW))
        .env(
            "MESH_WAREHOUSE_LOADER_JAAS",
            jaas("finance-warehouse-loader", LOADER_PW),
        )
        .output()
        .expect("mesh runs")
}

fn write(repo: &Path, file: &str, text: &str) {
    let p = repo.join(file);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn no_secret(out: &str) {
    for secret in [IMPORTER_PW, ARCHIVER_PW, LOADER_PW] {
        assert!(!out.contains(secret), "a password was printed:\n{out}");
    }
}

const SOURCE: &str = "domains/logistics/connectors/scans-from-files.toml";
const SINK: &str = "domains/logistics/connectors/scans-to-archive.toml";

#[test]
fn connectors_are_planned_applied_updated_and_deleted_on_a_real_connect_worker() {
    let sb = Ephemeral::start_with(
        &Options::default()
            .connect()
            .user("finance-warehouse-loader", LOADER_PW)
            .user("scan-importer", IMPORTER_PW)
            .user("scan-archiver", ARCHIVER_PW),
        &mut |l| eprintln!("{l}"),
    )
    .expect("sandbox with Connect starts");
    let cfg = &sb.cfg;
    let connect = sb.connect_url();
    let repo = example_for(cfg, sb.scratch());
    let input = sb.scratch().join("scans-in.txt");
    let output = sb.scratch().join("scans-out.txt");
    std::fs::write(&input, "").unwrap();

    edit(
        &repo,
        "domains/logistics/domain.toml",
        "[principals]\n",
        "[principals]\nscan-importer = \"User:scan-importer\"\nscan-archiver = \"User:scan-archiver\"\n",
    );
    // example_for pointed the example's [environments.local.connect] at this worker.
    assert!(
        std::fs::read_to_string(repo.join("mesh.toml"))
            .unwrap()
            .contains(&connect)
    );
    write(
        &repo,
        SOURCE,
        &format!(
            r#"class = "org.apache.kafka.connect.file.FileStreamSourceConnector"
principal = "scan-importer"
produces = "logistics.carrier-scans"
purpose = "replay carrier scan files"
[config]
"file" = "{}"
"topic" = "logistics.carrier-scans"
"key.converter" = "org.apache.kafka.connect.storage.StringConverter"
"value.converter" = "org.apache.kafka.connect.storage.StringConverter"
"producer.override.sasl.jaas.config" = "${{SCAN_IMPORTER_JAAS}}"
"#,
            input.display()
        ),
    );
    let sink = format!(
        r#"class = "org.apache.kafka.connect.file.FileStreamSinkConnector"
principal = "scan-archiver"
consumes = "logistics.carrier-scans"
purpose = "archive every carrier scan"
[config]
"file" = "{}"
"key.converter" = "org.apache.kafka.connect.storage.StringConverter"
"value.converter" = "org.apache.kafka.connect.storage.StringConverter"
"consumer.override.sasl.jaas.config" = "${{SCAN_ARCHIVER_JAAS}}"
"#,
        output.display()
    );
    write(&repo, SINK, &sink);

    // A connector made by hand, which mesh must never touch.
    let (code, body) = curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "topics": "by-hand", "file": "/dev/null"}"#,
        &format!("{connect}/connectors/by-hand/config"),
    ]);
    assert!(code == 201 || code == 200, "{code} {body}");

    // An unset variable: a plan error naming it, nothing read from Connect or changed.
    let o = mesh(&repo, &["plan", "--env", "local"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("SCAN_IMPORTER_JAAS") && out.contains(SOURCE),
        "{out}"
    );

    // The plan: both connectors to create; the hand-made one unnamed; no secret shown.
    let o = mesh_env(&repo, &["plan", "--env", "local"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    no_secret(&out);
    assert!(out.contains("+ connector scans-from-files [logistics.carrier-scans]: org.apache.kafka.connect.file.FileStreamSourceConnector"), "{out}");
    assert!(
        out.contains("+ connector scans-to-archive [logistics.carrier-scans]"),
        "{out}"
    );
    assert!(
        out.contains("consumer.override.sasl.jaas.config = ${SCAN_ARCHIVER_JAAS}"),
        "{out}"
    );
    assert!(!out.contains("by-hand"), "{out}");

    let o = mesh_env(&repo, &["apply", "--env", "local", "--auto-approve"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    no_secret(&out);

    // Connect has both, as declared: the sink's topic set by mesh, the login line expanded.
    let (code, body) = curl(&[&format!("{connect}/connectors/scans-to-archive/config")]);
    assert_eq!(code, 200, "{body}");
    let config = json(&body);
    assert_eq!(config["topics"], "logistics.carrier-scans");
    assert_eq!(config["tasks.max"], "1");
    assert_eq!(
        config["consumer.override.sasl.jaas.config"],
        jaas("scan-archiver", ARCHIVER_PW).as_str()
    );

    // Data flows in and out with only the ACLs mesh derived for the two principals.
    std::fs::write(&input, "scan-1\nscan-2\nscan-3\n").unwrap();
    eventually("the sink wrote what the source read", || {
        std::fs::read_to_string(&output).is_ok_and(|t| t.lines().count() >= 3)
    });
    let written = std::fs::read_to_string(&output).unwrap();
    for line in ["scan-1", "scan-2", "scan-3"] {
        assert!(written.contains(line), "{written}");
    }
    let acls = admin_tool(
        cfg,
        mesh_sandbox::KafkaTool::Acls,
        &["--list", "--principal", "User:scan-archiver"],
    );
    assert!(
        acls.contains("resourceType=GROUP, name=connect-scans-to-archive, patternType=LITERAL)"),
        "{acls}"
    );
    for name in ["scans-from-files", "scans-to-archive"] {
        let (_, body) = curl(&[&format!("{connect}/connectors/{name}/status")]);
        let status = json(&body);
        assert_eq!(status["connector"]["state"], "RUNNING", "{body}");
        assert_eq!(status["tasks"][0]["state"], "RUNNING", "{body}");
    }

    // Nothing left to do; nothing drifted.
    let o = mesh_env(&repo, &["plan", "--env", "local", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = mesh_env(&repo, &["drift", "--env", "local"]);
    assert!(o.status.success(), "{}", text(&o));

    // Paused by hand: drift says so, and the next apply resumes it.
    let (code, body) = curl(&[
        "-X",
        "PUT",
        &format!("{connect}/connectors/scans-to-archive/pause"),
    ]);
    assert_eq!(code, 202, "{body}");
    eventually("the sink is paused by hand", || {
        let (_, body) = curl(&[&format!("{connect}/connectors/scans-to-archive/status")]);
        json(&body)["connector"]["state"] == "PAUSED"
    });
    let o = mesh_env(&repo, &["drift", "--env", "local"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("~ connector scans-to-archive: PAUSED outside mesh, applied RUNNING"),
        "{out}"
    );
    let o = mesh_env(&repo, &["apply", "--env", "local", "--auto-approve"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("connector scans-to-archive [logistics.carrier-scans]: PAUSED → RUNNING"),
        "{out}"
    );
    eventually("the sink runs again", || {
        let (_, body) = curl(&[&format!("{connect}/connectors/scans-to-archive/status")]);
        json(&body)["connector"]["state"] == "RUNNING"
    });

    // A config change and a pause: an update and a state change, saved as a plan file, which
    // is stale once the sink is changed by hand, and converges when applied on what it saw.
    edit(
        &repo,
        SINK,
        "[config]\n",
        "[config]\n\"errors.tolerance\" = \"all\"\n",
    );
    edit(
        &repo,
        SOURCE,
        "[config]\n",
        "state = \"paused\"\n[config]\n",
    );
    let saved = sb.scratch().join("connectors.plan.json");
    let saved = saved.to_str().unwrap();
    let o = mesh_env(
        &repo,
        &[
            "plan",
            "--env",
            "local",
            "--detailed-exitcode",
            "--out",
            saved,
        ],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    let file = std::fs::read_to_string(saved).unwrap();
    no_secret(&file);
    assert!(
        out.contains("~ connector scans-to-archive [logistics.carrier-scans]: config"),
        "{out}"
    );
    assert!(out.contains("~ errors.tolerance: (unset) → all"), "{out}");
    assert!(
        out.contains("~ connector scans-from-files [logistics.carrier-scans]: RUNNING → PAUSED"),
        "{out}"
    );
    assert!(!out.contains("by-hand"), "{out}");
    let state_of = |name: &str| {
        let (_, body) = curl(&[&format!("{connect}/connectors/{name}/status")]);
        json(&body)["connector"]["state"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    curl(&[
        "-X",
        "PUT",
        &format!("{connect}/connectors/scans-to-archive/pause"),
    ]);
    eventually("the sink is paused by hand", || {
        state_of("scans-to-archive") == "PAUSED"
    });
    let o = mesh_env(&repo, &["apply", saved, "--auto-approve"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("stale plan") && out.contains("connector scans-to-archive"),
        "{out}"
    );
    curl(&[
        "-X",
        "PUT",
        &format!("{connect}/connectors/scans-to-archive/resume"),
    ]);
    eventually("the sink runs again", || {
        state_of("scans-to-archive") == "RUNNING"
    });
    let o = mesh_env(&repo, &["apply", saved, "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));
    let (_, body) = curl(&[&format!("{connect}/connectors/scans-to-archive/config")]);
    assert_eq!(json(&body)["errors.tolerance"], "all", "{body}");
    eventually("the source is paused", || {
        let (_, body) = curl(&[&format!("{connect}/connectors/scans-from-files/status")]);
        json(&body)["connector"]["state"] == "PAUSED"
    });
    let o = mesh_env(&repo, &["plan", "--env", "local", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Bad input: a value Connect refuses and a class it does not have fail the plan, naming the
    // file and the key; nothing is applied.
    edit(
        &repo,
        SINK,
        "\"errors.tolerance\" = \"all\"",
        "\"errors.tolerance\" = \"sometimes\"",
    );
    write(
        &repo,
        "domains/logistics/connectors/scans-to-nowhere.toml",
        "class = \"com.example.NoSuchConnector\"\nprincipal = \"scan-archiver\"\nconsumes = \"logistics.carrier-scans\"\n",
    );
    let o = mesh_env(&repo, &["apply", "--env", "local", "--auto-approve"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(SINK) && out.contains("`errors.tolerance`"),
        "{out}"
    );
    assert!(
        out.contains("no connector plugin com.example.NoSuchConnector"),
        "{out}"
    );
    let (_, body) = curl(&[&format!("{connect}/connectors/scans-to-archive/config")]);
    assert_eq!(
        json(&body)["errors.tolerance"],
        "all",
        "nothing applied: {body}"
    );
    let (code, _) = curl(&[&format!("{connect}/connectors/scans-to-nowhere")]);
    assert_eq!(code, 404);
    std::fs::remove_file(repo.join("domains/logistics/connectors/scans-to-nowhere.toml")).unwrap();
    edit(
        &repo,
        SINK,
        "\"errors.tolerance\" = \"sometimes\"",
        "\"errors.tolerance\" = \"all\"",
    );

    // The sink's file is deleted: the connector goes, with its ACLs; the hand-made one stays.
    std::fs::remove_file(repo.join(SINK)).unwrap();
    let o = mesh_env(&repo, &["plan", "--env", "local"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("- connector scans-to-archive [logistics.carrier-scans]: delete"),
        "{out}"
    );
    assert!(
        out.contains("- acl allow User:scan-archiver read on group connect-scans-to-archive"),
        "{out}"
    );
    let o = mesh_env(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));
    let (code, _) = curl(&[&format!("{connect}/connectors/scans-to-archive")]);
    assert_eq!(code, 404, "the sink is gone");
    let (code, _) = curl(&[&format!("{connect}/connectors/by-hand")]);
    assert_eq!(code, 200, "the hand-made connector is left alone");
    let o = mesh_env(&repo, &["plan", "--env", "local", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A Connect cluster that is down: a clear error, and not even the topic change is applied.
    edit(&repo, "mesh.toml", &connect, "http://127.0.0.1:9");
    edit(
        &repo,
        "domains/logistics/products/carrier-scans.toml",
        "\"retention.ms\" = \"14d\"",
        "\"retention.ms\" = \"10d\"",
    );
    let o = mesh_env(&repo, &["apply", "--env", "local", "--auto-approve"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("the Kafka Connect cluster at http://127.0.0.1:9 is unreachable"),
        "{out}"
    );
    let configs = admin_tool(
        cfg,
        mesh_sandbox::KafkaTool::Configs,
        &[
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            "logistics.carrier-scans",
        ],
    );
    assert!(configs.contains("retention.ms=1209600000"), "{configs}");
}
