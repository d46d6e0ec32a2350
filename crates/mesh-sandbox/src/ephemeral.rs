//! Throw-away sandboxes for tests and benchmarks: a fresh folder on free ports, stopped and
//! removed when dropped, even when the test panics, so no JVM outlives it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{
    ClientCertificate, Listener, SandboxConfig, SandboxError, Status, Stopped, down,
    issue_client_certificate, start_node, status, stop_node, up,
};

/// How to start an [`Ephemeral`] sandbox; `Options::default()` is one node of the default
/// Kafka with no extra users.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Kafka nodes (1 to 3; 0 means 1).
    pub brokers: u8,
    /// The Kafka release, e.g. `3.9.2`; `None` for [`crate::KAFKA_VERSION`] (or
    /// `MESH_SANDBOX_KAFKA` when set).
    pub kafka_version: Option<String>,
    /// Extra users (name, password): PLAIN and SCRAM logins and a client certificate each.
    pub users: Vec<(String, String)>,
    /// A relay listener on every node (see [`crate::Relay`]), for a Kafka fault proxy.
    pub relay: bool,
    /// A Kafka Connect worker (on a free REST port; see [`Ephemeral::connect_url`]).
    pub connect: bool,
}

impl Options {
    /// `brokers` nodes.
    pub fn brokers(mut self, brokers: u8) -> Self {
        self.brokers = brokers;
        self
    }

    /// Kafka `version` (e.g. [`crate::KAFKA_3_VERSION`]).
    pub fn kafka_version(mut self, version: &str) -> Self {
        self.kafka_version = Some(version.to_owned());
        self
    }

    /// An extra user.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.to_owned(), password.to_owned()));
        self
    }

    /// A relay listener on every node, advertised at a free port where the test puts a
    /// [`crate::faults::FaultProxy::kafka`] (see [`Ephemeral::relay_brokers`]).
    pub fn relay(mut self) -> Self {
        self.relay = true;
        self
    }

    /// A Kafka Connect worker logging in as [`crate::CONNECT_USER`], like `mesh dev up
    /// --connect`.
    pub fn connect(mut self) -> Self {
        self.connect = true;
        self
    }
}

/// A running sandbox that is stopped (and its folder deleted) on drop.
pub struct Ephemeral {
    pub cfg: SandboxConfig,
    root: PathBuf,
}

impl Ephemeral {
    /// Starts a one-node sandbox in a new temporary folder on free ports, with these extra
    /// users. Downloads come from the shared cache (see [`SandboxConfig::from_env`]).
    pub fn start(
        users: &[(&str, &str)],
        progress: &mut dyn FnMut(&str),
    ) -> Result<Ephemeral, SandboxError> {
        let options = Options {
            users: users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
            ..Options::default()
        };
        Self::start_with(&options, progress)
    }

    /// Starts a sandbox with `options` (node count, Kafka version, users) in a new temporary
    /// folder on free ports.
    pub fn start_with(
        options: &Options,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Ephemeral, SandboxError> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "mesh-sandbox-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut cfg = SandboxConfig::from_env(Some(root.join("sandbox")))?;
        cfg.use_free_ports()?;
        cfg.users = options.users.clone();
        cfg.brokers = options.brokers.max(1);
        cfg.connect = options.connect;
        if let Some(version) = &options.kafka_version {
            cfg.kafka_version = version.clone();
        }
        if options.relay {
            let mut ports = crate::net::free_ports(2 * usize::from(cfg.brokers))?.into_iter();
            while let (Some(listen), Some(advertised)) = (ports.next(), ports.next()) {
                cfg.relays.push(crate::Relay { listen, advertised });
            }
        }
        // Built before `up`, so a failed start is cleaned up by the same drop.
        let sandbox = Ephemeral { cfg, root };
        up(&sandbox.cfg, progress)?;
        Ok(sandbox)
    }

    /// For [`crate::faults::FaultProxy::kafka`]: each node's relay as (where the proxy must
    /// listen: the advertised address, where it forwards: the relay listener). Empty without
    /// [`Options::relay`].
    pub fn relay_brokers(&self) -> Vec<(SocketAddr, SocketAddr)> {
        let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        self.cfg
            .relays
            .iter()
            .map(|r| (at(r.advertised), at(r.listen)))
            .collect()
    }

    /// `bootstrap.servers` through the relay (the proxy's addresses), SASL_PLAINTEXT/PLAIN.
    pub fn relay_bootstrap(&self) -> String {
        self.cfg
            .relays
            .iter()
            .map(|r| format!("127.0.0.1:{}", r.advertised))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The Connect worker's REST URL (`http://127.0.0.1:<port>`); it answers only with
    /// [`Options::connect`].
    pub fn connect_url(&self) -> String {
        self.cfg.connect_url()
    }

    /// A folder next to the sandbox's own, for the test's files; removed with it.
    pub fn scratch(&self) -> &Path {
        &self.root
    }

    /// What runs where now: nodes, listeners with client configs, the CA, registry URLs.
    pub fn status(&self) -> Status {
        status(&self.cfg)
    }

    /// `bootstrap.servers` of a listener (every node).
    pub fn bootstrap(&self, listener: Listener) -> String {
        self.cfg.bootstrap(listener)
    }

    /// The sandbox CA's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        crate::ca_file(&self.cfg)
    }

    /// A client certificate for `subject` signed by the sandbox CA (see
    /// [`issue_client_certificate`]).
    pub fn client_certificate(&self, subject: &str) -> Result<ClientCertificate, SandboxError> {
        issue_client_certificate(&self.cfg, subject)
    }

    /// Stops Kafka node `node` (see [`stop_node`]).
    pub fn stop_node(&self, node: u8) -> Result<Option<Stopped>, SandboxError> {
        stop_node(&self.cfg, node)
    }

    /// Starts Kafka node `node` again and waits until it serves (see [`start_node`]).
    pub fn start_node(
        &self,
        node: u8,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Status, SandboxError> {
        start_node(&self.cfg, node, progress)
    }
}

impl Drop for Ephemeral {
    fn drop(&mut self) {
        if let Err(e) = down(&self.cfg) {
            eprintln!("cleanup: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
