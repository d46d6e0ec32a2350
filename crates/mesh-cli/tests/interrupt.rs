//! Ctrl-C / SIGTERM during `mesh apply`, end to end: the real binary against a real Kafka and
//! registry started by the project's sandbox (its own, so the 100 extra products it applies
//! never meet another test's catalog or ACLs), checked with Kafka's own tools and plain HTTP.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mesh_sandbox::{Ephemeral, KafkaTool};

const BULK: usize = 100;

/// `BULK` more products like marketing.campaigns (a key and a value schema each), so that the
/// registry phase of the first apply takes a few seconds: time for a signal to land in it.
fn add_bulk_products(repo: &Path) {
    let products = repo.join("domains/marketing/products");
    let template = std::fs::read_to_string(products.join("campaigns.toml")).unwrap();
    for i in 0..BULK {
        std::fs::write(products.join(format!("bulk-{i:03}.toml")), &template).unwrap();
    }
}

#[test]
fn sigterm_stops_apply_after_the_running_batch_releases_the_lock_and_a_rerun_converges() {
    let sb = Ephemeral::start(&[], &mut |line| eprintln!("{line}")).expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let repo = example_for(&sb.cfg, dir.path());
    add_bulk_products(&repo);
    let o = mesh(&repo, &["validate"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let mut child = mesh_command(&repo, &["apply", "--env", "local", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mesh runs");
    // Both pipes are drained as they fill: the plan it prints first is longer than a pipe holds.
    let stdout = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stdout), &mut all);
        all
    });
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            lines.push(line);
        }
        lines
    });
    // Once the topics exist, the registry phase (BULK × 2 subjects) is running: stop it there.
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line.starts_with("topics: ") => break,
            Ok(line) => seen.push(line),
            Err(e) => panic!("apply never reported its topics ({e}): {}", seen.join("\n")),
        }
    }
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let status = child.wait().unwrap();
    let stdout = stdout.join().unwrap();
    let stderr = reader.join().unwrap().join("\n");
    let out = format!("{stdout}\n{stderr}");
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        stderr.contains("interrupted: stopping after the running batch")
            && stderr.contains("released the apply lock"),
        "{out}"
    );
    assert!(
        stdout.contains("Apply interrupted: ")
            && stdout.contains(" not attempted; stopped on request"),
        "{out}"
    );
    assert!(
        stdout.contains("  skipped "),
        "some actions were not reached: {out}"
    );
    assert!(!stdout.contains("FAILED"), "{out}");

    // What was done is there (Kafka's own tool), and the catalog was not written: the next plan
    // shows exactly the rest — no topic again (nor its ACLs, created first), and the subjects
    // not reached.
    let listed = admin_tool(&sb.cfg, KafkaTool::Topics, &["--list"]);
    assert!(
        listed.contains("marketing.bulk-000")
            && listed.contains(&format!("marketing.bulk-{:03}", BULK - 1)),
        "{listed}"
    );
    let o = mesh(&repo, &["plan", "--env", "local", "--detailed-exitcode"]);
    let plan = text(&o);
    assert_eq!(o.status.code(), Some(2), "{plan}");
    assert!(!plan.contains("+ topic marketing.bulk-"), "{plan}");
    assert!(plan.contains("marketing.bulk-000"), "{plan}");

    // The lock was released (this apply takes it at once) and the run converges.
    let o = mesh(&repo, &["apply", "--env", "local", "--auto-approve"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("Apply complete"), "{}", text(&o));
    let o = mesh(&repo, &["plan", "--env", "local", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let acls = admin_tool(
        &sb.cfg,
        KafkaTool::Acls,
        &[
            "--list",
            "--topic",
            &format!("marketing.bulk-{:03}", BULK - 1),
        ],
    );
    assert!(acls.contains("campaign-manager"), "{acls}");
}
