//! Saved plans and the apply lock end to end: the real `mesh` binary against a real Kafka and
//! registry started by the project's sandbox, checked with Kafka's own admin tools.
//!
//! The tests that need a cluster share one sandbox (a start costs ~15 s) and take turns: they
//! all work on the same topics and the same lock. The sandbox stops when the last test using it
//! drops its handle, so no JVM outlives the run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use mesh_sandbox::{Ephemeral, SandboxConfig, admin_client_properties, kafka_tool_command};

static SANDBOX: Mutex<Weak<Ephemeral>> = Mutex::new(Weak::new());
static TURN: Mutex<()> = Mutex::new(());

/// The shared sandbox, and this test's turn on it. The handle is taken before the turn, so the
/// sandbox stays up while tests wait for theirs.
fn cluster() -> (Arc<Ephemeral>, MutexGuard<'static, ()>) {
    let sb = {
        let mut slot = SANDBOX.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.upgrade() {
            Some(sb) => sb,
            None => {
                let sb = Arc::new(
                    Ephemeral::start(&[], &mut |line| eprintln!("{line}")).expect("sandbox starts"),
                );
                *slot = Arc::downgrade(&sb);
                sb
            }
        }
    };
    let turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    (sb, turn)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mesh-repo-example")
}

/// The example mesh in `dir`, its `local` environment pointed at the sandbox.
fn example_for(cfg: &SandboxConfig, dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    copy_dir(&example(), &repo);
    let mesh = repo.join("mesh.toml");
    let text = std::fs::read_to_string(&mesh)
        .unwrap()
        .replace("127.0.0.1:19092", &cfg.bootstrap_servers())
        .replace(
            "http://127.0.0.1:18081/apis/ccompat/v7",
            &cfg.registry_url(),
        );
    std::fs::write(&mesh, text).unwrap();
    repo
}

fn mesh_command(repo: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mesh"));
    c.args(args)
        .arg("--repo")
        .arg(repo)
        .env("NO_COLOR", "1")
        .env_remove("MESH_LOCAL_PASSWORD")
        .env_remove("MESH_LOCK_LEASE_SECONDS")
        .env_remove("MESH_TEST_HOLD_LOCK_SECONDS")
        .env_remove("MESH_LOCK_OWNER");
    c
}

fn mesh(repo: &Path, args: &[&str]) -> Output {
    mesh_command(repo, args).output().expect("mesh runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tool(cfg: &SandboxConfig, main_class: &str, args: &[&str]) -> String {
    let admin = admin_client_properties(cfg).unwrap();
    let out = kafka_tool_command(cfg, main_class)
        .args([
            "--bootstrap-server",
            &cfg.bootstrap_servers(),
            "--command-config",
        ])
        .arg(admin)
        .args(args)
        .output()
        .expect("java runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Applies the repo as it is, so a test starts from a converged cluster.
fn converge(repo: &Path) {
    let o = mesh(repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// An apply running in the background, holding the lock for `hold` seconds after taking it.
struct Background {
    child: Child,
    stderr: Receiver<String>,
    seen: Vec<String>,
}

impl Background {
    fn start(repo: &Path, owner: &str, hold: u64, lease: Option<u64>) -> Background {
        let mut c = mesh_command(repo, &["apply", "--env", "local", "--auto-approve"]);
        c.env("MESH_LOCK_OWNER", owner)
            .env("MESH_TEST_HOLD_LOCK_SECONDS", hold.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(l) = lease {
            c.env("MESH_LOCK_LEASE_SECONDS", l.to_string());
        }
        let mut child = c.spawn().expect("mesh starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Background {
            child,
            stderr: rx,
            seen: Vec::new(),
        }
    }

    /// Waits until it printed that it holds the lock.
    fn wait_for_lock(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    let got = line.contains("holds the apply lock");
                    self.seen.push(line);
                    if got {
                        return;
                    }
                }
                Err(_) => panic!(
                    "the background apply never took the lock: {}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        self.seen.extend(self.stderr.iter());
        (status.code(), self.seen.join("\n"))
    }
}

#[test]
fn a_saved_plan_applies_and_then_there_are_no_changes() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    let file = dir.path().join("plan.json");
    let f = file.to_str().unwrap();

    let o = mesh(&repo, &["plan", "--env", "local", "--out", f]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["format"], "mesh-plan");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["environment"], "local");
    assert_eq!(saved["bootstrap_servers"], sb.cfg.bootstrap_servers());
    assert!(saved["repo"]["revision"].is_null());
    assert_eq!(saved["repo"]["content_sha256"].as_str().unwrap().len(), 64);

    // The file names the environment: no --env needed.
    let o = mesh(&repo, &["apply", f, "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("holds the apply lock") && out.contains("released the apply lock"),
        "{out}"
    );
    let o = mesh(&repo, &["plan", "--env", "local"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("No changes"), "{}", text(&o));
}

#[test]
fn a_saved_plan_holds_no_password() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    let file = dir.path().join("plan.json");
    let o = mesh(
        &repo,
        &["plan", "--env", "local", "--out", file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(!saved.contains("admin-secret"), "{saved}");
    assert!(!saved.contains("sasl"), "{saved}");
}

#[test]
fn a_plan_with_errors_is_not_saved() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    converge(&repo);
    // A partition decrease is a plan error.
    let profiles = repo.join("domains/customers/products/profiles.toml");
    let t = std::fs::read_to_string(&profiles).unwrap();
    let local =
        "[environments.local.topic]        # a laptop does not need 12 partitions\npartitions = 3";
    assert!(t.contains(local), "{t}");
    std::fs::write(&profiles, t.replace(local, &local.replace("= 3", "= 2"))).unwrap();
    let file = dir.path().join("plan.json");
    let o = mesh(
        &repo,
        &["plan", "--env", "local", "--out", file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the plan has errors, so it was not saved to"),
        "{}",
        text(&o)
    );
    assert!(!file.exists());
}

#[test]
fn a_stale_plan_is_refused_naming_what_changed() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    converge(&repo);
    let file = dir.path().join("plan.json");
    let f = file.to_str().unwrap();
    let o = mesh(&repo, &["plan", "--env", "local", "--out", f]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Someone changes a topic behind mesh's back, with Kafka's own tool.
    let out = tool(
        &sb.cfg,
        "kafka.admin.ConfigCommand",
        &[
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            "sales.orders",
            "--add-config",
            "max.message.bytes=2000000",
        ],
    );
    assert!(out.contains("Completed updating config"), "{out}");

    let o = mesh(&repo, &["apply", f, "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(
            "stale plan: the cluster changed since this plan was made: topic sales.orders"
        ) && out.contains("help: run mesh plan again"),
        "{out}"
    );
    // The lock was given back on this error path too.
    assert!(out.contains("released the apply lock"), "{out}");

    let out = tool(
        &sb.cfg,
        "kafka.admin.ConfigCommand",
        &[
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            "sales.orders",
            "--delete-config",
            "max.message.bytes",
        ],
    );
    assert!(out.contains("Completed updating config"), "{out}");
}

#[test]
fn a_second_apply_fails_fast_naming_the_holder() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    let mut first = Background::start(&repo, "alice@ci-runner-3", 8, None);
    first.wait_for_lock();

    let started = Instant::now();
    let mut c = mesh_command(&repo, &["apply", "--env", "local", "--auto-approve"]);
    let o = c.env("MESH_LOCK_OWNER", "bob@laptop").output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("the cluster is locked by alice@ci-runner-3 (pid ")
            && out.contains(", mesh apply) since ")
            && out.contains("mesh unlock --env local"),
        "{out}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "it failed fast: {:?}",
        started.elapsed()
    );

    let (code, log) = first.finish();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("released the apply lock"), "{log}");
}

#[test]
fn heartbeats_keep_a_long_apply_locked_past_its_lease() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    // A 3 s lease, held for 9 s: only its heartbeats (every second) keep it.
    let mut long = Background::start(&repo, "slow@ci", 9, Some(3));
    long.wait_for_lock();
    std::thread::sleep(Duration::from_secs(5));
    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the cluster is locked by slow@ci"),
        "{}",
        text(&o)
    );
    let (code, log) = long.finish();
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("lost the apply lock"), "{log}");
}

#[test]
fn a_crashed_holders_lock_expires_after_its_lease() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    let mut crashed = Background::start(&repo, "crashy@ci", 120, Some(6));
    crashed.wait_for_lock();
    crashed.child.kill().unwrap(); // SIGKILL: no release, no more heartbeats
    let (code, _) = crashed.finish();
    assert_eq!(code, None, "killed by a signal");

    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the cluster is locked by crashy@ci"),
        "{}",
        text(&o)
    );

    // After the lease (6 s from the last heartbeat), the next apply takes the lock.
    std::thread::sleep(Duration::from_secs(7));
    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn unlock_frees_a_held_lock_and_names_the_holder() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    let mut crashed = Background::start(&repo, "gone@runner", 120, None);
    crashed.wait_for_lock();
    crashed.child.kill().unwrap();
    crashed.finish();

    let o = mesh(&repo, &["unlock", "--env", "local"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("released the lock held by gone@runner (pid "),
        "{}",
        text(&o)
    );
    let o = mesh(&repo, &["unlock", "--env", "local"]);
    assert!(text(&o).contains("not locked"), "{}", text(&o));
    // Well within the 60 s default lease.
    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn plan_from_a_bare_clone_at_a_revision_works_against_the_cluster() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let work = example_for(&sb.cfg, dir.path());
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "example"]);
    let bare = dir.path().join("bare.git");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let file = dir.path().join("plan.json");
    let o = mesh(
        &bare,
        &[
            "plan",
            "--env",
            "local",
            "--rev",
            "HEAD",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let rev = saved["repo"]["revision"].as_str().unwrap();
    assert_eq!(rev.len(), 40, "{saved}");
    // The saved plan applies with the settings read from the same revision.
    let o = mesh(
        &bare,
        &[
            "apply",
            file.to_str().unwrap(),
            "--rev",
            "HEAD",
            "--auto-approve",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

// Error paths that fail before any connection: no cluster needed.

fn plan_file_error(content: Option<&str>, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("my-plan.json");
    if let Some(c) = content {
        std::fs::write(&file, c).unwrap();
    }
    let mut args = vec!["apply", file.to_str().unwrap()];
    args.extend(extra);
    let o = mesh(&example(), &args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("my-plan.json"), "names the file: {out}");
    out
}

/// A plan file as `mesh plan --out` would write it, for the `local` environment.
fn valid_plan() -> serde_json::Value {
    serde_json::json!({
        "format": "mesh-plan",
        "version": 1,
        "mesh_version": "0.1.0",
        "environment": "local",
        "bootstrap_servers": "127.0.0.1:1",
        "repo": {"revision": null, "content_sha256": "00"},
        "created_at": "2026-11-22T11:40:03Z",
        "read": {"topics": [], "principals": [], "catalog_topic": "_mesh-catalog", "subjects": []},
        "actions": [],
        "fingerprint": {"catalog_topic_exists": false, "topics": {}, "acls": {}, "subjects": {}, "catalog": {}}
    })
}

#[test]
fn a_missing_plan_file_is_named() {
    let out = plan_file_error(None, &[]);
    assert!(out.contains("cannot read the plan file"), "{out}");
}

#[test]
fn a_file_that_is_not_a_plan_is_named() {
    let out = plan_file_error(Some("hello"), &[]);
    assert!(out.contains("not a mesh plan file (not JSON"), "{out}");
    let out = plan_file_error(Some(r#"{"format_version": "1.2"}"#), &[]);
    assert!(
        out.contains("not a mesh plan file (no `format` field)"),
        "{out}"
    );
}

#[test]
fn a_plan_file_of_another_version_is_named() {
    let mut p = valid_plan();
    p["version"] = 7.into();
    let out = plan_file_error(Some(&p.to_string()), &[]);
    assert!(
        out.contains("plan file version 7, but this mesh reads version 1"),
        "{out}"
    );
}

#[test]
fn a_damaged_plan_file_is_named() {
    let mut p = valid_plan();
    p["actions"] = serde_json::json!([{"action": "launch_rockets"}]);
    let out = plan_file_error(Some(&p.to_string()), &[]);
    assert!(out.contains("the plan file is damaged"), "{out}");
}

#[test]
fn a_plan_for_another_environment_is_refused() {
    let out = plan_file_error(Some(&valid_plan().to_string()), &["--env", "prod"]);
    assert!(
        out.contains("the plan was made for environment `local`, not `prod`"),
        "{out}"
    );
}

#[test]
fn a_plan_for_other_brokers_is_refused() {
    let out = plan_file_error(Some(&valid_plan().to_string()), &[]);
    assert!(
        out.contains("the plan was made against 127.0.0.1:1, but environment `local` now points at 127.0.0.1:19092"),
        "{out}"
    );
}

#[test]
fn unlock_names_an_unknown_environment() {
    let o = mesh(&example(), &["unlock", "--env", "nope"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("no environment `nope` in mesh.toml"),
        "{}",
        text(&o)
    );
}
