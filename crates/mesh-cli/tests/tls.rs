//! mesh against a cluster that looks like production: the sandbox's SASL_SSL listener (SCRAM-SHA-512,
//! a private CA) and its SSL listener (client certificates, the principal from the certificate's
//! CN), with the registry over HTTPS. Checked with Kafka's own tools on the same TLS listeners and
//! with `curl --cacert`.
//!
//! Plans and applies log in as `mesh-ci`, a principal that is no super user and holds exactly the
//! ACLs docs/connecting.md lists. One sandbox for the file; the tests take turns on it.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use mesh_sandbox::{
    Ephemeral, KafkaTool, Listener, Options, SandboxConfig, admin_properties, kafka_tool,
    write_ssl_client_properties,
};

const CI_USER: &str = "mesh-ci";
const CI_PASSWORD: &str = "mesh-ci-secret-4711";

static SANDBOX: Mutex<Weak<Ephemeral>> = Mutex::new(Weak::new());
static TURN: Mutex<()> = Mutex::new(());
static GRANTED: Mutex<bool> = Mutex::new(false);

fn cluster() -> (Arc<Ephemeral>, MutexGuard<'static, ()>) {
    let sb = {
        let mut slot = SANDBOX.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.upgrade() {
            Some(sb) => sb,
            None => {
                let options = Options::default().user(CI_USER, CI_PASSWORD);
                let sb = Arc::new(
                    Ephemeral::start_with(&options, &mut |line| eprintln!("{line}"))
                        .expect("sandbox starts"),
                );
                *slot = Arc::downgrade(&sb);
                sb
            }
        }
    };
    let turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    (sb, turn)
}

/// The example mesh with two more environments on this sandbox: `tls` (SASL_SSL, SCRAM-SHA-512
/// as `mesh-ci`, the CA as a path relative to the repo) and `mtls` (SSL with the admin's client
/// certificate); both reach the registry over HTTPS with the same CA.
fn tls_repo(sb: &Ephemeral, dir: &Path) -> PathBuf {
    let repo = example_for(&sb.cfg, dir);
    std::fs::create_dir_all(repo.join("certs")).unwrap();
    std::fs::copy(sb.ca_file(), repo.join("certs/ca.pem")).unwrap();
    let status = sb.status();
    let mut text = std::fs::read_to_string(repo.join("mesh.toml")).unwrap();
    text.push_str(&format!(
        r#"
[environments.tls]
local = true                          # one broker: the durability rules do not apply
bootstrap_servers = "${{TLS_BOOTSTRAP:-{sasl_ssl}}}"
schema_registry_url = "{https}"
[environments.tls.topic]
replication_factor = 1
[environments.tls.topic.config]
"min.insync.replicas" = 1
[environments.tls.kafka]
"security.protocol" = "SASL_SSL"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "${{MESH_TLS_USER}}"
"sasl.password" = "${{MESH_TLS_PASSWORD}}"
"ssl.ca.location" = "${{TLS_CA:-certs/ca.pem}}"
[environments.tls.schema_registry]
ca_file = "certs/ca.pem"

[environments.mtls]
local = true
bootstrap_servers = "${{MTLS_BOOTSTRAP:-{ssl}}}"
schema_registry_url = "{https}"
[environments.mtls.topic]
replication_factor = 1
[environments.mtls.topic.config]
"min.insync.replicas" = 1
[environments.mtls.kafka]
"security.protocol" = "SSL"
"ssl.ca.location" = "certs/ca.pem"
"ssl.certificate.location" = "{cert}"
"ssl.key.location" = "${{MTLS_KEY:-{key}}}"
[environments.mtls.schema_registry]
ca_file = "certs/ca.pem"
"#,
        sasl_ssl = sb.bootstrap(Listener::SaslSsl),
        ssl = sb.bootstrap(Listener::Ssl),
        https = status.registry_https_url(),
        cert = status.admin_certificate.cert.display(),
        key = status.admin_certificate.key.display(),
    ));
    std::fs::write(repo.join("mesh.toml"), text).unwrap();
    repo
}

fn mesh_with(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mesh"));
    c.args(args)
        .arg("--repo")
        .arg(repo)
        .env("NO_COLOR", "1")
        .env("MESH_TLS_USER", CI_USER)
        .env("MESH_TLS_PASSWORD", CI_PASSWORD)
        .env_remove("MESH_LOCAL_PASSWORD");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("mesh runs")
}

fn mesh(repo: &Path, args: &[&str]) -> Output {
    mesh_with(repo, args, &[])
}

/// Kafka's own tool on a TLS listener, logged in as the admin over that listener.
fn tls_tool(cfg: &SandboxConfig, listener: Listener, which: KafkaTool, args: &[&str]) -> String {
    let config = admin_properties(cfg, listener).unwrap();
    let out = kafka_tool(cfg, which)
        .args(["--bootstrap-server", &cfg.bootstrap(listener)])
        .arg("--command-config")
        .arg(config)
        .args(args)
        .output()
        .expect("java runs");
    text(&out)
}

/// `curl --cacert CA URL`: the registry over HTTPS through a client nobody here wrote.
fn curl(ca: &Path, url: &str) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "--cacert"])
        .arg(ca)
        .arg(url)
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "curl {url}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Grants `mesh-ci` exactly the ACLs docs/connecting.md lists (once per sandbox).
fn grant_documented_acls(sb: &Ephemeral) {
    let mut done = GRANTED.lock().unwrap_or_else(PoisonError::into_inner);
    if *done {
        return;
    }
    let principal = format!("User:{CI_USER}");
    let grants: [&[&str]; 5] = [
        &[
            "--cluster",
            "--operation",
            "Describe",
            "--operation",
            "Alter",
            "--operation",
            "Create",
        ],
        &[
            "--topic",
            "*",
            "--operation",
            "Describe",
            "--operation",
            "DescribeConfigs",
            "--operation",
            "AlterConfigs",
            "--operation",
            "Alter",
            "--operation",
            "Delete",
        ],
        &[
            "--topic",
            "_mesh-catalog",
            "--resource-pattern-type",
            "prefixed",
            "--operation",
            "Read",
            "--operation",
            "Write",
            "--operation",
            "Describe",
            "--operation",
            "Create",
        ],
        &[
            "--topic",
            "__consumer_offsets",
            "--operation",
            "Read",
            "--operation",
            "Describe",
        ],
        &["--group", "*", "--operation", "Describe"],
    ];
    for grant in grants {
        let mut args = vec!["--add", "--allow-principal", principal.as_str()];
        args.extend_from_slice(grant);
        let out = admin_tool(&sb.cfg, KafkaTool::Acls, &args);
        assert!(
            out.contains("Current ACLs") || out.contains("Adding ACLs"),
            "{out}"
        );
    }
    *done = true;
}

#[test]
fn plan_apply_drift_over_sasl_ssl_scram_as_a_principal_with_the_documented_acls() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = tls_repo(&sb, dir.path());

    // Without its ACLs, mesh-ci logs in (TLS and SCRAM work) but may not read the catalog or
    // the ACLs: the error names what it lacks.
    if !*GRANTED.lock().unwrap_or_else(PoisonError::into_inner) {
        let o = mesh(&repo, &["plan", "--env", "tls"]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(out.contains("not authorized to"), "{out}");
        assert!(out.contains("the principal mesh logs in as needs"), "{out}");
        assert!(!out.contains(CI_PASSWORD), "{out}");
    }

    grant_documented_acls(&sb);
    let o = mesh(&repo, &["apply", "--env", "tls", "--auto-approve"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!out.contains(CI_PASSWORD), "{out}");

    // Kafka's own tools, over the same SASL_SSL listener with the same CA.
    let topics = tls_tool(&sb.cfg, Listener::SaslSsl, KafkaTool::Topics, &["--list"]);
    for t in ["sales.orders", "finance.invoices", "_mesh-catalog"] {
        assert!(
            topics.lines().any(|l| l.trim() == t),
            "{t} missing: {topics}"
        );
    }
    let acls = tls_tool(
        &sb.cfg,
        Listener::SaslSsl,
        KafkaTool::Acls,
        &["--list", "--topic", "sales.orders"],
    );
    assert!(
        acls.contains("User:finance-billing-service") && acls.contains("READ"),
        "{acls}"
    );
    // The registry over HTTPS, through curl with the sandbox CA.
    let subjects = curl(
        &sb.ca_file(),
        &format!("{}/subjects", sb.status().registry_https_url()),
    );
    assert!(subjects.contains("\"sales.orders-value\""), "{subjects}");

    let o = mesh(&repo, &["plan", "--env", "tls", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = mesh(&repo, &["drift", "--env", "tls"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // From a bare clone at a revision, as a CI job plans: the repo-relative CA file (Kafka's and
    // the registry's) is read from git, since no work tree holds it.
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "tls"]);
    let bare = dir.path().join("bare.git");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            repo.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let private_dirs = || -> std::collections::BTreeSet<String> {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| {
                n.strip_prefix("mesh-")
                    .is_some_and(|pid| pid.parse::<u32>().is_ok())
            })
            .collect()
    };
    let before = private_dirs();
    let o = mesh(
        &bare,
        &[
            "plan",
            "--env",
            "tls",
            "--rev",
            "main",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The copies it read from git are gone once it ends.
    assert_eq!(private_dirs(), before);
}

#[test]
fn plan_apply_drift_import_over_mutual_tls() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = tls_repo(&sb, dir.path());
    let o = mesh(&repo, &["apply", "--env", "mtls", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    edit(
        &repo,
        "domains/sales/products/orders.toml",
        "\"retention.ms\" = \"30d\"",
        "\"retention.ms\" = \"31d\"",
    );
    let o = mesh(&repo, &["plan", "--env", "mtls", "--detailed-exitcode"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("retention.ms") && out.contains("2678400000"),
        "{out}"
    );
    let o = mesh(&repo, &["apply", "--env", "mtls", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let configs = tls_tool(
        &sb.cfg,
        Listener::Ssl,
        KafkaTool::Configs,
        &[
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            "sales.orders",
        ],
    );
    assert!(configs.contains("retention.ms=2678400000"), "{configs}");
    let o = mesh(&repo, &["plan", "--env", "mtls", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = mesh(&repo, &["drift", "--env", "mtls"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let imported = dir.path().join("imported");
    let o = mesh(
        &repo,
        &[
            "import",
            "--env",
            "mtls",
            "--out",
            imported.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let orders = std::fs::read_to_string(imported.join("domains/sales/products/orders.toml"))
        .expect("import wrote sales.orders");
    assert!(orders.contains("2678400000"), "{orders}");
}

#[test]
fn a_consumer_authenticated_by_its_certificate_reads_what_it_was_granted_only() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = tls_repo(&sb, dir.path());
    let o = mesh(&repo, &["apply", "--env", "mtls", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // One record in sales.orders, written by the admin.
    let admin = admin_properties(&sb.cfg, Listener::SaslSsl).unwrap();
    let scram = sb.bootstrap(Listener::SaslSsl);
    produce_one(&sb.cfg, &scram, &admin, "sales.orders", "{\"order\":1}");

    // finance's billing service, by its certificate (CN → User:finance-billing-service), is a
    // declared consumer of sales.orders in group finance.billing-service.
    let cert = sb
        .client_certificate("CN=finance-billing-service,OU=finance")
        .unwrap();
    let config = write_ssl_client_properties(&sb.cfg, Some(&cert)).unwrap();
    let ssl = sb.bootstrap(Listener::Ssl);
    let consume = |topic: &str| {
        consume_one(
            &sb.cfg,
            &ssl,
            &config,
            topic,
            "finance.billing-service",
            &[],
        )
    };
    let granted = consume("sales.orders");
    assert!(granted.contains("{\"order\":1}"), "{granted}");
    // marketing.web-clicks is private to marketing: no ACL for this principal.
    let denied = consume("marketing.web-clicks");
    assert!(
        denied.contains("TopicAuthorizationException") || denied.contains("Not authorized"),
        "{denied}"
    );
    assert!(
        !denied.contains("Processed a total of 1 messages"),
        "{denied}"
    );
}

/// Forwards 127.0.0.2:<port> to 127.0.0.1:<port>: the brokers' certificate names 127.0.0.1 and
/// localhost, not 127.0.0.2.
fn forward_from_another_address(port: u16) -> Option<u16> {
    let listener = TcpListener::bind(("127.0.0.2", 0)).ok()?;
    let local = listener.local_addr().ok()?.port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                (upstream, client),
            ] {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        }
    });
    Some(local)
}

#[test]
fn connection_failures_say_what_to_fix_and_apply_nothing() {
    let (sb, _turn) = cluster();
    grant_documented_acls(&sb);
    let dir = tempfile::tempdir().unwrap();
    let repo = tls_repo(&sb, dir.path());
    // Something to apply: a product nobody has created yet.
    std::fs::copy(
        repo.join("domains/sales/products/orders.toml"),
        repo.join("domains/sales/products/orders-tls-probe.toml"),
    )
    .unwrap();
    let probe = "domains/sales/products/orders-tls-probe.toml";
    edit(
        &repo,
        probe,
        "name = \"orders\"",
        "name = \"orders-tls-probe\"",
    );
    edit(
        &repo,
        probe,
        "name = \"sales.orders\"",
        "name = \"sales.orders-tls-probe\"",
    );
    let ssl_port: u16 = sb
        .bootstrap(Listener::Ssl)
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let other = forward_from_another_address(ssl_port).expect("127.0.0.2 is loopback");
    let wrong_host = format!("127.0.0.2:{other}");
    let ssl_bootstrap = sb.bootstrap(Listener::Ssl);
    // (environment, variables set for the run, what the error must say)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 5] = [
        (
            "tls",
            vec![("TLS_CA", "/etc/ssl/certs/ca-certificates.crt")],
            "signed by a CA this client does not trust: set ssl.ca.location",
        ),
        (
            "mtls",
            vec![("MTLS_BOOTSTRAP", wrong_host.as_str())],
            "does not name the address mesh connected to",
        ),
        (
            "tls",
            vec![("MESH_TLS_PASSWORD", "wrong-password-0815")],
            "authentication failed for user mesh-ci",
        ),
        (
            "mtls",
            vec![("MTLS_KEY", "certs/no-such-client.key")],
            "ssl.key.location names",
        ),
        (
            "tls",
            vec![("TLS_BOOTSTRAP", ssl_bootstrap.as_str())],
            "the listener requires a client certificate",
        ),
    ];
    for (env, vars, want) in cases {
        let o = mesh_with(&repo, &["apply", "--env", env, "--auto-approve"], &vars);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{env} {vars:?}: {out}");
        assert!(
            out.contains(want),
            "{env} {vars:?}: wanted `{want}` in {out}"
        );
        assert!(!out.contains("panicked"), "{out}");
        for secret in [CI_PASSWORD, "wrong-password-0815"] {
            assert!(
                !out.contains(secret),
                "{env} {vars:?} printed a secret: {out}"
            );
        }
    }
    let topics = tls_tool(&sb.cfg, Listener::SaslSsl, KafkaTool::Topics, &["--list"]);
    assert!(
        !topics.contains("sales.orders-tls-probe"),
        "a failed connection applied something: {topics}"
    );
}

const LEVELS: [&str; 7] = [
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
];
const V1: &str = r#"{"type":"record","name":"Level","namespace":"acme.levels","fields":[{"name":"id","type":"string"}]}"#;
/// V1 plus an optional field with a default: compatible under every level.
const V2: &str = r#"{"type":"record","name":"Level","namespace":"acme.levels","fields":[{"name":"id","type":"string"},{"name":"note","type":["null","string"],"default":null}]}"#;
/// `id` becomes a number: compatible under no level but NONE.
const V3: &str = r#"{"type":"record","name":"Level","namespace":"acme.levels","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null}]}"#;

fn product_name(level: &str) -> String {
    format!("l-{}", level.to_ascii_lowercase().replace('_', "-"))
}

/// A domain `levels` with one product per compatibility level (`levels[i]` for product i).
fn write_levels(repo: &Path, levels: &[&str], schemas: &[&str]) {
    let dir = repo.join("domains/levels");
    std::fs::create_dir_all(dir.join("products")).unwrap();
    std::fs::create_dir_all(dir.join("schemas")).unwrap();
    std::fs::write(
        dir.join("domain.toml"),
        "name = \"levels\"\ndescription = \"One product per compatibility level\"\nowners = [\"@acme/platform\"]\n",
    )
    .unwrap();
    for (i, base) in LEVELS.iter().enumerate() {
        let name = product_name(base);
        std::fs::write(dir.join(format!("schemas/{name}.avsc")), schemas[i]).unwrap();
        std::fs::write(
            dir.join(format!("products/{name}.toml")),
            format!(
                "description = \"Compatibility level {base}\"\nquality = \"raw\"\nsla = \"tier-3\"\n\
                 [topic]\npartitions = 1\n[schema]\nvalue = \"schemas/{name}.avsc\"\ncompatibility = \"{}\"\n",
                levels[i]
            ),
        )
        .unwrap();
    }
}

/// The subject-level compatibility as the registry reports it, over HTTPS with curl.
fn level_of(sb: &Ephemeral, subject: &str) -> String {
    let body = curl(
        &sb.ca_file(),
        &format!("{}/config/{subject}", sb.status().registry_https_url()),
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["compatibilityLevel"]
        .as_str()
        .or(v["compatibility"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn every_compatibility_level_works_on_new_and_on_existing_subjects() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    // A mesh of its own, with its own catalog topic, so the other tests' plans never see it.
    let repo = dir.path().join("levels-repo");
    std::fs::create_dir_all(repo.join("certs")).unwrap();
    std::fs::copy(sb.ca_file(), repo.join("certs/ca.pem")).unwrap();
    let status = sb.status();
    std::fs::write(
        repo.join("mesh.toml"),
        format!(
            r#"[mesh]
name = "levels"
policy_packs = []
catalog_topic = "_mesh-catalog-levels"
[defaults.topic]
partitions = 1
replication_factor = 1
[environments.mtls]
local = true
bootstrap_servers = "{ssl}"
schema_registry_url = "{https}"
[environments.mtls.kafka]
"security.protocol" = "SSL"
"ssl.ca.location" = "certs/ca.pem"
"ssl.certificate.location" = "{cert}"
"ssl.key.location" = "{key}"
[environments.mtls.schema_registry]
ca_file = "certs/ca.pem"
"#,
            ssl = sb.bootstrap(Listener::Ssl),
            https = status.registry_https_url(),
            cert = status.admin_certificate.cert.display(),
            key = status.admin_certificate.key.display(),
        ),
    )
    .unwrap();
    let apply = |what: &str| {
        let o = mesh(&repo, &["apply", "--env", "mtls", "--auto-approve"]);
        assert_eq!(o.status.code(), Some(0), "{what}: {}", text(&o));
        let o = mesh(&repo, &["plan", "--env", "mtls", "--detailed-exitcode"]);
        assert_eq!(o.status.code(), Some(0), "{what}, then: {}", text(&o));
    };

    // New subjects, one per level (NONE included).
    write_levels(&repo, &LEVELS, &[V1; 7]);
    apply("new subjects");
    for level in LEVELS {
        let subject = format!("levels.{}-value", product_name(level));
        assert_eq!(level_of(&sb, &subject), level, "{subject}");
    }

    // Existing subjects: every one moves to the next level, with a new compatible version.
    let mut next = LEVELS;
    next.rotate_left(1);
    write_levels(&repo, &next, &[V2; 7]);
    apply("existing subjects");
    for (base, level) in LEVELS.iter().zip(next) {
        let subject = format!("levels.{}-value", product_name(base));
        assert_eq!(level_of(&sb, &subject), level, "{subject}");
        let versions = curl(
            &sb.ca_file(),
            &format!(
                "{}/subjects/{subject}/versions",
                sb.status().registry_https_url()
            ),
        );
        assert_eq!(versions.trim(), "[1,2]", "{subject}");
    }

    // NONE really is no check: the product now at NONE takes a breaking version, while the
    // same change to a BACKWARD product fails the plan.
    let at_none = LEVELS[next.iter().position(|l| *l == "NONE").unwrap()];
    let at_backward = LEVELS[next.iter().position(|l| *l == "BACKWARD").unwrap()];
    let mut schemas = [V2; 7];
    schemas[LEVELS.iter().position(|l| *l == at_none).unwrap()] = V3;
    write_levels(&repo, &next, &schemas);
    apply("a breaking change under NONE");
    schemas[LEVELS.iter().position(|l| *l == at_backward).unwrap()] = V3;
    write_levels(&repo, &next, &schemas);
    let o = mesh(&repo, &["plan", "--env", "mtls"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("levels.{}-value", product_name(at_backward))),
        "{out}"
    );
}
