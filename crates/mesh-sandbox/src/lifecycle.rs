//! Starting and stopping the sandbox: `up` (idempotent: fetch what is missing, start what is not
//! running, wait until both answer) and `down` (stop only the processes this sandbox started).

use std::fs;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use crate::config::{Layout, RegistryDist, SandboxConfig, absolute};
use crate::java::check_java;
use crate::kafka::{self, render_client_properties, render_server_log4j, render_server_properties};
use crate::process::{
    FileLock, marked_processes, read_pid, remove_pid, spawn_detached, terminate, write_pid,
};
use crate::status::{is_ready, pid_file, running_pid};
use crate::{
    ADMIN_PASSWORD, ADMIN_USER, Component, SandboxError, Status, fetch, log_tail, registry,
};

/// How long a server gets to shut down cleanly before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(30);
const LOG_TAIL_LINES: usize = 20;

/// A server `down` stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    pub component: Component,
    pub pid: u32,
}

/// Whether everything `up` needs is already in the cache (if not, the first `up` downloads
/// about 200 MB through Maven).
pub fn is_fetched(cfg: &SandboxConfig) -> bool {
    fetch::is_cached(&cfg.layout())
}

/// Fetches everything `up` needs into the cache without starting anything (e.g. to warm a CI
/// cache). Needs Java only to the extent `mvn` does.
pub fn prefetch(cfg: &SandboxConfig, progress: &mut dyn FnMut(&str)) -> Result<(), SandboxError> {
    let layout = cfg.layout();
    fetch::ensure_kafka(cfg, &layout, progress)?;
    fetch::ensure_registry(cfg, &layout, progress)
}

/// Brings the sandbox up and returns what runs where. Idempotent: reuses cached downloads,
/// starts only the servers that are not already running, formats Kafka's storage only in a new
/// folder, and waits (up to `cfg.ready_timeout`) until both answer. Servers it starts keep
/// running after this process exits. If a server it started fails to come up, that server is
/// stopped again and the error shows the end of its log.
pub fn up(cfg: &SandboxConfig, progress: &mut dyn FnMut(&str)) -> Result<Status, SandboxError> {
    kafka::validate_users(&cfg.users)?;
    fs::create_dir_all(&cfg.dir).map_err(|e| SandboxError::io("create", &cfg.dir, e))?;
    // From here on the folder exists, so this is its canonical path: the one in the markers.
    let mut cfg = cfg.clone();
    cfg.dir = absolute(&cfg.dir);
    let layout = cfg.layout();
    for dir in [
        &layout.config_dir,
        &layout.logs_dir,
        &layout.kafka_data,
        &layout.registry_data,
        &layout.registry_work,
    ] {
        fs::create_dir_all(dir).map_err(|e| SandboxError::io("create", dir, e))?;
    }
    // Serialise `up`/`down` on one folder; the second caller then finds the servers running.
    let _lock = FileLock::acquire(&layout.lock)?;

    // Java first: cheap, and the likeliest thing to be missing.
    let (required, why) = match cfg.registry {
        RegistryDist::Apicurio2 => (17, format!("Kafka {}", crate::KAFKA_VERSION)),
        dist => (
            dist.min_java().max(17),
            format!("Apicurio Registry {}", dist.version()),
        ),
    };
    check_java(&cfg.java, required, &why)?;
    fetch::ensure_kafka(&cfg, &layout, progress)?;
    fetch::ensure_registry(&cfg, &layout, progress)?;

    let admin = &layout.admin_properties;
    fs::write(admin, render_client_properties(ADMIN_USER, ADMIN_PASSWORD))
        .map_err(|e| SandboxError::io("write", admin, e))?;

    let mut starting: Vec<Starting> = Vec::new();
    let result = start_missing(&cfg, &layout, &mut starting, progress)
        .and_then(|()| wait_ready(&cfg, &layout, &mut starting, progress));
    if let Err(e) = result {
        // Leave nothing half-started behind: the next `up` starts clean.
        for s in &starting {
            let _ = terminate(s.pid, &layout.dir, s.component, STOP_GRACE);
            let _ = remove_pid(pid_file(&layout, s.component));
        }
        return Err(e);
    }
    Ok(crate::status(&cfg))
}

/// A server this `up` started and is waiting for.
struct Starting {
    component: Component,
    pid: u32,
    child: Child,
    ready: bool,
}

fn start_missing(
    cfg: &SandboxConfig,
    layout: &Layout,
    starting: &mut Vec<Starting>,
    progress: &mut dyn FnMut(&str),
) -> Result<(), SandboxError> {
    for component in [Component::Kafka, Component::Registry] {
        if let Some(pid) = adopt_running(layout, component)? {
            progress(&format!("{component} is already running (pid {pid})"));
            if component == Component::Kafka {
                warn_if_config_changed(cfg, layout, progress);
            }
            continue;
        }
        check_ports_free(cfg, layout, component)?;
        let (cmd, log) = match component {
            Component::Kafka => {
                write_kafka_config(cfg, layout)?;
                if !kafka::is_formatted(layout) {
                    progress(&format!(
                        "formatting Kafka storage in {}",
                        layout.kafka_data.display()
                    ));
                    kafka::format_storage(cfg, layout)?;
                }
                (kafka::server_command(cfg, layout), &layout.kafka_log)
            }
            Component::Registry => (registry::server_command(cfg, layout), &layout.registry_log),
        };
        progress(&format!("starting {component} (log: {})", log.display()));
        let child = spawn_detached(cmd, log)?;
        let pid = child.id();
        write_pid(pid_file(layout, component), pid)?;
        starting.push(Starting {
            component,
            pid,
            child,
            ready: false,
        });
    }
    Ok(())
}

/// The pid of our already-running `component`, rewriting its pid file if it was lost; a stale
/// pid file (process gone or not ours) is removed.
fn adopt_running(layout: &Layout, component: Component) -> Result<Option<u32>, SandboxError> {
    let path = pid_file(layout, component);
    match running_pid(layout, component) {
        Some(pid) => {
            if read_pid(path) != Some(pid) {
                write_pid(path, pid)?;
            }
            Ok(Some(pid))
        }
        None => {
            remove_pid(path)?;
            Ok(None)
        }
    }
}

fn check_ports_free(
    cfg: &SandboxConfig,
    layout: &Layout,
    component: Component,
) -> Result<(), SandboxError> {
    let ports: Vec<(u16, &'static str)> = match component {
        Component::Kafka => vec![
            (cfg.kafka_port, "Kafka client listener"),
            (cfg.controller_port, "Kafka controller listener"),
            (cfg.internal_port, "Kafka inter-broker listener"),
        ],
        Component::Registry => {
            let mut ports = vec![(cfg.registry_port, "Schema Registry")];
            if cfg.registry == RegistryDist::Apicurio3 {
                ports.push((cfg.registry_management_port, "Schema Registry management"));
            }
            ports
        }
    };
    for (port, purpose) in ports {
        if crate::net::port_taken(port) {
            return Err(SandboxError::PortInUse {
                port,
                purpose,
                hint: busy_port_hint(layout),
            });
        }
    }
    Ok(())
}

/// Names other sandboxes' servers, the usual culprit for a busy port.
fn busy_port_hint(layout: &Layout) -> String {
    let others: Vec<String> = marked_processes()
        .into_iter()
        .filter(|m| m.dir != layout.dir)
        .map(|m| {
            format!(
                "{} of the sandbox in {} (pid {})",
                m.component,
                m.dir.display(),
                m.pid
            )
        })
        .collect();
    if others.is_empty() {
        " (another Kafka or registry? stop it, or choose other ports)".to_owned()
    } else {
        format!(
            "; other sandboxes are running: {}. Stop them with `mesh dev down --dir DIR`, or choose other ports",
            others.join(", ")
        )
    }
}

fn write_kafka_config(cfg: &SandboxConfig, layout: &Layout) -> Result<(), SandboxError> {
    let props = render_server_properties(cfg, &layout.kafka_data);
    fs::write(&layout.server_properties, props)
        .map_err(|e| SandboxError::io("write", &layout.server_properties, e))?;
    fs::write(&layout.kafka_log4j, render_server_log4j())
        .map_err(|e| SandboxError::io("write", &layout.kafka_log4j, e))
}

/// A running broker keeps the users and ports it started with; say so when they differ from
/// what was asked for now, rather than silently ignoring the request.
fn warn_if_config_changed(cfg: &SandboxConfig, layout: &Layout, progress: &mut dyn FnMut(&str)) {
    let wanted = render_server_properties(cfg, &layout.kafka_data);
    match fs::read_to_string(&layout.server_properties) {
        Ok(current) if current == wanted => {}
        _ => progress(
            "note: the running Kafka was started with other settings (users or ports); \
             run `mesh dev down` and `mesh dev up` to apply the new ones",
        ),
    }
}

fn wait_ready(
    cfg: &SandboxConfig,
    layout: &Layout,
    starting: &mut [Starting],
    progress: &mut dyn FnMut(&str),
) -> Result<(), SandboxError> {
    let began = Instant::now();
    let deadline = began + cfg.ready_timeout;
    // Servers found running are checked too: one may still be starting from an earlier `up`.
    let mut reused: Vec<Component> = [Component::Kafka, Component::Registry]
        .into_iter()
        .filter(|c| !starting.iter().any(|s| s.component == *c))
        .collect();
    loop {
        for s in starting.iter_mut().filter(|s| !s.ready) {
            if let Ok(Some(exit)) = s.child.try_wait() {
                let log = log_path(layout, s.component);
                return Err(SandboxError::ExitedEarly {
                    component: s.component,
                    status: exit.to_string(),
                    tail: log_tail(&log, LOG_TAIL_LINES),
                    log,
                });
            }
            if is_ready(cfg, layout, s.component, true) {
                s.ready = true;
                progress(&format!(
                    "{} is ready after {:.1} s",
                    s.component,
                    began.elapsed().as_secs_f64()
                ));
            }
        }
        reused.retain(|c| !is_ready(cfg, layout, *c, false));
        let pending = starting
            .iter()
            .filter(|s| !s.ready)
            .map(|s| s.component)
            .chain(reused.iter().copied())
            .next();
        let Some(component) = pending else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            let log = log_path(layout, component);
            return Err(SandboxError::NotReady {
                component,
                secs: cfg.ready_timeout.as_secs(),
                tail: log_tail(&log, LOG_TAIL_LINES),
                log,
            });
        }
        thread::sleep(Duration::from_millis(250));
    }
}

fn log_path(layout: &Layout, component: Component) -> std::path::PathBuf {
    match component {
        Component::Kafka => layout.kafka_log.clone(),
        Component::Registry => layout.registry_log.clone(),
    }
}

/// Stops this sandbox's servers (only JVMs whose command line carries this folder's marker:
/// the ones `up` started), waits until they have exited, and removes their pid files. Stopping
/// a sandbox that is not running is not an error. Data stays, so the next `up` in the same
/// folder brings the same topics, ACLs and subjects back.
pub fn down(cfg: &SandboxConfig) -> Result<Vec<Stopped>, SandboxError> {
    let dir = absolute(&cfg.dir);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let layout = Layout::new(&dir, &cfg.cache_dir, cfg.registry);
    let _lock = FileLock::acquire(&layout.lock)?;
    let mut stopped = Vec::new();
    // The registry does not depend on Kafka; stop it first so Kafka's shutdown is not slowed.
    for component in [Component::Registry, Component::Kafka] {
        if let Some(pid) = running_pid(&layout, component) {
            terminate(pid, &layout.dir, component, STOP_GRACE)?;
            stopped.push(Stopped { component, pid });
        }
        remove_pid(pid_file(&layout, component))?;
    }
    Ok(stopped)
}
