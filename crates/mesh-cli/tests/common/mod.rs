//! Helpers shared by the end-to-end test files: the example mesh pointed at a sandbox, Kafka's
//! own admin tools, git, and polling. Each test file uses a part of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use mesh_sandbox::{KafkaTool, SandboxConfig, admin_client_properties, kafka_tool};

/// The example mesh in the repository.
pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mesh-repo-example")
}

pub fn copy_dir(from: &Path, to: &Path) {
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

/// A copy of the example mesh in `dir/repo`, with its `local` environment pointed at this
/// sandbox. Its environments name no Connect cluster (the example's connector is then not
/// planned) unless the sandbox runs one.
pub fn example_for(cfg: &SandboxConfig, dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    copy_dir(&example(), &repo);
    let mesh = repo.join("mesh.toml");
    let mut text = std::fs::read_to_string(&mesh)
        .unwrap()
        .replace("127.0.0.1:19092", &cfg.bootstrap_servers())
        .replace(
            "http://127.0.0.1:18081/apis/ccompat/v7",
            &cfg.registry_url(),
        );
    let sandbox_connect = "url = \"http://127.0.0.1:18083\"\n";
    if cfg.connect {
        text = text.replace(
            sandbox_connect,
            &format!("url = \"http://127.0.0.1:{}\"\n", cfg.connect_port),
        );
    } else {
        text = text
            .lines()
            .filter(|l| {
                !l.starts_with("[environments.local.connect]")
                    && !l.starts_with("[environments.local-tls.connect]")
                    && *l != sandbox_connect.trim_end()
            })
            .map(|l| format!("{l}\n"))
            .collect();
    }
    std::fs::write(&mesh, text).unwrap();
    repo
}

/// `mesh ARGS --repo REPO`, without colour and without the variables a developer's shell may
/// have set that change what mesh does (the sandbox password, lock settings, the date).
pub fn mesh_command(repo: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mesh"));
    c.args(args)
        .arg("--repo")
        .arg(repo)
        .env("NO_COLOR", "1")
        .env_remove("MESH_LOCAL_PASSWORD")
        .env_remove("MESH_LOCK_LEASE_SECONDS")
        .env_remove("MESH_LOCK_OWNER")
        .env_remove("MESH_TODAY");
    c
}

/// Runs [`mesh_command`] to the end.
pub fn mesh(repo: &Path, args: &[&str]) -> Output {
    mesh_command(repo, args).output().expect("mesh runs")
}

/// Standard output then standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs one of Kafka's own admin tools (from the sandbox's jars) with the client settings in
/// `config`; returns everything it printed.
pub fn tool(cfg: &SandboxConfig, which: KafkaTool, config: &Path, args: &[&str]) -> String {
    let out = kafka_tool(cfg, which)
        .args([
            "--bootstrap-server",
            &cfg.bootstrap_servers(),
            "--command-config",
        ])
        .arg(config)
        .args(args)
        .output()
        .expect("java runs");
    text(&out)
}

/// [`tool`], logged in as the sandbox's admin.
pub fn admin_tool(cfg: &SandboxConfig, which: KafkaTool, args: &[&str]) -> String {
    let admin = admin_client_properties(cfg).unwrap();
    tool(cfg, which, &admin, args)
}

/// Polls `f` until it returns true; fails after 30 s (ACL and metadata changes propagate in
/// about a second).
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Replaces the first `from` in a repo file; the file must contain it.
pub fn edit(repo: &Path, file: &str, from: &str, to: &str) {
    let p = repo.join(file);
    let t = std::fs::read_to_string(&p).unwrap();
    assert!(t.contains(from), "{file} has no `{from}`");
    std::fs::write(&p, t.replacen(from, to, 1)).unwrap();
}

/// Runs git in `dir` with a fixed identity.
pub fn git(dir: &Path, args: &[&str]) {
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

/// Writes one record (`value`) to `topic` with Kafka's console producer over `bootstrap`,
/// logged in with the client properties in `config`; fails the test if it cannot.
pub fn produce_one(cfg: &SandboxConfig, bootstrap: &str, config: &Path, topic: &str, value: &str) {
    use std::io::Write;
    use std::process::Stdio;
    let mut producer = kafka_tool(cfg, KafkaTool::ConsoleProducer)
        .args(["--bootstrap-server", bootstrap, "--topic", topic])
        .arg("--producer.config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java runs");
    producer
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(format!("{value}\n").as_bytes())
        .unwrap();
    let produced = producer.wait_with_output().unwrap();
    assert!(produced.status.success(), "{}", text(&produced));
}

/// Reads at most one record of `topic` from the beginning with Kafka's console consumer in
/// `group` (which commits its offset), logged in with `config`; `extra` goes to the tool
/// (e.g. `--consumer-property group.protocol=consumer`). Returns everything it printed.
pub fn consume_one(
    cfg: &SandboxConfig,
    bootstrap: &str,
    config: &Path,
    topic: &str,
    group: &str,
    extra: &[&str],
) -> String {
    let out = kafka_tool(cfg, KafkaTool::ConsoleConsumer)
        .args(["--bootstrap-server", bootstrap])
        .arg("--consumer.config")
        .arg(config)
        .args(extra)
        .args([
            "--topic",
            topic,
            "--group",
            group,
            "--from-beginning",
            "--max-messages",
            "1",
            "--timeout-ms",
            "30000",
        ])
        .output()
        .expect("java runs");
    text(&out)
}
