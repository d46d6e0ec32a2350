//! The helper of `bench/compare.sh`: writes the synthetic mesh (and the same products as plain
//! rows for Kafka's CLI tools and a batched AdminClient), and starts a sandbox on free ports.
//!
//! ```text
//! cargo run --release -p mesh-cli --example bench_mesh -- generate --out DIR --products N \
//!     --bootstrap HOST:PORT [--registry URL] [--schemas] [--partitions P] [--replication R] [--tag T]
//! cargo run --release -p mesh-cli --example bench_mesh -- up --dir DIR [--brokers 3]
//! ```
//!
//! `generate` writes `DIR/repo` (the mesh; it must validate with no errors) and
//! `DIR/products.tsv` (one product a line: topic, partitions, replication, `k=v,…` configs,
//! producer, consumer, group), checked to be exactly the topics and ACL bindings `mesh` derives.
//! `up` starts the project's sandbox on free ports (so it never clashes with a developer's
//! sandbox on the default ports); `mesh dev status|down --dir DIR` then work on it as usual.

#[path = "../benches/support/synth.rs"]
mod synth;

use std::path::PathBuf;
use std::process::ExitCode;

use synth::{ENV, Synth};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("generate") => generate(&args[1..]),
        Some("up") => up(&args[1..]),
        _ => Err("usage: bench_mesh generate|up … (see the file's header)".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_mesh: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--name value` pairs and bare `--flag`s.
struct Args(Vec<String>);

impl Args {
    fn value(&self, name: &str) -> Option<&str> {
        let at = self.0.iter().position(|a| a == name)?;
        self.0.get(at + 1).map(String::as_str)
    }
    fn required(&self, name: &str) -> Result<&str, String> {
        self.value(name)
            .ok_or_else(|| format!("{name} is required"))
    }
    fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("{name} {v}: not a number")),
        }
    }
    fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
}

fn generate(args: &[String]) -> Result<(), String> {
    let args = Args(args.to_vec());
    let out = PathBuf::from(args.required("--out")?);
    let synth = Synth {
        products: args.number("--products", 100)?,
        per_domain: args.number("--per-domain", 50)?,
        partitions: args.number("--partitions", 1)?,
        replication: args.number("--replication", 1)?,
        schemas: args.flag("--schemas"),
        tag: args.value("--tag").unwrap_or_default().to_string(),
    };
    let repo = out.join("repo");
    if repo.exists() {
        std::fs::remove_dir_all(&repo).map_err(|e| format!("{}: {e}", repo.display()))?;
    }
    synth
        .write(
            &repo,
            args.required("--bootstrap")?,
            args.value("--registry"),
        )
        .map_err(|e| format!("writing {}: {e}", repo.display()))?;
    let files = mesh_repo::from_dir(&repo).map_err(|e| e.to_string())?;
    let report = mesh_check::validate(&files.files, Some(ENV), today());
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("error[{}] {}: {}", d.code, d.file, d.message))
        .collect();
    if !errors.is_empty() {
        return Err(format!(
            "the synthetic mesh has {} error(s):\n{}",
            errors.len(),
            errors
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    let rows = synth.rows();
    let desired = mesh_plan::desired(&report.mesh, None);
    let differences = synth::differences(&rows, &desired);
    if !differences.is_empty() {
        return Err(format!(
            "products.tsv would not match the mesh:\n{}",
            differences.join("\n")
        ));
    }
    let tsv: String = rows.iter().map(|r| r.tsv() + "\n").collect();
    let path = out.join("products.tsv");
    std::fs::write(&path, tsv).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "{} products in {} domains: {} topics, {} ACL bindings, {} subjects → {}",
        synth.products,
        synth.domains(),
        desired.topics.len(),
        desired.acls.len(),
        desired.subjects.len(),
        out.display()
    );
    Ok(())
}

fn up(args: &[String]) -> Result<(), String> {
    let args = Args(args.to_vec());
    let dir = PathBuf::from(args.required("--dir")?);
    let mut cfg = mesh_sandbox::SandboxConfig::from_env(Some(dir)).map_err(|e| e.to_string())?;
    cfg.brokers = args.number("--brokers", 3)?;
    cfg.use_free_ports().map_err(|e| e.to_string())?;
    let status =
        mesh_sandbox::up(&cfg, &mut |line| eprintln!("{line}")).map_err(|e| e.to_string())?;
    eprintln!("{status}");
    Ok(())
}

fn today() -> mesh_model::doc::Date {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    mesh_model::doc::Date::from_unix_days((secs / 86_400) as i64)
}
