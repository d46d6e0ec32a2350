//! What a sandbox is (where it lives, which ports, which users, which versions) and where each
//! of its files goes.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::SandboxError;

/// Apache Kafka release run by the sandbox (Maven Central `org.apache.kafka:kafka_2.13`).
pub const KAFKA_VERSION: &str = "3.9.2";
/// The maven-dependency-plugin used for fetching; pinned because Maven 3.8's default is old.
pub const DEPENDENCY_PLUGIN_VERSION: &str = "3.8.1";
/// Kafka 3.9's pom has no logging backend; this is the one its own distribution ships.
pub const SLF4J_BINDING: &str = "org.slf4j:slf4j-reload4j:1.7.36";

/// The built-in super user every sandbox has.
pub const ADMIN_USER: &str = "admin";
/// The built-in super user's password (SPEC §3: `admin` / `admin-secret`).
pub const ADMIN_PASSWORD: &str = "admin-secret";

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

    /// System properties that bind it to loopback and make it behave like Confluent's default.
    pub(crate) fn system_properties(self, cfg: &SandboxConfig) -> Vec<String> {
        let mut props = vec![
            "-Dquarkus.http.host=127.0.0.1".to_owned(),
            format!("-Dquarkus.http.port={}", cfg.registry_port),
        ];
        match self {
            // 2.x uses the `registry.` prefix and has no management interface.
            RegistryDist::Apicurio2 => {
                props.push("-Dregistry.rules.global.compatibility=BACKWARD".to_owned());
            }
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
}

/// One sandbox: where it keeps its state, where downloads are cached, its ports and users.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Per-sandbox data, configs, logs and pid files. A new folder means a fresh, empty cluster.
    pub dir: PathBuf,
    /// Shared downloads (Kafka jars, the registry distribution), reused by every sandbox.
    pub cache_dir: PathBuf,
    /// Extra SASL/PLAIN users (name, password) besides `admin` / `admin-secret`. They take effect
    /// when Kafka starts; a running broker keeps the users it was started with.
    pub users: Vec<(String, String)>,
    /// The SASL_PLAINTEXT listener clients use (`bootstrap.servers`).
    pub kafka_port: u16,
    /// The KRaft controller listener (PLAINTEXT, only the broker itself uses it).
    pub controller_port: u16,
    /// The inter-broker listener (PLAINTEXT, only the broker itself uses it).
    pub internal_port: u16,
    /// The registry's HTTP port.
    pub registry_port: u16,
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
}

impl SandboxConfig {
    /// A sandbox in `dir` with downloads in `cache_dir`, on the default ports (Kafka 19092,
    /// registry 18081), `java` and `mvn` from PATH.
    pub fn new(dir: impl Into<PathBuf>, cache_dir: impl Into<PathBuf>) -> Self {
        SandboxConfig {
            dir: dir.into(),
            cache_dir: cache_dir.into(),
            users: Vec::new(),
            kafka_port: 19092,
            controller_port: 19093,
            internal_port: 19094,
            registry_port: 18081,
            registry_management_port: 18082,
            registry: RegistryDist::default(),
            java: PathBuf::from("java"),
            mvn: PathBuf::from("mvn"),
            ready_timeout: Duration::from_secs(120),
        }
    }

    /// The configuration `mesh dev` uses: `dir` or the per-user state folder
    /// (`$XDG_STATE_HOME/mesh/sandbox`, else `~/.local/state/mesh/sandbox`), downloads in
    /// `$MESH_CACHE_DIR` (else `$XDG_CACHE_HOME/mesh`, else `~/.cache/mesh`), `$MESH_SANDBOX_JAVA`
    /// or `$JAVA_HOME/bin/java` if set (else `java` from PATH), and the registry named by
    /// `MESH_SANDBOX_REGISTRY` (`apicurio-2`, the default, or `apicurio-3`).
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
        if let Some(name) = lookup("MESH_SANDBOX_REGISTRY") {
            if !name.is_empty() {
                cfg.registry = RegistryDist::parse(&name.to_string_lossy())?;
            }
        }
        Ok(cfg)
    }

    /// Moves every port to a currently free one, so a test sandbox does not clash with a
    /// developer's sandbox on the default ports (or with another test). The ports are only
    /// probed, not held, so a race with another process is possible but unlikely.
    pub fn use_free_ports(&mut self) -> Result<(), SandboxError> {
        // Hold all listeners until every port is chosen so the five are distinct.
        let mut held = Vec::new();
        for _ in 0..5 {
            let listener = TcpListener::bind(("127.0.0.1", 0))
                .map_err(|e| SandboxError::io("bind a free port on", "127.0.0.1", e))?;
            let port = listener
                .local_addr()
                .map_err(|e| SandboxError::io("read the address of", "127.0.0.1", e))?
                .port();
            held.push((listener, port));
        }
        self.kafka_port = held[0].1;
        self.controller_port = held[1].1;
        self.internal_port = held[2].1;
        self.registry_port = held[3].1;
        self.registry_management_port = held[4].1;
        Ok(())
    }

    /// `bootstrap.servers` for clients.
    pub fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.kafka_port)
    }

    /// The Confluent-compatible base URL, e.g. `http://127.0.0.1:18081/apis/ccompat/v7`.
    pub fn registry_url(&self) -> String {
        format!("http://127.0.0.1:{}{CCOMPAT_PATH}", self.registry_port)
    }

    /// Where a sandbox's files go; `dir` should already be absolute.
    pub(crate) fn layout(&self) -> Layout {
        Layout::new(&absolute(&self.dir), &self.cache_dir, self.registry)
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
    pub kafka_data: PathBuf,
    pub registry_data: PathBuf,
    pub logs_dir: PathBuf,
    pub server_properties: PathBuf,
    pub kafka_log4j: PathBuf,
    pub admin_properties: PathBuf,
    pub kafka_log: PathBuf,
    pub registry_log: PathBuf,
    pub registry_work: PathBuf,
    pub kafka_pid: PathBuf,
    pub registry_pid: PathBuf,
    pub lock: PathBuf,
    pub kafka_home: PathBuf,
    pub kafka_libs: PathBuf,
    pub tools_log4j: PathBuf,
    pub registry_home: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path, cache: &Path, registry: RegistryDist) -> Self {
        let config_dir = dir.join("config");
        let logs_dir = dir.join("logs");
        let kafka_home = cache.join(format!("kafka-{KAFKA_VERSION}"));
        Layout {
            dir: dir.to_path_buf(),
            kafka_data: dir.join("data").join("kafka"),
            registry_data: dir.join("data").join("registry"),
            server_properties: config_dir.join("server.properties"),
            kafka_log4j: config_dir.join("log4j.properties"),
            admin_properties: config_dir.join("admin-client.properties"),
            kafka_log: logs_dir.join("kafka.log"),
            registry_log: logs_dir.join("registry.log"),
            registry_work: dir.join("registry"),
            kafka_pid: dir.join("kafka.pid"),
            registry_pid: dir.join("registry.pid"),
            lock: dir.join(".lock"),
            kafka_libs: kafka_home.join("libs"),
            tools_log4j: kafka_home.join("tools-log4j.properties"),
            kafka_home,
            registry_home: cache.join(format!("apicurio-registry-{}", registry.version())),
            config_dir,
            logs_dir,
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
        let mut ports = vec![
            cfg.kafka_port,
            cfg.controller_port,
            cfg.internal_port,
            cfg.registry_port,
            cfg.registry_management_port,
        ];
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 5);
    }
}
