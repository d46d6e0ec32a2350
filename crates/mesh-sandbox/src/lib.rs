//! The local sandbox behind `mesh dev up|down|status` (SPEC §3): a real Apache Kafka and a
//! Confluent-compatible Schema Registry on the loopback interface, for trying a mesh before a
//! pull request and for end-to-end tests.
//!
//! - **Kafka** 4.x (3.9 selectable) in KRaft mode, one or three combined broker+controller
//!   nodes, with the StandardAuthorizer and `allow.everyone.if.no.acl.found=false`, so ACLs are
//!   enforced. Every node has three client listeners: SASL_PLAINTEXT with PLAIN
//!   (`127.0.0.1:19092` on node 1, user `admin` / `admin-secret` plus any extra users),
//!   SASL_SSL with SCRAM-SHA-512/256 (19095) and SSL with required client certificates, the
//!   principal taken from the certificate's CN (19096).
//! - **TLS**: a certificate authority per sandbox folder (`DIR/tls/`, made once with rcgen)
//!   signs the brokers', the registry's and the clients' certificates.
//! - **Schema Registry**: Apicurio Registry with its Confluent-compatible API at
//!   `http://127.0.0.1:18081/apis/ccompat/v7` and `https://localhost:18443/apis/ccompat/v7`, a
//!   global BACKWARD rule (Confluent's default), and its storage in an H2 database file in the
//!   sandbox folder.
//! - **Kafka Connect** (optional, `--connect`): one distributed-mode worker with REST on
//!   `http://127.0.0.1:18083`, logging in as the non-super user `connect`, with ACLs on its
//!   internal topics (`_connect-*`) and group (`mesh-connect`) only, and the file connectors.
//!
//! All run as detached JVMs (own session, pid files in the sandbox folder) so they outlive the
//! `mesh` process. Their jars come from Maven Central through `mvn` on first use and are cached
//! in a folder shared by all sandboxes; each sandbox folder (`--dir`) holds its own data, config,
//! logs and pid files, and a new folder means a fresh, empty cluster.
//!
//! The entry points are [`up`], [`down`] and [`status`] (plus [`stop_node`] / [`start_node`]);
//! [`kafka_tool`] runs Kafka's own admin tools from the same jars, so tests can check what
//! `mesh` did through a client nobody here wrote; [`Ephemeral`] is a throw-away sandbox;
//! [`faults::FaultProxy`] sits between a client and a sandbox server and produces faults on
//! demand (HTTP 5xx, slow or held answers, dropped or refused connections).
//!
//! Architecture invariant: this crate knows processes, files and loopback sockets, and nothing
//! of the mesh model, rdkafka, or terminals. It needs Linux (`/proc`) to recognise its servers.

mod config;
mod connect;
mod ephemeral;
mod error;
pub mod faults;
mod fetch;
mod java;
mod kafka;
mod lifecycle;
mod net;
mod process;
mod registry;
mod shape;
mod status;
mod tls;
mod tools;

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

pub use config::{
    ADMIN_PASSWORD, ADMIN_USER, CCOMPAT_PATH, CONNECT_GROUP, CONNECT_PASSWORD, CONNECT_USER,
    DEPENDENCY_PLUGIN_VERSION, KAFKA_3_VERSION, KAFKA_VERSION, KafkaSeries, LOG4J2_VERSION,
    Listener, MAX_BROKERS, NodePorts, RegistryDist, Relay, SLF4J_BINDING, SandboxConfig,
    default_cache_dir, default_state_dir,
};
pub use connect::worker_version;
pub use ephemeral::{Ephemeral, Options};
pub use error::SandboxError;
pub use fetch::fetch_jars;
pub use java::parse_java_major;
pub use kafka::{
    render_client_properties, render_scram_client_properties, render_ssl_client_properties,
};
pub use lifecycle::{Stopped, down, is_fetched, prefetch, start_node, stop_node, up};
pub use status::{ComponentStatus, ListenerStatus, State, Status, status};
pub use tls::{ClientCertificate, ca_file, client_certificate, issue_client_certificate};
pub use tools::{
    KafkaTool, admin_client_properties, admin_properties, kafka_tool, kafka_tool_command,
    write_client_properties, write_scram_client_properties, write_ssl_client_properties,
};

/// One of the sandbox's servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// A Kafka node (combined broker and KRaft controller), numbered from 1.
    Kafka(u8),
    /// The Confluent-compatible Schema Registry.
    Registry,
    /// The Kafka Connect worker (distributed mode), only with `--connect`.
    Connect,
}

impl Component {
    /// A short, stable identifier used in process markers and file names: `kafka` for node 1
    /// (the name a one-node sandbox always had), `kafka-2`, `kafka-3`, `registry` and `connect`.
    pub fn key(self) -> String {
        match self {
            Component::Kafka(node) if node <= 1 => "kafka".to_owned(),
            Component::Kafka(node) => format!("kafka-{node}"),
            Component::Registry => "registry".to_owned(),
            Component::Connect => "connect".to_owned(),
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Component::Kafka(node) => write!(f, "Kafka node {node}"),
            Component::Registry => f.write_str("Schema Registry"),
            Component::Connect => f.write_str("Kafka Connect"),
        }
    }
}

/// The last `lines` lines of a log file (from its final 64 KiB, so a large log stays cheap),
/// or a note saying why there are none; for error messages.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    const WINDOW: u64 = 64 * 1024;
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(WINDOW)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => tail_lines(&text, lines),
        Err(e) => format!("(no log: {e})"),
    }
}

fn tail_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let tail = all[start..].join("\n");
    if tail.trim().is_empty() {
        "(the log is empty)".to_owned()
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail_lines("a\nb\nc\nd\n", 2), "c\nd");
        assert_eq!(tail_lines("a\n", 5), "a");
        assert_eq!(tail_lines("", 5), "(the log is empty)");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        assert!(log_tail(&path, 3).starts_with("(no log:"));
        let big: String = (0..100_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, big).unwrap();
        assert_eq!(log_tail(&path, 2), "line 99998\nline 99999");
    }

    #[test]
    fn components_have_names_and_keys() {
        assert_eq!(Component::Kafka(1).key(), "kafka");
        assert_eq!(Component::Kafka(3).key(), "kafka-3");
        assert_eq!(Component::Kafka(2).to_string(), "Kafka node 2");
        assert_eq!(Component::Registry.key(), "registry");
        assert_eq!(Component::Registry.to_string(), "Schema Registry");
        assert_eq!(Component::Connect.key(), "connect");
        assert_eq!(Component::Connect.to_string(), "Kafka Connect");
    }
}
