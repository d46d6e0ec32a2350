//! `cargo bench -p mesh-cli --bench scale`
//! `MESH_BENCH_SIZES=1000,5000,10000 cargo bench -p mesh-cli --bench scale`
//!
//! How `mesh apply` and a no-change `mesh plan` grow with the mesh: for each size N (default
//! 1,000 only, to stay cheap), a fresh three-broker sandbox (the project's, on free ports,
//! stopped by a drop guard) and the synthetic mesh of `benches/support/synth.rs` — one topic per
//! product (1 partition, replication 1 unless `MESH_BENCH_REPLICATION` says otherwise), four
//! configs, a producer and a consumer (5 ACL bindings per product):
//!
//! 1. `mesh apply` of the mesh without schemas, from an empty cluster;
//! 2. `mesh plan`, no changes, without schemas (median of `PLAN_RUNS`, once a plan has
//!    converged: apply's bounded ACL wait may end before the brokers show every binding);
//! 3. the same products given schemas (an Avro value schema each, an Avro key for every fifth:
//!    1.2 subjects per product, 12,000 at 10,000) and `mesh apply` again, which registers them;
//! 4. `mesh plan`, no changes, with schemas (median of `PLAN_RUNS`);
//! 5. `mesh validate` of the mesh with schemas.
//!
//! Kafka 4.4.0 (the sandbox's default) refused apply's CreateTopics batches above 1,428 topics of
//! this shape until apply counted one record more per topic and split refused batches (session 6,
//! docs/benchmarks.md); `MESH_SANDBOX_KAFKA=3.9.2` runs another Kafka release.
//!
//! Each is the real binary; wall time, CPU (user + sys) and peak memory (max RSS) of the `mesh`
//! process come from `wait4`'s rusage. Prints a table; asserts nothing about time (figures go in
//! docs/benchmarks.md). Targets (issue 14): linear growth, plan of 10,000 products under 5 s
//! with 12,000 subjects and under 2 s without schemas, under 200 MiB peak for that plan.

#[path = "support/synth.rs"]
mod synth;

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mesh_sandbox::{SandboxConfig, down, up};
use synth::{ENV, Synth};

const PLAN_RUNS: usize = 3;
/// How long to wait, untimed, for a plan after apply to say "no changes".
const CONVERGE_BOUND: Duration = Duration::from_secs(900);

struct Sandbox {
    cfg: SandboxConfig,
    _dir: tempfile::TempDir,
}

impl Sandbox {
    fn start(label: &str) -> Sandbox {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut cfg =
            SandboxConfig::from_env(Some(dir.path().join("sandbox"))).expect("sandbox config");
        cfg.brokers = 3;
        cfg.use_free_ports().expect("free ports");
        let t = Instant::now();
        let sandbox = Sandbox { cfg, _dir: dir };
        up(&sandbox.cfg, &mut |line| eprintln!("  [{label}] {line}")).expect("sandbox starts");
        eprintln!(
            "  [{label}] 3-broker sandbox up at {} in {:.1} s",
            sandbox.cfg.bootstrap_servers(),
            t.elapsed().as_secs_f64()
        );
        sandbox
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        match down(&self.cfg) {
            Ok(stopped) => eprintln!("  sandbox stopped ({} process(es))", stopped.len()),
            Err(e) => eprintln!("  cleanup of the sandbox: {e}"),
        }
    }
}

/// One run of the binary: wall time, CPU and peak memory from `wait4`.
#[derive(Clone, Copy)]
struct Usage {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: u64,
    code: i32,
}

fn tv(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// Runs `mesh ARGS --repo REPO`, its output into `out`, and reaps it with `wait4` for its own
/// rusage (not the bench's, nor other children's).
fn run_mesh(repo: &Path, args: &[&str], out: &Path) -> Usage {
    let log = File::create(out).expect("output file");
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args(args)
        .arg("--repo")
        .arg(repo)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("mesh runs");
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let mut status = 0;
    // SAFETY: `rusage` is plain data that `wait4` fills in; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (the `Child` is never waited on).
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(
        reaped,
        pid,
        "wait4 failed: {}",
        std::io::Error::last_os_error()
    );
    drop(child);
    Usage {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        max_rss_kib: usage.ru_maxrss as u64,
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
    }
}

fn expect_ok(u: Usage, what: &str, out: &Path) -> Usage {
    if u.code != 0 {
        // The reason is usually far above the per-action lines: show the lines that say what
        // failed, then the end.
        let text = std::fs::read_to_string(out).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        // A failed action's reason is the line under its `FAILED`; show each reason once.
        let mut reasons: Vec<&str> = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let reason = if l.trim_start().starts_with("FAILED") {
                lines.get(i + 1).map(|r| r.trim())
            } else if l.to_lowercase().contains("error") {
                Some(l.trim())
            } else {
                None
            };
            if let Some(r) = reason.filter(|r| !reasons.contains(r)) {
                reasons.push(r);
            }
        }
        reasons.truncate(20);
        let tail = &lines[lines.len().saturating_sub(15)..];
        panic!(
            "{what} exited {}:\n{}\n…\n{}",
            u.code,
            reasons.join("\n"),
            tail.join("\n")
        );
    }
    u
}

/// Waits (untimed) until `mesh plan --detailed-exitcode` says "no changes"; returns how long.
fn converge(repo: &Path, out: &Path) -> Duration {
    let t = Instant::now();
    loop {
        let u = run_mesh(repo, &["plan", "--env", ENV, "--detailed-exitcode"], out);
        if u.code == 0 {
            return t.elapsed();
        }
        if t.elapsed() > CONVERGE_BOUND {
            expect_ok(u, "plan after apply (still shows changes)", out);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// `PLAN_RUNS` no-change plans; the median run by wall time, and every wall time.
fn plans(repo: &Path, out: &Path) -> (Usage, Vec<Duration>) {
    let mut runs: Vec<Usage> = (0..PLAN_RUNS)
        .map(|_| {
            let u = run_mesh(repo, &["plan", "--env", ENV, "--detailed-exitcode"], out);
            expect_ok(u, "no-change plan", out)
        })
        .collect();
    let walls = runs.iter().map(|u| u.wall).collect();
    runs.sort_by_key(|u| u.wall);
    (runs[runs.len() / 2], walls)
}

struct SizeFigures {
    n: usize,
    topics: usize,
    acls: usize,
    subjects: usize,
    apply: Usage,
    converge: Duration,
    plan: Usage,
    plan_walls: Vec<Duration>,
    apply_schemas: Usage,
    converge_schemas: Duration,
    plan_schemas: Usage,
    plan_schemas_walls: Vec<Duration>,
    validate: Usage,
}

fn measure(n: usize, replication: i32) -> SizeFigures {
    let sandbox = Sandbox::start(&format!("N={n}"));
    let work = tempfile::tempdir().expect("a temp dir");
    let repo = work.path().join("repo");
    let out = work.path().join("mesh.out");
    let bootstrap = sandbox.cfg.bootstrap_servers();
    let registry = sandbox.cfg.registry_url();
    let mut synth = Synth {
        products: n,
        per_domain: 50,
        partitions: 1,
        replication,
        schemas: false,
        tag: String::new(),
    };
    synth
        .write(&repo, &bootstrap, None)
        .expect("writes the mesh");
    let acls = 5 * n;

    eprintln!("  [N={n}] mesh apply, no schemas …");
    let apply = expect_ok(
        run_mesh(&repo, &["apply", "--env", ENV, "--auto-approve"], &out),
        "apply",
        &out,
    );
    progress(&apply);
    let converge_plain = converge(&repo, &out);
    eprintln!("  [N={n}] mesh plan ×{PLAN_RUNS}, no schemas …");
    let (plan, plan_walls) = plans(&repo, &out);
    progress(&plan);

    synth.schemas = true;
    synth
        .write(&repo, &bootstrap, Some(&registry))
        .expect("writes the mesh with schemas");
    let subjects = n + n.div_ceil(5);
    eprintln!("  [N={n}] mesh apply, {subjects} subjects …");
    let apply_schemas = expect_ok(
        run_mesh(&repo, &["apply", "--env", ENV, "--auto-approve"], &out),
        "apply with schemas",
        &out,
    );
    progress(&apply_schemas);
    let converge_schemas = converge(&repo, &out);
    eprintln!("  [N={n}] mesh plan ×{PLAN_RUNS}, with schemas …");
    let (plan_schemas, plan_schemas_walls) = plans(&repo, &out);
    progress(&plan_schemas);
    let validate = expect_ok(
        run_mesh(&repo, &["validate", "--env", ENV], &out),
        "validate",
        &out,
    );
    SizeFigures {
        n,
        topics: n,
        acls,
        subjects,
        apply,
        converge: converge_plain,
        plan,
        plan_walls,
        apply_schemas,
        converge_schemas,
        plan_schemas,
        plan_schemas_walls,
        validate,
    }
}

/// One figure as soon as it is measured (stderr).
fn progress(u: &Usage) {
    eprintln!(
        "    {:.2} s wall, {:.2} s CPU, {:.0} MiB max RSS",
        u.wall.as_secs_f64(),
        u.cpu.as_secs_f64(),
        u.max_rss_kib as f64 / 1024.0
    );
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

fn main() {
    // `cargo bench` passes `--bench`; the sizes come from the environment.
    let sizes: Vec<usize> = std::env::var("MESH_BENCH_SIZES")
        .unwrap_or_else(|_| "1000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("MESH_BENCH_SIZES: numbers, comma-separated")
        })
        .collect();
    let replication: i32 = std::env::var("MESH_BENCH_REPLICATION")
        .ok()
        .map_or(1, |s| s.parse().expect("MESH_BENCH_REPLICATION: a number"));
    let header = format!(
        "\nscale: three-broker sandbox, 1 partition and replication {replication} per topic, 4 configs, 5 ACL bindings and (with schemas) 1.2 subjects per product\n\n| N | measure | wall s | CPU s | max RSS MiB | wall per 1k products | note |\n| ---: | --- | ---: | ---: | ---: | ---: | --- |"
    );
    let mut table = String::new();
    for &n in &sizes {
        let f = measure(n, replication);
        let rows = rows(&f);
        // Each size as soon as it is done: a long run cut short keeps what it measured.
        println!("{header}\n{rows}");
        table.push_str(&rows);
    }
    if sizes.len() > 1 {
        println!("{header}\n{table}");
    }
}

/// The table rows of one size.
fn rows(f: &SizeFigures) -> String {
    let mut out = String::new();
    let per_k = |u: &Usage| u.wall.as_secs_f64() * 1000.0 / f.n as f64;
    let mut row = |what: String, u: &Usage, note: String| {
        let _ = writeln!(
            out,
            "| {} | {what} | {} | {} | {:.0} | {:.2} s | {note} |",
            f.n,
            secs(u.wall),
            secs(u.cpu),
            u.max_rss_kib as f64 / 1024.0,
            per_k(u),
        );
    };
    row(
        format!("apply, no schemas ({} topics, {} ACLs)", f.topics, f.acls),
        &f.apply,
        format!(
            "plan said no changes {:.1} s after",
            f.converge.as_secs_f64()
        ),
    );
    row(
        format!("plan, no changes, no schemas (median of {PLAN_RUNS})"),
        &f.plan,
        format!("runs {}", list(&f.plan_walls)),
    );
    row(
        format!("apply of {} subjects (schemas added)", f.subjects),
        &f.apply_schemas,
        format!(
            "plan said no changes {:.1} s after",
            f.converge_schemas.as_secs_f64()
        ),
    );
    row(
        format!(
            "plan, no changes, {} subjects (median of {PLAN_RUNS})",
            f.subjects
        ),
        &f.plan_schemas,
        format!("runs {}", list(&f.plan_schemas_walls)),
    );
    row("validate".to_string(), &f.validate, String::new());
    out
}

fn list(v: &[Duration]) -> String {
    v.iter().map(|d| secs(*d)).collect::<Vec<_>>().join(", ")
}
