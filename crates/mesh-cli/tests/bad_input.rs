//! Data-driven suite of broken mesh repos: `tests/bad-input/<case>/repo` is a small mesh broken in
//! one way, `expected.txt` the exact output of `mesh validate` on it (stdout then stderr), and the
//! optional `must-not-contain.txt` lists text (secrets) that must never be printed.
//!
//! Every case must fail with exit code 1, point at a file with a line and column, never panic, and
//! keep its secrets; `--format json` must say `"valid": false` with a position for every finding.
//!
//! `UPDATE_EXPECT=1 cargo test -p mesh-cli --test bad_input` rewrites the expected.txt files; read
//! every changed one before committing it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Fewer cases than this means a case folder went missing.
const MIN_CASES: usize = 30;

const TODAY: &str = "2026-11-22";

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/bad-input")
}

fn cases() -> Vec<PathBuf> {
    let dir = cases_dir();
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// Runs `mesh validate` on a case's repo; returns the exit code and stdout followed by stderr.
fn validate(repo: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .arg("validate")
        .arg("--repo")
        .arg(repo)
        .args(extra)
        .env("NO_COLOR", "1")
        .env("MESH_TODAY", TODAY)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run mesh: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether a line is a location line (`--> path:LINE:COL` or `┌─ path:LINE:COL`).
fn is_location_line(line: &str) -> bool {
    let Some(rest) = ["-->", "┌─"]
        .iter()
        .find_map(|m| line.find(m).map(|i| &line[i + m.len()..]))
    else {
        return false;
    };
    let mut parts = rest.trim().rsplitn(3, ':');
    let (Some(col), Some(line), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let positive = |s: &str| s.parse::<usize>().is_ok_and(|n| n >= 1);
    !path.is_empty() && positive(line) && positive(col)
}

/// The first line where two texts differ, for a readable failure message.
fn first_difference(expected: &str, actual: &str) -> String {
    let (mut e, mut a) = (expected.lines(), actual.lines());
    let mut n = 1;
    loop {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (None, None) => {
                return "the texts differ only in line endings or a final newline".into();
            }
            (x, y) => {
                let show =
                    |l: Option<&str>| l.map_or("<end of output>".to_string(), |l| format!("{l:?}"));
                return format!(
                    "first difference at line {n}:\n      expected: {}\n      actual:   {}",
                    show(x),
                    show(y)
                );
            }
        }
    }
}

fn must_not_contain(case: &Path) -> Vec<String> {
    match std::fs::read_to_string(case.join("must-not-contain.txt")) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Checks one case; returns its problems.
fn check_case(case: &Path, update: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let repo = case.join("repo");
    if !repo.join("mesh.toml").is_file() {
        return vec!["has no repo/mesh.toml".into()];
    }
    let secrets = must_not_contain(case);

    // Human output.
    let (code, stdout, stderr) = validate(&repo, &[]);
    let output = format!("{stdout}{stderr}");
    if code != Some(1) {
        problems.push(format!("exit code {code:?}, expected 1"));
    }
    for bad in ["panicked", "RUST_BACKTRACE"] {
        if output.contains(bad) {
            problems.push(format!("output contains {bad:?}"));
        }
    }
    if !output.lines().any(is_location_line) {
        problems.push(
            "no location line (`--> path:LINE:COL` or `┌─ path:LINE:COL`) in the output".into(),
        );
    }
    let repo_path = repo.display().to_string();
    if output.contains(&repo_path) {
        problems.push(format!("output contains the repo path {repo_path}"));
    }
    for s in &secrets {
        if output.contains(s.as_str()) {
            problems.push(format!(
                "output shows {s:?} (listed in must-not-contain.txt)"
            ));
        }
    }
    let expected_file = case.join("expected.txt");
    if update {
        std::fs::write(&expected_file, &output)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", expected_file.display()));
    } else {
        match std::fs::read_to_string(&expected_file) {
            Ok(expected) if expected == output => {}
            Ok(expected) => problems.push(format!(
                "output differs from expected.txt (UPDATE_EXPECT=1 rewrites it); {}",
                first_difference(&expected, &output)
            )),
            Err(e) => problems.push(format!(
                "cannot read expected.txt ({e}); run with UPDATE_EXPECT=1 to create it"
            )),
        }
    }

    // JSON output.
    let (code, stdout, stderr) = validate(&repo, &["--format", "json"]);
    if code != Some(1) {
        problems.push(format!("--format json: exit code {code:?}, expected 1"));
    }
    let all = format!("{stdout}{stderr}");
    if all.contains("panicked") {
        problems.push("--format json: output contains \"panicked\"".into());
    }
    for s in &secrets {
        if all.contains(s.as_str()) {
            problems.push(format!(
                "--format json: output shows {s:?} (listed in must-not-contain.txt)"
            ));
        }
    }
    match serde_json::from_str::<serde_json::Value>(&stdout) {
        Err(e) => problems.push(format!("--format json: stdout is not JSON: {e}")),
        Ok(v) => {
            if v["valid"] != serde_json::Value::Bool(false) {
                problems.push(format!(
                    "--format json: \"valid\" is {}, expected false",
                    v["valid"]
                ));
            }
            match v["diagnostics"].as_array() {
                None => problems.push("--format json: no \"diagnostics\" array".into()),
                Some(ds) if ds.is_empty() => {
                    problems.push("--format json: \"diagnostics\" is empty".into())
                }
                Some(ds) => {
                    for (i, d) in ds.iter().enumerate() {
                        if d["file"].as_str().is_none_or(str::is_empty) {
                            problems.push(format!(
                                "--format json: diagnostic {i} has no \"file\": {d}"
                            ));
                        }
                        if d["line"].as_u64().is_none_or(|l| l < 1) {
                            problems.push(format!(
                                "--format json: diagnostic {i} has no \"line\" >= 1: {d}"
                            ));
                        }
                    }
                }
            }
        }
    }
    problems
}

#[test]
fn bad_input_cases() {
    let update = std::env::var("UPDATE_EXPECT").is_ok_and(|v| v == "1");
    let cases = cases();
    let mut failures = Vec::new();
    if cases.len() < MIN_CASES {
        failures.push(format!(
            "only {} case folders in {}; expected at least {MIN_CASES}",
            cases.len(),
            cases_dir().display()
        ));
    }
    for case in &cases {
        let name = case
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        for p in check_case(case, update) {
            failures.push(format!("{name}: {p}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in tests/bad-input:\n  - {}",
        failures.len(),
        failures.join("\n  - ")
    );
}

#[test]
fn location_lines_are_recognised() {
    assert!(is_location_line(
        "   ┌─ domains/sales/products/orders.toml:3:7"
    ));
    assert!(is_location_line("  --> mesh.toml:1:1"));
    assert!(!is_location_line("   ┌─ mesh.toml"));
    assert!(!is_location_line("   ┌─ :1:1"));
    assert!(!is_location_line("error: mesh.toml:0:1"));
}
