//! The exports of `mesh-repo-example` checked by validators nobody here wrote:
//! - ODCS: the JSON Schema shipped by the `open-data-contract-standard` package (PyPI) applied
//!   by the `jsonschema` package, plus that package's pydantic model (`validators/odcs.py`);
//! - OpenLineage: the project's Python client `openlineage-python` (PyPI), whose classes are
//!   generated from the spec's JSON Schemas: each event is rebuilt with them, facet schema URLs
//!   compared, and the client's serialisation must equal the line (`validators/openlineage_events.py`);
//! - Backstage: `@backstage/catalog-model` (npm), the entity policies and kind validators the
//!   Backstage catalog itself runs on ingestion (`validators/backstage.js`).
//!
//! The tools are installed on first use, pinned, into a cache folder (`$XDG_CACHE_HOME` or
//! `~/.cache`, under `mesh/export-validators/`): a Python venv from PyPI, an npm prefix from the
//! npm registry. Python 3 with venv and Node.js with npm are needed (scripts/setup.sh installs
//! them). When a validator cannot be installed or run, the test fails: it never skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PY_PINS: &[&str] = &[
    "jsonschema==4.26.0",
    "open-data-contract-standard==3.2.0",
    "openlineage-python==1.54.0",
];
const NPM_PINS: &[&str] = &["@backstage/catalog-model@1.10.3", "yaml@2.9.1"];

fn example(env: Option<&str>) -> mesh_model::Mesh {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mesh-repo-example");
    let files = mesh_repo::from_dir(&dir).expect("the example repo reads");
    mesh_model::load(&files.files, env).0
}

fn cache() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set");
    base.join("mesh").join("export-validators")
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "{what}: cannot run {cmd:?}: {e} (scripts/setup.sh installs what the export tests need)"
        )
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

/// A folder prepared once by `make` (in a temporary sibling, then renamed into place, so a
/// half-made one is never used and two test processes do not trip over each other).
fn prepared(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let dir = cache().join(name);
    if dir.join(".ready").exists() {
        return dir;
    }
    std::fs::create_dir_all(cache()).expect("the cache folder");
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let tmp = cache().join(format!("{name}.tmp-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    make(&tmp);
    std::fs::write(tmp.join(".ready"), "").expect("the ready mark");
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process made it meanwhile.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(
        dir.join(".ready").exists(),
        "{} is not ready",
        dir.display()
    );
    dir
}

fn python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(make_python).clone()
}

fn make_python() -> PathBuf {
    let name = format!("py-{}", PY_PINS.join("-").replace(['=', '.'], ""));
    let venv = prepared(&name, |tmp| {
        run(
            Command::new("python3").args(["-m", "venv"]).arg(tmp),
            "creating a Python venv",
        );
        run(
            Command::new(tmp.join("bin/python"))
                .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
                .args(PY_PINS),
            "installing the ODCS and OpenLineage validators from PyPI",
        );
    });
    venv.join("bin/python")
}

/// The `node_modules` folder holding Backstage's catalog model.
fn node_modules() -> PathBuf {
    static MODULES: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    MODULES
        .get_or_init(|| {
            let name = format!("npm-{}", NPM_PINS.join("-").replace(['@', '/', '.'], ""));
            prepared(&name, |tmp| {
                std::fs::create_dir_all(tmp).expect("the npm prefix");
                run(
                    Command::new("npm")
                        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                        .arg(tmp)
                        .args(NPM_PINS),
                    "installing @backstage/catalog-model from npm",
                );
            })
            .join("node_modules")
        })
        .clone()
}

fn backstage_check(paths: &[PathBuf]) -> Output {
    Command::new("node")
        .arg(validator("backstage.js"))
        .args(paths)
        .env("NODE_PATH", node_modules())
        .output()
        .unwrap_or_else(|e| panic!("cannot run node: {e} (scripts/setup.sh installs Node.js)"))
}

fn write_all(dir: &Path, files: &[(String, String)]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("writing an export file");
            path
        })
        .collect()
}

fn validator(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/validators")
        .join(name)
}

#[test]
fn odcs_contracts_are_valid_against_the_published_schema() {
    let python = python();
    for env in [Some("prod"), None] {
        let files = mesh_export::odcs(&example(env));
        let dir = tempfile::tempdir().expect("a temporary folder");
        let paths = write_all(dir.path(), &files);
        let out = run(
            Command::new(&python).arg(validator("odcs.py")).args(&paths),
            "the ODCS validation",
        );
        assert!(
            out.contains(&format!("checked {} contract(s)", files.len()))
                && out.contains(": 0 problem(s)"),
            "{out}"
        );
    }
}

/// Strings a YAML 1.1 reader (PyYAML, as the datacontract CLI uses) takes for dates, booleans,
/// numbers or line breaks when they are written plain stay strings, unchanged.
#[test]
fn odcs_strings_survive_a_yaml_1_1_reader() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let repo = dir.path().join("repo");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mesh-repo-example"),
        &repo,
    );
    let orders = repo.join("domains/sales/products/orders.toml");
    let text = std::fs::read_to_string(&orders).expect("orders.toml");
    let tricky = "yes";
    let text = text
        .replacen(
            "tags = [\"finance-relevant\"]",
            "tags = [\"on\", \"2027-03-01\", \"1:20\", \"0x1F\", \"~\", \"1_000\", \"y\"]",
            1,
        )
        .replacen(
            "description = \"Every order",
            "description = \"yes\\u2028no\\u0085.\" # Every order",
            1,
        );
    std::fs::write(&orders, text).expect("orders.toml");
    let files = mesh_repo::from_dir(&repo).expect("the repo reads");
    let (mesh, ds) = mesh_model::load(&files.files, Some("prod"));
    assert!(!ds.iter().any(|d| d.is_error()), "{ds:?}");
    let p = mesh.product("sales.orders").expect("sales.orders");
    assert_eq!(p.tags.len(), 7);
    assert!(p.description.starts_with(tricky));
    let contracts = mesh_export::odcs(&mesh);
    let out = tempfile::tempdir().expect("a temporary folder");
    let paths = write_all(out.path(), &contracts);
    let orders = paths
        .iter()
        .find(|p| p.ends_with("sales.orders.odcs.yaml"))
        .expect("the contract");
    let check = r#"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
assert doc["tags"] == ["on", "2027-03-01", "1:20", "0x1F", "~", "1_000", "y"], doc["tags"]
assert doc["description"]["purpose"] == "yes\u2028no\u0085.", repr(doc["description"]["purpose"])
print("strings intact")
"#;
    let out = run(
        Command::new(python()).args(["-c", check]).arg(orders),
        "reading the contract with PyYAML",
    );
    assert!(out.contains("strings intact"), "{out}");
    let out = run(
        Command::new(python())
            .arg(validator("odcs.py"))
            .args(&paths),
        "the ODCS validation",
    );
    assert!(out.contains(": 0 problem(s)"), "{out}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for e in std::fs::read_dir(from).expect("a folder") {
        let e = e.expect("an entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("a type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("a copy");
        }
    }
}

/// The validator is not vacuous: it refuses a contract with an unknown key and a wrong type.
#[test]
fn the_odcs_validator_refuses_a_broken_contract() {
    let python = python();
    let files = mesh_export::odcs(&example(Some("prod")));
    let broken = files[0]
        .1
        .replacen(
            "kind: \"DataContract\"",
            "kind: \"DataContract\"\nowner: \"nobody\"",
            1,
        )
        .replacen("required: true", "required: \"yes\"", 1);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let paths = write_all(dir.path(), &[("broken.odcs.yaml".into(), broken)]);
    let out = Command::new(&python)
        .arg(validator("odcs.py"))
        .args(&paths)
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("owner"), "{text}");
}

#[test]
fn backstage_entities_pass_the_catalogs_own_validators() {
    let files = mesh_export::backstage(&example(None));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let paths = write_all(dir.path(), &files);
    let out = backstage_check(&paths);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Domains, systems, groups, components, resources and APIs of the example.
    let count = files[0].1.matches("\n---\n").count();
    assert!(
        text.contains(&format!("checked {count} entities")) && count > 50,
        "{text}"
    );
}

/// The check is not vacuous: a name against Backstage's rules and a dangling relation fail.
#[test]
fn the_backstage_check_refuses_broken_entities() {
    let files = mesh_export::backstage(&example(None));
    let broken = files[0]
        .1
        .replacen("name: \"sales.orders\"", "name: \"sales.orders-\"", 1)
        .replacen(
            "owner: \"group:default/acme-sales-data\"",
            "owner: \"group:default/nobody\"",
            1,
        );
    let dir = tempfile::tempdir().expect("a temporary folder");
    let paths = write_all(dir.path(), &[("catalog-info.yaml".into(), broken)]);
    let out = backstage_check(&paths);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("sales.orders-:"), "{text}");
    assert!(text.contains("group:default/nobody"), "{text}");
}

fn lineage_check(path: &Path) -> Output {
    Command::new(python())
        .arg(validator("openlineage_events.py"))
        .arg(path)
        .output()
        .expect("python runs")
}

#[test]
fn openlineage_events_are_what_the_openlineage_client_writes() {
    let files = mesh_export::openlineage(&example(Some("prod")), "2026-11-05T10:00:00Z")
        .expect("the export");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let paths = write_all(dir.path(), &files);
    let out = lineage_check(&paths[0]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count = files[0].1.lines().count();
    assert!(
        text.contains(&format!("checked {count} event(s)")) && count > 20,
        "{text}"
    );
}

/// The check is not vacuous: a facet with a field its class does not have fails.
#[test]
fn the_openlineage_check_refuses_a_broken_event() {
    let files = mesh_export::openlineage(&example(Some("prod")), "2026-11-05T10:00:00Z")
        .expect("the export");
    let broken = files[0]
        .1
        .replacen("\"processingType\"", "\"processing\"", 1);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let paths = write_all(dir.path(), &[("openlineage.jsonl".into(), broken)]);
    let out = lineage_check(&paths[0]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains(":1: TypeError"), "{text}");
}
