//! `mesh catalog` through the real binary: what it writes, what it refuses, and how it behaves
//! when the environment's cluster cannot be reached. (The site in a browser: catalog_browser.rs;
//! live facts from a real cluster: live.rs.)

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Output};

fn mesh(args: &[&str], repo: &Path) -> Output {
    mesh_command(repo, args)
        .env("MESH_TODAY", "2026-11-22")
        .output()
        .expect("mesh runs")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn writes_the_site_of_the_example_and_says_where_to_open_it() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("site");
    let o = mesh(&["catalog", "--out", out.to_str().unwrap()], &example());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(&format!("Open {}", out.join("index.html").display())));
    for page in [
        "index.html",
        "catalog.json",
        "products/sales.orders.html",
        "domains/finance.html",
        "lineage.html",
    ] {
        assert!(out.join(page).is_file(), "{page}");
    }
    let doc = json(&out.join("catalog.json"));
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["products"].as_array().unwrap().len(), 17);
    // Again: the site is replaced, and the output is the same byte for byte.
    let before = std::fs::read(out.join("catalog.json")).unwrap();
    let o = mesh(&["catalog", "--out", out.to_str().unwrap()], &example());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(before, std::fs::read(out.join("catalog.json")).unwrap());
}

#[test]
fn reads_a_git_revision() {
    let t = tempfile::tempdir().unwrap();
    let work = t.path().join("work");
    copy_dir(&example(), &work);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "example"]);
    std::fs::remove_file(work.join("domains/sales/products/legacy-orders.toml")).unwrap();
    let out = t.path().join("site");
    let o = mesh(
        &["catalog", "--rev", "HEAD", "--out", out.to_str().unwrap()],
        &work,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        out.join("products/sales.legacy-orders.html").is_file(),
        "the revision has it"
    );
}

#[test]
fn refuses_an_invalid_mesh_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    copy_dir(&example(), &repo);
    let orders = repo.join("domains/sales/products/orders.toml");
    let broken = std::fs::read_to_string(&orders)
        .unwrap()
        .replace("quality = ", "qualiti = ");
    std::fs::write(&orders, broken).unwrap();
    let out = t.path().join("site");
    let o = mesh(&["catalog", "--out", out.to_str().unwrap()], &repo);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("unknown key `qualiti`"), "{}", text(&o));
    assert!(
        text(&o).contains("fix them to build its catalog"),
        "{}",
        text(&o)
    );
    assert!(!out.exists());
}

#[test]
fn out_must_be_a_folder_it_may_replace() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let o = mesh(&["catalog", "--out", file.to_str().unwrap()], &example());
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("is a file, not a folder"), "{}", text(&o));

    let o = mesh(
        &["catalog", "--out", file.join("site").to_str().unwrap()],
        &example(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("cannot write the site"), "{}", text(&o));

    let home = t.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("notes.txt"), "keep me").unwrap();
    let o = mesh(&["catalog", "--out", home.to_str().unwrap()], &example());
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("refusing to replace it"), "{}", text(&o));
    assert!(home.join("notes.txt").is_file());
}

#[test]
fn an_unreachable_cluster_is_a_warning_and_the_site_says_so() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    copy_dir(&example(), &repo);
    // Port 1 on the loopback: nothing listens, so the connection is refused at once.
    let toml = std::fs::read_to_string(repo.join("mesh.toml"))
        .unwrap()
        .replace("127.0.0.1:19092", "127.0.0.1:1");
    std::fs::write(repo.join("mesh.toml"), toml).unwrap();
    let out = t.path().join("site");
    let o = mesh(
        &["catalog", "--env", "local", "--out", out.to_str().unwrap()],
        &repo,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("warning: live facts unavailable"),
        "{stderr}"
    );
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("live facts unavailable: "), "{index}");
    let doc = json(&out.join("catalog.json"));
    assert_eq!(doc["env"], "local");
    assert_eq!(doc["live"]["available"], false);
    assert!(
        doc["live"]["reason"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1")
    );
    // The environment's settings still apply: one partition locally.
    let orders = doc["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "sales.orders")
        .unwrap();
    assert_eq!(orders["topic"]["partitions"], 1);
    assert_eq!(orders["live"], serde_json::Value::Null);
}

#[test]
fn the_help_names_out() {
    let o = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args(["catalog", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("--out"));
}
