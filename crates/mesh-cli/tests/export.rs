//! `mesh export` through the real binary: each format on the example mesh, re-exports, the
//! event time, and the refusals (an invalid mesh, `--out` a file or a folder of other files,
//! OpenLineage without an environment), none of which writes anything. What the files hold is
//! snapshot-tested and validated in mesh-export's own tests.

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Output};

fn export(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mesh"))
        .arg("export")
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env("NO_COLOR", "1")
        .env("MESH_TODAY", "2026-11-22")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("mesh runs")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn each_format_writes_its_files_and_a_second_export_replaces_the_first() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    copy_dir(&example(), &repo);
    let out = t.path().join("out");
    let o_ = out.to_str().unwrap();

    let o = export(&repo, &["--format", "odcs", "--out", o_]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("Wrote 17 file(s) (odcs)"), "{}", text(&o));
    let files = names(&out);
    assert!(
        files.contains(&"sales.orders.odcs.yaml".to_owned()),
        "{files:?}"
    );
    assert!(files.contains(&".mesh-export".to_owned()));
    let first = std::fs::read(out.join("sales.orders.odcs.yaml")).unwrap();

    // The same input gives the same bytes, and the folder is replaced whole: a file of the
    // earlier export that the new one does not write (a removed product's) goes away.
    std::fs::write(out.join("gone.odcs.yaml"), "old").unwrap();
    let o = export(&repo, &["--format", "odcs", "--out", o_]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!names(&out).contains(&"gone.odcs.yaml".to_owned()));
    assert_eq!(
        std::fs::read(out.join("sales.orders.odcs.yaml")).unwrap(),
        first
    );
    // Nothing is left beside --out.
    assert_eq!(names(t.path()), ["out", "repo"]);

    let o = export(&repo, &["--format", "backstage", "--out", o_]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(names(&out), [".mesh-export", "catalog-info.yaml"]);
    let o = export(
        &repo,
        &["--env", "prod", "--format", "openlineage", "--out", o_],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(names(&out), [".mesh-export", "openlineage.jsonl"]);
    let lines = std::fs::read_to_string(out.join("openlineage.jsonl")).unwrap();
    for line in lines.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["eventTime"], "1970-01-01T00:00:00Z");
    }
}

#[test]
fn the_event_time_is_the_commit_time_of_rev_or_source_date_epoch() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    copy_dir(&example(), &repo);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    let ok = Command::new("git")
        .args(["commit", "-q", "-m", "example"])
        .current_dir(&repo)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_AUTHOR_DATE", "2026-11-05T10:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-05T10:00:00Z")
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = t.path().join("ol");
    let args = [
        "--env",
        "prod",
        "--rev",
        "main",
        "--format",
        "openlineage",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = export(&repo, &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = std::fs::read_to_string(out.join("openlineage.jsonl")).unwrap();
    assert!(
        first.contains("\"eventTime\":\"2026-11-05T10:00:00Z\""),
        "{first}"
    );
    let o = export(&repo, &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("openlineage.jsonl")).unwrap(),
        first,
        "deterministic"
    );

    let o = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args([
            "export",
            "--env",
            "prod",
            "--format",
            "openlineage",
            "--out",
        ])
        .arg(&out)
        .arg("--repo")
        .arg(&repo)
        .env("SOURCE_DATE_EPOCH", "1793872801")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lines = std::fs::read_to_string(out.join("openlineage.jsonl")).unwrap();
    assert!(
        lines.contains("\"eventTime\":\"2026-11-05T10:00:01Z\""),
        "{lines}"
    );
}

#[test]
fn refusals_write_nothing() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    copy_dir(&example(), &repo);

    // --out is a file.
    let file = t.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let o = export(
        &repo,
        &["--format", "odcs", "--out", file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is a file, not a folder"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");

    // --out holds files of its own.
    let mine = t.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep").unwrap();
    let o = export(
        &repo,
        &["--format", "backstage", "--out", mine.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("did not write"), "{}", text(&o));
    assert_eq!(names(&mine), ["notes.txt"]);

    // OpenLineage needs an environment.
    let out = t.path().join("out");
    let o = export(
        &repo,
        &["--format", "openlineage", "--out", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("--env"), "{}", text(&o));
    assert!(!out.exists());

    // An invalid mesh: its diagnostics, and nothing written (not even over an earlier export).
    let o = export(&repo, &["--format", "odcs", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before = names(&out);
    edit(
        &repo,
        "domains/sales/products/orders.toml",
        "quality = ",
        "qualiti = ",
    );
    let o = export(&repo, &["--format", "odcs", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("unknown key `qualiti`"), "{}", text(&o));
    assert!(text(&o).contains("fix them to export it"), "{}", text(&o));
    assert_eq!(names(&out), before);
    assert_eq!(names(t.path()), ["file", "mine", "out", "repo"]);
}
