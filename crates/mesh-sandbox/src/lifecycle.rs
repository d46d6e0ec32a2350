//! Starting and stopping the sandbox: `up` (idempotent: fetch what is missing, start what is not
//! running, wait until both answer) and `down` (stop only the processes this sandbox started).

use std::fs;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use crate::config::{Layout, MAX_BROKERS, RegistryDist, SandboxConfig, absolute};
use crate::java::check_java;
use crate::kafka::{self, render_server_log4j, render_server_properties};
use crate::process::{
    FileLock, marked_processes, read_pid, remove_pid, spawn_detached, terminate, write_pid,
};
use crate::shape::{self, Shape};
use crate::status::{is_ready, pid_file, running_pid};
use crate::tools::KafkaTool;
use crate::{Component, SandboxError, Status, connect, fetch, log_tail, registry, tls};

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
    let layout = cfg.layout();
    fetch::is_cached(&layout) && (!cfg.connect || layout.connect_home.join(".complete").is_file())
}

/// Fetches everything `up` needs into the cache without starting anything (e.g. to warm a CI
/// cache). Needs Java only to the extent `mvn` does.
pub fn prefetch(cfg: &SandboxConfig, progress: &mut dyn FnMut(&str)) -> Result<(), SandboxError> {
    let layout = cfg.layout();
    fetch::ensure_kafka(cfg, &layout, progress)?;
    fetch::ensure_registry(cfg, &layout, progress)?;
    if cfg.connect {
        connect::ensure_jars(cfg, &layout, progress)?;
    }
    Ok(())
}

/// Brings the sandbox up and returns what runs where. Idempotent: reuses cached downloads and
/// the folder's certificate authority, starts only the servers that are not already running,
/// formats Kafka's storage only in a new folder, and waits (up to `cfg.ready_timeout`) until
/// every node and the registry answer. Servers it starts keep running after this process exits.
/// If a server it started fails to come up, that server is stopped again and the error shows
/// the end of its log.
///
/// A folder that has data keeps its Kafka release and node count: asking for others is an
/// error naming both ([`SandboxError::ShapeMismatch`]). A running sandbox keeps its ports; `up`
/// says so when other ones were asked for.
///
/// With `cfg.connect` (or once the folder has had one) a Kafka Connect worker runs too, started
/// after Kafka is ready and the ACLs of its principal `connect` exist; a folder keeps its worker
/// on later `up`s.
pub fn up(cfg: &SandboxConfig, progress: &mut dyn FnMut(&str)) -> Result<Status, SandboxError> {
    up_inner(cfg, None, progress)
}

/// Starts one Kafka node of a sandbox that has been up before (e.g. after [`stop_node`]) and
/// waits until it serves; the other servers are left as they are.
pub fn start_node(
    cfg: &SandboxConfig,
    node: u8,
    progress: &mut dyn FnMut(&str),
) -> Result<Status, SandboxError> {
    if node == 0 || node > cfg.brokers {
        return Err(SandboxError::UnknownNode {
            node,
            brokers: cfg.brokers,
        });
    }
    up_inner(cfg, Some(Component::Kafka(node)), progress)
}

/// Stops one Kafka node (SIGTERM, SIGKILL after 30 s) and returns what was stopped (`None` if
/// it was not running). The others keep serving: with three nodes, topics with replication
/// factor 3 and `min.insync.replicas=2` stay readable and writable.
pub fn stop_node(cfg: &SandboxConfig, node: u8) -> Result<Option<Stopped>, SandboxError> {
    let mut cfg = cfg.clone();
    cfg.dir = absolute(&cfg.dir);
    if !cfg.dir.is_dir() {
        return Ok(None);
    }
    let _ = cfg.adopt_saved_shape();
    if node == 0 || node > cfg.brokers {
        return Err(SandboxError::UnknownNode {
            node,
            brokers: cfg.brokers,
        });
    }
    let layout = cfg.layout();
    let _lock = FileLock::acquire(&layout.lock)?;
    let component = Component::Kafka(node);
    let stopped = match running_pid(&layout, component) {
        Some(pid) => {
            terminate(pid, &layout.dir, component, STOP_GRACE)?;
            Some(Stopped { component, pid })
        }
        None => None,
    };
    remove_pid(&pid_file(&layout, component))?;
    Ok(stopped)
}

fn up_inner(
    cfg: &SandboxConfig,
    only: Option<Component>,
    progress: &mut dyn FnMut(&str),
) -> Result<Status, SandboxError> {
    kafka::validate_users(&cfg.users)?;
    cfg.validate()?;
    fs::create_dir_all(&cfg.dir).map_err(|e| SandboxError::io("create", &cfg.dir, e))?;
    // From here on the folder exists, so this is its canonical path: the one in the markers.
    let mut cfg = cfg.clone();
    cfg.dir = absolute(&cfg.dir);
    let layout = cfg.layout();
    for dir in [
        &layout.config_dir,
        &layout.logs_dir,
        &layout.registry_data,
        &layout.registry_work,
        &layout.tls_dir,
    ] {
        fs::create_dir_all(dir).map_err(|e| SandboxError::io("create", dir, e))?;
    }
    // Serialise `up`/`down` on one folder; the second caller then finds the servers running.
    let _lock = FileLock::acquire(&layout.lock)?;

    // Java first: cheap, and the likeliest thing to be missing.
    let (required, why) = match cfg.registry {
        RegistryDist::Apicurio2 => (17, format!("Kafka {}", cfg.kafka_version)),
        dist => (
            dist.min_java().max(17),
            format!("Apicurio Registry {}", dist.version()),
        ),
    };
    check_java(&cfg.java, required, &why)?;

    // The folder's data belongs to one Kafka release and one quorum.
    let saved = shape::load(&layout, &cfg)?;
    // A folder that has a Connect worker keeps it, whatever this `up` asked for.
    if saved.as_ref().is_some_and(|s| s.connect) {
        cfg.connect = true;
    }
    if cfg.connect {
        connect::add_user(&mut cfg);
    }
    let mut wanted = Shape::of(&cfg);
    // (Only once there is data: a folder whose first `up` failed early may still change.)
    if let Some(saved) = saved.as_ref().filter(|_| kafka::is_formatted(&layout, 1)) {
        let fatal = saved.fatal_differences(&wanted);
        if !fatal.is_empty() {
            return Err(SandboxError::ShapeMismatch {
                dir: layout.dir.clone(),
                existing: saved.describe(),
                wanted: wanted.describe(),
                differences: fatal.join("; "),
            });
        }
    }
    fetch::ensure_kafka(&cfg, &layout, progress)?;
    fetch::ensure_registry(&cfg, &layout, progress)?;
    if cfg.connect {
        connect::ensure_jars(&cfg, &layout, progress)?;
    }

    // A running sandbox keeps its ports: say what was asked for in vain, and start any missing
    // server on the ports the others use.
    let components: Vec<Component> = cfg
        .node_ids()
        .map(Component::Kafka)
        .chain([Component::Registry])
        .collect();
    let anything_running = components
        .iter()
        .chain([&Component::Connect])
        .any(|c| running_pid(&layout, *c).is_some());
    if let (Some(saved), true) = (&saved, anything_running) {
        let soft = saved.soft_differences(&wanted);
        if !soft.is_empty() {
            progress(&format!(
                "note: the running sandbox keeps {}; run `mesh dev down` and `mesh dev up` to apply the new ones",
                soft.join("; ")
            ));
        }
        saved.apply_to(&mut cfg);
        wanted = Shape::of(&cfg);
    }
    wanted.scram = saved.map(|s| s.scram).unwrap_or_default();
    shape::save(&layout.shape, &wanted)?;

    tls::ensure_pki(&layout, &cfg.users)?;
    crate::tools::write_admin_properties(&cfg, &layout)?;

    let mut starting: Vec<Starting> = Vec::new();
    let result = start_missing(
        &cfg,
        &layout,
        &components,
        only,
        &mut starting,
        &mut wanted,
        progress,
    )
    .and_then(|()| wait_ready(&cfg, &layout, &components, &mut starting, progress))
    // Before anything else is changed: a worker asked for on running brokers that cannot know
    // its user fails at once.
    .and_then(|()| {
        if cfg.connect && only.is_none() {
            check_brokers_know_connect(&cfg, &layout)
        } else {
            Ok(())
        }
    })
    .and_then(|()| ensure_scram(&cfg, &layout, &mut wanted, progress))
    .and_then(|()| {
        if cfg.connect && only.is_none() {
            start_connect(&cfg, &layout, &mut starting, progress)
        } else {
            Ok(())
        }
    });
    if let Err(e) = result {
        // Leave nothing half-started behind: the next `up` starts clean.
        for s in &starting {
            let _ = terminate(s.pid, &layout.dir, s.component, STOP_GRACE);
            let _ = remove_pid(&pid_file(&layout, s.component));
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
    components: &[Component],
    only: Option<Component>,
    starting: &mut Vec<Starting>,
    shape: &mut Shape,
    progress: &mut dyn FnMut(&str),
) -> Result<(), SandboxError> {
    let mut missing = Vec::new();
    for &component in components {
        if let Some(pid) = adopt_running(layout, component)? {
            if only.is_none_or(|c| c == component) {
                progress(&format!("{component} is already running (pid {pid})"));
            }
            if let Component::Kafka(node) = component {
                warn_if_config_changed(cfg, layout, node, progress);
            }
            continue;
        }
        if only.is_some_and(|c| c != component) {
            continue;
        }
        check_ports_free(cfg, layout, component)?;
        missing.push(component);
    }

    // Configs first, then every unformatted node's storage at once (each format is a JVM).
    let nodes: Vec<u8> = missing
        .iter()
        .filter_map(|c| match c {
            Component::Kafka(n) => Some(*n),
            Component::Registry | Component::Connect => None,
        })
        .collect();
    for &node in &nodes {
        write_kafka_config(cfg, layout, node)?;
    }
    let unformatted: Vec<u8> = nodes
        .iter()
        .copied()
        .filter(|n| !kafka::is_formatted(layout, *n))
        .collect();
    if !unformatted.is_empty() {
        let cluster_id = match cfg
            .node_ids()
            .find_map(|n| kafka::formatted_cluster_id(layout, n))
        {
            Some(id) => id,
            None => kafka::new_cluster_id()?,
        };
        progress(&format!(
            "formatting Kafka storage of node(s) {} in {}",
            unformatted
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            layout.dir.join("data").display()
        ));
        let children = unformatted
            .iter()
            .map(|&n| kafka::start_format(cfg, layout, n, &cluster_id).map(|c| (n, c)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut first_error = None;
        for (node, child) in children {
            if let Err(e) = kafka::finish_format(child, layout, node) {
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        // The bootstrap metadata now holds SCRAM credentials for everyone asked for.
        shape.scram = Shape::wanted_scram(cfg);
        shape::save(&layout.shape, shape)?;
    }

    for component in missing {
        let (cmd, log) = match component {
            Component::Kafka(node) => (
                kafka::server_command(cfg, layout, node),
                layout.node(node).log,
            ),
            Component::Registry => (
                registry::server_command(cfg, layout),
                layout.registry_log.clone(),
            ),
            Component::Connect => (
                connect::server_command(cfg, layout),
                layout.connect_log.clone(),
            ),
        };
        progress(&format!("starting {component} (log: {})", log.display()));
        let child = spawn_detached(cmd, &log)?;
        let pid = child.id();
        write_pid(&pid_file(layout, component), pid)?;
        starting.push(Starting {
            component,
            pid,
            child,
            ready: false,
        });
    }
    Ok(())
}

/// Starts the Connect worker unless it runs (after Kafka is ready: it creates its internal
/// topics at startup) and waits until it answers. Its principal must be known to the running
/// brokers (a PLAIN user is fixed when a broker starts: checked before) and have its ACLs first.
fn start_connect(
    cfg: &SandboxConfig,
    layout: &Layout,
    starting: &mut Vec<Starting>,
    progress: &mut dyn FnMut(&str),
) -> Result<(), SandboxError> {
    let component = Component::Connect;
    if let Some(pid) = adopt_running(layout, component)? {
        progress(&format!("{component} is already running (pid {pid})"));
        return wait_ready(cfg, layout, &[component], starting, progress);
    }
    check_ports_free(cfg, layout, component)?;
    fs::write(
        &layout.connect_properties,
        connect::render_worker_properties(cfg),
    )
    .map_err(|e| SandboxError::io("write", &layout.connect_properties, e))?;
    fs::write(&layout.kafka_log4j, render_server_log4j(layout.series()))
        .map_err(|e| SandboxError::io("write", &layout.kafka_log4j, e))?;
    progress(&format!(
        "granting {} ALL on topics prefixed {} and READ on group {}",
        crate::CONNECT_USER,
        connect::TOPIC_PREFIX,
        crate::CONNECT_GROUP
    ));
    connect::ensure_acls(cfg, layout)?;
    progress(&format!(
        "starting {component} (log: {})",
        layout.connect_log.display()
    ));
    let child = spawn_detached(connect::server_command(cfg, layout), &layout.connect_log)?;
    let pid = child.id();
    write_pid(&pid_file(layout, component), pid)?;
    starting.push(Starting {
        component,
        pid,
        child,
        ready: false,
    });
    wait_ready(cfg, layout, &[component], starting, progress)
}

/// The running nodes were started with the PLAIN user `connect` (their server.properties, written
/// at each start, say so); a node started before `--connect` was asked for was not.
fn check_brokers_know_connect(cfg: &SandboxConfig, layout: &Layout) -> Result<(), SandboxError> {
    let login = format!("user_{}=", crate::CONNECT_USER);
    for node in cfg.node_ids() {
        let path = layout.node(node).server_properties;
        let text = fs::read_to_string(&path).map_err(|e| SandboxError::io("read", &path, e))?;
        if !text.contains(&login) {
            return Err(SandboxError::ConnectUserMissing {
                node,
                dir: layout.dir.clone(),
            });
        }
    }
    Ok(())
}

/// Gives every user asked for (admin included) SCRAM credentials, unless the cluster already
/// has them with that password: a folder formatted before users were added, or before the
/// sandbox had SCRAM at all. Runs Kafka's ConfigCommand as admin (one JVM per user).
fn ensure_scram(
    cfg: &SandboxConfig,
    layout: &Layout,
    shape: &mut Shape,
    progress: &mut dyn FnMut(&str),
) -> Result<(), SandboxError> {
    let missing: Vec<(String, String)> = Shape::wanted_scram(cfg)
        .into_iter()
        .filter(|(user, password)| shape.scram.get(user) != Some(password))
        .collect();
    for (user, password) in missing {
        progress(&format!("adding SCRAM credentials for {user}"));
        // One mechanism per request: Kafka refuses to alter one user's credentials twice in a
        // request ("A user credential cannot be altered twice in the same request").
        for mechanism in ["SCRAM-SHA-512", "SCRAM-SHA-256"] {
            let output = crate::tools::kafka_tool(cfg, KafkaTool::Configs)
                .args([
                    "--bootstrap-server",
                    &cfg.bootstrap_servers(),
                    "--command-config",
                ])
                .arg(&layout.admin_properties)
                .args(["--alter", "--add-config"])
                .arg(format!("{mechanism}=[password={password}]"))
                .args(["--entity-type", "users", "--entity-name", &user])
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|source| SandboxError::Spawn {
                    command: format!("{} ConfigCommand", cfg.java.display()),
                    source,
                })?;
            if !output.status.success() {
                let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&output.stderr));
                return Err(SandboxError::CommandFailed {
                    what: format!("adding {mechanism} credentials for {user}"),
                    status: output.status.to_string(),
                    output: text.replace(&password, "[redacted]").trim().to_owned(),
                });
            }
        }
        shape.scram.insert(user, password);
        shape::save(&layout.shape, shape)?;
    }
    Ok(())
}

/// The pid of our already-running `component`, rewriting its pid file if it was lost; a stale
/// pid file (process gone or not ours) is removed.
fn adopt_running(layout: &Layout, component: Component) -> Result<Option<u32>, SandboxError> {
    let path = pid_file(layout, component);
    match running_pid(layout, component) {
        Some(pid) => {
            if read_pid(&path) != Some(pid) {
                write_pid(&path, pid)?;
            }
            Ok(Some(pid))
        }
        None => {
            remove_pid(&path)?;
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
        Component::Kafka(node) => cfg
            .node(node)
            .all()
            .into_iter()
            .map(|(port, what)| {
                let purpose = match what {
                    "SASL_PLAINTEXT" => "Kafka SASL_PLAINTEXT listener",
                    "SASL_SSL" => "Kafka SASL_SSL listener",
                    "SSL" => "Kafka SSL listener",
                    "controller" => "Kafka controller listener",
                    _ => "Kafka inter-broker listener",
                };
                (port, purpose)
            })
            .collect(),
        Component::Registry => {
            let mut ports = vec![
                (cfg.registry_port, "Schema Registry"),
                (cfg.registry_https_port, "Schema Registry HTTPS"),
            ];
            if cfg.registry == RegistryDist::Apicurio3 {
                ports.push((cfg.registry_management_port, "Schema Registry management"));
            }
            ports
        }
        Component::Connect => vec![(cfg.connect_port, "Kafka Connect REST")],
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

fn write_kafka_config(cfg: &SandboxConfig, layout: &Layout, node: u8) -> Result<(), SandboxError> {
    let path = layout.node(node).server_properties;
    fs::write(&path, render_server_properties(cfg, node, layout))
        .map_err(|e| SandboxError::io("write", &path, e))?;
    fs::write(&layout.kafka_log4j, render_server_log4j(layout.series()))
        .map_err(|e| SandboxError::io("write", &layout.kafka_log4j, e))
}

/// A running node keeps the users and ports it started with; say so when they differ from
/// what was asked for now, rather than silently ignoring the request.
fn warn_if_config_changed(
    cfg: &SandboxConfig,
    layout: &Layout,
    node: u8,
    progress: &mut dyn FnMut(&str),
) {
    let wanted = render_server_properties(cfg, node, layout);
    match fs::read_to_string(layout.node(node).server_properties) {
        Ok(current) if current == wanted => {}
        _ => progress(&format!(
            "note: the running Kafka node {node} was started with other settings (users or ports); \
             run `mesh dev down` and `mesh dev up` to apply the new ones"
        )),
    }
}

fn wait_ready(
    cfg: &SandboxConfig,
    layout: &Layout,
    components: &[Component],
    starting: &mut [Starting],
    progress: &mut dyn FnMut(&str),
) -> Result<(), SandboxError> {
    let began = Instant::now();
    let deadline = began + cfg.ready_timeout;
    // Servers found running are checked too: one may still be starting from an earlier `up`.
    let mut reused: Vec<Component> = components
        .iter()
        .copied()
        .filter(|c| !starting.iter().any(|s| s.component == *c))
        .filter(|c| running_pid(layout, *c).is_some())
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

pub(crate) fn log_path(layout: &Layout, component: Component) -> std::path::PathBuf {
    match component {
        Component::Kafka(node) => layout.node(node).log,
        Component::Registry => layout.registry_log.clone(),
        Component::Connect => layout.connect_log.clone(),
    }
}

/// Stops this sandbox's servers (only JVMs whose command line carries this folder's marker:
/// the ones `up` started, every node of a multi-node sandbox), waits until they have exited,
/// and removes their pid files. Stopping a sandbox that is not running is not an error. Data
/// stays, so the next `up` in the same folder brings the same topics, ACLs and subjects back.
pub fn down(cfg: &SandboxConfig) -> Result<Vec<Stopped>, SandboxError> {
    let dir = absolute(&cfg.dir);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut cfg = cfg.clone();
    cfg.dir = dir;
    // The recorded shape only decides which pid files to look at; the markers decide the rest.
    let _ = cfg.adopt_saved_shape();
    let layout = cfg.layout();
    let _lock = FileLock::acquire(&layout.lock)?;
    let mut stopped = Vec::new();
    // The Connect worker needs Kafka to shut down cleanly (it leaves its group, flushes its
    // offsets), and the registry does not depend on Kafka: stop both first.
    for component in [Component::Connect, Component::Registry] {
        if let Some(pid) = running_pid(&layout, component) {
            terminate(pid, &layout.dir, component, STOP_GRACE)?;
            stopped.push(Stopped { component, pid });
        }
        remove_pid(&pid_file(&layout, component))?;
    }
    // Every node at once: a node stopping alone waits for the quorum the others form, and
    // stopping them one after another would make the last ones wait for a quorum that is gone.
    let nodes: Vec<(Component, u32)> = (1..=MAX_BROKERS)
        .map(Component::Kafka)
        .filter_map(|c| running_pid(&layout, c).map(|pid| (c, pid)))
        .collect();
    let results: Vec<Result<(), SandboxError>> = thread::scope(|scope| {
        let handles: Vec<_> = nodes
            .iter()
            .map(|&(component, pid)| {
                let dir = &layout.dir;
                scope.spawn(move || terminate(pid, dir, component, STOP_GRACE))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for ((component, pid), result) in nodes.into_iter().zip(results) {
        result?;
        stopped.push(Stopped { component, pid });
    }
    for node in 1..=MAX_BROKERS {
        remove_pid(&pid_file(&layout, Component::Kafka(node)))?;
    }
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_started_without_the_connect_user_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = SandboxConfig::new(tmp.path(), "/c");
        let layout = cfg.layout();
        fs::create_dir_all(&layout.config_dir).unwrap();
        fs::write(
            layout.node(1).server_properties,
            render_server_properties(&cfg, 1, &layout),
        )
        .unwrap();
        let err = check_brokers_know_connect(&cfg, &layout).unwrap_err();
        assert!(matches!(
            err,
            SandboxError::ConnectUserMissing { node: 1, .. }
        ));
        assert!(err.to_string().contains("mesh dev up --connect"), "{err}");
        connect::add_user(&mut cfg);
        fs::write(
            layout.node(1).server_properties,
            render_server_properties(&cfg, 1, &layout),
        )
        .unwrap();
        check_brokers_know_connect(&cfg, &layout).unwrap();
    }
}
