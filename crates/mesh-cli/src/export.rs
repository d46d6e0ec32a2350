//! `mesh export --format odcs|backstage|openlineage --out DIR`: the mesh as other tools read it.
//! The files are made by `mesh_export` (pure); this module picks the event time, and writes the
//! folder all at once: into a temporary folder beside `--out`, renamed into place, so a reader
//! never sees a partial export.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;

use crate::RepoArgs;

#[derive(Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// Open Data Contract Standard v3 YAML, one per product: DIR/<product id>.odcs.yaml
    Odcs,
    /// Backstage catalog entities: DIR/catalog-info.yaml
    Backstage,
    /// OpenLineage job events (design-time lineage), one per line: DIR/openlineage.jsonl
    Openlineage,
}

impl ExportFormat {
    fn name(self) -> &'static str {
        match self {
            ExportFormat::Odcs => "odcs",
            ExportFormat::Backstage => "backstage",
            ExportFormat::Openlineage => "openlineage",
        }
    }
}

/// The file that marks a folder as written by `mesh export`: such a folder may be replaced by
/// the next export; any other non-empty folder is refused.
const MARK: &str = ".mesh-export";

pub fn run(repo: &RepoArgs, format: ExportFormat, out: &Path) -> Result<ExitCode, String> {
    check_out(out)?;
    let report = crate::check(repo)?;
    if crate::report_problems(&report)? {
        return Err("the mesh has errors; fix them to export it (see above)".into());
    }
    let files = match format {
        ExportFormat::Odcs => mesh_export::odcs(&report.mesh),
        ExportFormat::Backstage => mesh_export::backstage(&report.mesh),
        ExportFormat::Openlineage => {
            mesh_export::openlineage(&report.mesh, &event_time(repo)?).map_err(|e| e.to_string())?
        }
    };
    write_all(out, format, &files)?;
    crate::print(&format!(
        "Wrote {} file(s) ({}) to {}.\n",
        files.len(),
        format.name(),
        out.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The time every OpenLineage event carries, the same on every run over the same input: the
/// commit time of `--rev`, else `SOURCE_DATE_EPOCH` (the reproducible-builds convention), else
/// the Unix epoch.
fn event_time(repo: &RepoArgs) -> Result<String, String> {
    let secs = match (&repo.rev, std::env::var("SOURCE_DATE_EPOCH")) {
        (Some(rev), _) => mesh_repo::commit_time(&repo.repo, rev).map_err(|e| e.to_string())?,
        (None, Ok(s)) => s.trim().parse::<i64>().map_err(|_| {
            format!("SOURCE_DATE_EPOCH={s} is not a number of seconds since 1970-01-01 (help: e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct))")
        })?,
        (None, Err(_)) => 0,
    };
    Ok(rfc3339(secs))
}

/// `2026-11-05T10:00:00Z`.
fn rfc3339(secs: i64) -> String {
    let day = mesh_model::doc::Date::from_unix_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{day}T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s % 3600) / 60,
        s % 60
    )
}

/// `--out` is a new folder, an empty one, or one an earlier export wrote; refused before the
/// mesh is read.
fn check_out(out: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot use --out {}: {e}", out.display())),
        Ok(m) if !m.is_dir() => Err(format!(
            "--out {} is a file, not a folder; mesh export writes a folder of files (help: name a new folder, e.g. --out export/)",
            out.display()
        )),
        Ok(_) => {
            let mut entries = std::fs::read_dir(out)
                .map_err(|e| format!("cannot read --out {}: {e}", out.display()))?;
            if entries.next().is_none() || out.join(MARK).is_file() {
                Ok(())
            } else {
                Err(format!(
                    "--out {} holds files mesh export did not write; it writes only into a new or empty folder, or one it wrote before (help: choose another folder)",
                    out.display()
                ))
            }
        }
    }
}

/// Writes the files into a temporary folder beside `out`, then puts it in `out`'s place (an
/// earlier export there is moved aside first and removed after): the new export appears whole
/// or not at all.
fn write_all(out: &Path, format: ExportFormat, files: &[(String, String)]) -> Result<(), String> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "export".into());
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}.mesh-export-{pid}"));
    let old = parent.join(format!(".{name}.mesh-export-old-{pid}"));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| {
        std::fs::create_dir_all(&tmp)?;
        std::fs::write(
            tmp.join(MARK),
            format!(
                "written by mesh export --format {}; the next export replaces this folder\n",
                format.name()
            ),
        )?;
        for (path, text) in files {
            std::fs::write(tmp.join(path), text)?;
        }
        if out.exists() {
            std::fs::rename(out, &old)?;
        }
        if let Err(e) = std::fs::rename(&tmp, out) {
            // Put the earlier export back.
            if old.exists() {
                let _ = std::fs::rename(&old, out);
            }
            return Err(e);
        }
        // The new export is in place; a leftover of the old one is only clutter.
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    })();
    result.map_err(|e: std::io::Error| {
        let _ = std::fs::remove_dir_all(&tmp);
        format!("cannot write the export to {}: {e}", out.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_793_872_800), "2026-11-05T10:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
