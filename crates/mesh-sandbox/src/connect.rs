//! The Kafka Connect worker in the sandbox (`mesh dev up --connect`): its jars, its
//! configuration (rendered as pure text), its command line, the ACLs its principal needs, and
//! its readiness probe.
//!
//! One distributed-mode worker (`ConnectDistributed`) logs in on the SASL_PLAINTEXT listener as
//! the sandbox user [`CONNECT_USER`], not as a super user, so ACLs apply to it as they do to any
//! application: `up` grants it what a worker needs for itself (its internal topics and its
//! group) and nothing more. Connectors get their own ACLs from mesh later.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::config::{
    CONNECT_GROUP, CONNECT_PASSWORD, CONNECT_USER, KafkaSeries, LOG4J2_VERSION, Layout,
    SLF4J_BINDING, SandboxConfig,
};
use crate::fetch::{fetch_jars, log4j2_binding};
use crate::kafka::{log4j_arg, marker_arg, render_client_properties};
use crate::net::http_get;
use crate::process::{MARKER_COMPONENT, MARKER_DIR};
use crate::tools::KafkaTool;
use crate::{Component, SandboxError};

/// The main class of a distributed-mode worker.
pub(crate) const MAIN_CLASS: &str = "org.apache.kafka.connect.cli.ConnectDistributed";
/// The prefix of the worker's internal topics (configs, offsets, status).
pub(crate) const TOPIC_PREFIX: &str = "_connect-";
/// The connector class whose presence in `/connector-plugins` means the worker is ready.
pub(crate) const READY_PLUGIN: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";

/// The worker's password: the one of a `connect` user given explicitly, else
/// [`CONNECT_PASSWORD`].
pub(crate) fn password(cfg: &SandboxConfig) -> &str {
    cfg.users
        .iter()
        .find(|(name, _)| name == CONNECT_USER)
        .map_or(CONNECT_PASSWORD, |(_, pw)| pw.as_str())
}

/// Adds the worker's principal to the sandbox users (a PLAIN and SCRAM login like any
/// `--user`), unless it is there already.
pub(crate) fn add_user(cfg: &mut SandboxConfig) {
    if !cfg.users.iter().any(|(name, _)| name == CONNECT_USER) {
        cfg.users
            .push((CONNECT_USER.to_owned(), CONNECT_PASSWORD.to_owned()));
    }
}

/// The Kafka release of the worker for a sandbox running Kafka `version`: the same, unless
/// Maven Central lacks `org.apache.kafka:connect-file` for it (checked 2026-12: there is none
/// for 4.4.0 or 3.9.2, though connect-runtime and connect-json are there). Those run the newest
/// earlier release of the same line, whole: connect-file 4.3.1 does not load on a 4.4.0 runtime
/// (it needs `org.apache.kafka.common.utils.AppInfoParser`, gone from 4.4's clients), while an
/// older worker talks to a newer broker as any client does.
pub fn worker_version(version: &str) -> &str {
    match version {
        "4.4.0" => "4.3.1",
        "3.9.2" => "3.9.1",
        other => other,
    }
}

/// The Maven coordinates of the worker for a Kafka release: the runtime, the file connectors
/// (on the classpath, so no `plugin.path` is needed), the JSON converter, all of one release
/// ([`worker_version`]), and the logging
/// backend the broker uses too (Kafka's poms bring none): reload4j for 3.9, log4j2's core and
/// the SLF4J binding `binding` for 4.x.
pub(crate) fn artifacts(version: &str, series: KafkaSeries, binding: &str) -> Vec<String> {
    let worker = worker_version(version);
    let mut out: Vec<String> = ["connect-runtime", "connect-file", "connect-json"]
        .iter()
        .map(|a| format!("org.apache.kafka:{a}:{worker}"))
        .collect();
    match series {
        KafkaSeries::V3 => out.push(SLF4J_BINDING.to_owned()),
        KafkaSeries::V4 => {
            out.push(format!(
                "org.apache.logging.log4j:log4j-core:{LOG4J2_VERSION}"
            ));
            out.push(format!(
                "org.apache.logging.log4j:{binding}:{LOG4J2_VERSION}"
            ));
        }
    }
    out
}

/// Makes sure the worker's jars are in the cache (`kafka-connect-<version>/libs`), fetching them
/// on first use. Kafka's own jars must be there already: their slf4j-api decides the binding.
pub(crate) fn ensure_jars(
    cfg: &SandboxConfig,
    layout: &Layout,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, SandboxError> {
    let series = cfg.kafka_series()?;
    let names: Vec<String> = fs::read_dir(&layout.kafka_libs)
        .map_err(|e| SandboxError::io("list", &layout.kafka_libs, e))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let binding = log4j2_binding(names.iter().map(String::as_str));
    let coordinates = artifacts(&cfg.kafka_version, series, binding);
    let refs: Vec<&str> = coordinates.iter().map(String::as_str).collect();
    let name = layout
        .connect_home
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("kafka-connect-{}", worker_version(&cfg.kafka_version)));
    fetch_jars(cfg, &name, &refs, progress)
}

/// `connect.properties` of the worker.
pub(crate) fn render_worker_properties(cfg: &SandboxConfig) -> String {
    let (rf, _) = crate::kafka::replication(cfg.brokers);
    let login = render_client_properties(CONNECT_USER, password(cfg));
    let mut text = String::from(
        "# Written by `mesh dev up --connect`: the sandbox's Kafka Connect worker (distributed mode).\n",
    );
    text.push_str(&format!("bootstrap.servers={}\n", cfg.bootstrap_servers()));
    // The worker's own clients, then those it makes for connectors: all log in as `connect`
    // (a connector may name another principal: the override policy allows it).
    for prefix in ["", "producer.", "consumer.", "admin."] {
        for line in login.lines() {
            text.push_str(&format!("{prefix}{line}\n"));
        }
    }
    text.push_str(&format!(
        "group.id={CONNECT_GROUP}
config.storage.topic={TOPIC_PREFIX}configs
offset.storage.topic={TOPIC_PREFIX}offsets
status.storage.topic={TOPIC_PREFIX}status
config.storage.replication.factor={rf}
offset.storage.replication.factor={rf}
status.storage.replication.factor={rf}
offset.storage.partitions=5
status.storage.partitions=1
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
# `rest.port` is gone in Kafka 4; `listeners` works in 3.9 and 4.x alike.
listeners=http://127.0.0.1:{port}
rest.advertised.host.name=127.0.0.1
rest.advertised.port={port}
rest.advertised.listener=http
# Connectors may read secrets with ${{file:path:key}} and ${{env:NAME}}: resolved here, not by mesh.
config.providers=file,env
config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
connector.client.config.override.policy=All
# The plugins here (file connectors, converters, transforms) all have ServiceLoader manifests:
# skipping the reflective classpath scan saves ~6 s of startup.
plugin.discovery=service_load
# Commit sink offsets (and flush files) every 5 s rather than every minute.
offset.flush.interval.ms=5000
",
        port = cfg.connect_port,
    ));
    text
}

/// The worker's command line, marked like the broker's so `down` and `status` recognise it.
pub(crate) fn server_command(cfg: &SandboxConfig, layout: &Layout) -> Command {
    let mut cp = layout.connect_home.join("libs").into_os_string();
    cp.push("/*");
    let mut cmd = Command::new(&cfg.java);
    cmd.arg("-Xms64m")
        .arg("-Xmx512m")
        .arg("-Djava.awt.headless=true")
        .arg(marker_arg(MARKER_DIR, &layout.dir))
        .arg(format!("{MARKER_COMPONENT}{}", Component::Connect.key()))
        .arg(log4j_arg(layout.series(), &layout.kafka_log4j))
        .arg("-cp")
        .arg(cp)
        .arg(MAIN_CLASS)
        .arg(&layout.connect_properties)
        .current_dir(&layout.dir);
    cmd
}

/// The `kafka-acls` arguments (after the bootstrap and admin login) that give the worker's
/// principal what it needs for itself: ALL on topics prefixed `_connect-` (it creates, reads
/// and writes its internal topics) and READ on its group.
pub(crate) fn acl_args() -> [Vec<String>; 2] {
    let principal = format!("User:{CONNECT_USER}");
    let base = |principal: &str| {
        vec![
            "--add".to_owned(),
            "--allow-principal".to_owned(),
            principal.to_owned(),
        ]
    };
    let mut topics = base(&principal);
    topics.extend(
        [
            "--operation",
            "All",
            "--topic",
            TOPIC_PREFIX,
            "--resource-pattern-type",
            "prefixed",
        ]
        .map(str::to_owned),
    );
    let mut group = base(&principal);
    group.extend(["--operation", "Read", "--group", CONNECT_GROUP].map(str::to_owned));
    [topics, group]
}

/// Creates the worker's ACLs with Kafka's own `kafka-acls`, logged in as admin (both at once:
/// each is a JVM). Adding an ACL that exists is a no-op, so this runs on every start.
pub(crate) fn ensure_acls(cfg: &SandboxConfig, layout: &Layout) -> Result<(), SandboxError> {
    let children = acl_args()
        .into_iter()
        .map(|args| {
            crate::tools::kafka_tool(cfg, KafkaTool::Acls)
                .args(["--bootstrap-server", &cfg.bootstrap_servers()])
                .arg("--command-config")
                .arg(&layout.admin_properties)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map(|child| (args, child))
                .map_err(|source| SandboxError::Spawn {
                    command: format!("{} AclCommand", cfg.java.display()),
                    source,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut first_error = None;
    for (args, child) in children {
        let output = child
            .wait_with_output()
            .map_err(|source| SandboxError::Spawn {
                command: format!("{} AclCommand", cfg.java.display()),
                source,
            })?;
        if !output.status.success() && first_error.is_none() {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            first_error = Some(SandboxError::CommandFailed {
                what: format!("creating the Connect worker's ACLs ({})", args.join(" ")),
                status: output.status.to_string(),
                output: text.trim().to_owned(),
            });
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Whether the worker serves: `GET /` answers 200 and `GET /connector-plugins` lists the file
/// sink connector (the plugin scan is done, so connectors can be created).
pub(crate) fn answers(cfg: &SandboxConfig) -> bool {
    let timeout = Duration::from_secs(5);
    matches!(http_get(cfg.connect_port, "/", timeout), Ok((200, _)))
        && matches!(
            http_get(cfg.connect_port, "/connector-plugins", timeout),
            Ok((200, body)) if body.contains(READY_PLUGIN)
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn props(text: &str) -> Vec<(&str, &str)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_once('=').expect("key=value"))
            .collect()
    }

    fn get<'a>(p: &'a [(&'a str, &'a str)], k: &str) -> &'a str {
        p.iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("missing {k}"))
    }

    #[test]
    fn the_worker_logs_in_as_connect_everywhere() {
        let mut cfg = SandboxConfig::new("/sb", "/c");
        cfg.connect_port = 28083;
        let text = render_worker_properties(&cfg);
        let p = props(&text);
        let get = |k: &str| get(&p, k);
        assert_eq!(get("bootstrap.servers"), "127.0.0.1:19092");
        let jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                    username=\"connect\" password=\"connect-secret\";";
        for prefix in ["", "producer.", "consumer.", "admin."] {
            assert_eq!(get(&format!("{prefix}security.protocol")), "SASL_PLAINTEXT");
            assert_eq!(get(&format!("{prefix}sasl.mechanism")), "PLAIN");
            assert_eq!(get(&format!("{prefix}sasl.jaas.config")), jaas);
        }
        assert_eq!(get("group.id"), "mesh-connect");
        assert_eq!(get("config.storage.topic"), "_connect-configs");
        assert_eq!(get("offset.storage.topic"), "_connect-offsets");
        assert_eq!(get("status.storage.topic"), "_connect-status");
        assert_eq!(get("config.storage.replication.factor"), "1");
        assert_eq!(get("listeners"), "http://127.0.0.1:28083");
        assert_eq!(get("rest.advertised.port"), "28083");
        assert_eq!(get("key.converter.schemas.enable"), "false");
        assert_eq!(get("value.converter.schemas.enable"), "false");
        assert_eq!(
            get("value.converter"),
            "org.apache.kafka.connect.json.JsonConverter"
        );
        assert_eq!(get("config.providers"), "file,env");
        assert_eq!(
            get("config.providers.file.class"),
            "org.apache.kafka.common.config.provider.FileConfigProvider"
        );
        assert_eq!(
            get("config.providers.env.class"),
            "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
        );
        assert_eq!(get("connector.client.config.override.policy"), "All");
        assert!(!p.iter().any(|(k, _)| *k == "plugin.path"));
        assert_eq!(get("plugin.discovery"), "service_load");
        // Every key once: a duplicate would silently override the first.
        let mut keys: Vec<_> = p.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }

    #[test]
    fn three_nodes_replicate_the_internal_topics_three_times() {
        let mut cfg = SandboxConfig::new("/sb", "/c");
        cfg.brokers = 3;
        cfg.users.push(("connect".into(), "other".into()));
        let text = render_worker_properties(&cfg);
        let p = props(&text);
        assert_eq!(get(&p, "offset.storage.replication.factor"), "3");
        assert_eq!(get(&p, "status.storage.replication.factor"), "3");
        assert_eq!(
            get(&p, "bootstrap.servers"),
            "127.0.0.1:19092,127.0.0.1:19102,127.0.0.1:19112"
        );
        assert!(get(&p, "sasl.jaas.config").contains("password=\"other\";"));
    }

    #[test]
    fn the_connect_user_is_added_once() {
        let mut cfg = SandboxConfig::new("/sb", "/c");
        add_user(&mut cfg);
        add_user(&mut cfg);
        assert_eq!(
            cfg.users,
            vec![("connect".to_owned(), "connect-secret".to_owned())]
        );
        assert_eq!(password(&cfg), "connect-secret");
    }

    #[test]
    fn artifacts_match_the_kafka_release_and_its_logging() {
        assert_eq!(
            artifacts("4.4.0", KafkaSeries::V4, "log4j-slf4j-impl"),
            vec![
                "org.apache.kafka:connect-runtime:4.3.1",
                "org.apache.kafka:connect-file:4.3.1",
                "org.apache.kafka:connect-json:4.3.1",
                "org.apache.logging.log4j:log4j-core:2.25.5",
                "org.apache.logging.log4j:log4j-slf4j-impl:2.25.5",
            ]
        );
        let old = artifacts("3.9.2", KafkaSeries::V3, "ignored");
        assert_eq!(old.last().map(String::as_str), Some(SLF4J_BINDING));
        assert_eq!(old[0], "org.apache.kafka:connect-runtime:3.9.1");
        assert_eq!(old[1], "org.apache.kafka:connect-file:3.9.1");
        assert_eq!(worker_version("4.1.1"), "4.1.1");
        let newer = artifacts("4.1.1", KafkaSeries::V4, "log4j-slf4j2-impl");
        assert_eq!(newer[2], "org.apache.kafka:connect-json:4.1.1");
        assert_eq!(
            newer[4],
            "org.apache.logging.log4j:log4j-slf4j2-impl:2.25.5"
        );
    }

    #[test]
    fn acls_cover_the_internal_topics_and_the_group_only() {
        let [topics, group] = acl_args();
        assert_eq!(
            topics.join(" "),
            "--add --allow-principal User:connect --operation All --topic _connect- \
             --resource-pattern-type prefixed"
        );
        assert_eq!(
            group.join(" "),
            "--add --allow-principal User:connect --operation Read --group mesh-connect"
        );
    }

    #[test]
    fn the_command_is_marked_and_runs_the_distributed_worker() {
        let cfg = SandboxConfig::new("/sb", "/c");
        let layout = Layout::new(Path::new("/sb"), Path::new("/c"), cfg.registry, "4.4.0");
        let args: Vec<String> = server_command(&cfg, &layout)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for want in [
            "-Dmesh.sandbox.dir=/sb",
            "-Dmesh.sandbox.component=connect",
            "-Dlog4j2.configurationFile=file:/sb/config/log4j2.properties",
            "/c/kafka-connect-4.3.1/libs/*",
            MAIN_CLASS,
        ] {
            assert!(args.iter().any(|a| a == want), "{want} missing: {args:?}");
        }
        assert_eq!(
            args.last().map(String::as_str),
            Some("/sb/config/connect.properties")
        );
    }
}
