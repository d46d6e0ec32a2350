//! Writing a built site into a folder, all at once: the files go into a temporary sibling folder
//! which then takes the target's place, so a failure never leaves a partial site, and a site
//! written before is replaced whole (never merged with stale pages).

use std::path::{Path, PathBuf};

use crate::Site;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0} is a file, not a folder (help: choose a folder for --out)")]
    NotAFolder(PathBuf),
    #[error(
        "{0} is not empty and holds no catalog.json, so it is not a site mesh wrote: refusing to replace it (help: choose a new or empty folder for --out)"
    )]
    NotACatalog(PathBuf),
    #[error("cannot write the site to {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `site` to `dir`: creates it, or replaces a site written there before.
pub fn write_site(site: &Site, dir: &Path) -> Result<(), WriteError> {
    // `.`, `..` or a symlink: work on the real folder, so the temporary folder lands next to
    // it, never inside it.
    let real;
    let dir = if dir.exists() {
        real = std::fs::canonicalize(dir).map_err(io(dir))?;
        real.as_path()
    } else {
        dir
    };
    if dir.is_file() {
        return Err(WriteError::NotAFolder(dir.to_path_buf()));
    }
    let existing = dir.is_dir();
    if existing {
        let empty = std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
        if !empty && !dir.join("catalog.json").is_file() {
            return Err(WriteError::NotACatalog(dir.to_path_buf()));
        }
    }
    let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Err(WriteError::NotACatalog(dir.to_path_buf()));
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let pid = std::process::id();
    let temp = parent.join(format!(".{name}.new-{pid}"));
    let old = parent.join(format!(".{name}.old-{pid}"));
    let _ = std::fs::remove_dir_all(&temp);
    let result = write_all(site, &temp).and_then(|()| {
        if existing {
            std::fs::rename(dir, &old).map_err(io(dir))?;
            if let Err(e) = std::fs::rename(&temp, dir) {
                // Put the previous site back: better stale than gone.
                let _ = std::fs::rename(&old, dir);
                return Err(io(dir)(e));
            }
            let _ = std::fs::remove_dir_all(&old);
            Ok(())
        } else {
            std::fs::rename(&temp, dir).map_err(io(dir))
        }
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    result
}

fn write_all(site: &Site, root: &Path) -> Result<(), WriteError> {
    std::fs::create_dir_all(root).map_err(io(root))?;
    for (path, bytes) in &site.files {
        let target = root.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&target, bytes).map_err(io(&target))?;
    }
    Ok(())
}
