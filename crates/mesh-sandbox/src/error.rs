//! The sandbox's error type: every way `up`, `down` and the helpers can fail, each with a message
//! that says what to do about it.

use std::io;
use std::path::PathBuf;

use crate::Component;

/// Everything that can go wrong while running the local sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "Java {required}+ is required for `mesh dev up`, but `{command}` could not be run ({source}): \
         install openjdk-17-jre-headless (or another JDK {required}+) or set JAVA_HOME"
    )]
    JavaMissing {
        command: String,
        required: u32,
        #[source]
        source: io::Error,
    },

    #[error(
        "Java {required}+ is required for `mesh dev up` ({why}), but `{command}` is Java {found}: \
         install a newer JDK or point JAVA_HOME at one"
    )]
    JavaTooOld {
        command: String,
        found: u32,
        required: u32,
        why: String,
    },

    #[error("could not tell the Java version from the output of `{command} -version`:\n{output}")]
    JavaVersionUnknown { command: String, output: String },

    #[error(
        "Maven (`{command}`) is required to fetch {what} on the first `mesh dev up` \
         (it could not be run: {source}): install maven; downloads are cached in {cache}"
    )]
    MavenMissing {
        command: String,
        what: String,
        cache: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("fetching {what} with Maven failed ({status}); last lines of {log}:\n{tail}")]
    FetchFailed {
        what: String,
        status: String,
        log: PathBuf,
        tail: String,
    },

    #[error("{what} failed ({status}):\n{output}")]
    CommandFailed {
        what: String,
        status: String,
        output: String,
    },

    #[error(
        "port {port} on 127.0.0.1 ({purpose}) is already in use by a process this sandbox did not start{hint}"
    )]
    PortInUse {
        port: u16,
        purpose: &'static str,
        hint: String,
    },

    #[error("{component} did not become ready within {secs} s; last lines of {log}:\n{tail}")]
    NotReady {
        component: Component,
        secs: u64,
        log: PathBuf,
        tail: String,
    },

    #[error("{component} exited during startup ({status}); last lines of {log}:\n{tail}")]
    ExitedEarly {
        component: Component,
        status: String,
        log: PathBuf,
        tail: String,
    },

    #[error("{component} (pid {pid}) did not stop: {reason}")]
    StopFailed {
        component: Component,
        pid: u32,
        reason: String,
    },

    #[error("invalid sandbox user {name:?}: {reason}")]
    InvalidUser { name: String, reason: String },

    #[error(
        "no home directory to keep the sandbox in: set HOME (or XDG_STATE_HOME and MESH_CACHE_DIR), or pass --dir"
    )]
    NoHome,

    #[error("unknown MESH_SANDBOX_REGISTRY value {0:?}: use `apicurio-2` or `apicurio-3`")]
    UnknownRegistry(String),

    #[error(
        "unsupported Kafka version {0:?}: the sandbox runs 4.x (default {default}) or 3.9.x (e.g. {v3})",
        default = crate::KAFKA_VERSION,
        v3 = crate::KAFKA_3_VERSION
    )]
    UnsupportedKafkaVersion(String),

    #[error("--brokers {0}: a sandbox has 1 to {max} Kafka nodes", max = crate::MAX_BROKERS)]
    InvalidBrokers(u8),

    #[error("node {node}: this sandbox has nodes 1 to {brokers}")]
    UnknownNode { node: u8, brokers: u8 },

    #[error(
        "the sandbox in {} is {existing}, but {wanted} was asked for: {differences}. \
         Its data belongs to that cluster; use another --dir for a new sandbox, or `mesh dev down` \
         and delete the folder to start afresh",
        dir.display()
    )]
    ShapeMismatch {
        dir: PathBuf,
        existing: String,
        wanted: String,
        differences: String,
    },

    #[error(
        "Kafka node {node} of the sandbox in {} runs without the `connect` user the Connect worker \
         logs in as (it was started without --connect, and a running broker keeps its PLAIN users): \
         run `mesh dev down` and then `mesh dev up --connect`",
        dir.display()
    )]
    ConnectUserMissing { node: u8, dir: PathBuf },

    #[error("invalid certificate subject {subject:?}: {reason}")]
    InvalidSubject { subject: String, reason: String },

    #[error("could not {action}: {reason}")]
    Certificate { action: String, reason: String },

    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("could not run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: io::Error,
    },
}

impl SandboxError {
    /// Shorthand for the most common case: a file system call on a path failed.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        SandboxError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
