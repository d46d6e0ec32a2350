//! The live half of `plan` and `apply`: the environment's client settings (with `${VAR}`
//! expansion from the process environment), connecting and the apply lock; the workflow between
//! reading and applying is `mesh_workflow`'s, driven here with the real adapters, with its notes
//! printed on stderr.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mesh_connect::ConnectClient;
use mesh_kafka::KafkaCluster;
use mesh_model::secrets::{Unset, expand};
use mesh_plan::apply::Target;
use mesh_plan::connect::{ConnectReader, ConnectWriter};
use mesh_plan::registry::{RegistryReader, RegistryWriter};
use mesh_plan::{LiveState, Plan, ReadRequest, apply::ApplyReport};
use mesh_registry::{Auth, RegistryClient};
use mesh_workflow::{
    FirstRead, Note, Pause, Retried, Retry, RetryPolicy, Retrying, RetryingWriter, WorkflowError,
};

/// How long connecting and each admin request may take before `mesh` gives up.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How long apply waits for its ACL changes to become visible.
const ACL_SETTLE: Duration = Duration::from_secs(10);

/// The most one run waits between retries in all (see [`retry`]), however many requests fail.
pub const RETRY_BUDGET: Duration = Duration::from_secs(30);

/// How long connecting to the Schema Registry and each of its requests may take:
/// `MESH_REGISTRY_TIMEOUT_SECONDS` (a whole number above 0), else [`TIMEOUT`].
pub fn registry_timeout() -> Duration {
    static CHOSEN: OnceLock<Duration> = OnceLock::new();
    *CHOSEN.get_or_init(|| timeout_from_env("MESH_REGISTRY_TIMEOUT_SECONDS"))
}

/// How long connecting to Kafka and each of its requests may take:
/// `MESH_KAFKA_TIMEOUT_SECONDS` (a whole number above 0), else [`TIMEOUT`].
pub fn kafka_timeout() -> Duration {
    static CHOSEN: OnceLock<Duration> = OnceLock::new();
    *CHOSEN.get_or_init(|| timeout_from_env("MESH_KAFKA_TIMEOUT_SECONDS"))
}

/// `var` as a whole number of seconds above 0; [`TIMEOUT`] when unset, and when set to anything
/// else (with a warning naming the variable, once per run).
fn timeout_from_env(var: &str) -> Duration {
    let Ok(value) = std::env::var(var) else {
        return TIMEOUT;
    };
    match parse_seconds(&value) {
        Some(d) => d,
        None => {
            eprintln!(
                "warning: {var}={value:?} is not a whole number of seconds above 0; using {} s",
                TIMEOUT.as_secs()
            );
            TIMEOUT
        }
    }
}

fn parse_seconds(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
}

/// The run's retry pauses: real sleeps, refused once [`RETRY_BUDGET`] is spent.
struct Backoff {
    spent: std::sync::Mutex<Duration>,
}

static BACKOFF: Backoff = Backoff {
    spent: std::sync::Mutex::new(Duration::ZERO),
};

impl Pause for Backoff {
    fn pause(&self, delay: Duration) -> bool {
        // Asked to stop (Ctrl-C, SIGTERM): the failure stands rather than waiting to retry.
        if SIGNALLED.load(std::sync::atomic::Ordering::SeqCst) {
            return false;
        }
        {
            let mut spent = self
                .spent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *spent + delay > RETRY_BUDGET {
                return false;
            }
            *spent += delay;
        }
        std::thread::sleep(delay);
        true
    }
}

fn print_retry(r: &Retried) {
    eprintln!(
        "note: {} failed: {}; trying again (attempt {} of {}, after {:.2} s)",
        r.operation,
        r.error,
        r.attempt,
        r.attempts,
        r.delay.as_secs_f64()
    );
}

/// The retry settings of every adapter call of a run: [`RetryPolicy::default`] per request,
/// [`RETRY_BUDGET`] for the whole run, each retry announced on stderr.
pub fn retry() -> Retry<'static> {
    Retry {
        policy: RetryPolicy::default(),
        pause: &BACKOFF,
        on_retry: &print_retry,
    }
}

/// Where relative file paths in client settings (`ssl.ca.location`, a registry's `ca_file`, …)
/// come from: the mesh repo given with `--repo`, at the revision given with `--rev` if any. Set
/// once by `main`.
static REPO_SOURCE: std::sync::OnceLock<(std::path::PathBuf, Option<String>)> =
    std::sync::OnceLock::new();

/// Records the mesh repo (folder, and revision with `--rev`) relative paths in client settings
/// are relative to.
pub fn set_repo_source(dir: &std::path::Path, rev: Option<&str>) {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let _ = REPO_SOURCE.set((dir, rev.map(str::to_owned)));
}

/// A path from a client setting, relative ones made relative to the mesh repo. With `--rev`, a
/// file the revision holds is read from git (the work tree may hold another version, and a bare
/// clone none) into a private temporary folder removed when `mesh` ends ([`remove_temporary`]).
fn resolve_path(value: &str) -> Result<String, String> {
    let path = std::path::Path::new(value);
    let Some((dir, rev)) = REPO_SOURCE.get() else {
        return Ok(value.to_owned());
    };
    if !path.is_relative() || value.is_empty() {
        return Ok(value.to_owned());
    }
    if let Some(rev) = rev
        && let Some(bytes) = mesh_repo::read_at(dir, rev, value).map_err(|e| e.to_string())?
    {
        return materialise(value, &bytes);
    }
    Ok(dir.join(path).display().to_string())
}

/// The private folder files read from git for client settings are written to.
static TEMPORARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

fn materialise(name: &str, bytes: &[u8]) -> Result<String, String> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = match TEMPORARY.get() {
        Some(d) => d.clone(),
        None => {
            let d = std::env::temp_dir().join(format!("mesh-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&d)
                .map_err(|e| format!("{}: cannot create: {e}", d.display()))?;
            TEMPORARY.get_or_init(|| d).clone()
        }
    };
    // Flattened, so that `certs/ca.pem` and `ca.pem` never meet.
    let file = dir.join(name.replace(['/', '\\'], "%"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .map_err(|e| format!("{}: cannot write: {e}", file.display()))?;
    std::io::Write::write_all(&mut f, bytes)
        .map_err(|e| format!("{}: cannot write: {e}", file.display()))?;
    Ok(file.display().to_string())
}

/// Removes the files [`resolve_path`] read from git (key files among them).
pub fn remove_temporary() {
    if let Some(d) = TEMPORARY.get() {
        let _ = std::fs::remove_dir_all(d);
    }
}

pub struct Context {
    pub env: String,
    /// "environment `local` (127.0.0.1:19092)".
    pub target: String,
    pub cluster: KafkaCluster,
    /// Present when the environment has a Schema Registry.
    pub registry: Option<RegistryClient>,
    /// Present when the environment has a Kafka Connect cluster.
    pub connect: Option<ConnectClient>,
    /// What was read, and what it returned (a saved plan records both).
    pub request: ReadRequest,
    pub live: LiveState,
    /// The apply lock, when this run holds it; released when the context is dropped.
    #[expect(dead_code, reason = "held only for its Drop, which releases the lock")]
    pub lock: Option<crate::lock::Held>,
}

/// The Kafka client settings of an environment, with references filled from the process
/// environment. An unset variable is an error naming it (never a value).
pub fn client_settings(
    env: &mesh_model::Environment,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, String> {
    let fill = |key: &str, value: &str| fill_var(env, key, value, &lookup);
    let mut props = BTreeMap::new();
    let bootstrap = env.bootstrap_servers.as_ref().ok_or_else(|| {
        format!("environment `{}` has no bootstrap_servers (help: add bootstrap_servers = \"host:port\" under [environments.{}] in mesh.toml)", env.name, env.name)
    })?;
    props.insert(
        "bootstrap.servers".to_string(),
        fill("bootstrap_servers", &bootstrap.value)?,
    );
    for (k, v) in &env.kafka {
        let mut value = fill(k, &v.value)?;
        // `probe` is librdkafka's "find the system's CA bundle", not a file.
        if mesh_model::client::is_path_key(k) && !(k == "ssl.ca.location" && value == "probe") {
            value = resolve_path(&value)?;
        }
        props.insert(k.clone(), value);
    }
    Ok(props)
}

/// Fills the `${VAR}` references of one mesh.toml value of `env`; an unset variable is an
/// error naming it and the key it fills (never a value).
fn fill_var(
    env: &mesh_model::Environment,
    key: &str,
    value: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    expand(value, lookup).map_err(|Unset(var)| {
        format!(
            "environment `{}` needs the variable {var} (it fills `{key}` in mesh.toml); set it, e.g. export {var}=…",
            env.name
        )
    })
}

/// Validates, connects to the environment's cluster, reads it and plans (the steps after
/// connecting are `mesh_workflow::plan`'s). `revision` is the commit being applied (from
/// `--rev`), recorded in the catalog. With `lock_for` (the command, for `apply`), the apply lock
/// is taken before anything is read.
pub fn plan(
    report: &mesh_check::Report,
    revision: Option<&str>,
    lock_for: Option<&str>,
) -> Result<(Plan, Context), String> {
    // A reference to a removed product may be a retirement in progress: decided once the
    // catalog is read. Every other error stops here.
    mesh_workflow::check_offline(report).map_err(|e| shown(report, e))?;
    let mesh = &report.mesh;
    let Some(env) = mesh.environment() else {
        return Err(format!(
            "plan and apply need --env ENV (help: declared environments: {})",
            declared_environments(mesh)
        ));
    };
    let opened = open(prepare(env, mesh_plan::desired(mesh, revision))?, lock_for)?;
    let first = opened.read_first();
    finish(report, opened, first)
}

/// A plan's reads, started while the mesh is still being checked ([`early`]), or why they
/// could not be (a settings problem, reported only if the mesh is valid).
pub struct Early(Result<Reading, String>);

/// The thread reading for [`Early`]: the opened connections and what they read first.
type Reading = std::thread::JoinHandle<Result<(Opened, FirstRead), String>>;

/// Starts what `plan` (without the apply lock) reads, on a thread of its own, from a mesh that
/// loaded without errors but is not checked yet: the desired state depends on the model only,
/// so the cluster and the registry are read while the schemas and policies are checked. `None`
/// without an environment (`plan` then says so). The settings are prepared here, so files read
/// from git for them are written before this returns, never after `mesh` cleaned them up. Nothing
/// is written to the cluster; if the checks find errors the reads are dropped unseen
/// ([`plan_early`]).
pub fn early(mesh: &mesh_model::Mesh, revision: Option<&str>) -> Option<Early> {
    let env = mesh.environment()?;
    let prepared = prepare(env, mesh_plan::desired(mesh, revision));
    Some(Early(prepared.map(|p| {
        std::thread::spawn(move || {
            let opened = open(p, None)?;
            let first = opened.read_first();
            Ok((opened, first))
        })
    })))
}

/// [`plan`] (without the apply lock) from the reads [`early`] started for the same mesh: an
/// invalid mesh is reported as it would be without them (they are not waited for), then a
/// settings or read failure, then the plan.
pub fn plan_early(
    report: &mesh_check::Report,
    revision: Option<&str>,
    early: Option<Early>,
) -> Result<(Plan, Context), String> {
    let Some(Early(reads)) = early else {
        return plan(report, revision, None);
    };
    mesh_workflow::check_offline(report).map_err(|e| shown(report, e))?;
    // A panic on the reading thread is a bug; re-raise it here.
    let (opened, first) = reads?
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
    finish(report, opened, first)
}

/// An environment's clients and the desired state, before anything is read.
pub struct Opened {
    env: String,
    target: String,
    desired: mesh_plan::DesiredState,
    /// Connector configs whose `${VAR}` references are unset: plan errors.
    unresolved: Vec<mesh_plan::PlanError>,
    /// Printed with the plan (not while an unchecked mesh is read).
    notes: Vec<String>,
    now: i64,
    cluster: KafkaCluster,
    registry: Option<RegistryClient>,
    connect: Option<ConnectClient>,
    lock: Option<crate::lock::Held>,
}

/// An environment's settings and HTTP clients and the desired state: everything [`open`]
/// needs that is found without touching the network.
pub struct Prepared {
    env: String,
    target: String,
    props: BTreeMap<String, String>,
    desired: mesh_plan::DesiredState,
    unresolved: Vec<mesh_plan::PlanError>,
    notes: Vec<String>,
    now: i64,
    registry: Option<RegistryClient>,
    connect: Option<ConnectClient>,
}

/// The settings of `env` with their `${VAR}` references filled, and the files they name that
/// `--rev` reads from git written out (so only on the calling thread), and the HTTP clients.
/// Settings problems come first: they are found without touching the network.
fn prepare(
    env: &mesh_model::Environment,
    mut desired: mesh_plan::DesiredState,
) -> Result<Prepared, String> {
    let now = crate::lifecycle::now_ms()?;
    let props = client_settings(env, |v| std::env::var(v).ok())?;
    let bootstrap = props.get("bootstrap.servers").cloned().unwrap_or_default();
    let target = format!("environment `{}` ({bootstrap})", env.name);
    let registry = registry_client(env, !desired.subjects.is_empty(), |v| std::env::var(v).ok())?;
    let connect = connect_of(env, |v| std::env::var(v).ok())?;
    let (unresolved, notes) = connectors_for(env, connect.is_some(), &mut desired);
    Ok(Prepared {
        env: env.name.clone(),
        target,
        props,
        desired,
        unresolved,
        notes: notes.into_iter().collect(),
        now,
        registry,
        connect,
    })
}

/// Connects to the cluster of `p`, and takes the apply lock with `lock_for`.
fn open(p: Prepared, lock_for: Option<&str>) -> Result<Opened, String> {
    let cluster = KafkaCluster::connect(&p.props, kafka_timeout()).map_err(|e| e.to_string())?;
    let lock = match lock_for {
        Some(command) => Some(crate::lock::acquire(
            &p.props,
            &p.desired.catalog_topic,
            &p.env,
            command,
        )?),
        None => None,
    };
    Ok(Opened {
        env: p.env,
        target: p.target,
        desired: p.desired,
        unresolved: p.unresolved,
        notes: p.notes,
        now: p.now,
        cluster,
        registry: p.registry,
        connect: p.connect,
        lock,
    })
}

impl Opened {
    /// The real adapters behind the workflow's readers: retried, and the registry watched for
    /// progress lines on a terminal.
    fn with_readers<T>(&self, f: impl FnOnce(mesh_workflow::Readers<'_>) -> T) -> T {
        let retry = retry();
        let cluster = Retrying {
            inner: &self.cluster,
            retry: &retry,
        };
        let registry = self.registry.as_ref().map(|r| Retrying {
            inner: r,
            retry: &retry,
        });
        let stderr = std::io::stderr();
        let terminal = stderr.is_terminal();
        let progress = crate::progress::Progress::new(stderr, terminal);
        let registry = registry.as_ref().map(|r| Watched {
            inner: r,
            progress: &progress,
        });
        let connect = self.connect.as_ref().map(|c| Retrying {
            inner: c,
            retry: &retry,
        });
        f(mesh_workflow::Readers {
            cluster: &cluster,
            registry: registry.as_ref().map(|r| r as &(dyn RegistryReader + Sync)),
            connect: connect.as_ref().map(|c| c as &dyn ConnectReader),
        })
    }

    fn read_first(&self) -> FirstRead {
        self.with_readers(|readers| mesh_workflow::read_first(&self.desired, readers))
    }
}

/// The rest of a plan once the mesh is valid and the first reads are in.
fn finish(
    report: &mesh_check::Report,
    opened: Opened,
    first: FirstRead,
) -> Result<(Plan, Context), String> {
    for note in &opened.notes {
        eprintln!("note: {note}");
    }
    let mut planned = opened
        .with_readers(|readers| {
            mesh_workflow::plan_from(
                report,
                &opened.desired,
                readers,
                first,
                opened.now,
                &mut |note| match note {
                    Note::Health(note) => eprintln!("note: {note}"),
                    Note::PolicyWarning { code, message } => {
                        eprintln!("warning[{code}]: {message}")
                    }
                },
            )
        })
        .map_err(|e| shown(report, e))?;
    planned.plan.errors.extend(opened.unresolved);
    Ok((
        planned.plan,
        Context {
            env: opened.env,
            target: opened.target,
            cluster: opened.cluster,
            registry: opened.registry,
            connect: opened.connect,
            request: planned.request,
            live: planned.live,
            lock: opened.lock,
        },
    ))
}

/// The environments mesh.toml declares, for the hint of a missing or unknown `--env`.
pub fn declared_environments(mesh: &mesh_model::Mesh) -> String {
    let names: Vec<&str> = mesh
        .settings
        .environments
        .keys()
        .map(String::as_str)
        .collect();
    names.join(", ")
}

/// The message of a workflow error, after showing its diagnostics on stderr.
fn shown(report: &mesh_check::Report, e: WorkflowError) -> String {
    let diagnostics = e.diagnostics();
    if !diagnostics.is_empty()
        && let Err(render) = crate::report_diagnostics(report, diagnostics)
    {
        return render;
    }
    e.to_string()
}

/// For `mesh unlock`: the environment's client settings and the catalog topic (the lock topic
/// sits next to it). Only the settings need to be right, not the whole mesh.
pub fn settings_for_unlock(
    report: &mesh_check::Report,
) -> Result<(BTreeMap<String, String>, String), String> {
    let mesh = &report.mesh;
    let Some(env) = mesh.environment() else {
        return Err(match &mesh.env {
            Some(name) => format!(
                "no environment `{name}` in mesh.toml (help: declared environments: {})",
                declared_environments(mesh)
            ),
            None => format!(
                "unlock needs --env ENV (help: declared environments: {})",
                declared_environments(mesh)
            ),
        });
    };
    let props = client_settings(env, |v| std::env::var(v).ok())?;
    Ok((props, mesh.settings.catalog_topic.clone()))
}

/// The registry client for an environment, when its products declare schemas. Credentials come
/// from `[environments.<env>.schema_registry]` (`${VAR}` values).
pub fn registry_client(
    env: &mesh_model::Environment,
    needed: bool,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<RegistryClient>, String> {
    // With a registry URL the client exists even without declared subjects: a retired
    // product's subjects are deleted through it.
    if needed && env.schema_registry_url.is_none() {
        return Err(format!(
            "products declare schemas, but environment `{}` has no schema_registry_url (help: add schema_registry_url = \"https://…\" under [environments.{}] in mesh.toml)",
            env.name, env.name
        ));
    }
    registry_of(env, lookup)
}

/// The registry client of an environment; `None` when it has no schema_registry_url.
pub fn registry_of(
    env: &mesh_model::Environment,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<RegistryClient>, String> {
    let Some(url) = &env.schema_registry_url else {
        return Ok(None);
    };
    let (auth, tls) = http_auth(env, "schema_registry", &env.registry_auth, &lookup)?;
    RegistryClient::with_tls(
        &fill_var(env, "schema_registry_url", &url.value, &lookup)?,
        auth,
        &tls,
        registry_timeout(),
    )
    .map(Some)
    .map_err(|e| e.to_string())
}

/// Prepares the desired connectors for an environment: with a Connect cluster, mesh's `${VAR}`
/// references in their configs are expanded (each unset variable is a plan error, returned);
/// without one, they are not planned there, and the note returned says so.
pub fn connectors_for(
    env: &mesh_model::Environment,
    has_connect: bool,
    desired: &mut mesh_plan::DesiredState,
) -> (Vec<mesh_plan::PlanError>, Option<String>) {
    if has_connect {
        return (
            mesh_plan::connect::resolve(desired, &|v| std::env::var(v).ok()),
            None,
        );
    }
    let note = (!desired.connectors.is_empty()).then(|| {
        format!(
            "environment `{}` names no Kafka Connect cluster, so its {} connector(s) are not planned there (help: add [environments.{}.connect] with url = \"http://…:8083\" to mesh.toml)",
            env.name,
            desired.connectors.len(),
            env.name
        )
    });
    mesh_plan::connect::unmanage(desired);
    (Vec::new(), note)
}

/// The Connect client of an environment; `None` when it has no `[environments.<env>.connect]`.
/// Connector configs' `${VAR}` references are expanded from the process environment.
pub fn connect_of(
    env: &mesh_model::Environment,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<ConnectClient>, String> {
    let Some(settings) = &env.connect else {
        return Ok(None);
    };
    let (auth, tls) = http_auth(env, "connect", &settings.auth, &lookup)?;
    ConnectClient::new(
        &fill_var(env, "connect.url", &settings.url.value, &lookup)?,
        auth,
        &tls,
        registry_timeout(),
        Box::new(|v| std::env::var(v).ok()),
    )
    .map(Some)
    .map_err(|e| e.to_string())
}

/// The credentials and TLS files of an HTTP service of `env` (`schema_registry` or `connect`,
/// for messages), with `${VAR}` references filled and repo-relative paths resolved.
fn http_auth(
    env: &mesh_model::Environment,
    table: &str,
    a: &mesh_model::RegistryAuth,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(Auth, mesh_registry::Tls), String> {
    let fill = |key: &str, v: &mesh_model::doc::Spanned<String>| {
        fill_var(env, &format!("{table}.{key}"), &v.value, lookup)
    };
    let auth = match (&a.username, &a.password, &a.token) {
        (Some(u), Some(p), _) => Auth::Basic {
            user: fill("username", u)?,
            password: fill("password", p)?,
        },
        (_, _, Some(t)) => Auth::Bearer {
            token: fill("token", t)?,
        },
        _ => Auth::None,
    };
    let file = |key: &str, v: &Option<mesh_model::doc::Spanned<String>>| {
        v.as_ref()
            .map(|v| {
                fill(key, v)
                    .and_then(|p| resolve_path(&p))
                    .map(std::path::PathBuf::from)
            })
            .transpose()
    };
    let tls = mesh_registry::Tls {
        ca_file: file("ca_file", &a.ca_file)?,
        client: match (
            file("cert_file", &a.cert_file)?,
            file("key_file", &a.key_file)?,
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            _ => None,
        },
    };
    Ok((auth, tls))
}

/// A registry reader whose subject reads show on a terminal (the longest read of a large plan).
struct Watched<'a, R> {
    inner: &'a R,
    progress: &'a crate::progress::Progress<std::io::Stderr>,
}

impl<R: RegistryReader> RegistryReader for Watched<'_, R> {
    fn read_subjects(
        &self,
        subjects: &std::collections::BTreeSet<String>,
    ) -> Result<BTreeMap<String, mesh_plan::registry::LiveSubject>, mesh_plan::AdapterError> {
        self.progress
            .started("reading subjects from the registry:", subjects.len());
        let read = self.inner.read_subjects(subjects);
        self.progress
            .ended("read subjects from the registry:", subjects.len());
        read
    }

    fn check_compatibility(
        &self,
        subject: &str,
        schema_type: &str,
        schema: &str,
        level: Option<&str>,
    ) -> Result<mesh_plan::registry::Compatibility, mesh_plan::AdapterError> {
        self.inner
            .check_compatibility(subject, schema_type, schema, level)
    }
}

/// Asks on the terminal; only "yes" proceeds.
pub fn confirm(target: &str, actions: usize) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err("apply asks for confirmation, but standard input is not a terminal (help: pass --auto-approve in automation)".into());
    }
    print!("\nApply these {actions} action(s) to {target}? Only 'yes' is accepted: ");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(line.trim() == "yes")
}

/// Applies the plan (`mesh_workflow::apply`) through the retry layer, printing each finished
/// phase, and waits (at most [`ACL_SETTLE`]) until its ACL changes are visible.
pub fn apply(plan: &Plan, ctx: &Context, catalog_topic: &str) -> ApplyReport {
    let interrupt = Interrupt::install();
    let stop = || interrupt.requested();
    let retry = retry();
    let cluster = RetryingWriter {
        writer: &ctx.cluster,
        reader: &ctx.cluster,
        catalog_topic,
        retry: &retry,
    };
    let registry = ctx.registry.as_ref().map(|r| Retrying {
        inner: r,
        retry: &retry,
    });
    let connect = ctx.connect.as_ref().map(|c| Retrying {
        inner: c,
        retry: &retry,
    });
    let run = mesh_workflow::ApplyRun {
        stop: &stop,
        target: Target {
            cluster: &cluster,
            registry: registry.as_ref().map(|r| r as &(dyn RegistryWriter + Sync)),
            connect: connect.as_ref().map(|c| c as &dyn ConnectWriter),
            before_connectors: None,
        },
        reader: &ctx.cluster,
        live: &ctx.live,
        principals: &ctx.request.principals,
        catalog_topic,
        now: &now_rfc3339(),
    };
    let deadline = Instant::now() + ACL_SETTLE;
    // The unlocked handle: retry notes from the registry's threads print between two lines.
    let stderr = std::io::stderr();
    let terminal = stderr.is_terminal();
    let progress = crate::progress::Progress::new(stderr, terminal);
    let applied = mesh_workflow::apply_watched(
        plan,
        &run,
        &mut |phase, ok, failed| progress.finished(phase, ok, failed),
        &mut || {
            if Instant::now() >= deadline || interrupt.requested() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(200));
            true
        },
        &|t| progress.tick(t.phase, t.finished, t.total),
    );
    if !applied.acls_settled {
        eprintln!(
            "note: some ACL changes are still propagating; a plan run now may show them once more"
        );
    }
    applied.report
}

/// Ctrl-C and SIGTERM while an apply runs: the first asks the apply to stop after the running
/// batch (it then reports what was done and not done, and releases the lock); a second one
/// quits at once. Outside an apply the signals do what they always do.
struct Interrupt {
    flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
    announced: std::sync::atomic::AtomicBool,
    ids: Vec<signal_hook::SigId>,
}

/// Set by the first Ctrl-C / SIGTERM during an apply; retry waits give up at once when it is.
static SIGNALLED: std::sync::LazyLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)));

impl Interrupt {
    fn install() -> Interrupt {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let flag = SIGNALLED.clone();
        let mut ids = Vec::new();
        for signal in [SIGINT, SIGTERM] {
            // Order matters: the shutdown check sees the flag as the earlier signal left it.
            // 130 is what a shell reports for a process ended by Ctrl-C.
            if let Ok(id) =
                signal_hook::flag::register_conditional_shutdown(signal, 130, flag.clone())
            {
                ids.push(id);
            }
            if let Ok(id) = signal_hook::flag::register(signal, flag.clone()) {
                ids.push(id);
            }
        }
        Interrupt {
            flag,
            announced: std::sync::atomic::AtomicBool::new(false),
            ids,
        }
    }

    /// Whether a stop was asked for; says so on stderr the first time it is seen.
    fn requested(&self) -> bool {
        use std::sync::atomic::Ordering;
        let asked = self.flag.load(Ordering::SeqCst);
        if asked && !self.announced.swap(true, Ordering::SeqCst) {
            eprintln!(
                "interrupted: stopping after the running batch (press Ctrl-C again to quit at once)"
            );
        }
        asked
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// The current UTC time as RFC 3339, second precision.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// A time in seconds since the epoch as RFC 3339 (UTC).
pub fn rfc3339(secs: u64) -> String {
    let date = mesh_model::doc::Date::from_unix_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!("{date}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_whole_seconds_above_zero() {
        assert_eq!(parse_seconds(" 5 "), Some(Duration::from_secs(5)));
        for bad in ["0", "-1", "2.5", "5s", ""] {
            assert_eq!(parse_seconds(bad), None, "{bad}");
        }
    }

    fn env() -> mesh_model::Environment {
        let mut e = mesh_model::Environment {
            name: "prod".into(),
            ..Default::default()
        };
        e.bootstrap_servers = Some(mesh_model::doc::Spanned::new("k:9093".into(), 0..0));
        e.kafka.insert(
            "sasl.password".into(),
            mesh_model::doc::Spanned::new("${MESH_PW}".into(), 0..0),
        );
        e
    }

    #[test]
    fn settings_expand_variables_and_name_the_missing_one() {
        let props =
            client_settings(&env(), |v| (v == "MESH_PW").then(|| "s3cret".to_string())).unwrap();
        assert_eq!(props["bootstrap.servers"], "k:9093");
        assert_eq!(props["sasl.password"], "s3cret");
        let err = client_settings(&env(), |_| None).unwrap_err();
        assert!(
            err.contains("MESH_PW") && err.contains("sasl.password") && err.contains("prod"),
            "{err}"
        );
    }

    #[test]
    fn rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
