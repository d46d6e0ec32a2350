//! `mesh validate` as a library: load the repo, check schemas, build the lineage graph, evaluate
//! the policies, and return everything found, sorted. The CLI renders it; `plan` builds on it.
//!
//! Architecture invariant: pure apart from what is passed in (the files, the environment name,
//! today's date).

pub mod changes;

use std::collections::{BTreeMap, HashSet};

use mesh_diagnostics::{Diagnostic, Diagnostics, SourceFile};
use mesh_graph::Lineage;
use mesh_model::doc::{Date, did_you_mean};
use mesh_model::{Mesh, SchemaFormat};

/// The outcome of checking a mesh.
pub struct Report {
    pub mesh: Mesh,
    pub lineage: Lineage,
    /// Sorted and deduplicated.
    pub diagnostics: Vec<Diagnostic>,
    /// Texts of files outside the repo that diagnostics point into (shipped policy packs).
    pub extra_sources: Vec<SourceFile>,
    /// What a pull request touches, when checked against a base revision ([`against_base`]).
    pub changes: Option<changes::ChangeSet>,
    /// The rules in force, for the `change` rules a plan evaluates.
    pub policies: mesh_policy::Policies,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The source text of a file a diagnostic names.
    pub fn source(&self, path: &str) -> Option<&SourceFile> {
        self.mesh
            .sources
            .get(path)
            .or_else(|| self.extra_sources.iter().find(|s| s.path == path))
    }
}

/// Checks a whole mesh for the environment `env` (or none) as of `today`.
pub fn validate(files: &BTreeMap<String, Vec<u8>>, env: Option<&str>, today: Date) -> Report {
    let (mesh, ds) = mesh_model::load(files, env);
    check_loaded(mesh, ds, today)
}

/// The checks of [`validate`] after loading: schemas, lineage cycles and policies, added to the
/// diagnostics of the load (`ds`). Split so that a caller can start work that needs only the
/// model (a plan's reads) while these run.
pub fn check_loaded(mesh: Mesh, mut ds: Diagnostics, today: Date) -> Report {
    check_schemas(&mesh, &mut ds);
    let lineage = Lineage::build(&mesh);
    lineage.check_cycles(&mesh, &mut ds);
    let mut policies = mesh_policy::load(&mesh, &mut ds);
    mesh_policy::evaluate(&mesh, &policies, today, &mut ds);
    Report {
        lineage,
        diagnostics: ds.into_sorted(),
        extra_sources: std::mem::take(&mut policies.pack_sources),
        changes: None,
        policies,
        mesh,
    }
}

fn check_schemas(mesh: &Mesh, ds: &mut Diagnostics) {
    let mut checked: HashSet<&str> = HashSet::new();
    let mut work: Vec<(&str, &str, mesh_schema::Format)> = Vec::new();
    for p in &mesh.products {
        let Some(schema) = &p.schema else { continue };
        for r in [&schema.value, &schema.key].into_iter().flatten() {
            let Some(src) = mesh.sources.get(&r.file) else {
                let prefix = format!("{}/", r.file.rsplit_once('/').map_or("", |(d, _)| d));
                let near: Vec<&str> = mesh
                    .sources
                    .keys()
                    .filter(|k| k.starts_with(&prefix))
                    .map(String::as_str)
                    .collect();
                let d = Diagnostic::error(
                    "missing-schema",
                    &p.file,
                    r.path.span.clone(),
                    format!("schema file {} does not exist", r.file),
                );
                ds.push(match did_you_mean(&r.file, near.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean {s}? Paths are relative to the domain folder")),
                    None => d.with_help("add the schema file, or fix the path (relative to the domain folder, e.g. \"schemas/orders-value.avsc\")"),
                });
                continue;
            };
            if !checked.insert(&r.file) {
                continue;
            }
            let format = schema_format(r.format);
            work.push((&r.file, src.text(), format));
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = work.len().div_ceil(threads).max(1);
    let results: Vec<Vec<Diagnostic>> = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .flat_map(|(f, t, fmt)| mesh_schema::check(f, t, *fmt))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                // A panic in a checker is a bug: re-raise it here as it was.
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for r in results {
        ds.extend(r);
    }
}

/// Earlier committed versions of one schema file, oldest first, for `*_TRANSITIVE` levels: the
/// git history is the registry's history for a pull request.
#[derive(Clone, Debug, Default)]
pub struct SchemaHistory {
    /// Each version with the words that name it ("the version of commit 1a2b3c4 (2026-11-02)").
    pub versions: Vec<(String, String)>,
    /// Why the history may be incomplete (a shallow clone, a failed read), shown as a warning.
    pub incomplete: Option<String>,
}

/// Everything `--base` adds to a check: the touched domains, products and owners to ask, the
/// warnings for a change reaching into another team's domain, and the schema changes.
/// `label` names the base revision as the user wrote it; `history` gives the committed versions
/// of a schema file (by its path at the base) reachable from the base, for transitive levels.
pub fn against_base(
    report: &mut Report,
    base: &Mesh,
    label: &str,
    history: &dyn Fn(&str) -> SchemaHistory,
) {
    let set = changes::change_set(&report.mesh, base, label);
    let warnings = changes::reach_warnings(&report.mesh, base, &set);
    report.changes = Some(set);
    if !warnings.is_empty() {
        let mut ds = Diagnostics::new();
        ds.extend(std::mem::take(&mut report.diagnostics));
        ds.extend(warnings);
        report.diagnostics = ds.into_sorted();
    }
    schema_changes(report, base, label, history);
}

/// Schema changes against a base revision (a pull request's target), checked offline: an Avro
/// change that breaks the product's compatibility level is an error at the schema file, with the
/// consumers it would break; a changed JSON Schema or Protobuf file is a warning, because only
/// the registry can judge those. `base` is the mesh at the base revision; a transitive level
/// compares with every version `history` gives, a non-transitive one with the base's.
fn schema_changes(
    report: &mut Report,
    base: &Mesh,
    label: &str,
    history: &dyn Fn(&str) -> SchemaHistory,
) {
    let mut found = Vec::new();
    for p in &report.mesh.products {
        let (Some(schema), Some(old)) = (&p.schema, base.product(&p.id)) else {
            continue;
        };
        let Some(old_schema) = &old.schema else {
            continue;
        };
        for (which, new_ref, old_ref) in [
            ("value", &schema.value, &old_schema.value),
            ("key", &schema.key, &old_schema.key),
        ] {
            let (Some(new_ref), Some(old_ref)) = (new_ref, old_ref) else {
                continue;
            };
            let (Some(new_src), Some(old_src)) = (
                report.mesh.sources.get(&new_ref.file),
                base.sources.get(&old_ref.file),
            ) else {
                continue;
            };
            let format = schema_format(new_ref.format);
            let (new_text, old_text) = (new_src.text(), old_src.text());
            if mesh_schema::compat::normalise(new_text, format)
                == mesh_schema::compat::normalise(old_text, format)
            {
                continue;
            }
            let level = schema.compatibility.as_str();
            let consumers: Vec<String> = report
                .lineage
                .impact(&p.id)
                .map(|i| {
                    i.consumers
                        .iter()
                        .filter(|c| c.depth == 1)
                        .map(|c| format!("{} ({})", c.id, c.owners.join(", ")))
                        .collect()
                })
                .unwrap_or_default();
            let who = if consumers.is_empty() {
                "no declared consumers".to_string()
            } else {
                format!("consumers: {}", consumers.join("; "))
            };
            let d = match (new_ref.format, old_ref.format) {
                (SchemaFormat::Avro, SchemaFormat::Avro) => {
                    let base_label = format!("the base revision ({label})");
                    let mut earlier = vec![(base_label.clone(), old_text.to_string())];
                    let transitive = level.ends_with("_TRANSITIVE");
                    if transitive {
                        let h = history(&old_ref.file);
                        if let Some(why) = h.incomplete {
                            found.push(Diagnostic::warning(
                                "schema-history-incomplete",
                                &new_ref.file,
                                0..0,
                                format!("{level} compares the {which} schema of {} with every committed version of {}, but {why}", p.id, old_ref.file),
                            ).with_help("fetch the whole history (`git fetch --unshallow`; in GitHub Actions, `fetch-depth: 0` on actions/checkout)"));
                        }
                        // The base's own version is in its history; keep it only when missing.
                        if h.versions.iter().any(|(_, t)| t == old_text) {
                            earlier.clear();
                        }
                        earlier.splice(0..0, h.versions);
                    }
                    let versions: Vec<mesh_schema::compat::Earlier> = earlier
                        .iter()
                        .map(|(label, text)| mesh_schema::compat::Earlier { label, text })
                        .collect();
                    let against = if transitive { "its committed versions" } else { "the base revision" };
                    match mesh_schema::compat::check_avro_at(new_text, &versions, level) {
                    Ok(()) => continue,
                    Err(reasons) => Diagnostic::error(
                        "breaking-schema-change",
                        &new_ref.file,
                        reasons.first().map_or(0..0, |b| mesh_schema::compat::field_span(new_text, &b.path)),
                        format!(
                            "the {which} schema of {} is not {level}-compatible with {against}: {}",
                            p.id,
                            reasons.iter().map(|b| b.message.as_str()).collect::<Vec<_>>().join("; ")
                        ),
                    )
                    .with_help(format!(
                        "{who}. Make the change compatible (each reason says how), or publish a new product version and deprecate this one"
                    )),
                }
                }
                _ => Diagnostic::warning(
                    "schema-changed",
                    &new_ref.file,
                    0..0,
                    format!("the {which} schema of {} changed since the base revision; its {level} compatibility is checked by the registry at plan time", p.id),
                )
                .with_help(format!("{who}; only Avro is checked offline")),
            };
            found.push(d);
        }
    }
    if !found.is_empty() {
        let mut ds = Diagnostics::new();
        ds.extend(std::mem::take(&mut report.diagnostics));
        ds.extend(found);
        report.diagnostics = ds.into_sorted();
    }
}

/// The model's name for a schema format, as the schema crate knows it.
fn schema_format(f: SchemaFormat) -> mesh_schema::Format {
    match f {
        SchemaFormat::Avro => mesh_schema::Format::Avro,
        SchemaFormat::Json => mesh_schema::Format::Json,
        SchemaFormat::Protobuf => mesh_schema::Format::Protobuf,
    }
}
