//! End-to-end: a real sandbox in a temporary folder on free ports (so it never clashes with a
//! developer's sandbox on the defaults), checked through Kafka's own tools and plain HTTP.
//!
//! Needs Java 17+ and, on the first run, Maven with access to Maven Central; downloads go to
//! the shared cache (`$MESH_CACHE_DIR`, else `~/.cache/mesh`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mesh_sandbox::{
    Component, Ephemeral, KafkaTool, Listener, Options, SandboxConfig, SandboxError, State, Status,
    admin_client_properties, admin_properties, down, issue_client_certificate, kafka_tool, status,
    up, write_client_properties, write_scram_client_properties, write_ssl_client_properties,
};

/// Stops the sandbox even when an assertion fails, so no JVM outlives the test.
struct DownOnDrop(SandboxConfig);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        if let Err(e) = down(&self.0) {
            eprintln!("cleanup: {e}");
        }
    }
}

struct ToolRun {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl ToolRun {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

fn tool(cfg: &SandboxConfig, which: KafkaTool, config: &Path, args: &[&str]) -> ToolRun {
    tool_on(cfg, Listener::SaslPlaintext, which, config, args)
}

/// One of Kafka's tools against `listener`, logged in with `config`.
fn tool_on(
    cfg: &SandboxConfig,
    listener: Listener,
    which: KafkaTool,
    config: &Path,
    args: &[&str],
) -> ToolRun {
    let out = kafka_tool(cfg, which)
        .args(["--bootstrap-server", &cfg.bootstrap(listener)])
        .arg("--command-config")
        .arg(config)
        .args(args)
        .output()
        .expect("java runs");
    ToolRun {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn http_get(port: u16, path: &str) -> (u16, String) {
    http(port, "GET", path, "")
}

/// A plain HTTP/1.0 exchange, so the test depends on no client of ours.
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("registry accepts connections");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, body.to_owned())
}

fn pids(st: &Status) -> (u32, u32) {
    (
        st.node(1).pid().expect("kafka runs"),
        st.registry.pid().expect("registry runs"),
    )
}

fn proc_alive(pid: u32) -> bool {
    // Gone, or a zombie of this test process (its cmdline is then empty).
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

fn test_config(dir: PathBuf) -> SandboxConfig {
    let mut cfg = SandboxConfig::from_env(Some(dir)).expect("a home folder for the cache");
    cfg.users = vec![("alice".to_owned(), "alice-secret".to_owned())];
    cfg.use_free_ports().expect("free ports");
    cfg
}

#[test]
fn sandbox_is_real_idempotent_and_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = test_config(tmp.path().join("sandbox"));
    let _guard = DownOnDrop(cfg.clone());
    let mut say = |m: &str| eprintln!("[up] {m}");

    let began = Instant::now();
    let first = up(&cfg, &mut say).expect("sandbox comes up");
    eprintln!("up took {:.1} s\n{first}", began.elapsed().as_secs_f64());
    assert!(first.is_up(), "{first}");
    assert_eq!(first.bootstrap_servers(), cfg.bootstrap_servers());
    let (kafka_pid, registry_pid) = pids(&first);

    // Kafka's own TopicCommand, logged in as admin over SASL/PLAIN, can create and list.
    let admin = admin_client_properties(&cfg).unwrap();
    let topics = KafkaTool::Topics;
    let create = tool(
        &cfg,
        topics,
        &admin,
        &[
            "--create",
            "--topic",
            "sandbox.check",
            "--partitions",
            "2",
            "--replication-factor",
            "1",
        ],
    );
    assert!(
        create.ok,
        "admin create: {}\n{}",
        create.stdout, create.stderr
    );
    let list = tool(&cfg, topics, &admin, &["--list"]);
    assert!(list.ok, "{}", list.stderr);
    assert!(
        list.stdout.lines().any(|l| l == "sandbox.check"),
        "{}",
        list.stdout
    );

    // ACLs are enforced: alice is a valid user with no ACLs, so she may not create a topic.
    let alice = write_client_properties(&cfg, "alice", "alice-secret").unwrap();
    let denied = tool(
        &cfg,
        topics,
        &alice,
        &[
            "--create",
            "--topic",
            "alice.topic",
            "--partitions",
            "1",
            "--replication-factor",
            "1",
        ],
    );
    assert!(!denied.ok, "alice must be denied: {}", denied.stdout);
    assert!(
        denied.stdout.contains("Authorization failed")
            || denied.stderr.contains("Authorization failed"),
        "expected an authorization failure, got:\n{}\n{}",
        denied.stdout,
        denied.stderr
    );
    // And a wrong password is an authentication failure, not a silent anonymous login.
    let wrong = write_client_properties(&cfg, "alice", "not-her-password").unwrap();
    let rejected = tool(&cfg, topics, &wrong, &["--list"]);
    assert!(!rejected.ok);
    assert!(
        rejected.stderr.contains("Authentication failed")
            || rejected.stdout.contains("Authentication failed"),
        "{}\n{}",
        rejected.stdout,
        rejected.stderr
    );

    // The registry answers the Confluent API with an empty subject list.
    let (code, body) = http_get(cfg.registry_port, "/apis/ccompat/v7/subjects");
    assert_eq!((code, body.trim()), (200, "[]"));
    let schema = r#"{"schema":"{\"type\":\"record\",\"name\":\"Check\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}"}"#;
    let subject = "/apis/ccompat/v7/subjects/sandbox.check-value/versions";
    let (code, body) = http(cfg.registry_port, "POST", subject, schema);
    assert_eq!(code, 200, "{body}");
    // No global rule (so a subject's NONE works, see docs/local-cluster.md): anything goes until
    // the subject has a level; under BACKWARD, a field without a default breaks it.
    let breaking = r#"{"schema":"{\"type\":\"record\",\"name\":\"Check\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"},{\"name\":\"b\",\"type\":\"int\"}]}"}"#;
    let config = "/apis/ccompat/v7/config/sandbox.check-value";
    let (code, body) = http(
        cfg.registry_port,
        "PUT",
        config,
        r#"{"compatibility":"BACKWARD"}"#,
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = http(cfg.registry_port, "POST", subject, breaking);
    assert_eq!(code, 409, "{body}");
    let (code, body) = http(
        cfg.registry_port,
        "PUT",
        config,
        r#"{"compatibility":"NONE"}"#,
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = http(cfg.registry_port, "POST", subject, breaking);
    assert_eq!(code, 200, "under NONE: {body}");

    // Idempotent: a second `up` starts nothing and returns the same processes.
    let mut said = Vec::new();
    let second = up(&cfg, &mut |m| said.push(m.to_owned())).expect("second up");
    assert_eq!(pids(&second), (kafka_pid, registry_pid));
    assert!(
        said.iter().any(|m| m.contains("already running")),
        "{said:?}"
    );
    assert!(!said.iter().any(|m| m.starts_with("starting")), "{said:?}");
    assert_eq!(status(&cfg), second);

    // Down stops exactly these processes and removes their pid files.
    let stopped = down(&cfg).expect("down");
    let mut stopped_pids: Vec<_> = stopped.iter().map(|s| (s.component, s.pid)).collect();
    stopped_pids.sort();
    assert_eq!(
        stopped_pids,
        vec![
            (Component::Kafka(1), kafka_pid),
            (Component::Registry, registry_pid)
        ]
    );
    assert!(!proc_alive(kafka_pid) && !proc_alive(registry_pid));
    let after = status(&cfg);
    assert!(after.is_down(), "{after}");
    assert_eq!(after.node(1).state, State::Stopped);
    assert!(!after.node(1).pid_file.exists() && !after.registry.pid_file.exists());
    assert!(
        down(&cfg).unwrap().is_empty(),
        "a second down has nothing to stop"
    );

    // A port held by a stranger is reported, and nothing is left running.
    let squatter = TcpListener::bind(("127.0.0.1", cfg.node(1).client)).unwrap();
    match up(&cfg, &mut |_| {}) {
        Err(SandboxError::PortInUse { port, .. }) => assert_eq!(port, cfg.node(1).client),
        other => panic!("expected PortInUse, got {other:?}"),
    }
    drop(squatter);
    assert!(status(&cfg).is_down());

    // The same folder comes back with its data: storage is formatted only once.
    let again = up(&cfg, &mut say).expect("restart in the same folder");
    assert_ne!(pids(&again).0, kafka_pid);
    let list = tool(&cfg, topics, &admin, &["--list"]);
    assert!(
        list.stdout.lines().any(|l| l == "sandbox.check"),
        "{}",
        list.stdout
    );
    // So does the registry's storage.
    let (code, body) = http_get(cfg.registry_port, "/apis/ccompat/v7/subjects");
    assert_eq!((code, body.trim()), (200, r#"["sandbox.check-value"]"#));
    down(&cfg).expect("final down");
}

#[test]
fn a_missing_java_names_what_to_install() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = SandboxConfig::new(tmp.path().join("sb"), tmp.path().join("cache"));
    cfg.java = PathBuf::from("/nonexistent/bin/java");
    let err = up(&cfg, &mut |_| {}).unwrap_err();
    assert!(matches!(err, SandboxError::JavaMissing { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("Java 17+ is required for `mesh dev up`"),
        "{text}"
    );
    assert!(text.contains("install openjdk-17-jre-headless"), "{text}");
    // Nothing was fetched or started.
    assert!(!tmp.path().join("cache").exists());
}

fn create_topic(partitions: &str, rf: &str, topic: &str) -> Vec<String> {
    [
        "--create",
        "--topic",
        topic,
        "--partitions",
        partitions,
        "--replication-factor",
        rf,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

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

/// SASL_SSL with SCRAM and SSL with client certificates on the default Kafka (4.x), checked
/// with Kafka's own tools; the registry over HTTPS checked with curl against the sandbox CA.
#[test]
fn tls_listeners_scram_mtls_and_registry_https() {
    let began = Instant::now();
    let sb = Ephemeral::start_with(
        &Options::default().user("alice", "alice-secret"),
        &mut |m| eprintln!("[up] {m}"),
    )
    .expect("sandbox starts");
    eprintln!(
        "one-node Kafka {} up in {:.1} s",
        sb.cfg.kafka_version,
        began.elapsed().as_secs_f64()
    );
    let cfg = &sb.cfg;
    // `up` saw both answer; on a loaded machine a probe right after may still time out.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut st = sb.status();
    while !st.is_up() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        st = sb.status();
    }
    assert!(st.is_up(), "{st}");
    assert!(st.ca_file.is_file());
    assert!(st.admin_certificate.cert.is_file() && st.admin_certificate.key.is_file());
    assert_eq!(
        st.bootstrap(Listener::SaslSsl),
        cfg.bootstrap(Listener::SaslSsl)
    );
    assert_eq!(
        st.bootstrap(Listener::Ssl),
        format!("127.0.0.1:{}", cfg.node(1).ssl)
    );

    // SASL_SSL + SCRAM-SHA-512: admin creates, alice logs in, a wrong password is refused.
    let scram_admin = admin_properties(cfg, Listener::SaslSsl).unwrap();
    let create = tool_on(
        cfg,
        Listener::SaslSsl,
        KafkaTool::Topics,
        &scram_admin,
        &strs(&create_topic("1", "1", "tls.check")),
    );
    assert!(create.ok, "{}", create.all());
    let alice = write_scram_client_properties(cfg, "alice", "alice-secret").unwrap();
    let listed = tool_on(
        cfg,
        Listener::SaslSsl,
        KafkaTool::Topics,
        &alice,
        &["--list"],
    );
    assert!(listed.ok, "{}", listed.all());
    let wrong = write_scram_client_properties(cfg, "alice", "not-her-password").unwrap();
    let refused = tool_on(
        cfg,
        Listener::SaslSsl,
        KafkaTool::Topics,
        &wrong,
        &["--list"],
    );
    assert!(!refused.ok);
    assert!(
        refused.all().contains("Authentication failed") && refused.all().contains("SCRAM-SHA-512"),
        "{}",
        refused.all()
    );

    // SSL with admin's certificate (CN=admin is the super user) sees the topic.
    let ssl_admin = admin_properties(cfg, Listener::Ssl).unwrap();
    let listed = tool_on(
        cfg,
        Listener::Ssl,
        KafkaTool::Topics,
        &ssl_admin,
        &["--list"],
    );
    assert!(listed.ok, "{}", listed.all());
    assert!(
        listed.stdout.lines().any(|l| l == "tls.check"),
        "{}",
        listed.all()
    );
    // Without a client certificate the handshake is refused.
    let anonymous = write_ssl_client_properties(cfg, None).unwrap();
    let refused = tool_on(
        cfg,
        Listener::Ssl,
        KafkaTool::Topics,
        &anonymous,
        &["--list"],
    );
    assert!(!refused.ok);
    assert!(
        refused.all().contains("SslAuthenticationException")
            || refused.all().contains("bad_certificate"),
        "{}",
        refused.all()
    );
    // A certificate for another subject is its CN to the authorizer: no ACLs, so denied.
    let order = issue_client_certificate(cfg, "CN=order-service,OU=data").unwrap();
    let order_props = write_ssl_client_properties(cfg, Some(&order)).unwrap();
    let denied = tool_on(
        cfg,
        Listener::Ssl,
        KafkaTool::Topics,
        &order_props,
        &strs(&create_topic("1", "1", "order.topic")),
    );
    assert!(!denied.ok);
    assert!(
        denied.all().contains("Authorization failed"),
        "{}",
        denied.all()
    );
    eventually("the authorizer logs User:order-service", || {
        let log = std::fs::read_to_string(&st.node(1).log).map_err(|e| e.to_string())?;
        log.contains("Principal = User:order-service is Denied operation = CREATE")
            .then_some(())
            .ok_or_else(|| "not logged yet".to_owned())
    });
    // An ACL for that principal, given with Kafka's own tool, lets the certificate in.
    let acl = tool(
        cfg,
        KafkaTool::Acls,
        &admin_client_properties(cfg).unwrap(),
        &[
            "--add",
            "--allow-principal",
            "User:order-service",
            "--operation",
            "Describe",
            "--topic",
            "tls.check",
        ],
    );
    assert!(acl.ok, "{}", acl.all());
    eventually("order-service sees tls.check", || {
        let run = tool_on(
            cfg,
            Listener::Ssl,
            KafkaTool::Topics,
            &order_props,
            &["--list"],
        );
        run.stdout
            .lines()
            .any(|l| l == "tls.check")
            .then_some(())
            .ok_or_else(|| run.all())
    });

    // The registry over HTTPS with the sandbox CA; without it, curl refuses the certificate.
    let url = format!("{}/subjects", sb.status().registry_https_url());
    let ca = st.ca_file.to_str().unwrap().to_owned();
    let (ok, body) = curl(&["--cacert", &ca, &url]);
    assert!(ok, "{body}");
    assert_eq!(body.trim(), "[]");
    let by_ip = url.replace("localhost", "127.0.0.1");
    let (ok, body) = curl(&["--cacert", &ca, &by_ip]);
    assert!(ok, "the certificate names 127.0.0.1 too: {body}");
    let (ok, body) = curl(&[&url]);
    assert!(!ok, "{body}");
    // Plain HTTP stays where SPEC says.
    let (ok, body) = curl(&[&format!("{}/subjects", cfg.registry_url())]);
    assert!(ok && body.trim() == "[]", "{body}");

    // A user added at the next `up` gets SCRAM credentials in the running cluster.
    let mut with_bob = cfg.clone();
    with_bob.users.push(("bob".into(), "bob-secret".into()));
    let mut said = Vec::new();
    up(&with_bob, &mut |m| said.push(m.to_owned())).expect("second up");
    assert!(
        said.iter()
            .any(|m| m.contains("adding SCRAM credentials for bob")),
        "{said:?}"
    );
    let bob = write_scram_client_properties(cfg, "bob", "bob-secret").unwrap();
    eventually("bob logs in with SCRAM", || {
        let run = tool_on(cfg, Listener::SaslSsl, KafkaTool::Topics, &bob, &["--list"]);
        run.ok.then_some(()).ok_or_else(|| run.all())
    });

    // The folder keeps its shape: another node count is refused, naming both.
    let mut three = cfg.clone();
    three.brokers = 3;
    match up(&three, &mut |_| {}) {
        Err(e @ SandboxError::ShapeMismatch { .. }) => {
            let text = e.to_string();
            assert!(text.contains("one-node Kafka"), "{text}");
            assert!(text.contains("3 asked for (--brokers)"), "{text}");
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
}

// Three nodes (a stopped and restarted node included) and Kafka 3.9 are exercised end to end,
// with mesh and Kafka's own tools, in crates/mesh-cli/tests/brokers.rs.
