//! End-to-end: a sandbox with a real Kafka Connect worker (`mesh dev up --connect`), driven
//! through its REST API with curl and through Kafka's own tools, never through code of ours.
//!
//! One sandbox start: the worker answers, lists the file connectors, runs a FileStreamSink
//! connector as its own principal (`connect`, with only the ACLs given here and by `up`), a
//! second `up` leaves it alone, and `down` stops it.
//!
//! Needs Java 17+, curl and, on the first run, Maven with access to Maven Central.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mesh_sandbox::{
    Component, Ephemeral, KafkaTool, Options, SandboxConfig, State, admin_client_properties, down,
    kafka_tool, up,
};

fn curl(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Polls `f` for up to 60 s.
fn eventually(what: &str, mut f: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match f() {
            Ok(()) => return,
            Err(e) if Instant::now() >= deadline => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// One of Kafka's tools logged in as admin; panics with its output when it fails.
fn admin_tool(cfg: &SandboxConfig, which: KafkaTool, admin: &Path, args: &[&str]) -> String {
    let out = kafka_tool(cfg, which)
        .args(["--bootstrap-server", &cfg.bootstrap_servers()])
        .arg("--command-config")
        .arg(admin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("java runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{which:?} {args:?}:\n{text}");
    text
}

fn proc_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

#[test]
fn a_connect_worker_runs_a_file_sink_as_its_own_principal() {
    let began = Instant::now();
    let mut say = |m: &str| eprintln!("[up] {m}");
    let sb = Ephemeral::start_with(&Options::default().connect(), &mut say)
        .expect("sandbox with Connect comes up");
    eprintln!(
        "up with Connect took {:.1} s",
        began.elapsed().as_secs_f64()
    );
    let cfg = sb.cfg.clone();
    let st = sb.status();
    assert!(st.is_up(), "{st}");
    let worker = st.connect.as_ref().expect("status shows the worker");
    let State::Running { pid, ready: true } = worker.state else {
        panic!("worker not running: {st}");
    };
    assert_eq!(worker.endpoint, sb.connect_url());
    assert!(worker.log.ends_with("logs/connect.log"));
    let url = sb.connect_url();

    // The REST API answers, and the file connectors are on the classpath.
    let (ok, root) = curl(&[&format!("{url}/")]);
    assert!(ok && root.contains("\"version\""), "{root}");
    let (ok, plugins) = curl(&[&format!("{url}/connector-plugins")]);
    assert!(ok, "{plugins}");
    for class in [
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
    ] {
        assert!(plugins.contains(class), "{class} missing: {plugins}");
    }

    // A topic with a record in it, written as admin with Kafka's console producer.
    let admin = admin_client_properties(&cfg).unwrap();
    admin_tool(
        &cfg,
        KafkaTool::Topics,
        &admin,
        &["--create", "--topic", "orders", "--partitions", "1"],
    );
    let mut producer = kafka_tool(&cfg, KafkaTool::ConsoleProducer)
        .args(["--bootstrap-server", &cfg.bootstrap_servers()])
        .args(["--topic", "orders", "--producer.config"])
        .arg(&admin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java runs");
    producer
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(b"{\"order\":42}\n")
        .unwrap();
    let produced = producer.wait_with_output().unwrap();
    assert!(
        produced.status.success(),
        "{}",
        String::from_utf8_lossy(&produced.stderr)
    );

    // The worker's principal may read that topic in the connector's group, and nothing more
    // than `up` gave it otherwise (what mesh will derive per connector later).
    let name = "orders-sink";
    let group = format!("connect-{name}");
    for resource in [["--topic", "orders"], ["--group", group.as_str()]] {
        let mut args = vec![
            "--add",
            "--allow-principal",
            "User:connect",
            "--operation",
            "Read",
        ];
        args.extend(resource);
        admin_tool(&cfg, KafkaTool::Acls, &admin, &args);
    }
    let acls = admin_tool(
        &cfg,
        KafkaTool::Acls,
        &admin,
        &["--list", "--principal", "User:connect"],
    );
    for want in ["_connect-", "PREFIXED", "mesh-connect", "orders"] {
        assert!(acls.contains(want), "{want} missing from\n{acls}");
    }

    // A FileStreamSink connector through the REST API, writing into the test's folder.
    let out = sb.scratch().join("orders.txt");
    let config = format!(
        r#"{{"connector.class":"org.apache.kafka.connect.file.FileStreamSinkConnector","tasks.max":"1","topics":"orders","file":"{}"}}"#,
        out.display()
    );
    let (ok, created) = curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/json",
        "--data",
        &config,
        &format!("{url}/connectors/{name}/config"),
    ]);
    assert!(ok && created.contains(name), "{created}");
    eventually("the sink writes the record", || {
        let text = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
        // Schemaless JSON becomes a map; the file sink writes its toString.
        if text.contains("order=42") {
            Ok(())
        } else {
            Err(format!("file holds {text:?}"))
        }
    });
    let (ok, state) = curl(&[&format!("{url}/connectors/{name}/status")]);
    assert!(ok && state.contains("RUNNING"), "{state}");

    // `up` again leaves the worker alone, with or without asking for Connect: the folder keeps
    // its worker.
    let mut again = cfg.clone();
    again.connect = false;
    let st = up(&again, &mut say).expect("second up");
    assert_eq!(st.connect.as_ref().and_then(|c| c.pid()), Some(pid), "{st}");
    assert!(st.is_up(), "{st}");

    // `down` stops the worker with everything else.
    let stopped = down(&cfg).expect("down");
    assert!(
        stopped
            .iter()
            .any(|s| s.component == Component::Connect && s.pid == pid),
        "{stopped:?}"
    );
    assert!(!proc_alive(pid), "the worker outlived down");
    assert!(sb.status().is_down());
    eprintln!("the whole test took {:.1} s", began.elapsed().as_secs_f64());
}
