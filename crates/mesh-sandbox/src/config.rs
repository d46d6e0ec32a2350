//! What a sandbox is (where it lives, which ports, which users, which versions) and where each
//! of its files goes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::SandboxError;

/// The Apache Kafka release a sandbox runs unless told otherwise (Maven Central
/// `org.apache.kafka:kafka_2.13`): the newest 4.x served there that runs on Java 17.
pub const KAFKA_VERSION: &str = "4.4.0";
/// The 3.x release kept selectable (`--kafka-version 3.9.2`): the last line with ZooKeeper
/// support, still widely run.
pub const KAFKA_3_VERSION: &str = "3.9.2";
/// The maven-dependency-plugin used for fetching; pinned because Maven 3.8's default is old.
pub const DEPENDENCY_PLUGIN_VERSION: &str = "3.8.1";
/// Kafka 3.9's pom has no logging backend; this is the one its own distribution ships.
pub const SLF4J_BINDING: &str = "org.slf4j:slf4j-reload4j:1.7.36";
/// Kafka 4's pom brings log4j2's API and core but no SLF4J binding; this log4j2 release (the
/// one Kafka 4.4.0 itself depends on) is pinned for the core and the binding alike.
pub const LOG4J2_VERSION: &str = "2.25.5";
/// The most Kafka nodes a sandbox runs (`--brokers`).
pub const MAX_BROKERS: u8 = 3;

/// The two Kafka lines the sandbox knows: they differ in logging backend and in where the
/// admin tools' main classes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KafkaSeries {
    /// 3.9.x: reload4j (log4j 1 API), `kafka.admin.*` for ACLs and configs.
    V3,
    /// 4.x: log4j2, every tool under `org.apache.kafka.tools`.
    V4,
}

impl KafkaSeries {
    /// The series of a Maven version such as `4.4.0` or `3.9.2`; other lines are refused
    /// (the tool classes and broker settings here are checked against 3.9 and 4.x only).
    pub fn of(version: &str) -> Result<KafkaSeries, SandboxError> {
        let unsupported = || SandboxError::UnsupportedKafkaVersion(version.to_owned());
        let mut parts = version.split('.');
        let major: u32 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(unsupported)?;
        let minor: u32 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(unsupported)?;
        // A patch number (possibly with a qualifier) must follow; nothing after it.
        let patch = parts.next().ok_or_else(unsupported)?;
        if patch.is_empty()
            || parts.next().is_some()
            || !patch.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(unsupported());
        }
        match (major, minor) {
            (3, 9) => Ok(KafkaSeries::V3),
            (4, _) => Ok(KafkaSeries::V4),
            _ => Err(unsupported()),
        }
    }
}

/// The ports of one Kafka node, all on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodePorts {
    /// SASL_PLAINTEXT with PLAIN (SPEC: 19092 on node 1).
    pub client: u16,
    /// SASL_SSL with SCRAM-SHA-512 / SCRAM-SHA-256.
    pub sasl_ssl: u16,
    /// SSL with a required client certificate (principal = the certificate's CN).
    pub ssl: u16,
    /// The KRaft controller listener (PLAINTEXT, used only by the nodes).
    pub controller: u16,
    /// The inter-broker listener (PLAINTEXT, used only by the nodes).
    pub internal: u16,
}

impl NodePorts {
    /// The default ports of `node` (1-based): node 1 has 19092 (SASL_PLAINTEXT), 19093
    /// (controller), 19094 (inter-broker), 19095 (SASL_SSL), 19096 (SSL); node n the same
    /// plus 10 × (n − 1).
    pub fn default_for(node: u8) -> NodePorts {
        let base = 19092 + 10 * u16::from(node.saturating_sub(1));
        NodePorts {
            client: base,
            controller: base + 1,
            internal: base + 2,
            sasl_ssl: base + 3,
            ssl: base + 4,
        }
    }

    /// The port of a client listener.
    pub fn of(&self, listener: Listener) -> u16 {
        match listener {
            Listener::SaslPlaintext => self.client,
            Listener::SaslSsl => self.sasl_ssl,
            Listener::Ssl => self.ssl,
        }
    }

    /// Every port with what it is for (for messages and `status`).
    pub fn all(&self) -> [(u16, &'static str); 5] {
        [
            (self.client, "SASL_PLAINTEXT"),
            (self.sasl_ssl, "SASL_SSL"),
            (self.ssl, "SSL"),
            (self.controller, "controller"),
            (self.internal, "inter-broker"),
        ]
    }
}

/// A listener clients use. Every node has all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Listener {
    /// SASL_PLAINTEXT, mechanism PLAIN (the SPEC's 127.0.0.1:19092).
    SaslPlaintext,
    /// SASL_SSL, mechanisms SCRAM-SHA-512 (and SCRAM-SHA-256), server certificate from the
    /// sandbox CA.
    SaslSsl,
    /// SSL with a required client certificate signed by the sandbox CA; the principal is
    /// `User:<CN>`.
    Ssl,
}

impl Listener {
    /// All client listeners, in the order `status` shows them.
    pub const ALL: [Listener; 3] = [Listener::SaslPlaintext, Listener::SaslSsl, Listener::Ssl];

    /// The listener's name in `server.properties` (`listener.name.<lower>.…`).
    pub fn name(self) -> &'static str {
        match self {
            Listener::SaslPlaintext => "CLIENT",
            Listener::SaslSsl => "SCRAM",
            Listener::Ssl => "MTLS",
        }
    }

    /// Its `security.protocol`.
    pub fn protocol(self) -> &'static str {
        match self {
            Listener::SaslPlaintext => "SASL_PLAINTEXT",
            Listener::SaslSsl => "SASL_SSL",
            Listener::Ssl => "SSL",
        }
    }

    /// The SASL mechanism clients use by default, if any.
    pub fn mechanism(self) -> Option<&'static str> {
        match self {
            Listener::SaslPlaintext => Some("PLAIN"),
            Listener::SaslSsl => Some("SCRAM-SHA-512"),
            Listener::Ssl => None,
        }
    }

    /// A short, stable identifier: `sasl_plaintext`, `sasl_ssl`, `ssl` (JSON keys, file names).
    pub fn key(self) -> &'static str {
        match self {
            Listener::SaslPlaintext => "sasl_plaintext",
            Listener::SaslSsl => "sasl_ssl",
            Listener::Ssl => "ssl",
        }
    }
}

impl std::fmt::Display for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.protocol())
    }
}

/// The built-in super user every sandbox has.
pub const ADMIN_USER: &str = "admin";
/// The built-in super user's password (SPEC §3: `admin` / `admin-secret`).
pub const ADMIN_PASSWORD: &str = "admin-secret";

/// The principal the Connect worker (and, unless a connector overrides it, its connectors' clients)
/// logs in as: a sandbox user like any `--user`, added when the sandbox runs Connect.
pub const CONNECT_USER: &str = "connect";
/// Its password.
pub const CONNECT_PASSWORD: &str = "connect-secret";
/// The Connect worker's group (`group.id`): the cluster of workers sharing its internal topics.
pub const CONNECT_GROUP: &str = "mesh-connect";

/// The Confluent-compatible base path of the registry.
pub const CCOMPAT_PATH: &str = "/apis/ccompat/v7";

/// Which Apicurio Registry build serves the Confluent-compatible API.
///
/// Apicurio 3.2 and later are compiled for Java 21, and the Java-17 builds of 3.x (3.0.x, 3.1.x) are
/// not obtainable from Maven Central (3.0.9's parent pom is missing, 3.1.x is absent), so the default
/// is the newest 2.x, which runs on Java 17 like Kafka. Where Java 21+ is available, 3.x can be
/// chosen (`MESH_SANDBOX_REGISTRY=apicurio-3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegistryDist {
    /// Apicurio Registry 2.6.13.Final (Java 17+).
    #[default]
    Apicurio2,
    /// Apicurio Registry 3.3.3 (Java 21+).
    Apicurio3,
}

impl RegistryDist {
    /// The Maven version of `io.apicurio:apicurio-registry-app`.
    pub fn version(self) -> &'static str {
        match self {
            RegistryDist::Apicurio2 => "2.6.13.Final",
            RegistryDist::Apicurio3 => "3.3.3",
        }
    }

    /// The oldest Java that runs it (the class-file version it was compiled for).
    pub fn min_java(self) -> u32 {
        match self {
            RegistryDist::Apicurio2 => 17,
            RegistryDist::Apicurio3 => 21,
        }
    }

    /// Parses the `MESH_SANDBOX_REGISTRY` spelling.
    pub fn parse(text: &str) -> Result<Self, SandboxError> {
        match text.trim() {
            "apicurio-2" | "apicurio2" | "2" => Ok(RegistryDist::Apicurio2),
            "apicurio-3" | "apicurio3" | "3" => Ok(RegistryDist::Apicurio3),
            other => Err(SandboxError::UnknownRegistry(other.to_owned())),
        }
    }

    /// `g:a:v:type:classifier` for `dependency:copy`.
    pub(crate) fn artifact(self) -> String {
        format!(
            "io.apicurio:apicurio-registry-app:{}:tar.gz:all",
            self.version()
        )
    }

    /// The jar `java -jar` starts, relative to the unpacked distribution.
    pub(crate) fn launch_jar(self) -> String {
        match self {
            RegistryDist::Apicurio2 => {
                format!("apicurio-registry-app-{}-runner.jar", self.version())
            }
            RegistryDist::Apicurio3 => "quarkus-run.jar".to_owned(),
        }
    }

    /// System properties that bind it to loopback, serve HTTPS with the sandbox CA's registry
    /// certificate next to plain HTTP, and make it behave like Confluent's default.
    ///
    /// No client-certificate request: `quarkus.http.ssl.client-auth` is a build-time property
    /// and Apicurio's builds fix it to NONE (setting it at run time only logs a warning).
    pub(crate) fn system_properties(self, cfg: &SandboxConfig, layout: &Layout) -> Vec<String> {
        let mut props = vec![
            "-Dquarkus.http.host=127.0.0.1".to_owned(),
            format!("-Dquarkus.http.port={}", cfg.registry_port),
            format!("-Dquarkus.http.ssl-port={}", cfg.registry_https_port),
            format!(
                "-Dquarkus.http.ssl.certificate.files={}",
                layout.registry_cert.display()
            ),
            format!(
                "-Dquarkus.http.ssl.certificate.key-files={}",
                layout.registry_key.display()
            ),
        ];
        match self {
            // 2.x has no management interface. No global compatibility rule, unlike Confluent's
            // BACKWARD default: Apicurio 2's Confluent API stores a subject's NONE as "no rule
            // of its own", which falls back to the global rule, so with a global BACKWARD no
            // subject could be NONE. mesh sets every level it manages explicitly.
            RegistryDist::Apicurio2 => {}
            // 3.x opens a management interface on 0.0.0.0:9000 unless told otherwise.
            RegistryDist::Apicurio3 => {
                props.push("-Dquarkus.management.host=127.0.0.1".to_owned());
                props.push(format!(
                    "-Dquarkus.management.port={}",
                    cfg.registry_management_port
                ));
                props.push("-Dapicurio.rules.global.compatibility=BACKWARD".to_owned());
            }
        }
        props
    }

    /// The `MESH_SANDBOX_REGISTRY` spelling (`apicurio-2`, `apicurio-3`).
    pub fn key(self) -> &'static str {
        match self {
            RegistryDist::Apicurio2 => "apicurio-2",
            RegistryDist::Apicurio3 => "apicurio-3",
        }
    }
}

/// One sandbox: where it keeps its state, where downloads are cached, its shape (Kafka version,
/// number of nodes), its ports and users.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Per-sandbox data, configs, logs and pid files. A new folder means a fresh, empty cluster.
    pub dir: PathBuf,
    /// Shared downloads (Kafka jars, the registry distribution), reused by every sandbox.
    pub cache_dir: PathBuf,
    /// Extra users (name, password) besides `admin` / `admin-secret`: SASL/PLAIN and SCRAM
    /// logins and a client certificate (CN = the name) each. A running broker keeps the PLAIN
    /// users it was started with; SCRAM credentials are added at the next `up`.
    pub users: Vec<(String, String)>,
    /// The Apache Kafka release ([`KAFKA_VERSION`] by default; 3.9.x or any 4.x).
    pub kafka_version: String,
    /// How many combined broker+controller nodes (1 to [`MAX_BROKERS`]).
    pub brokers: u8,
    /// The ports of nodes 1 to [`MAX_BROKERS`] (index 0 is node 1); only the first `brokers`
    /// are used.
    pub nodes: Vec<NodePorts>,
    /// The registry's HTTP port.
    pub registry_port: u16,
    /// The registry's HTTPS port (certificate from the sandbox CA).
    pub registry_https_port: u16,
    /// The registry's management port (Apicurio 3 only).
    pub registry_management_port: u16,
    /// Which registry build to run.
    pub registry: RegistryDist,
    /// The `java` executable for both servers and Kafka's tools.
    pub java: PathBuf,
    /// The `mvn` executable, needed only while something is not cached yet.
    pub mvn: PathBuf,
    /// How long `up` waits for each server to answer.
    pub ready_timeout: Duration,
    /// Relay listeners (index 0 is node 1), for fault tests; empty: none (`mesh dev` has none).
    pub relays: Vec<Relay>,
    /// Whether the sandbox runs a Kafka Connect worker (`mesh dev up --connect`). Once a
    /// folder has one, later `up`s keep it (see [`SandboxConfig::adopt_saved_shape`]).
    pub connect: bool,
    /// The Connect worker's REST port on 127.0.0.1 (SPEC: 18083).
    pub connect_port: u16,
}

/// An extra SASL_PLAINTEXT (PLAIN) listener `RELAY` on one node that listens on `listen` but
/// advertises `advertised`, where a test puts a [`crate::faults::FaultProxy::kafka`] port that
/// forwards to `listen`. Clients bootstrapping from the advertised addresses then reach every
/// broker through the proxy, not only the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relay {
    pub listen: u16,
    pub advertised: u16,
}

impl SandboxConfig {
    /// A one-node Kafka [`KAFKA_VERSION`] sandbox in `dir` with downloads in `cache_dir`, on the
    /// default ports (Kafka 19092, registry 18081 and 18443), `java` and `mvn` from PATH.
    pub fn new(dir: impl Into<PathBuf>, cache_dir: impl Into<PathBuf>) -> Self {
        SandboxConfig {
            dir: dir.into(),
            cache_dir: cache_dir.into(),
            users: Vec::new(),
            kafka_version: KAFKA_VERSION.to_owned(),
            brokers: 1,
            nodes: (1..=MAX_BROKERS).map(NodePorts::default_for).collect(),
            registry_port: 18081,
            registry_https_port: 18443,
            registry_management_port: 18082,
            registry: RegistryDist::default(),
            java: PathBuf::from("java"),
            mvn: PathBuf::from("mvn"),
            ready_timeout: Duration::from_secs(120),
            relays: Vec::new(),
            connect: false,
            connect_port: 18083,
        }
    }

    /// The configuration `mesh dev` uses: `dir` or the per-user state folder
    /// (`$XDG_STATE_HOME/mesh/sandbox`, else `~/.local/state/mesh/sandbox`), downloads in
    /// `$MESH_CACHE_DIR` (else `$XDG_CACHE_HOME/mesh`, else `~/.cache/mesh`), `$MESH_SANDBOX_JAVA`
    /// or `$JAVA_HOME/bin/java` if set (else `java` from PATH), the registry named by
    /// `MESH_SANDBOX_REGISTRY` (`apicurio-2`, the default, or `apicurio-3`) and the Kafka
    /// release named by `MESH_SANDBOX_KAFKA` (default [`KAFKA_VERSION`]).
    pub fn from_env(dir: Option<PathBuf>) -> Result<Self, SandboxError> {
        Self::from_lookup(dir, &|key| std::env::var_os(key))
    }

    /// [`SandboxConfig::from_env`] with the environment passed in (for tests).
    pub fn from_lookup(
        dir: Option<PathBuf>,
        lookup: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<Self, SandboxError> {
        let dir = match dir {
            Some(dir) => dir,
            None => default_state_dir(lookup)?,
        };
        let mut cfg = SandboxConfig::new(dir, default_cache_dir(lookup)?);
        cfg.java = crate::java::default_java(lookup);
        if let Some(name) = non_empty(lookup("MESH_SANDBOX_REGISTRY")) {
            cfg.registry = RegistryDist::parse(&name.to_string_lossy())?;
        }
        if let Some(version) = non_empty(lookup("MESH_SANDBOX_KAFKA")) {
            let version = version.to_string_lossy().trim().to_owned();
            KafkaSeries::of(&version)?;
            cfg.kafka_version = version;
        }
        Ok(cfg)
    }

    /// The Kafka line of [`SandboxConfig::kafka_version`].
    pub fn kafka_series(&self) -> Result<KafkaSeries, SandboxError> {
        KafkaSeries::of(&self.kafka_version)
    }

    /// Checks the shape: a known Kafka line, 1 to [`MAX_BROKERS`] nodes with ports for each.
    pub fn validate(&self) -> Result<(), SandboxError> {
        self.kafka_series()?;
        if self.brokers == 0 || self.brokers > MAX_BROKERS {
            return Err(SandboxError::InvalidBrokers(self.brokers));
        }
        if self.nodes.len() < usize::from(self.brokers) {
            return Err(SandboxError::InvalidBrokers(self.brokers));
        }
        Ok(())
    }

    /// The ports of `node` (1-based).
    ///
    /// # Panics
    /// If `node` is 0 or beyond the configured port list (at least [`MAX_BROKERS`] long unless
    /// changed by hand).
    pub fn node(&self, node: u8) -> NodePorts {
        self.nodes[usize::from(node) - 1]
    }

    /// The node ids in use: `1..=brokers`.
    pub fn node_ids(&self) -> std::ops::RangeInclusive<u8> {
        1..=self.brokers.max(1)
    }

    /// Moves every port to a currently free one, so a test sandbox does not clash with a
    /// developer's sandbox on the default ports (or with another test). The ports are only
    /// probed, not held, so a race with another process is possible but unlikely. All
    /// [`MAX_BROKERS`] nodes get ports, so `brokers` may be changed afterwards.
    pub fn use_free_ports(&mut self) -> Result<(), SandboxError> {
        let wanted = 5 * usize::from(MAX_BROKERS) + 4;
        let mut ports = crate::net::free_ports(wanted)?.into_iter();
        let mut next = || ports.next().expect("enough ports were bound");
        self.nodes = (1..=MAX_BROKERS)
            .map(|_| NodePorts {
                client: next(),
                sasl_ssl: next(),
                ssl: next(),
                controller: next(),
                internal: next(),
            })
            .collect();
        self.registry_port = next();
        self.registry_https_port = next();
        self.registry_management_port = next();
        self.connect_port = next();
        Ok(())
    }

    /// `bootstrap.servers` for clients on the SASL_PLAINTEXT listener (every node).
    pub fn bootstrap_servers(&self) -> String {
        self.bootstrap(Listener::SaslPlaintext)
    }

    /// `bootstrap.servers` for a listener: `127.0.0.1:<port>` of every node, comma-separated.
    pub fn bootstrap(&self, listener: Listener) -> String {
        self.node_ids()
            .map(|n| format!("127.0.0.1:{}", self.node(n).of(listener)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The Confluent-compatible base URL, e.g. `http://127.0.0.1:18081/apis/ccompat/v7`.
    pub fn registry_url(&self) -> String {
        format!("http://127.0.0.1:{}{CCOMPAT_PATH}", self.registry_port)
    }

    /// The same over HTTPS, e.g. `https://localhost:18443/apis/ccompat/v7` (the certificate
    /// names `localhost` and `127.0.0.1`; check it against [`crate::ca_file`]).
    pub fn registry_https_url(&self) -> String {
        format!(
            "https://localhost:{}{CCOMPAT_PATH}",
            self.registry_https_port
        )
    }

    /// The Connect worker's REST URL, e.g. `http://127.0.0.1:18083`.
    pub fn connect_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.connect_port)
    }

    /// Where a sandbox's files go; `dir` should already be absolute.
    pub(crate) fn layout(&self) -> Layout {
        Layout::new(
            &absolute(&self.dir),
            &self.cache_dir,
            self.registry,
            &self.kafka_version,
        )
    }
}

/// `$XDG_STATE_HOME/mesh/sandbox`, else `~/.local/state/mesh/sandbox`.
pub fn default_state_dir(
    lookup: &dyn Fn(&str) -> Option<OsString>,
) -> Result<PathBuf, SandboxError> {
    if let Some(state) = non_empty(lookup("XDG_STATE_HOME")) {
        return Ok(PathBuf::from(state).join("mesh").join("sandbox"));
    }
    let home = non_empty(lookup("HOME")).ok_or(SandboxError::NoHome)?;
    Ok(PathBuf::from(home).join(".local/state/mesh/sandbox"))
}

/// `$MESH_CACHE_DIR`, else `$XDG_CACHE_HOME/mesh`, else `~/.cache/mesh`.
pub fn default_cache_dir(
    lookup: &dyn Fn(&str) -> Option<OsString>,
) -> Result<PathBuf, SandboxError> {
    if let Some(dir) = non_empty(lookup("MESH_CACHE_DIR")) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(cache) = non_empty(lookup("XDG_CACHE_HOME")) {
        return Ok(PathBuf::from(cache).join("mesh"));
    }
    let home = non_empty(lookup("HOME")).ok_or(SandboxError::NoHome)?;
    Ok(PathBuf::from(home).join(".cache/mesh"))
}

fn non_empty(value: Option<OsString>) -> Option<OsString> {
    value.filter(|v| !v.is_empty())
}

/// The absolute, symlink-free form of `path` when it exists (so the marker on a process's
/// command line is the same however the folder was named), else `path` joined to the cwd.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    if let Ok(canonical) = path.canonicalize() {
        return canonical;
    }
    if path.is_absolute() {
        return path.to_path_buf();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(path),
        Err(_) => path.to_path_buf(),
    }
}

/// Every path the sandbox reads or writes, in one place.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub dir: PathBuf,
    pub config_dir: PathBuf,
    pub registry_data: PathBuf,
    pub logs_dir: PathBuf,
    /// The broker's logging config (log4j 1 for 3.x, log4j2 for 4.x).
    pub kafka_log4j: PathBuf,
    pub admin_properties: PathBuf,
    pub registry_log: PathBuf,
    pub registry_work: PathBuf,
    pub registry_pid: PathBuf,
    pub lock: PathBuf,
    /// What this sandbox is (version, nodes, ports), written by `up`.
    pub shape: PathBuf,
    pub tls_dir: PathBuf,
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    /// The brokers' PEM keystore: private key, then certificate and CA.
    pub broker_keystore: PathBuf,
    pub registry_cert: PathBuf,
    pub registry_key: PathBuf,
    pub kafka_home: PathBuf,
    pub kafka_libs: PathBuf,
    pub tools_log4j: PathBuf,
    pub registry_home: PathBuf,
    /// The Connect worker's config, log and pid file.
    pub connect_properties: PathBuf,
    pub connect_log: PathBuf,
    pub connect_pid: PathBuf,
    /// The cache folder of the worker's jars (connect-runtime, connect-file, connect-json).
    pub connect_home: PathBuf,
    series: KafkaSeries,
}

/// The files of one Kafka node. Node 1 keeps the names a one-node sandbox always had.
#[derive(Debug, Clone)]
pub(crate) struct NodeLayout {
    pub data: PathBuf,
    pub server_properties: PathBuf,
    pub log: PathBuf,
    pub pid: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path, cache: &Path, registry: RegistryDist, kafka_version: &str) -> Self {
        let config_dir = dir.join("config");
        let logs_dir = dir.join("logs");
        let tls_dir = dir.join("tls");
        let kafka_home = cache.join(format!("kafka-{kafka_version}"));
        // An unknown version fails validation before anything is started; the layout of such a
        // config is only ever used to report (status) or stop (down).
        let series = KafkaSeries::of(kafka_version).unwrap_or(KafkaSeries::V4);
        let (server_log4j, tools_log4j) = match series {
            KafkaSeries::V3 => ("log4j.properties", "tools-log4j.properties"),
            KafkaSeries::V4 => ("log4j2.properties", "tools-log4j2.properties"),
        };
        Layout {
            dir: dir.to_path_buf(),
            registry_data: dir.join("data").join("registry"),
            kafka_log4j: config_dir.join(server_log4j),
            admin_properties: config_dir.join("admin-client.properties"),
            registry_log: logs_dir.join("registry.log"),
            registry_work: dir.join("registry"),
            registry_pid: dir.join("registry.pid"),
            lock: dir.join(".lock"),
            shape: dir.join("sandbox.properties"),
            ca_cert: tls_dir.join("ca.pem"),
            ca_key: tls_dir.join("ca.key"),
            broker_keystore: tls_dir.join("broker.pem"),
            registry_cert: tls_dir.join("registry.crt"),
            registry_key: tls_dir.join("registry.key"),
            tls_dir,
            kafka_libs: kafka_home.join("libs"),
            tools_log4j: kafka_home.join(tools_log4j),
            kafka_home,
            registry_home: cache.join(format!("apicurio-registry-{}", registry.version())),
            connect_properties: config_dir.join("connect.properties"),
            connect_log: logs_dir.join("connect.log"),
            connect_pid: dir.join("connect.pid"),
            connect_home: cache.join(format!(
                "kafka-connect-{}",
                crate::connect::worker_version(kafka_version)
            )),
            config_dir,
            logs_dir,
            series,
        }
    }

    /// The Kafka line these paths were laid out for.
    pub fn series(&self) -> KafkaSeries {
        self.series
    }

    /// The files of `node` (1-based): node 1 `data/kafka`, `config/server.properties`,
    /// `logs/kafka.log`, `kafka.pid`; node n the same names with `-n`.
    pub fn node(&self, node: u8) -> NodeLayout {
        let suffix = if node <= 1 {
            String::new()
        } else {
            format!("-{node}")
        };
        NodeLayout {
            data: self.dir.join("data").join(format!("kafka{suffix}")),
            server_properties: self.config_dir.join(format!("server{suffix}.properties")),
            log: self.logs_dir.join(format!("kafka{suffix}.log")),
            pid: self.dir.join(format!("kafka{suffix}.pid")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn default_folders_follow_xdg_then_home() {
        let home = env(&[("HOME", "/home/u")]);
        assert_eq!(
            default_state_dir(&home).unwrap(),
            PathBuf::from("/home/u/.local/state/mesh/sandbox")
        );
        assert_eq!(
            default_cache_dir(&home).unwrap(),
            PathBuf::from("/home/u/.cache/mesh")
        );
        let xdg = env(&[
            ("HOME", "/home/u"),
            ("XDG_STATE_HOME", "/s"),
            ("XDG_CACHE_HOME", "/c"),
        ]);
        assert_eq!(
            default_state_dir(&xdg).unwrap(),
            PathBuf::from("/s/mesh/sandbox")
        );
        assert_eq!(default_cache_dir(&xdg).unwrap(), PathBuf::from("/c/mesh"));
        let mesh = env(&[("XDG_CACHE_HOME", "/c"), ("MESH_CACHE_DIR", "/m")]);
        assert_eq!(default_cache_dir(&mesh).unwrap(), PathBuf::from("/m"));
        assert!(matches!(
            default_state_dir(&env(&[("HOME", "")])),
            Err(SandboxError::NoHome)
        ));
    }

    #[test]
    fn from_lookup_honours_dir_java_home_and_registry_choice() {
        let lookup = env(&[
            ("HOME", "/home/u"),
            ("JAVA_HOME", "/jdk"),
            ("MESH_SANDBOX_REGISTRY", "apicurio-3"),
        ]);
        let cfg = SandboxConfig::from_lookup(Some(PathBuf::from("/tmp/sb")), &lookup).unwrap();
        assert_eq!(cfg.dir, PathBuf::from("/tmp/sb"));
        assert_eq!(cfg.java, PathBuf::from("/jdk/bin/java"));
        assert_eq!(cfg.registry, RegistryDist::Apicurio3);
        assert_eq!(cfg.bootstrap_servers(), "127.0.0.1:19092");
        assert_eq!(cfg.registry_url(), "http://127.0.0.1:18081/apis/ccompat/v7");
        let bad = env(&[("HOME", "/h"), ("MESH_SANDBOX_REGISTRY", "confluent")]);
        assert!(matches!(
            SandboxConfig::from_lookup(None, &bad),
            Err(SandboxError::UnknownRegistry(_))
        ));
    }

    #[test]
    fn free_ports_are_distinct() {
        let mut cfg = SandboxConfig::new("/tmp/x", "/tmp/c");
        cfg.use_free_ports().unwrap();
        let mut ports: Vec<u16> = cfg
            .nodes
            .iter()
            .flat_map(|n| n.all().map(|(p, _)| p))
            .chain([
                cfg.registry_port,
                cfg.registry_https_port,
                cfg.registry_management_port,
                cfg.connect_port,
            ])
            .collect();
        assert_eq!(ports.len(), 19);
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 19);
        assert_eq!(
            cfg.connect_url(),
            format!("http://127.0.0.1:{}", cfg.connect_port)
        );
    }

    #[test]
    fn default_ports_step_by_ten_per_node() {
        let mut cfg = SandboxConfig::new("/tmp/x", "/tmp/c");
        assert_eq!(
            cfg.node(1),
            NodePorts {
                client: 19092,
                controller: 19093,
                internal: 19094,
                sasl_ssl: 19095,
                ssl: 19096
            }
        );
        assert_eq!(cfg.node(3).client, 19112);
        assert_eq!(cfg.node(2).ssl, 19106);
        assert_eq!(cfg.bootstrap(Listener::SaslSsl), "127.0.0.1:19095");
        cfg.brokers = 3;
        assert_eq!(
            cfg.bootstrap_servers(),
            "127.0.0.1:19092,127.0.0.1:19102,127.0.0.1:19112"
        );
        assert_eq!(
            cfg.bootstrap(Listener::Ssl),
            "127.0.0.1:19096,127.0.0.1:19106,127.0.0.1:19116"
        );
        assert_eq!(
            cfg.registry_https_url(),
            "https://localhost:18443/apis/ccompat/v7"
        );
    }

    #[test]
    fn kafka_versions_are_3_9_or_4() {
        assert_eq!(KafkaSeries::of("3.9.2").unwrap(), KafkaSeries::V3);
        assert_eq!(KafkaSeries::of("4.4.0").unwrap(), KafkaSeries::V4);
        assert_eq!(KafkaSeries::of("4.1.1").unwrap(), KafkaSeries::V4);
        assert_eq!(KafkaSeries::of(KAFKA_VERSION).unwrap(), KafkaSeries::V4);
        for bad in [
            "3.8.1", "2.8.0", "5.0.0", "4", "4.1", "4.1.", "x.y.z", "4.1.1.1", "4.1.1 ",
        ] {
            assert!(
                matches!(
                    KafkaSeries::of(bad),
                    Err(SandboxError::UnsupportedKafkaVersion(_))
                ),
                "{bad:?}"
            );
        }
        let mut cfg = SandboxConfig::new("/tmp/x", "/tmp/c");
        cfg.brokers = 4;
        assert!(matches!(
            cfg.validate(),
            Err(SandboxError::InvalidBrokers(4))
        ));
        cfg.brokers = 0;
        assert!(cfg.validate().is_err());
        cfg.brokers = 3;
        cfg.validate().unwrap();
        let lookup = env(&[("HOME", "/h"), ("MESH_SANDBOX_KAFKA", "3.9.2")]);
        let cfg = SandboxConfig::from_lookup(None, &lookup).unwrap();
        assert_eq!(cfg.kafka_version, "3.9.2");
        assert_eq!(cfg.layout().series(), KafkaSeries::V3);
        assert!(
            cfg.layout()
                .kafka_log4j
                .ends_with("config/log4j.properties")
        );
    }

    #[test]
    fn node_files_keep_the_one_node_names_for_node_1() {
        let layout = Layout::new(
            Path::new("/sb"),
            Path::new("/c"),
            RegistryDist::Apicurio2,
            "4.4.0",
        );
        let one = layout.node(1);
        assert_eq!(one.data, PathBuf::from("/sb/data/kafka"));
        assert_eq!(
            one.server_properties,
            PathBuf::from("/sb/config/server.properties")
        );
        assert_eq!(one.log, PathBuf::from("/sb/logs/kafka.log"));
        assert_eq!(one.pid, PathBuf::from("/sb/kafka.pid"));
        let three = layout.node(3);
        assert_eq!(three.data, PathBuf::from("/sb/data/kafka-3"));
        assert_eq!(three.pid, PathBuf::from("/sb/kafka-3.pid"));
        assert_eq!(layout.kafka_home, PathBuf::from("/c/kafka-4.4.0"));
        assert!(layout.tools_log4j.ends_with("tools-log4j2.properties"));
        assert_eq!(layout.connect_log, PathBuf::from("/sb/logs/connect.log"));
        assert_eq!(layout.connect_pid, PathBuf::from("/sb/connect.pid"));
        assert_eq!(layout.connect_home, PathBuf::from("/c/kafka-connect-4.3.1"));
    }
}
