//! `mesh import`: reads a whole cluster (read-only) and writes a mesh repo declaring it. The
//! generation itself is `mesh_import::import`; this module reads the cluster and the registry and
//! writes the files, all at once (a temporary folder renamed into place).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mesh_import::{Inventory, is_internal, settings_from_mesh_toml};
use mesh_kafka::KafkaCluster;

use crate::live;

pub fn run(repo: &Path, env: &str, out: &Path) -> Result<ExitCode, String> {
    // Everything that can be refused without the network first.
    check_out_dir(out)?;
    let source = repo.join("mesh.toml");
    let text = std::fs::read_to_string(&source)
        .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
    let settings = settings_from_mesh_toml(&text, env)?;
    let environment = environment(&text, env)?;
    let lookup = |v: &str| std::env::var(v).ok();
    live::set_repo_source(repo, None);
    let props = live::client_settings(&environment, lookup)?;
    let registry = live::registry_of(&environment, lookup)?;

    let cluster =
        KafkaCluster::connect(&props, live::kafka_timeout()).map_err(|e| e.to_string())?;
    let topics = cluster
        .all_topics(|t| !is_internal(t, &settings.catalog_topic))
        .map_err(|e| e.to_string())?;
    let acls = cluster.all_acls().map_err(|e| e.to_string())?;
    let subjects = match &registry {
        None => BTreeMap::new(),
        Some(r) => {
            let wanted: BTreeSet<String> = r
                .list_subjects()
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|s| {
                    let topic = s.strip_suffix("-value").or_else(|| s.strip_suffix("-key"));
                    topic.is_some_and(|t| topics.contains_key(t))
                })
                .collect();
            r.read_subjects(&wanted).map_err(|e| e.to_string())?
        }
    };
    // Connectors, when the environment names a Connect cluster (mesh's `${VAR}` in import's
    // own lookups only; a live config is read as Connect stores it).
    let connectors = match live::connect_of(&environment, lookup)? {
        None => BTreeMap::new(),
        Some(c) => {
            use mesh_plan::connect::ConnectReader;
            c.connectors().map_err(|e| e.to_string())?
        }
    };
    let inventory = Inventory {
        topics,
        acls,
        subjects,
        connectors,
    };
    let imported = mesh_import::import(&inventory, &settings);
    write_all(out, &imported.files)?;

    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    let registry_note = if registry.is_none() {
        " (environment has no schema_registry_url: no schemas were imported)"
    } else {
        ""
    };
    crate::print(&format!(
        "Imported {} product(s) in {} domain(s) into {}{registry_note}.\n\
         Next: fill in every TODO(mesh import) value (`mesh validate --repo {}` lists them), then \
         `mesh plan --env {env} --repo {}`: it should only record the {} product(s) in the catalog \
         (and create the catalog topic {} if this cluster has none).\n",
        imported.products,
        imported.domains,
        out.display(),
        out.display(),
        out.display(),
        imported.products,
        settings.catalog_topic,
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The environment as the model reads it from mesh.toml (for the connection settings).
fn environment(text: &str, env: &str) -> Result<mesh_model::Environment, String> {
    let files = BTreeMap::from([("mesh.toml".to_string(), text.as_bytes().to_vec())]);
    let (mesh, ds) = mesh_model::load(&files, Some(env));
    let problems: Vec<String> = ds
        .iter()
        .filter(|d| d.is_error() && d.file == "mesh.toml")
        .map(|d| d.message.clone())
        .collect();
    if !problems.is_empty() {
        return Err(format!(
            "mesh.toml has errors (run mesh validate): {}",
            problems.join("; ")
        ));
    }
    mesh.environment()
        .cloned()
        .ok_or_else(|| format!("mesh.toml has no environment `{env}`"))
}

/// `--out` must not exist, or be an empty folder: an import never mixes with other files.
fn check_out_dir(out: &Path) -> Result<(), String> {
    match std::fs::read_dir(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot use --out {}: {e}", out.display())),
        Ok(mut entries) => {
            if entries.next().is_some() {
                Err(format!(
                    "--out {} is not empty; mesh import writes a new repo only into a new or empty folder (help: choose another folder)",
                    out.display()
                ))
            } else {
                Ok(())
            }
        }
    }
}

/// Writes every file into a temporary folder beside `out`, then renames it into place: either
/// the whole repo appears or nothing does.
fn write_all(out: &Path, files: &BTreeMap<String, String>) -> Result<(), String> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "import".into());
    let tmp = parent.join(format!(".{name}.mesh-import-{}", std::process::id()));
    let result = (|| {
        for (path, text) in files {
            let dest = tmp.join(path);
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&dest, text)?;
        }
        if out.exists() {
            // Checked empty before reading the cluster; `remove_dir` fails if that changed.
            std::fs::remove_dir(out)?;
        }
        std::fs::rename(&tmp, out)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp);
        format!("cannot write the imported repo to {}: {e}", out.display())
    })
}
