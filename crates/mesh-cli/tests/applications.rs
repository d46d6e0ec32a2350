//! Real applications with only the ACLs mesh derived: a Kafka Streams application with
//! exactly-once processing (`tests/apps/MeshStreamsApp.java`, built here against
//! `kafka-streams` from Maven Central, same version as the sandbox's Kafka) runs as the
//! example's declared `streams` principal `logistics.scan-normalizer`, reading one product and
//! writing another, creating its own internal topics; the same application under an undeclared
//! principal is denied. Checked with Kafka's own tools.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

use mesh_sandbox::{
    Ephemeral, KafkaTool, SandboxConfig, admin_client_properties, fetch_jars, kafka_tool,
    write_client_properties,
};

const APP_ID: &str = "logistics.scan-normalizer";
const INPUT: &str = "logistics.carrier-scans";
const OUTPUT: &str = "logistics.scan-events";

/// `javac` beside the sandbox's `java` when there is one, else from PATH.
fn javac(cfg: &SandboxConfig) -> PathBuf {
    let beside = cfg.java.with_file_name("javac");
    if beside.is_file() {
        beside
    } else {
        PathBuf::from("javac")
    }
}

/// Compiles the test application into `out` against the jars in `libs`.
fn build_app(cfg: &SandboxConfig, libs: &Path, out: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps/MeshStreamsApp.java");
    let o = Command::new(javac(cfg))
        .arg("-cp")
        .arg(libs.join("*"))
        .arg("-d")
        .arg(out)
        .arg(&source)
        .output()
        .expect("javac runs (a JDK is needed: scripts/setup.sh installs one)");
    assert!(o.status.success(), "javac: {}", text(&o));
}

/// Runs the application for `seconds` as `user`; its exit code and what it printed.
fn run_app(
    cfg: &SandboxConfig,
    scratch: &Path,
    classes: &Path,
    libs: &Path,
    (user, password): (&str, &str),
    seconds: u32,
) -> (Option<i32>, String) {
    let login = write_client_properties(cfg, user, password).unwrap();
    let mut props = std::fs::read_to_string(&login).unwrap();
    let state = scratch.join(format!("streams-state-{user}"));
    props.push_str(&format!(
        "\nbootstrap.servers={}\napplication.id={APP_ID}\nprocessing.guarantee=exactly_once_v2\n\
         commit.interval.ms=200\nstatestore.cache.max.bytes=0\nstate.dir={}\n",
        cfg.bootstrap_servers(),
        state.display()
    ));
    let file = scratch.join(format!("streams-{user}.properties"));
    std::fs::write(&file, props).unwrap();
    let classpath = format!("{}:{}", classes.display(), libs.join("*").display());
    let o = Command::new(&cfg.java)
        .args(["-cp", &classpath, "MeshStreamsApp"])
        .arg(&file)
        .args([INPUT, OUTPUT, &seconds.to_string()])
        .output()
        .expect("java runs");
    (o.status.code(), text(&o))
}

#[test]
fn a_streams_application_runs_with_exactly_the_acls_mesh_derived() {
    let sb = Ephemeral::start(
        &[
            ("logistics-scan-normalizer", "scan-pw"),
            ("mallory", "mallory-pw"),
        ],
        &mut |l| eprintln!("{l}"),
    )
    .expect("sandbox starts");
    let cfg = &sb.cfg;
    let repo = example_for(cfg, sb.scratch());
    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));

    // The application's ACLs, as Kafka's own tool lists them.
    let acls = admin_tool(
        cfg,
        KafkaTool::Acls,
        &["--list", "--principal", "User:logistics-scan-normalizer"],
    );
    for expected in [
        format!("resourceType=TOPIC, name={APP_ID}-, patternType=PREFIXED)"),
        format!("resourceType=TRANSACTIONAL_ID, name={APP_ID}-, patternType=PREFIXED)"),
        format!("resourceType=GROUP, name={APP_ID}, patternType=LITERAL)"),
    ] {
        assert!(acls.contains(&expected), "{expected}: {acls}");
    }
    assert!(acls.contains("operation=ALL"), "{acls}");

    let version = &cfg.kafka_version;
    let libs = fetch_jars(
        cfg,
        &format!("kafka-streams-{version}"),
        &[&format!("org.apache.kafka:kafka-streams:{version}")],
        &mut |l| eprintln!("{l}"),
    )
    .expect("kafka-streams is fetched");
    let classes = sb.scratch().join("app");
    build_app(cfg, &libs, &classes);

    let admin = admin_client_properties(cfg).unwrap();
    for scan in ["scan-A", "scan-B", "scan-A"] {
        produce_one(cfg, &cfg.bootstrap_servers(), &admin, INPUT, scan);
    }

    // As the declared streams principal: runs, counts, commits exactly once.
    let (code, out) = run_app(
        cfg,
        sb.scratch(),
        &classes,
        &libs,
        ("logistics-scan-normalizer", "scan-pw"),
        25,
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("STATE RUNNING") && out.contains("DONE"),
        "{out}"
    );
    let counts = kafka_tool(cfg, KafkaTool::ConsoleConsumer)
        .args(["--bootstrap-server", &cfg.bootstrap_servers()])
        .arg("--consumer.config")
        .arg(&admin)
        .args([
            "--topic",
            OUTPUT,
            "--from-beginning",
            "--isolation-level",
            "read_committed",
            "--property",
            "print.key=true",
            "--timeout-ms",
            "10000",
        ])
        .output()
        .expect("java runs");
    let counts = text(&counts);
    assert!(
        counts.contains("scan-A\t2") && counts.contains("scan-B\t1"),
        "the committed counts: {counts}"
    );

    // Its internal topics, which it created under its prefix, belong to it: mesh plans no
    // change for them and reports no drift.
    let topics = admin_tool(cfg, KafkaTool::Topics, &["--list"]);
    for internal in ["by-value-repartition", "counts-changelog"] {
        assert!(
            topics.contains(&format!("{APP_ID}-{internal}")),
            "{internal}: {topics}"
        );
    }
    let o = mesh(&repo, &["plan", "--env", "local", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains(&format!("{APP_ID}-")), "{}", text(&o));
    let o = mesh(&repo, &["drift", "--env", "local"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The same application as a principal nobody declared: denied.
    let (code, out) = run_app(
        cfg,
        sb.scratch(),
        &classes,
        &libs,
        ("mallory", "mallory-pw"),
        25,
    );
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("Authorization"), "{out}");
}
