//! What runs where: the read-only view of a sandbox that `status` reports and `up` returns.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::{Layout, SandboxConfig, absolute};
use crate::process::{is_ours, marked_processes, read_pid};
use crate::{Component, kafka, net, registry};

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

/// One server of the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentStatus {
    pub component: Component,
    pub state: State,
    /// Where clients reach it: `127.0.0.1:19092` or `http://127.0.0.1:18081/apis/ccompat/v7`.
    pub endpoint: String,
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

/// The whole sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The sandbox folder (absolute).
    pub dir: PathBuf,
    pub kafka: ComponentStatus,
    pub registry: ComponentStatus,
    /// `--command-config` file for Kafka's tools, logged in as `admin`.
    pub admin_client_properties: PathBuf,
}

impl Status {
    /// Both servers run and answer.
    pub fn is_up(&self) -> bool {
        [&self.kafka, &self.registry]
            .iter()
            .all(|c| matches!(c.state, State::Running { ready: true, .. }))
    }

    /// Neither server runs.
    pub fn is_down(&self) -> bool {
        [&self.kafka, &self.registry]
            .iter()
            .all(|c| !matches!(c.state, State::Running { .. }))
    }

    /// `bootstrap.servers` for clients.
    pub fn bootstrap_servers(&self) -> &str {
        &self.kafka.endpoint
    }

    /// The Confluent-compatible base URL.
    pub fn registry_url(&self) -> &str {
        &self.registry.endpoint
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "sandbox {}", self.dir.display())?;
        for c in [&self.kafka, &self.registry] {
            let state = match &c.state {
                State::Running { pid, ready: true } => format!("running (pid {pid})"),
                State::Running { pid, ready: false } => {
                    format!("running (pid {pid}), not answering yet")
                }
                State::Stopped => "stopped".to_owned(),
                State::StalePidFile { pid } => format!("stopped (stale pid file for pid {pid})"),
            };
            writeln!(f, "  {:<16} {state}", c.component.to_string())?;
            writeln!(f, "  {:<16} {}", "", c.endpoint)?;
            writeln!(f, "  {:<16} log: {}", "", c.log.display())?;
        }
        write!(
            f,
            "  Kafka login: SASL_PLAINTEXT, PLAIN, {} / {} (client config: {})",
            crate::ADMIN_USER,
            crate::ADMIN_PASSWORD,
            self.admin_client_properties.display()
        )
    }
}

/// What runs where, without changing anything.
pub fn status(cfg: &SandboxConfig) -> Status {
    let dir = absolute(&cfg.dir);
    let layout = Layout::new(&dir, &cfg.cache_dir, cfg.registry);
    Status {
        kafka: component_status(cfg, &layout, Component::Kafka),
        registry: component_status(cfg, &layout, Component::Registry),
        admin_client_properties: layout.admin_properties.clone(),
        dir,
    }
}

fn component_status(cfg: &SandboxConfig, layout: &Layout, component: Component) -> ComponentStatus {
    let (endpoint, log, pid_file) = match component {
        Component::Kafka => (
            cfg.bootstrap_servers(),
            layout.kafka_log.clone(),
            layout.kafka_pid.clone(),
        ),
        Component::Registry => (
            cfg.registry_url(),
            layout.registry_log.clone(),
            layout.registry_pid.clone(),
        ),
    };
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
        log,
        pid_file,
    }
}

/// The pid of our running `component`: from its pid file, or (if the file was lost) from a
/// `/proc` scan for a JVM marked with this sandbox folder.
pub(crate) fn running_pid(layout: &Layout, component: Component) -> Option<u32> {
    let pid_file = pid_file(layout, component);
    if let Some(pid) = read_pid(pid_file) {
        if is_ours(pid, &layout.dir, component) {
            return Some(pid);
        }
    }
    marked_processes()
        .into_iter()
        .find(|m| m.dir == layout.dir && m.component == component.key())
        .map(|m| m.pid)
        .filter(|pid| is_ours(*pid, &layout.dir, component))
}

pub(crate) fn pid_file(layout: &Layout, component: Component) -> &Path {
    match component {
        Component::Kafka => &layout.kafka_pid,
        Component::Registry => &layout.registry_pid,
    }
}

/// Whether `component` answers. For Kafka just started, also wait for its "started" log line:
/// the port opens before the broker is unfenced and can serve metadata.
pub(crate) fn is_ready(
    cfg: &SandboxConfig,
    layout: &Layout,
    component: Component,
    just_started: bool,
) -> bool {
    match component {
        Component::Kafka => {
            let logged = !just_started
                || std::fs::read_to_string(&layout.kafka_log)
                    .is_ok_and(|log| log.contains(kafka::STARTED_LINE));
            logged && net::answers(cfg.kafka_port)
        }
        Component::Registry => registry::answers(cfg),
    }
}
