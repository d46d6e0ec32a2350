//! Saved plans and the apply lock end to end: the real `mesh` binary against a real Kafka and
//! registry started by the project's sandbox, checked with Kafka's own admin tools.
//!
//! The tests that need a cluster share one sandbox (a start costs ~15 s) and take turns: they
//! all work on the same topics and the same lock. The sandbox stops when the last test using it
//! drops its handle, so no JVM outlives the run.

mod common;
use common::*;

use std::io::BufReader;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use mesh_sandbox::{Ephemeral, KafkaTool};

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

/// Applies the repo as it is, so a test starts from a converged cluster.
fn converge(repo: &Path) {
    let o = mesh(repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// An interactive `mesh apply` in the background, on a pseudo-terminal (`script`), so that it
/// takes the lock and then waits at its confirmation prompt — holding the lock (and heartbeating)
/// for as long as nobody answers, as a person at the prompt would.
struct Background {
    child: Child,
    stdin: std::process::ChildStdin,
    output: Receiver<String>,
    seen: Vec<String>,
}

impl Background {
    /// `repo` must have something to apply, or apply ends before it asks.
    fn start(repo: &Path, owner: &str, lease: Option<u64>) -> Background {
        let command = format!(
            "'{}' apply --env local --repo '{}'",
            env!("CARGO_BIN_EXE_mesh"),
            repo.display()
        );
        let mut c = Command::new("script");
        c.args(["-qfec", &command, "/dev/null"])
            .env("NO_COLOR", "1")
            .env_remove("MESH_LOCAL_PASSWORD")
            .env_remove("MESH_LOCK_LEASE_SECONDS")
            .env("MESH_LOCK_OWNER", owner)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(l) = lease {
            c.env("MESH_LOCK_LEASE_SECONDS", l.to_string());
        }
        let mut child = c.spawn().expect("script (util-linux) runs");
        let stdin = child.stdin.take().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // The prompt has no newline: split on both, so it arrives as a line of its own.
            let mut reader = BufReader::new(out);
            let mut buf = Vec::new();
            let mut byte = [0u8; 1];
            while std::io::Read::read(&mut reader, &mut byte).unwrap_or(0) == 1 {
                buf.push(byte[0]);
                let at_prompt = buf.ends_with(b"accepted: ");
                if byte[0] == b'\n' || at_prompt {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    buf.clear();
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        });
        Background {
            child,
            stdin,
            output: rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `what`.
    fn wait_for(&mut self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(line) => {
                    let got = line.contains(what);
                    self.seen.push(line);
                    if got {
                        return;
                    }
                }
                Err(_) => panic!(
                    "the background apply never printed {what:?}: {}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits until it holds the lock and asks for confirmation.
    fn wait_at_prompt(&mut self) {
        self.wait_for("holds the apply lock");
        self.wait_for("Only 'yes' is accepted");
    }

    /// Answers the prompt and waits for the end.
    fn answer(mut self, answer: &str) -> (Option<i32>, String) {
        use std::io::Write as _;
        let _ = writeln!(self.stdin, "{answer}");
        let _ = self.stdin.flush();
        self.finish()
    }

    /// Kills `mesh` itself with SIGKILL (no release, no more heartbeats), as a crash would.
    fn crash(mut self) {
        let script = self.child.id();
        let mesh = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    // pid (comm) state ppid …
                    stat.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                        .is_some_and(|ppid| ppid == script.to_string())
                })
            })
            .expect("mesh runs under script");
        let ok = Command::new("kill")
            .args(["-9", &mesh.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -9 {mesh}");
        let _ = self.child.wait();
    }

    fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        self.seen.extend(self.output.iter());
        (status.code(), self.seen.join("\n"))
    }
}

/// Gives the repo something to apply (a catalog change), unique to this run.
fn pending_change(repo: &Path) {
    let file = repo.join("domains/sales/products/orders.toml");
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let text = std::fs::read_to_string(&file).unwrap().replacen(
        "description = \"",
        &format!("description = \"(rev {nonce}) "),
        1,
    );
    std::fs::write(&file, text).unwrap();
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
    let out = admin_tool(
        &sb.cfg,
        KafkaTool::Configs,
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

    let out = admin_tool(
        &sb.cfg,
        KafkaTool::Configs,
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
    pending_change(&repo);
    let mut first = Background::start(&repo, "alice@ci-runner-3", None);
    first.wait_at_prompt();

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
        started.elapsed() < Duration::from_secs(10),
        "it failed fast: {:?}",
        started.elapsed()
    );

    let (code, log) = first.answer("yes");
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("released the apply lock"), "{log}");
}

#[test]
fn heartbeats_keep_a_long_apply_locked_past_its_lease() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    pending_change(&repo);
    // A 3 s lease, held at the prompt for 5 s and more: only its heartbeats keep it.
    let mut long = Background::start(&repo, "slow@ci", Some(3));
    long.wait_at_prompt();
    // Time has to pass for this test: beyond the 3 s lease, which only heartbeats renew.
    std::thread::sleep(Duration::from_secs(5));
    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the cluster is locked by slow@ci"),
        "{}",
        text(&o)
    );
    // Answering anything but "yes" cancels, and releases the lock.
    let (code, log) = long.answer("no");
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("Apply cancelled; nothing was changed."),
        "{log}"
    );
    assert!(!log.contains("lost the apply lock"), "{log}");
    assert!(log.contains("released the apply lock"), "{log}");
}

#[test]
fn a_crashed_holders_lock_expires_after_its_lease() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    pending_change(&repo);
    let mut crashed = Background::start(&repo, "crashy@ci", Some(6));
    crashed.wait_at_prompt();
    crashed.crash();

    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the cluster is locked by crashy@ci"),
        "{}",
        text(&o)
    );

    // Once the lease (6 s from the last heartbeat) has run out, an apply takes the lock.
    let mut last = None;
    eventually("the crashed holder's lease expires", || {
        let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
        let done = o.status.code() == Some(0);
        if !done {
            assert!(
                text(&o).contains("the cluster is locked by crashy@ci"),
                "{}",
                text(&o)
            );
        }
        last = Some(o);
        done
    });
    assert!(text(&last.unwrap()).contains("Apply complete"));
}

#[test]
fn unlock_frees_a_held_lock_and_names_the_holder() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    pending_change(&repo);
    let mut crashed = Background::start(&repo, "gone@runner", None);
    crashed.wait_at_prompt();
    crashed.crash();

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
fn a_plan_made_from_other_repo_content_is_refused() {
    let mut p = valid_plan();
    p["bootstrap_servers"] = "127.0.0.1:19092".into();
    p["repo"]["revision"] = "4f2a9c1".into();
    let out = plan_file_error(Some(&p.to_string()), &[]);
    assert!(
        out.contains(
            "the repo changed since this plan was made: it was made from revision 4f2a9c1"
        ) && out.contains("run mesh plan --out again"),
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

#[test]
fn a_bad_lease_setting_is_named_and_nothing_is_applied() {
    let (sb, _turn) = cluster();
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    pending_change(&repo);
    for bad in ["abc", "0"] {
        let o = mesh_command(&repo, &["apply", "--env", "local", "--auto-approve"])
            .env("MESH_LOCK_LEASE_SECONDS", bad)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            text(&o).contains(&format!(
                "MESH_LOCK_LEASE_SECONDS={bad} is not a positive number of seconds"
            )),
            "{}",
            text(&o)
        );
        assert!(!text(&o).contains("holds the apply lock"), "{}", text(&o));
    }
}
