//! `cargo bench -p mesh-cli --bench live`
//!
//! `mesh apply` and `mesh plan` against a REAL local Kafka (the project's sandbox, started here
//! in temporary folders on free ports and stopped by a drop guard whatever happens), on a
//! synthetic mesh of 1,000 products in 20 domains: one topic each (1–3 partitions, four
//! configs), one producer and one or two cross-domain consumers — 5.5 ACL bindings per product.
//! Every product has a value schema (85 % Avro, 10 % JSON Schema, 5 % Protobuf), every fifth a
//! key schema too (Avro): 1,200 subjects in the sandbox's Schema Registry, with compatibility
//! BACKWARD, FULL or BACKWARD_TRANSITIVE.
//!
//! - (a) `mesh apply --env bench --auto-approve`, the real binary, from an empty cluster, end to
//!   end; its output lines are timestamped as they arrive, which splits it into phases.
//! - (b) `mesh plan --env bench` with the 1,000 products live (no changes): median of 5; plus the
//!   same stages through the library (validate, connect, read, registry read, diff), with the
//!   registry read rate (subjects/s and HTTP requests/s at the client's concurrency).
//! - (c) the floor, on a fresh cluster: `KafkaCluster::create_topics(&all)` then
//!   `KafkaCluster::create_acls(&all)` through `ClusterWriter` — the same topics and bindings,
//!   one batched call each, without validation, read, plan, schemas, catalog or ACL settle wait
//!   (the floor is topics + ACLs only). Then,
//!   outside the floor, how long until a read sees every binding.
//! - (d) the library path of apply on another fresh cluster (validate → desired → read → plan →
//!   `apply::apply` with each `ClusterWriter` call timed → the ACL settle loop, as
//!   `mesh_workflow::settle_acls` waits).
//! - (e) only with `MESH_BENCH_EXPLAIN=1`, on a fresh cluster: the ACLs first, then the topics in
//!   two batches of `BATCH` — how long ACLs take to show on an idle broker, and how long a
//!   second topic batch waits behind the first.
//!
//! - (f) on the cluster of (a) and (b), after them: the registry's requests per second at 1–64
//!   in flight — 400 new subjects registered then levelled from that many threads through one
//!   client (as apply sends them), and every desired subject read (`read_subjects`).
//!
//! For each cluster it also reports how long the broker took to create the partition logs
//! (from the `Created log for partition` lines of its log).
//!
//! Prints a table; asserts nothing about time (figures go in docs/benchmarks.md). Targets:
//! apply ≤ 1.5 × the floor, plan < 5 s with schemas (< 3 s without). Needs Java 17+ (and Maven for the first download).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use mesh_kafka::KafkaCluster;
use mesh_model::doc::Date;
use mesh_plan::apply::{BATCH, REGISTRY_CONCURRENCY, Target};
use mesh_plan::registry::RegistryWriter;
use mesh_plan::{
    AclBinding, Action, AdapterError, CatalogRecord, ClusterReader, ClusterWriter, ConfigChange,
    DesiredState, NewTopic, Plan, ReadRequest,
};
use mesh_registry::{Auth, DEFAULT_CONCURRENCY, RegistryClient};
use mesh_sandbox::{ADMIN_PASSWORD, ADMIN_USER, SandboxConfig, down, up};

const DOMAINS: usize = 20;
const PRODUCTS_PER_DOMAIN: usize = 50;
const ENV: &str = "bench";
const PLAN_RUNS: usize = 5;
/// The request timeout `mesh` itself uses (`TIMEOUT` in mesh-cli/src/live.rs).
const TIMEOUT: Duration = Duration::from_secs(30);
/// The settle bound of mesh-cli/src/live.rs (`ACL_SETTLE`), and its poll interval.
const ACL_SETTLE: Duration = Duration::from_secs(10);
const SETTLE_POLL: Duration = Duration::from_millis(200);
/// How long the floor waits, outside its time, for its ACLs to show.
const VISIBLE_BOUND: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The sandbox, stopped even on panic.
// ---------------------------------------------------------------------------------------------

struct Sandbox {
    cfg: SandboxConfig,
    // Dropped after `drop` below has stopped the servers.
    _dir: tempfile::TempDir,
}

impl Sandbox {
    fn start(label: &str) -> Sandbox {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut cfg =
            SandboxConfig::from_env(Some(dir.path().join("sandbox"))).expect("sandbox config");
        cfg.use_free_ports().expect("free ports");
        let t = Instant::now();
        let sandbox = Sandbox { cfg, _dir: dir };
        up(&sandbox.cfg, &mut |line| eprintln!("  [{label}] {line}")).expect("sandbox starts");
        eprintln!(
            "  [{label}] sandbox up at {} in {}",
            sandbox.bootstrap(),
            secs(t.elapsed())
        );
        sandbox
    }

    fn bootstrap(&self) -> String {
        self.cfg.bootstrap_servers()
    }

    fn connect(&self) -> KafkaCluster {
        KafkaCluster::connect(&client_props(&self.bootstrap()), TIMEOUT).expect("connects")
    }

    fn registry_url(&self) -> String {
        self.cfg.registry_url()
    }

    /// The registry client `mesh` builds (no auth, `TIMEOUT`, default concurrency and history).
    fn registry(&self) -> RegistryClient {
        RegistryClient::new(&self.registry_url(), Auth::None, TIMEOUT).expect("registry client")
    }

    /// The `mesh.toml` pointing at this sandbox.
    fn mesh_toml(&self) -> String {
        mesh_toml(&self.bootstrap(), &self.registry_url())
    }

    /// How many logs of non-internal partitions the broker created, and the time from the first
    /// to the last (from its log lines `[2026-01-01 10:00:00,123] INFO Created log for
    /// partition …`).
    fn partition_logs(&self) -> (usize, Duration) {
        let log = std::fs::read_to_string(self.cfg.dir.join("logs/kafka.log")).unwrap_or_default();
        let times: Vec<u64> = log
            .lines()
            .filter(|l| {
                l.contains("Created log for partition ")
                    && !l.contains("Created log for partition _")
            })
            .filter_map(log_millis)
            .collect();
        match (times.iter().min(), times.iter().max()) {
            (Some(a), Some(b)) => (times.len(), Duration::from_millis(b - a)),
            _ => (0, Duration::ZERO),
        }
    }
}

/// Milliseconds since midnight of a log4j line starting `[YYYY-MM-DD HH:MM:SS,mmm]`.
fn log_millis(line: &str) -> Option<u64> {
    let t = line.get(12..24)?;
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<u64>().ok();
    Some(((n(0..2)? * 60 + n(3..5)?) * 60 + n(6..8)?) * 1000 + n(9..12)?)
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        match down(&self.cfg) {
            Ok(stopped) => eprintln!(
                "  sandbox at {} stopped ({} process(es))",
                self.bootstrap(),
                stopped.len()
            ),
            Err(e) => eprintln!("  cleanup of the sandbox at {}: {e}", self.bootstrap()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The synthetic mesh.
// ---------------------------------------------------------------------------------------------

const AREAS: &[&str] = &[
    "sales",
    "finance",
    "logistics",
    "marketing",
    "customers",
    "inventory",
    "support",
    "pricing",
    "risk",
    "catalog",
];
const NOUNS: &[&str] = &[
    "orders",
    "payments",
    "shipments",
    "profiles",
    "clicks",
    "invoices",
    "tickets",
    "prices",
    "alerts",
    "items",
];
const WRITERS: usize = 5;
const READERS: usize = 5;

fn domain_name(d: usize) -> String {
    format!("{}-{d:02}", AREAS[d % AREAS.len()])
}

fn product_name(i: usize) -> String {
    format!("{}-{i:02}", NOUNS[i % NOUNS.len()])
}

/// The domains consuming product `i` of domain `d`: always one other domain (with its own
/// literal group), and for every fourth product a second one (with its `analytics-*` prefixed
/// group, shared by all that domain's analytics consumption). `true` marks the second.
fn consumers_of(d: usize, i: usize) -> Vec<(usize, bool)> {
    let first = (d + 1 + i % (DOMAINS - 1)) % DOMAINS;
    let mut out = vec![(first, false)];
    if i % 4 == 0 {
        let mut second = (first + 1) % DOMAINS;
        if second == d {
            second = (second + 1) % DOMAINS;
        }
        out.push((second, true));
    }
    out
}

fn mesh_toml(bootstrap: &str, registry: &str) -> String {
    format!(
        r#"# Synthetic mesh for the live benchmark (crates/mesh-cli/benches/live.rs).
[mesh]
name = "bench"
policy_packs = ["baseline"]
catalog_topic = "_mesh-catalog"

[defaults.topic]
partitions = 3
replication_factor = 3

[defaults.topic.config]
"min.insync.replicas" = 2

[environments.{ENV}]
local = true
bootstrap_servers = "{bootstrap}"
schema_registry_url = "{registry}"

[environments.{ENV}.topic]
replication_factor = 1

[environments.{ENV}.topic.config]
"min.insync.replicas" = 1

[environments.{ENV}.kafka]
"security.protocol" = "SASL_PLAINTEXT"
"sasl.mechanism" = "PLAIN"
"sasl.username" = "{ADMIN_USER}"
"sasl.password" = "{ADMIN_PASSWORD}"
"#
    )
}

/// The schema files of product `i` of domain `d` (relative to its domain directory) and their
/// text: value (Avro, JSON Schema for `i % 10 == 1`, Protobuf for `i % 20 == 2`), and an Avro key
/// for every fifth product; plus its compatibility level.
#[allow(clippy::type_complexity)]
fn schemas_of(d: usize, i: usize) -> (Vec<(&'static str, String, String)>, &'static str) {
    let name = product_name(i);
    let ns = format!("bench.{}.{}", domain_name(d), name).replace('-', "_");
    let record = format!("{}{i:02}", capitalised(NOUNS[i % NOUNS.len()]));
    let mut out = Vec::new();
    let value = if i % 10 == 1 {
        (
            format!("schemas/{name}-value.json"),
            format!(
                r#"{{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "{record}",
  "description": "One {noun} event of {ns}",
  "type": "object",
  "properties": {{
    "id": {{"type": "string", "description": "The event's id."}},
    "at_ms": {{"type": "integer", "description": "When it happened, epoch ms."}},
    "amount_{d}_{i}": {{"type": "number", "description": "A field distinct per product."}}
  }},
  "required": ["id", "at_ms"]
}}
"#,
                noun = NOUNS[i % NOUNS.len()]
            ),
        )
    } else if i % 20 == 2 {
        (
            format!("schemas/{name}-value.proto"),
            format!(
                "// One {noun} event of {ns}.\nsyntax = \"proto3\";\n\npackage {ns};\n\nmessage {record} {{\n  string id = 1;\n  int64 at_ms = 2;\n  double amount_{d}_{i} = 3;\n}}\n",
                noun = NOUNS[i % NOUNS.len()]
            ),
        )
    } else {
        (
            format!("schemas/{name}-value.avsc"),
            format!(
                r#"{{
  "type": "record",
  "name": "{record}",
  "namespace": "{ns}",
  "doc": "One {noun} event of {ns}.",
  "fields": [
    {{"name": "id", "type": "string", "doc": "The event's id."}},
    {{"name": "at_ms", "type": "long", "doc": "When it happened, epoch ms."}},
    {{"name": "amount_{d}_{i}", "type": ["null", "double"], "default": null, "doc": "A field distinct per product."}}
  ]
}}
"#,
                noun = NOUNS[i % NOUNS.len()]
            ),
        )
    };
    out.push(("value", value.0, value.1));
    if i % 5 == 0 {
        out.push((
            "key",
            format!("schemas/{name}-key.avsc"),
            format!(
                r#"{{"type": "record", "name": "{record}Key", "namespace": "{ns}", "doc": "Key of {ns}.", "fields": [{{"name": "id", "type": "string", "doc": "The event's id."}}]}}
"#
            ),
        ));
    }
    let level = ["BACKWARD", "FULL", "BACKWARD_TRANSITIVE"][(d + i) % 3];
    (out, level)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// Writes the mesh into `repo`; `mesh.toml` points at `bootstrap` and `registry`.
fn generate(repo: &Path, bootstrap: &str, registry: &str) {
    let write = |rel: &str, text: &str| {
        let path = repo.join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write("mesh.toml", &mesh_toml(bootstrap, registry));
    let mut consumes: Vec<String> = vec![String::new(); DOMAINS];
    for d in 0..DOMAINS {
        let dom = domain_name(d);
        for i in 0..PRODUCTS_PER_DOMAIN {
            let name = product_name(i);
            let id = format!("{dom}.{name}");
            for (c, analytics) in consumers_of(d, i) {
                let cdom = domain_name(c);
                let (principal, group) = if analytics {
                    ("analytics".to_string(), format!("{cdom}.analytics-*"))
                } else {
                    (
                        format!("reader-{}", i % READERS),
                        format!("{cdom}.{dom}-{name}"),
                    )
                };
                let _ = write!(
                    consumes[c],
                    "\n[[consumes]]\nproduct = \"{id}\"\nprincipal = \"{principal}\"\ngroup = \"{group}\"\npurpose = \"Join {id} into {cdom}'s own reporting\"\n"
                );
            }
            let (schemas, level) = schemas_of(d, i);
            let mut schema = String::from("\n[schema]\n");
            for (kind, rel, text) in &schemas {
                let _ = writeln!(schema, "{kind} = \"{rel}\"");
                write(&format!("domains/{dom}/{rel}"), text);
            }
            let _ = writeln!(schema, "compatibility = \"{level}\"");
            let product = format!(
                r#"description = "Synthetic product {id}: one record per {noun} event, keyed by its id"
quality = "raw"
sla = "tier-3"
producers = ["writer-{w}"]

[topic]
partitions = {partitions}

[topic.config]
"cleanup.policy" = "delete"
"retention.ms" = "{days}d"
"max.message.bytes" = "1MiB"

{schema}
[access]
visibility = "public"
"#,
                noun = NOUNS[i % NOUNS.len()],
                w = i % WRITERS,
                partitions = 1 + i % 3,
                days = 1 + i % 14,
            );
            write(&format!("domains/{dom}/products/{name}.toml"), &product);
        }
    }
    for (d, consumes) in consumes.iter().enumerate() {
        let dom = domain_name(d);
        let mut text = format!(
            "name = \"{dom}\"\ndescription = \"Synthetic domain {dom} of the live benchmark\"\nowners = [\"@bench/{dom}\"]\n\n[principals]\n"
        );
        for w in 0..WRITERS {
            let _ = writeln!(text, "writer-{w} = \"User:{dom}-writer-{w}\"");
        }
        for r in 0..READERS {
            let _ = writeln!(text, "reader-{r} = \"User:{dom}-reader-{r}\"");
        }
        let _ = writeln!(text, "analytics = \"User:{dom}-analytics\"");
        text.push_str(consumes);
        write(&format!("domains/{dom}/domain.toml"), &text);
    }
}

fn today() -> Date {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Date::from_unix_days((secs / 86_400) as i64)
}

/// Reads and validates the repo as `mesh` does (`--env bench`).
fn validate(repo: &Path) -> mesh_check::Report {
    let files = mesh_repo::from_dir(repo).expect("reads the repo");
    mesh_check::validate(&files.files, Some(ENV), today())
}

/// The client properties `mesh` builds from `[environments.bench]`.
fn client_props(bootstrap: &str) -> BTreeMap<String, String> {
    [
        ("bootstrap.servers", bootstrap),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", ADMIN_USER),
        ("sasl.password", ADMIN_PASSWORD),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn read_request(desired: &DesiredState) -> ReadRequest {
    ReadRequest {
        topics: desired.topics.keys().cloned().collect(),
        principals: desired.principals.clone(),
        catalog_topic: desired.catalog_topic.clone(),
        connectors: Default::default(),
        config_keys: mesh_workflow::read_request(desired).config_keys,
    }
}

fn new_topics(desired: &DesiredState) -> Vec<NewTopic> {
    desired
        .topics
        .values()
        .map(|t| NewTopic {
            name: t.name.clone(),
            partitions: t.partitions,
            replication_factor: t.replication_factor,
            config: t.config.clone().into(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running the binary with timestamped output.
// ---------------------------------------------------------------------------------------------

struct Line {
    at: Duration,
    stderr: bool,
    text: String,
}

struct Run {
    total: Duration,
    code: Option<i32>,
    lines: Vec<Line>,
}

impl Run {
    fn text(&self) -> String {
        self.lines.iter().map(|l| format!("{}\n", l.text)).collect()
    }

    /// When the first stderr line starting with `prefix` arrived.
    fn stderr_at(&self, prefix: &str) -> Option<Duration> {
        self.lines
            .iter()
            .find(|l| l.stderr && l.text.starts_with(prefix))
            .map(|l| l.at)
    }

    /// When the first stdout line after `after` arrived.
    fn stdout_after(&self, after: Duration) -> Option<Duration> {
        self.lines
            .iter()
            .find(|l| !l.stderr && l.at > after)
            .map(|l| l.at)
    }
}

fn run_mesh(repo: &Path, args: &[&str]) -> Run {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args(args)
        .arg("--repo")
        .arg(repo)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mesh runs");
    let (tx, rx) = mpsc::channel();
    let readers = [
        (
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            false,
        ),
        (Box::new(child.stderr.take().expect("stderr")), true),
    ]
    .map(|(pipe, stderr)| {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for text in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(Line {
                    at: start.elapsed(),
                    stderr,
                    text,
                });
            }
        })
    });
    drop(tx);
    let status = child.wait().expect("mesh exits");
    let total = start.elapsed();
    for r in readers {
        r.join().expect("reader thread");
    }
    let mut lines: Vec<Line> = rx.into_iter().collect();
    lines.sort_by_key(|l| l.at);
    Run {
        total,
        code: status.code(),
        lines,
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.0} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn list(v: &[Duration]) -> String {
    v.iter().map(|d| secs(*d)).collect::<Vec<_>>().join(", ")
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

/// What a settle loop saw.
struct Settle {
    /// When a read first saw exactly the desired ACLs; `None` if not within the bound.
    done: Option<Duration>,
    /// Each read: its time and how many desired bindings it saw.
    reads: Vec<(Duration, usize)>,
}

impl Settle {
    fn describe(&self) -> String {
        let took: Vec<Duration> = self.reads.iter().map(|(d, _)| *d).collect();
        // Run-length: "0 ×62, 5540".
        let mut seen: Vec<(usize, usize)> = Vec::new();
        for &(_, n) in &self.reads {
            match seen.last_mut() {
                Some((last, k)) if *last == n => *k += 1,
                _ => seen.push((n, 1)),
            }
        }
        let seen: Vec<String> = seen
            .iter()
            .map(|&(n, k)| {
                if k == 1 {
                    n.to_string()
                } else {
                    format!("{n} ×{k}")
                }
            })
            .collect();
        format!(
            "{} full read(s) of {}–{} (median {}); bindings seen per read: {}",
            self.reads.len(),
            secs(took.iter().min().copied().unwrap_or_default()),
            secs(took.iter().max().copied().unwrap_or_default()),
            secs(if took.is_empty() {
                Duration::ZERO
            } else {
                median(&took)
            }),
            seen.join(", ")
        )
    }
}

/// Polls full reads, where `mesh_workflow::settle_acls` reads the ACLs alone, until the live
/// ACLs equal the desired ones or `bound` passes.
fn settle(
    cluster: &KafkaCluster,
    request: &ReadRequest,
    desired: &DesiredState,
    bound: Duration,
) -> Settle {
    let t = Instant::now();
    let mut reads = Vec::new();
    while t.elapsed() < bound {
        let (live, took) = timed(|| cluster.read(request).expect("read"));
        reads.push((took, desired.acls.intersection(&live.acls).count()));
        if live.acls == desired.acls {
            return Settle {
                done: Some(t.elapsed()),
                reads,
            };
        }
        std::thread::sleep(SETTLE_POLL);
    }
    Settle { done: None, reads }
}

/// A `ClusterWriter` that times each call of the real one.
struct TimedWriter<'a> {
    inner: &'a KafkaCluster,
    calls: Mutex<Vec<(&'static str, usize, Duration)>>,
}

impl TimedWriter<'_> {
    fn time<T>(&self, call: &'static str, items: usize, f: impl FnOnce() -> T) -> T {
        let (v, t) = timed(f);
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((call, items, t));
        v
    }
}

impl ClusterWriter for TimedWriter<'_> {
    fn create_topics(&self, topics: &[NewTopic]) -> Vec<Result<(), AdapterError>> {
        self.time("create_topics", topics.len(), || {
            self.inner.create_topics(topics)
        })
    }
    fn alter_configs(&self, changes: &[ConfigChange]) -> Vec<Result<(), AdapterError>> {
        self.time("alter_configs", changes.len(), || {
            self.inner.alter_configs(changes)
        })
    }
    fn create_partitions(&self, topics: &[(String, i32)]) -> Vec<Result<(), AdapterError>> {
        self.time("create_partitions", topics.len(), || {
            self.inner.create_partitions(topics)
        })
    }
    fn create_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        self.time("create_acls", acls.len(), || self.inner.create_acls(acls))
    }
    fn delete_acls(&self, acls: &[AclBinding]) -> Vec<Result<(), AdapterError>> {
        self.time("delete_acls", acls.len(), || self.inner.delete_acls(acls))
    }
    fn delete_topics(&self, topics: &[String]) -> Vec<Result<(), AdapterError>> {
        self.time("delete_topics", topics.len(), || {
            self.inner.delete_topics(topics)
        })
    }
    fn write_catalog(
        &self,
        catalog_topic: &str,
        records: &[(String, Option<CatalogRecord>)],
    ) -> Result<(), AdapterError> {
        self.time("write_catalog", records.len(), || {
            self.inner.write_catalog(catalog_topic, records)
        })
    }
}

/// How many actions of each kind a plan has, by apply's phase names.
fn plan_counts(plan: &Plan) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for a in &plan.actions {
        let k = match a {
            Action::CreateCatalogTopic { .. } => "catalog topic",
            Action::CreateTopic { .. } => "topics",
            Action::CreateAcl { .. } => "ACLs created",
            Action::SetCompatibility { .. } => "compatibility levels",
            Action::RegisterSchema { .. } => "schemas",
            Action::UpsertCatalog { .. } => "catalog records",
            _ => "other",
        };
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

// ---------------------------------------------------------------------------------------------
// The measurements.
// ---------------------------------------------------------------------------------------------

struct ApplyBinary {
    total: Duration,
    /// (label, duration), in order.
    phases: Vec<(&'static str, Duration)>,
    settle_bound_hit: bool,
    /// Partition logs the broker created, and over how long.
    logs: (usize, Duration),
}

/// (a): the binary, end to end, split by the times its output lines arrived.
fn bench_apply_binary(repo: &Path) -> (Duration, Vec<(&'static str, Duration)>, bool) {
    let run = run_mesh(repo, &["apply", "--env", ENV, "--auto-approve"]);
    assert_eq!(run.code, Some(0), "mesh apply failed:\n{}", run.text());
    assert!(run.text().contains("Apply complete"), "{}", run.text());
    // The plan is printed (stdout) once validate, connect, read and plan are done; each apply
    // phase ends with a line on stderr; the report follows the ACL settle wait.
    let plan_shown = run
        .lines
        .iter()
        .find(|l| !l.stderr)
        .map_or(Duration::ZERO, |l| l.at);
    let mut marks = vec![("start, validate, connect, read, plan", plan_shown)];
    let mut last = plan_shown;
    // In apply's phase order (mesh-plan/src/apply.rs: ACLs first).
    for (label, prefix) in [
        ("print plan + ACLs created", "ACLs created:"),
        ("catalog topic", "catalog topic:"),
        ("topics", "topics:"),
        ("compatibility levels", "compatibility levels:"),
        ("schemas", "schemas:"),
        (
            "compatibility levels of new subjects",
            "compatibility levels of new subjects:",
        ),
        ("catalog records", "catalog records:"),
    ] {
        if let Some(at) = run.stderr_at(prefix) {
            marks.push((label, at));
            last = at;
        }
    }
    if let Some(at) = run.stdout_after(last) {
        marks.push(("ACL settle wait (full reads)", at));
    }
    marks.push(("report + exit", run.total));
    let mut prev = Duration::ZERO;
    let phases = marks
        .into_iter()
        .map(|(label, at)| {
            let d = at.saturating_sub(prev);
            prev = at;
            (label, d)
        })
        .collect();
    (run.total, phases, run.text().contains("still propagating"))
}

#[derive(Default)]
struct PlanFigures {
    binary: Vec<Duration>,
    validate: Vec<Duration>,
    connect: Vec<Duration>,
    read: Vec<Duration>,
    /// `RegistryClient::read_subjects` of every desired subject.
    registry: Vec<Duration>,
    /// HTTP requests one registry read makes: per subject its versions list, its config and
    /// each version (the client's `read_subject` with history).
    registry_requests: usize,
    diff: Vec<Duration>,
    /// How long after apply returned until `mesh plan` first said "no changes".
    converged: Duration,
}

/// (b): `mesh plan` with everything live, plus the same stages through the library.
fn bench_plan(repo: &Path, sandbox: &Sandbox) -> PlanFigures {
    let mut f = PlanFigures::default();
    // Apply's ACL wait is bounded; time plans only once the cluster shows everything.
    let t = Instant::now();
    loop {
        let run = run_mesh(repo, &["plan", "--env", ENV, "--detailed-exitcode"]);
        if run.code == Some(0) {
            break;
        }
        assert!(
            t.elapsed() < VISIBLE_BOUND,
            "plan after apply still shows changes:\n{}",
            run.text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    f.converged = t.elapsed();
    for _ in 0..PLAN_RUNS {
        let run = run_mesh(repo, &["plan", "--env", ENV, "--detailed-exitcode"]);
        assert_eq!(run.code, Some(0), "plan shows changes:\n{}", run.text());
        assert!(run.text().contains("No changes"), "{}", run.text());
        f.binary.push(run.total);
    }
    for _ in 0..PLAN_RUNS {
        let (report, t) = timed(|| validate(repo));
        f.validate.push(t);
        let (cluster, t) = timed(|| sandbox.connect());
        f.connect.push(t);
        let desired = mesh_plan::desired(&report.mesh, None);
        let request = read_request(&desired);
        let (mut live, t) = timed(|| cluster.read(&request).expect("reads"));
        f.read.push(t);
        let registry = sandbox.registry();
        let subjects = desired.subjects.keys().cloned().collect();
        let (subjects, t) = timed(|| registry.read_subjects(&subjects).expect("registry reads"));
        f.registry.push(t);
        // Per subject its config and its latest version (this registry has no bulk
        // listing: one refused `GET /schemas` first), and with more than one version the
        // list and the others.
        f.registry_requests = 1 + subjects
            .values()
            .map(|s| {
                2 + if s.history.len() > 1 {
                    s.history.len()
                } else {
                    0
                }
            })
            .sum::<usize>();
        live.subjects = subjects;
        let (plan, t) = timed(|| mesh_plan::plan(&desired, &live));
        f.diff.push(t);
        assert!(
            plan.is_empty() && plan.errors.is_empty(),
            "library plan: {plan:?}"
        );
    }
    f
}

/// One row of (f): requests per second at a concurrency.
struct Rates {
    concurrency: usize,
    register: f64,
    level: f64,
    read: f64,
}

/// Subjects registered and levelled per concurrency in (f).
const SWEEP_SUBJECTS: usize = 400;
const SWEEP: &[usize] = &[1, 2, 4, 8, 16, 32, 64];

/// (f): what the registry accepts at each concurrency — `SWEEP_SUBJECTS` new subjects
/// registered (POST) then levelled (PUT) from that many threads through one client, as apply
/// sends them, and every desired subject read (`read_subjects`, that many requests in flight).
fn registry_sweep(sandbox: &Sandbox, desired: &DesiredState, tag: &str) -> Vec<Rates> {
    let subjects: std::collections::BTreeSet<String> = desired.subjects.keys().cloned().collect();
    let mut out = Vec::new();
    for &c in SWEEP {
        let client = sandbox.registry().with_concurrency(c);
        let names: Vec<String> = (0..SWEEP_SUBJECTS)
            .map(|i| format!("sweep-{tag}-{c}.s{i:04}-value"))
            .collect();
        let parallel = |f: &(dyn Fn(&str) + Sync)| {
            let next = std::sync::atomic::AtomicUsize::new(0);
            let t = Instant::now();
            std::thread::scope(|scope| {
                for _ in 0..c {
                    scope.spawn(|| {
                        while let Some(n) =
                            names.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                        {
                            f(n);
                        }
                    });
                }
            });
            SWEEP_SUBJECTS as f64 / t.elapsed().as_secs_f64()
        };
        let register = parallel(&|n| {
            let name = n.replace(['.', '-'], "_");
            let schema = format!(
                r#"{{"type":"record","name":"{name}","fields":[{{"name":"id","type":"string"}}]}}"#
            );
            RegistryWriter::register(&client, n, "AVRO", &schema).expect("registers");
        });
        let level = parallel(&|n| {
            RegistryWriter::set_compatibility(&client, n, "FULL").expect("sets the level");
        });
        let (read, t) = timed(|| client.read_subjects(&subjects).expect("reads"));
        let requests = 1 + read
            .values()
            .map(|s| {
                2 + if s.history.len() > 1 {
                    s.history.len()
                } else {
                    0
                }
            })
            .sum::<usize>();
        out.push(Rates {
            concurrency: c,
            register,
            level,
            read: requests as f64 / t.as_secs_f64(),
        });
        eprintln!(
            "    (f) concurrency {c}: register {register:.0}/s, level {level:.0}/s, read {:.0} requests/s",
            requests as f64 / t.as_secs_f64()
        );
    }
    out
}

struct Floor {
    connect: Duration,
    topics: Duration,
    acls: Duration,
    /// Outside the floor: until a full read sees every binding.
    visible: Settle,
    logs: (usize, Duration),
}

/// (c): the same topics and bindings in one batched call each, on a fresh cluster.
fn bench_floor(desired: &DesiredState) -> Floor {
    let sandbox = Sandbox::start("c");
    eprintln!("(c) floor …");
    let topics = new_topics(desired);
    let acls: Vec<_> = desired.acls.iter().cloned().collect();
    let (cluster, connect) = timed(|| sandbox.connect());
    let (results, t_topics) = timed(|| cluster.create_topics(&topics));
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "floor create_topics: {failed:?}");
    let (results, t_acls) = timed(|| cluster.create_acls(&acls));
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "floor create_acls: {failed:?}");
    let visible = settle(&cluster, &read_request(desired), desired, VISIBLE_BOUND);
    Floor {
        connect,
        topics: t_topics,
        acls: t_acls,
        visible,
        logs: sandbox.partition_logs(),
    }
}

struct LibraryApply {
    stages: Vec<(String, Duration)>,
    /// Each `ClusterWriter` call apply made: (call, items, time).
    calls: Vec<(&'static str, usize, Duration)>,
    settle: Settle,
    logs: (usize, Duration),
}

/// (d): apply through the library on a fresh cluster, stage by stage.
fn bench_apply_library(repo: &Path) -> LibraryApply {
    let sandbox = Sandbox::start("d");
    std::fs::write(repo.join("mesh.toml"), sandbox.mesh_toml()).expect("mesh.toml");
    eprintln!("(d) library apply …");
    let mut stages = Vec::new();
    let (report, t) = timed(|| validate(repo));
    stages.push(("validate (read files + check)".to_string(), t));
    let (cluster, t) = timed(|| sandbox.connect());
    stages.push(("connect".to_string(), t));
    let (desired, t) = timed(|| mesh_plan::desired(&report.mesh, None));
    stages.push(("desired".to_string(), t));
    let request = read_request(&desired);
    let (mut live, t) = timed(|| cluster.read(&request).expect("reads"));
    stages.push(("read (empty cluster)".to_string(), t));
    let registry = sandbox.registry();
    let subjects = desired.subjects.keys().cloned().collect();
    let (subjects, t) = timed(|| registry.read_subjects(&subjects).expect("registry reads"));
    stages.push(("registry read (empty registry)".to_string(), t));
    live.subjects = subjects;
    let (plan, t) = timed(|| mesh_plan::plan(&desired, &live));
    stages.push(("plan (diff)".to_string(), t));
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let writer = TimedWriter {
        inner: &cluster,
        calls: Mutex::new(Vec::new()),
    };
    let mut last = Instant::now();
    let mut phases = Vec::new();
    let result = mesh_plan::apply::apply(
        &plan,
        &Target {
            cluster: &writer,
            registry: Some(&registry as &(dyn RegistryWriter + Sync)),
            connect: None,
            before_connectors: None,
        },
        &desired.catalog_topic,
        "2026-01-01T00:00:00Z",
        &mut |phase, ok, failed| {
            phases.push((
                format!("apply: {phase} ({ok} ok, {failed} failed)"),
                last.elapsed(),
            ));
            last = Instant::now();
        },
    );
    assert_eq!(result.failed(), 0, "library apply failed");
    stages.extend(phases);
    let settle = settle(&cluster, &request, &desired, ACL_SETTLE);
    let settle_time = settle.done.unwrap_or_else(|| {
        settle.reads.iter().map(|(d, _)| *d).sum::<Duration>()
            + SETTLE_POLL * u32::try_from(settle.reads.len()).unwrap_or(0)
    });
    stages.push(("ACL settle wait (full reads)".to_string(), settle_time));
    LibraryApply {
        stages,
        calls: writer
            .calls
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner),
        settle,
        logs: sandbox.partition_logs(),
    }
}

/// (e): why. ACLs first on an idle broker, then the topics in batches of `BATCH`.
fn explain(desired: &DesiredState) -> String {
    let sandbox = Sandbox::start("e");
    eprintln!("(e) ACLs first, then topics in batches …");
    let cluster = sandbox.connect();
    let acls: Vec<_> = desired.acls.iter().cloned().collect();
    let mut out = String::new();
    let (_, t) = timed(|| cluster.create_acls(&acls));
    let _ = writeln!(
        out,
        "(e) fresh cluster, ACLs before topics:\n    create_acls({}): {}",
        acls.len(),
        secs(t)
    );
    let visible = settle(&cluster, &read_request(desired), desired, VISIBLE_BOUND);
    let _ = writeln!(
        out,
        "    visible to a read after {} ({})",
        visible.done.map_or("—".into(), secs),
        visible.describe()
    );
    let topics = new_topics(desired);
    for chunk in topics.chunks(BATCH) {
        let (_, t) = timed(|| cluster.create_topics(chunk));
        let _ = writeln!(
            out,
            "    create_topics({}) incl. metadata wait: {}",
            chunk.len(),
            secs(t)
        );
    }
    // Let the broker finish creating logs before reading its log.
    let t = Instant::now();
    let want: usize = topics.iter().map(|t| t.partitions as usize).sum();
    while sandbox.partition_logs().0 < want && t.elapsed() < VISIBLE_BOUND {
        std::thread::sleep(Duration::from_millis(500));
    }
    let (n, span) = sandbox.partition_logs();
    let _ = writeln!(
        out,
        "    broker created {n} partition logs over {}",
        secs(span)
    );
    out
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to parse.
    let work = tempfile::tempdir().expect("a temp dir");
    let repo: PathBuf = work.path().join("repo");

    // The mesh, validated once: a benchmark of an invalid mesh would measure nothing useful.
    generate(&repo, "127.0.0.1:1", "http://127.0.0.1:1");
    let (report, t_validate) = timed(|| validate(&repo));
    let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        for d in errors.iter().take(10) {
            eprintln!("error[{}] {}: {}", d.code, d.file, d.message);
        }
        panic!("the synthetic mesh has {} error(s)", errors.len());
    }
    let desired = mesh_plan::desired(&report.mesh, None);
    let products = report.mesh.products.len();
    let n_topics = desired.topics.len();
    let n_partitions: i32 = desired.topics.values().map(|t| t.partitions).sum();
    let n_acls = desired.acls.len();
    let n_configs: usize = desired.topics.values().map(|t| t.config.len()).sum();
    let n_subjects = desired.subjects.len();
    eprintln!(
        "mesh: {products} products, {n_topics} topics ({n_partitions} partitions, {n_configs} configs), {n_acls} ACL bindings, {} principals, {n_subjects} subjects; validate {} ({} warning(s))",
        desired.principals.len(),
        secs(t_validate),
        report.diagnostics.len(),
    );

    // (a) and (b) on one cluster.
    let (apply, plan, counts, sweep) = {
        let sandbox = Sandbox::start("a+b");
        std::fs::write(repo.join("mesh.toml"), sandbox.mesh_toml()).expect("mesh.toml");
        // What apply will do (one read of the empty cluster, not timed).
        let live = sandbox
            .connect()
            .read(&read_request(&desired))
            .expect("reads");
        let counts = plan_counts(&mesh_plan::plan(&desired, &live));
        eprintln!("(a) mesh apply …");
        let (total, phases, settle_bound_hit) = bench_apply_binary(&repo);
        eprintln!("    {}", secs(total));
        eprintln!("(b) mesh plan ×{PLAN_RUNS} …");
        let plan = bench_plan(&repo, &sandbox);
        eprintln!("(f) registry rates by concurrency …");
        let sweep = registry_sweep(&sandbox, &desired, "f");
        let apply = ApplyBinary {
            total,
            phases,
            settle_bound_hit,
            logs: sandbox.partition_logs(),
        };
        (apply, plan, counts, sweep)
    };
    let floor = bench_floor(&desired);
    let library = bench_apply_library(&repo);
    let explained = (std::env::var_os("MESH_BENCH_EXPLAIN").is_some_and(|v| v == "1"))
        .then(|| explain(&desired));

    // ---------------------------------------------------------------------------------------
    let floor_total = floor.connect + floor.topics + floor.acls;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nlive: {products} products in {DOMAINS} domains → {n_topics} topics, {n_partitions} partitions, {n_configs} topic configs, {n_acls} ACL bindings (one broker, replication 1), {n_subjects} subjects; BATCH = {BATCH}, registry writes {REGISTRY_CONCURRENCY} in flight, reads {DEFAULT_CONCURRENCY}\n"
    );
    let _ = writeln!(
        out,
        "{:<54} {:>9}  {:>9}  {:>6}",
        "measure", "time", "requests", "items"
    );
    let row = |out: &mut String, what: &str, t: Duration, req: &str, items: usize| {
        let items = if items == 0 {
            String::new()
        } else {
            items.to_string()
        };
        let _ = writeln!(out, "{what:<54} {:>9}  {req:>9}  {items:>6}", secs(t));
    };
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    row(
        &mut out,
        "(a) mesh apply, empty cluster (binary, end to end)",
        apply.total,
        "",
        counts.values().sum(),
    );
    for (label, d) in &apply.phases {
        let (req, items) = match *label {
            "catalog topic" => ("1".to_string(), count("catalog topic")),
            "topics" => (count("topics").div_ceil(BATCH).to_string(), count("topics")),
            "print plan + ACLs created" => (
                count("ACLs created").div_ceil(BATCH).to_string(),
                count("ACLs created"),
            ),
            "compatibility levels of new subjects" => (
                count("compatibility levels").to_string(),
                count("compatibility levels"),
            ),
            "catalog records" => ("produce".to_string(), count("catalog records")),
            "compatibility levels" | "schemas" => (count(label).to_string(), count(label)),
            _ => (String::new(), 0),
        };
        row(&mut out, &format!("    {label}"), *d, &req, items);
    }
    if apply.settle_bound_hit {
        let _ = writeln!(
            out,
            "    (the settle wait hit its 10 s bound: \"still propagating\")"
        );
    }
    row(
        &mut out,
        "(c) floor (no schemas): connect + topics + ACLs",
        floor_total,
        "2",
        n_topics + n_acls,
    );
    row(&mut out, "    connect", floor.connect, "", 0);
    row(
        &mut out,
        "    create_topics(&all), incl. its metadata wait",
        floor.topics,
        "1",
        n_topics,
    );
    row(&mut out, "    create_acls(&all)", floor.acls, "1", n_acls);
    match floor.visible.done {
        Some(t) => row(
            &mut out,
            "    (not in the floor) then until a read sees the ACLs",
            t,
            "",
            0,
        ),
        None => {
            let _ = writeln!(
                out,
                "    (not in the floor) ACLs not visible within {}",
                secs(VISIBLE_BOUND)
            );
        }
    }
    let ratio = apply.total.as_secs_f64() / floor_total.as_secs_f64();
    let _ = writeln!(
        out,
        "{:<54} {:>8.2}×  (target ≤ 1.5×)",
        "ratio apply / floor", ratio
    );
    if let Some(v) = floor.visible.done {
        let effective = floor_total + v;
        let _ = writeln!(
            out,
            "{:<54} {:>8.2}×  (floor {} until its ACLs are visible)",
            "ratio apply / floor-until-visible",
            apply.total.as_secs_f64() / effective.as_secs_f64(),
            secs(effective)
        );
    }
    row(
        &mut out,
        &format!("(b) mesh plan, no changes (binary, median of {PLAN_RUNS})"),
        median(&plan.binary),
        "",
        0,
    );
    let _ = writeln!(
        out,
        "{:<54} {:>9}  target < 5 s with schemas; runs {}",
        "",
        "",
        list(&plan.binary)
    );
    row(
        &mut out,
        "    validate (library, median)",
        median(&plan.validate),
        "",
        products,
    );
    row(
        &mut out,
        "    connect (library, median)",
        median(&plan.connect),
        "",
        0,
    );
    row(
        &mut out,
        "    read (library, median)",
        median(&plan.read),
        &format!("{}+cat.", 3 + (n_topics + 1).div_ceil(500)),
        n_topics + n_acls + products,
    );
    let reg = median(&plan.registry);
    row(
        &mut out,
        "    registry read (library, median)",
        reg,
        &plan.registry_requests.to_string(),
        n_subjects,
    );
    let _ = writeln!(
        out,
        "        {:.0} subjects/s, {:.0} HTTP requests/s at concurrency {DEFAULT_CONCURRENCY}; runs {}",
        n_subjects as f64 / reg.as_secs_f64(),
        plan.registry_requests as f64 / reg.as_secs_f64(),
        list(&plan.registry)
    );
    row(
        &mut out,
        "    plan diff (library, median)",
        median(&plan.diff),
        "",
        0,
    );
    let _ = writeln!(
        out,
        "    (after apply returned, `mesh plan` said \"no changes\" after {})",
        secs(plan.converged)
    );
    let _ = writeln!(
        out,
        "(d) apply through the library, fresh cluster, by stage"
    );
    let mut lib_total = Duration::ZERO;
    for (label, d) in &library.stages {
        lib_total += *d;
        row(&mut out, &format!("    {label}"), *d, "", 0);
    }
    row(&mut out, "    total", lib_total, "", 0);
    let _ = writeln!(out, "    ClusterWriter calls apply made:");
    for (call, n, d) in &library.calls {
        row(&mut out, &format!("      {call}"), *d, "1", *n);
    }
    let _ = writeln!(
        out,
        "    settle: {}{}",
        library.settle.describe(),
        if library.settle.done.is_none() {
            " — hit the 10 s bound"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "broker partition-log creation (first → last `Created log`): (a) {} logs over {}, (c) {} over {}, (d) {} over {}",
        apply.logs.0,
        secs(apply.logs.1),
        floor.logs.0,
        secs(floor.logs.1),
        library.logs.0,
        secs(library.logs.1)
    );
    let _ = writeln!(out, "floor ACL visibility: {}", floor.visible.describe());
    let _ = writeln!(
        out,
        "(f) registry requests/s by concurrency ({SWEEP_SUBJECTS} new subjects registered, then levelled; {n_subjects} subjects read):"
    );
    for r in &sweep {
        let _ = writeln!(
            out,
            "    {:>3} in flight: register {:>5.0}/s, level {:>5.0}/s, read {:>5.0}/s",
            r.concurrency, r.register, r.level, r.read
        );
    }
    if let Some(e) = explained {
        out.push_str(&e);
    }
    println!("{out}");
    drop(work);
}
