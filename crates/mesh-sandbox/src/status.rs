//! What runs where: the read-only view of a sandbox that `status` reports and `up` returns —
//! each node and the registry, each listener with a ready-to-use client config, the CA.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::{Layout, Listener, SandboxConfig, absolute};
use crate::process::{is_ours, marked_processes, read_pid};
use crate::tls::{ClientCertificate, client_certificate};
use crate::{ADMIN_PASSWORD, ADMIN_USER, Component, kafka, net, registry};

/// The state of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Our process is alive; `ready` says whether it answers on its port right now.
    Running { pid: u32, ready: bool },
    /// Not running.
    Stopped,
    /// A pid file names a process that is gone or is not ours (e.g. after a crash or reboot);
    /// the next `up` or `down` removes it.
    StalePidFile { pid: u32 },
}

/// One server of the sandbox: a Kafka node or the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentStatus {
    pub component: Component,
    pub state: State,
    /// Where clients reach it: `127.0.0.1:19092` (the node's SASL_PLAINTEXT listener) or
    /// `http://127.0.0.1:18081/apis/ccompat/v7`.
    pub endpoint: String,
    /// Every port it listens on, with what for (`SASL_PLAINTEXT`, `SASL_SSL`, `SSL`,
    /// `controller`, `inter-broker`; `http`, `https`).
    pub ports: Vec<(String, u16)>,
    /// Its log file (stdout and stderr of the JVM).
    pub log: PathBuf,
    /// Its pid file.
    pub pid_file: PathBuf,
}

impl ComponentStatus {
    /// The pid, when running.
    pub fn pid(&self) -> Option<u32> {
        match self.state {
            State::Running { pid, .. } => Some(pid),
            _ => None,
        }
    }
}

/// One client listener of the cluster (every node has it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerStatus {
    pub listener: Listener,
    /// `SASL_PLAINTEXT`, `SASL_SSL` or `SSL`.
    pub protocol: &'static str,
    /// The SASL mechanism (PLAIN, SCRAM-SHA-512), if any.
    pub mechanism: Option<&'static str>,
    /// `bootstrap.servers`: this listener on every node.
    pub bootstrap: String,
    /// A ready-to-use librdkafka configuration logging in as admin (bootstrap included).
    pub client_config: Vec<(String, String)>,
    /// The same for Kafka's Java tools (`--command-config`), as admin.
    pub java_properties: PathBuf,
}

/// The whole sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The sandbox folder (absolute).
    pub dir: PathBuf,
    /// The Kafka release.
    pub kafka_version: String,
    /// Kafka nodes, node 1 first.
    pub nodes: Vec<ComponentStatus>,
    pub registry: ComponentStatus,
    /// The Kafka Connect worker, when the sandbox has one (`--connect`): its REST URL is the
    /// endpoint.
    pub connect: Option<ComponentStatus>,
    /// SASL_PLAINTEXT, SASL_SSL, SSL.
    pub listeners: Vec<ListenerStatus>,
    /// The sandbox CA's certificate (PEM): trust it for the TLS listeners and the registry's HTTPS.
    pub ca_file: PathBuf,
    /// The client certificate of `admin` (CN=admin, the super user on the SSL listener).
    pub admin_certificate: ClientCertificate,
    /// The registry's Confluent-compatible base URL over HTTPS.
    pub registry_https_url: String,
    /// `--command-config` file for Kafka's tools, logged in as `admin` on SASL_PLAINTEXT.
    pub admin_client_properties: PathBuf,
}

impl Status {
    /// Every server: the nodes, the registry, the Connect worker if any.
    pub fn servers(&self) -> impl Iterator<Item = &ComponentStatus> {
        self.nodes
            .iter()
            .chain([&self.registry])
            .chain(self.connect.as_ref())
    }

    /// Every node, the registry and the Connect worker (if the sandbox has one) run and answer.
    pub fn is_up(&self) -> bool {
        self.servers()
            .all(|c| matches!(c.state, State::Running { ready: true, .. }))
    }

    /// No server runs.
    pub fn is_down(&self) -> bool {
        self.servers()
            .all(|c| !matches!(c.state, State::Running { .. }))
    }

    /// The Connect worker's REST URL, when the sandbox has one.
    pub fn connect_url(&self) -> Option<&str> {
        self.connect.as_ref().map(|c| c.endpoint.as_str())
    }

    /// Kafka node `n` (1-based).
    ///
    /// # Panics
    /// If the sandbox has no node `n`.
    pub fn node(&self, n: u8) -> &ComponentStatus {
        &self.nodes[usize::from(n) - 1]
    }

    /// A client listener.
    pub fn listener(&self, listener: Listener) -> &ListenerStatus {
        self.listeners
            .iter()
            .find(|l| l.listener == listener)
            .expect("every listener is listed")
    }

    /// `bootstrap.servers` for the SASL_PLAINTEXT listener.
    pub fn bootstrap_servers(&self) -> &str {
        self.bootstrap(Listener::SaslPlaintext)
    }

    /// `bootstrap.servers` for a listener.
    pub fn bootstrap(&self, listener: Listener) -> &str {
        &self.listener(listener).bootstrap
    }

    /// The Confluent-compatible base URL (HTTP).
    pub fn registry_url(&self) -> &str {
        &self.registry.endpoint
    }

    /// The Confluent-compatible base URL over HTTPS (certificate from [`Status::ca_file`]).
    pub fn registry_https_url(&self) -> &str {
        &self.registry_https_url
    }
}

fn state_text(state: &State) -> String {
    match state {
        State::Running { pid, ready: true } => format!("running (pid {pid})"),
        State::Running { pid, ready: false } => format!("running (pid {pid}), not answering yet"),
        State::Stopped => "stopped".to_owned(),
        State::StalePidFile { pid } => format!("stopped (stale pid file for pid {pid})"),
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "sandbox {}", self.dir.display())?;
        writeln!(
            f,
            "  Kafka {} ({} node{})",
            self.kafka_version,
            self.nodes.len(),
            if self.nodes.len() == 1 { "" } else { "s" }
        )?;
        for c in self.servers() {
            writeln!(
                f,
                "  {:<16} {}",
                c.component.to_string(),
                state_text(&c.state)
            )?;
            let ports: Vec<String> = c.ports.iter().map(|(n, p)| format!("{n} {p}")).collect();
            writeln!(f, "  {:<16} ports: {}", "", ports.join(", "))?;
            writeln!(f, "  {:<16} log: {}", "", c.log.display())?;
        }
        writeln!(f, "  Schema Registry  {}", self.registry.endpoint)?;
        writeln!(f, "                   {}", self.registry_https_url)?;
        if let Some(connect) = &self.connect {
            writeln!(
                f,
                "  Kafka Connect    {} (logs in as {}; group {})",
                connect.endpoint,
                crate::CONNECT_USER,
                crate::CONNECT_GROUP
            )?;
        }
        writeln!(f, "  CA certificate   {}", self.ca_file.display())?;
        writeln!(
            f,
            "  listeners (client configs log in as admin; librdkafka properties):"
        )?;
        for l in &self.listeners {
            let how = match l.mechanism {
                Some(m) => format!("{}, {m}", l.protocol),
                None => format!("{}, client certificate", l.protocol),
            };
            writeln!(f, "    {how}: {}", l.bootstrap)?;
            for (k, v) in &l.client_config {
                writeln!(f, "      {k}={v}")?;
            }
            writeln!(
                f,
                "      (Kafka's tools: --command-config {})",
                l.java_properties.display()
            )?;
        }
        write!(
            f,
            "  users: {} / {} (super user); client certificates in {}",
            ADMIN_USER,
            ADMIN_PASSWORD,
            self.ca_file
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )
    }
}

/// What runs where, without changing anything. Uses the shape recorded in the folder (Kafka
/// version, nodes, ports) when there is one, whatever `cfg` says.
pub fn status(cfg: &SandboxConfig) -> Status {
    let mut cfg = cfg.clone();
    cfg.dir = absolute(&cfg.dir);
    let _ = cfg.adopt_saved_shape();
    let layout = cfg.layout();
    let admin_certificate = client_certificate(&cfg, ADMIN_USER);
    let listeners = Listener::ALL
        .iter()
        .map(|&l| ListenerStatus {
            listener: l,
            protocol: l.protocol(),
            mechanism: l.mechanism(),
            bootstrap: cfg.bootstrap(l),
            client_config: librdkafka_config(&cfg, l, &layout.ca_cert, &admin_certificate),
            java_properties: crate::tools::admin_properties_path(&layout, l),
        })
        .collect();
    Status {
        kafka_version: cfg.kafka_version.clone(),
        nodes: cfg
            .node_ids()
            .map(|n| component_status(&cfg, &layout, Component::Kafka(n)))
            .collect(),
        registry: component_status(&cfg, &layout, Component::Registry),
        // Shown when the folder has a worker, or one runs anyway (a lost shape file).
        connect: (cfg.connect || running_pid(&layout, Component::Connect).is_some())
            .then(|| component_status(&cfg, &layout, Component::Connect)),
        listeners,
        ca_file: layout.ca_cert.clone(),
        admin_certificate,
        registry_https_url: cfg.registry_https_url(),
        admin_client_properties: layout.admin_properties.clone(),
        dir: cfg.dir.clone(),
    }
}

/// librdkafka properties that log in as admin on `listener`.
pub(crate) fn librdkafka_config(
    cfg: &SandboxConfig,
    listener: Listener,
    ca: &Path,
    admin: &ClientCertificate,
) -> Vec<(String, String)> {
    let mut out = vec![
        ("bootstrap.servers".to_owned(), cfg.bootstrap(listener)),
        (
            "security.protocol".to_owned(),
            listener.protocol().to_owned(),
        ),
    ];
    if let Some(mechanism) = listener.mechanism() {
        out.push(("sasl.mechanism".to_owned(), mechanism.to_owned()));
        out.push(("sasl.username".to_owned(), ADMIN_USER.to_owned()));
        out.push(("sasl.password".to_owned(), ADMIN_PASSWORD.to_owned()));
    }
    if listener != Listener::SaslPlaintext {
        out.push(("ssl.ca.location".to_owned(), ca.display().to_string()));
    }
    if listener == Listener::Ssl {
        out.push((
            "ssl.certificate.location".to_owned(),
            admin.cert.display().to_string(),
        ));
        out.push((
            "ssl.key.location".to_owned(),
            admin.key.display().to_string(),
        ));
    }
    out
}

fn component_status(cfg: &SandboxConfig, layout: &Layout, component: Component) -> ComponentStatus {
    let (endpoint, ports, log) = match component {
        Component::Kafka(node) => {
            let p = cfg.node(node);
            (
                format!("127.0.0.1:{}", p.client),
                p.all()
                    .iter()
                    .map(|(port, what)| ((*what).to_owned(), *port))
                    .collect(),
                layout.node(node).log,
            )
        }
        Component::Registry => {
            let mut ports = vec![
                ("http".to_owned(), cfg.registry_port),
                ("https".to_owned(), cfg.registry_https_port),
            ];
            if cfg.registry == crate::RegistryDist::Apicurio3 {
                ports.push(("management".to_owned(), cfg.registry_management_port));
            }
            (cfg.registry_url(), ports, layout.registry_log.clone())
        }
        Component::Connect => (
            cfg.connect_url(),
            vec![("rest".to_owned(), cfg.connect_port)],
            layout.connect_log.clone(),
        ),
    };
    let pid_file = pid_file(layout, component);
    let state = match running_pid(layout, component) {
        Some(pid) => State::Running {
            pid,
            ready: is_ready(cfg, layout, component, false),
        },
        None => match read_pid(&pid_file) {
            Some(pid) => State::StalePidFile { pid },
            None => State::Stopped,
        },
    };
    ComponentStatus {
        component,
        state,
        endpoint,
        ports,
        log,
        pid_file,
    }
}

/// The pid of our running `component`: from its pid file, or (if the file was lost) from a
/// `/proc` scan for a JVM marked with this sandbox folder.
pub(crate) fn running_pid(layout: &Layout, component: Component) -> Option<u32> {
    if let Some(pid) = read_pid(&pid_file(layout, component)) {
        if is_ours(pid, &layout.dir, component) {
            return Some(pid);
        }
    }
    let key = component.key();
    marked_processes()
        .into_iter()
        .find(|m| m.dir == layout.dir && m.component == key)
        .map(|m| m.pid)
        .filter(|pid| is_ours(*pid, &layout.dir, component))
}

pub(crate) fn pid_file(layout: &Layout, component: Component) -> PathBuf {
    match component {
        Component::Kafka(node) => layout.node(node).pid,
        Component::Registry => layout.registry_pid.clone(),
        Component::Connect => layout.connect_pid.clone(),
    }
}

/// Whether `component` answers. For a Kafka node just started, also wait for its "started" log
/// line: the port opens before the broker is unfenced and can serve metadata.
pub(crate) fn is_ready(
    cfg: &SandboxConfig,
    layout: &Layout,
    component: Component,
    just_started: bool,
) -> bool {
    match component {
        Component::Kafka(node) => {
            let logged = !just_started
                || std::fs::read_to_string(layout.node(node).log)
                    .is_ok_and(|log| log.contains(kafka::STARTED_LINE));
            logged && net::answers(cfg.node(node).client)
        }
        Component::Registry => registry::answers(cfg),
        Component::Connect => crate::connect::answers(cfg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_sandbox_lists_every_listener_and_the_ca() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = SandboxConfig::new(tmp.path(), "/c");
        cfg.brokers = 3;
        let st = status(&cfg);
        assert!(st.is_down());
        assert!(st.connect.is_none());
        assert_eq!(st.connect_url(), None);
        assert_eq!(st.nodes.len(), 3);
        assert_eq!(st.node(2).component, Component::Kafka(2));
        assert_eq!(st.node(3).endpoint, "127.0.0.1:19112");
        assert_eq!(
            st.bootstrap(Listener::SaslSsl),
            "127.0.0.1:19095,127.0.0.1:19105,127.0.0.1:19115"
        );
        assert!(st.ca_file.ends_with("tls/ca.pem"));
        assert!(st.admin_certificate.key.ends_with("tls/client-admin.key"));
        assert_eq!(
            st.registry_https_url(),
            "https://localhost:18443/apis/ccompat/v7"
        );
        let ssl = st.listener(Listener::Ssl);
        let get = |k: &str| {
            ssl.client_config
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("security.protocol"), Some("SSL"));
        assert_eq!(get("sasl.mechanism"), None);
        assert!(
            get("ssl.certificate.location")
                .unwrap()
                .ends_with("client-admin.crt")
        );
        let scram = &st.listener(Listener::SaslSsl).client_config;
        assert!(scram.contains(&("sasl.mechanism".to_owned(), "SCRAM-SHA-512".to_owned())));
        let text = st.to_string();
        for want in [
            "Kafka node 3",
            "stopped",
            "SASL_SSL, SCRAM-SHA-512: 127.0.0.1:19095",
            "ca.pem",
        ] {
            assert!(text.contains(want), "{want} missing from\n{text}");
        }
        cfg.connect = true;
        let st = status(&cfg);
        let connect = st.connect.as_ref().expect("a worker is configured");
        assert_eq!(connect.state, State::Stopped);
        assert_eq!(st.connect_url(), Some("http://127.0.0.1:18083"));
        assert!(connect.log.ends_with("logs/connect.log"));
        let text = st.to_string();
        assert!(
            text.contains("Kafka Connect    http://127.0.0.1:18083"),
            "{text}"
        );
        assert!(!st.is_up());
    }
}
