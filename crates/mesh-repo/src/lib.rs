//! Reading a mesh repo into memory: from a directory, or from any git revision straight out of the
//! object database (no checkout; works in a bare clone).
//!
//! The result is a [`RepoFiles`] snapshot: the bytes of every file `mesh` cares about (`mesh.toml`,
//! `policies/**`, `domains/**`), keyed by repo-relative path. Everything after this crate is pure and
//! works on that snapshot, so a revision and a work tree are checked by exactly the same code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The top-level entries of a mesh repo that are read; anything else (CI files, READMEs) is ignored.
const MESH_ENTRIES: &[&str] = &["mesh.toml", "policies", "domains"];

/// Files larger than this are refused rather than read: no definition or schema is this big, and a
/// stray artefact must not exhaust memory.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{path}: no mesh.toml here (help: point --repo at the folder that holds mesh.toml)")]
    NotAMeshRepo { path: String },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: is {size} bytes, over the {MAX_FILE_BYTES}-byte limit for a mesh file")]
    TooLarge { path: String, size: usize },
    #[error(
        "{path}: not a git repository (help: --rev reads from git; drop it to read the folder as it is)"
    )]
    NotGit { path: String },
    #[error(
        "revision `{rev}` not found: {message} (help: use a branch, tag or commit id that exists in {repo})"
    )]
    BadRevision {
        rev: String,
        repo: String,
        message: String,
    },
    #[error("git: {0}")]
    Git(String),
}

/// Where a snapshot came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    WorkTree {
        dir: PathBuf,
    },
    Git {
        repo: PathBuf,
        rev: String,
        commit: String,
    },
}

impl Origin {
    /// A short description for output: the folder, or `rev (commit)`.
    pub fn describe(&self) -> String {
        match self {
            Origin::WorkTree { dir } => dir.display().to_string(),
            Origin::Git { rev, commit, .. } => {
                format!("{rev} ({})", &commit[..commit.len().min(12)])
            }
        }
    }
}

/// The bytes of every mesh file, by repo-relative path with `/` separators.
#[derive(Clone, Debug)]
pub struct RepoFiles {
    pub files: BTreeMap<String, Vec<u8>>,
    pub origin: Origin,
}

impl RepoFiles {
    /// A snapshot built in memory (tests, generated meshes).
    pub fn from_memory(files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        RepoFiles {
            files: files.into_iter().collect(),
            origin: Origin::WorkTree {
                dir: PathBuf::from("."),
            },
        }
    }
}

/// Reads the mesh files of the folder `dir` as they are on disk.
pub fn from_dir(dir: &Path) -> Result<RepoFiles, RepoError> {
    if !dir.join("mesh.toml").is_file() {
        return Err(RepoError::NotAMeshRepo {
            path: dir.display().to_string(),
        });
    }
    let mut files = BTreeMap::new();
    for entry in MESH_ENTRIES {
        let path = dir.join(entry);
        if path.is_file() {
            files.insert((*entry).to_string(), read_file(&path)?);
        } else if path.is_dir() {
            walk(&path, entry, &mut files)?;
        }
    }
    Ok(RepoFiles {
        files,
        origin: Origin::WorkTree {
            dir: dir.to_path_buf(),
        },
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, RepoError> {
    use std::io::Read;
    let io = |source| RepoError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len() as usize;
    if size > MAX_FILE_BYTES {
        return Err(RepoError::TooLarge {
            path: path.display().to_string(),
            size,
        });
    }
    let mut bytes = Vec::with_capacity(size);
    file.read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

fn walk(dir: &Path, rel: &str, files: &mut BTreeMap<String, Vec<u8>>) -> Result<(), RepoError> {
    let io = |source| RepoError::Io {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // editor swap files, .DS_Store, .git
        }
        let path = entry.path();
        let child = format!("{rel}/{name}");
        let kind = entry.file_type().map_err(io)?;
        // A symlink is followed, as is_dir/is_file would.
        let (dir, file) = if kind.is_symlink() {
            (path.is_dir(), path.is_file())
        } else {
            (kind.is_dir(), kind.is_file())
        };
        if dir {
            walk(&path, &child, files)?;
        } else if file {
            files.insert(child, read_file(&path)?);
        }
    }
    Ok(())
}

/// Reads the mesh files of `dir` at git revision `rev` from the object database. `dir` may be a
/// work tree (or a folder inside one, when the mesh lives in a sub-folder) or a bare repository.
pub fn from_git(dir: &Path, rev: &str) -> Result<RepoFiles, RepoError> {
    let repo = git2::Repository::discover(dir).map_err(|_| RepoError::NotGit {
        path: dir.display().to_string(),
    })?;
    let prefix = mesh_prefix(&repo, dir);
    let object = repo
        .revparse_single(rev)
        .map_err(|e| RepoError::BadRevision {
            rev: rev.to_string(),
            repo: dir.display().to_string(),
            message: e.message().to_string(),
        })?;
    let commit = object
        .peel_to_commit()
        .map_err(|e| RepoError::BadRevision {
            rev: rev.to_string(),
            repo: dir.display().to_string(),
            message: e.message().to_string(),
        })?;
    let root = commit.tree().map_err(git_err)?;
    let tree = if prefix.as_os_str().is_empty() {
        root
    } else {
        let entry = root
            .get_path(&prefix)
            .map_err(|_| RepoError::NotAMeshRepo {
                path: format!("{}@{rev}", prefix.display()),
            })?;
        entry
            .to_object(&repo)
            .and_then(|o| o.peel_to_tree())
            .map_err(git_err)?
    };
    if tree.get_name("mesh.toml").is_none() {
        return Err(RepoError::NotAMeshRepo {
            path: format!("{}@{rev}", dir.display()),
        });
    }
    let mut files = BTreeMap::new();
    let mut failure = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        let name = entry.name().unwrap_or("");
        let path = format!("{parent}{name}");
        let top = path.split('/').next().unwrap_or("");
        if !MESH_ENTRIES.contains(&top) || name.starts_with('.') {
            return if parent.is_empty() {
                git2::TreeWalkResult::Skip
            } else {
                git2::TreeWalkResult::Ok
            };
        }
        if entry.kind() == Some(git2::ObjectType::Blob) {
            match repo.find_blob(entry.id()) {
                Ok(blob) if blob.size() > MAX_FILE_BYTES => {
                    failure = Some(RepoError::TooLarge {
                        path,
                        size: blob.size(),
                    });
                    return git2::TreeWalkResult::Abort;
                }
                Ok(blob) => {
                    files.insert(path, blob.content().to_vec());
                }
                Err(e) => {
                    failure = Some(git_err(e));
                    return git2::TreeWalkResult::Abort;
                }
            }
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(git_err)
    .or_else(|e| if failure.is_some() { Ok(()) } else { Err(e) })?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(RepoFiles {
        files,
        origin: Origin::Git {
            repo: dir.to_path_buf(),
            rev: rev.to_string(),
            commit: commit.id().to_string(),
        },
    })
}

/// Where the mesh sits inside the repository's tree: the path of `dir` below the work tree, or
/// nothing for a bare repository or the work tree's root.
/// The content of one file of the mesh (`path` relative to the mesh, any file, not only mesh
/// files: a CA certificate, say) at git revision `rev`; `None` when the revision has no such
/// file.
pub fn read_at(dir: &Path, rev: &str, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
    let repo = git2::Repository::discover(dir).map_err(|_| RepoError::NotGit {
        path: dir.display().to_string(),
    })?;
    let full = mesh_prefix(&repo, dir).join(path);
    let tree = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .and_then(|c| c.tree())
        .map_err(|e| RepoError::BadRevision {
            rev: rev.to_string(),
            repo: dir.display().to_string(),
            message: e.message().to_string(),
        })?;
    let Ok(entry) = tree.get_path(&full) else {
        return Ok(None);
    };
    let Ok(blob) = repo.find_blob(entry.id()) else {
        return Ok(None);
    };
    if blob.size() > MAX_FILE_BYTES {
        return Err(RepoError::TooLarge {
            path: format!("{path}@{rev}"),
            size: blob.size(),
        });
    }
    Ok(Some(blob.content().to_vec()))
}

/// The committer time of the commit `rev` names, in seconds since the Unix epoch: a
/// timestamp that is the same on every run over the same revision (`mesh export`).
pub fn commit_time(dir: &Path, rev: &str) -> Result<i64, RepoError> {
    let repo = git2::Repository::discover(dir).map_err(|_| RepoError::NotGit {
        path: dir.display().to_string(),
    })?;
    let commit = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| RepoError::BadRevision {
            rev: rev.to_string(),
            repo: dir.display().to_string(),
            message: e.message().to_string(),
        })?;
    Ok(commit.time().seconds())
}

/// One committed version of a file: the first commit (oldest first) that held this content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileVersion {
    /// The commit's id, abbreviated to 7 hex digits.
    pub commit: String,
    /// The commit's time, seconds since the Unix epoch.
    pub time: i64,
    pub text: Vec<u8>,
}

/// Every distinct committed content of a mesh file (`path` relative to the mesh, as in
/// `RepoFiles`) in the commits reachable from `rev`, oldest first: the history a pull request's
/// transitive schema check compares with. Each content appears once, at the first commit that
/// held it. A file that was moved is followed under its current path only. `shallow` is true
/// when the repository is a shallow clone, whose older commits are not there to read.
pub fn file_history(dir: &Path, rev: &str, path: &str) -> Result<FileHistory, RepoError> {
    let repo = git2::Repository::discover(dir).map_err(|_| RepoError::NotGit {
        path: dir.display().to_string(),
    })?;
    let full = mesh_prefix(&repo, dir).join(path);
    let tip = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| RepoError::BadRevision {
            rev: rev.to_string(),
            repo: dir.display().to_string(),
            message: e.message().to_string(),
        })?;
    let mut walk = repo.revwalk().map_err(git_err)?;
    walk.push(tip.id()).map_err(git_err)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME | git2::Sort::REVERSE)
        .map_err(git_err)?;
    let mut seen = std::collections::HashSet::new();
    let mut versions = Vec::new();
    for id in walk {
        let commit = repo.find_commit(id.map_err(git_err)?).map_err(git_err)?;
        let Ok(entry) = commit.tree().map_err(git_err)?.get_path(&full) else {
            continue;
        };
        if entry.kind() != Some(git2::ObjectType::Blob) || !seen.insert(entry.id()) {
            continue;
        }
        let blob = repo.find_blob(entry.id()).map_err(git_err)?;
        if blob.size() > MAX_FILE_BYTES {
            return Err(RepoError::TooLarge {
                path: format!("{path}@{}", short(commit.id())),
                size: blob.size(),
            });
        }
        versions.push(FileVersion {
            commit: short(commit.id()),
            time: commit.time().seconds(),
            text: blob.content().to_vec(),
        });
    }
    Ok(FileHistory {
        versions,
        shallow: repo.is_shallow(),
    })
}

/// What `file_history` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHistory {
    pub versions: Vec<FileVersion>,
    pub shallow: bool,
}

fn short(id: git2::Oid) -> String {
    id.to_string()[..7].to_string()
}

fn mesh_prefix(repo: &git2::Repository, dir: &Path) -> PathBuf {
    let (Some(workdir), Ok(dir)) = (repo.workdir(), dir.canonicalize()) else {
        return PathBuf::new();
    };
    let workdir = workdir
        .canonicalize()
        .unwrap_or_else(|_| workdir.to_path_buf());
    dir.strip_prefix(&workdir)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn git_err(e: git2::Error) -> RepoError {
    RepoError::Git(e.message().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    }

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn reads_only_mesh_files_from_a_dir() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "mesh.toml", "[mesh]\n");
        write(t.path(), "domains/a/domain.toml", "name = 'a'\n");
        write(t.path(), "domains/a/.domain.toml.swp", "junk");
        write(t.path(), "README.md", "hi");
        let r = from_dir(t.path()).unwrap();
        let keys: Vec<_> = r.files.keys().cloned().collect();
        assert_eq!(keys, ["domains/a/domain.toml", "mesh.toml"]);
    }

    #[test]
    fn missing_mesh_toml_is_an_error_with_a_hint() {
        let t = tempfile::tempdir().unwrap();
        let e = from_dir(t.path()).unwrap_err().to_string();
        assert!(e.contains("no mesh.toml") && e.contains("--repo"), "{e}");
    }

    #[test]
    fn reads_a_revision_from_a_bare_clone_and_a_subfolder() {
        let t = tempfile::tempdir().unwrap();
        let work = t.path().join("work");
        std::fs::create_dir(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        write(&work, "mesh/mesh.toml", "[mesh]\nname = 'v1'\n");
        write(&work, "mesh/domains/a/domain.toml", "name = 'a'\n");
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "one"]);
        write(&work, "mesh/mesh.toml", "[mesh]\nname = 'v2'\n");
        git(&work, &["commit", "-q", "-am", "two"]);

        let sub = from_git(&work.join("mesh"), "HEAD~1").unwrap();
        assert_eq!(sub.files["mesh.toml"], b"[mesh]\nname = 'v1'\n");
        assert!(sub.files.contains_key("domains/a/domain.toml"));

        let bare = t.path().join("bare.git");
        git(
            t.path(),
            &[
                "clone",
                "-q",
                "--bare",
                work.to_str().unwrap(),
                bare.to_str().unwrap(),
            ],
        );
        // In a bare clone the mesh is wherever it was in the tree; here it sits under mesh/.
        let err = from_git(&bare, "main").unwrap_err().to_string();
        assert!(err.contains("no mesh.toml"), "{err}");
    }

    #[test]
    fn unknown_revision_names_the_revision() {
        let t = tempfile::tempdir().unwrap();
        git(t.path(), &["init", "-q"]);
        write(t.path(), "mesh.toml", "[mesh]\n");
        git(t.path(), &["add", "."]);
        git(t.path(), &["commit", "-q", "-m", "one"]);
        let e = from_git(t.path(), "no-such-branch")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no-such-branch") && e.contains("help"), "{e}");
        let ok = from_git(t.path(), "HEAD").unwrap();
        assert!(matches!(ok.origin, Origin::Git { .. }));
    }

    #[test]
    fn not_a_git_repo() {
        let t = tempfile::tempdir().unwrap();
        let e = from_git(t.path(), "HEAD").unwrap_err().to_string();
        assert!(e.contains("not a git repository"), "{e}");
    }

    #[test]
    fn commit_time_is_the_committer_time_of_the_revision() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        git(root, &["init", "-q", "-b", "main"]);
        write(root, "mesh.toml", "[mesh]\n");
        git(root, &["add", "."]);
        let out = std::process::Command::new("git")
            .args(["commit", "-q", "-m", "one"])
            .current_dir(root)
            .env("GIT_COMMITTER_DATE", "2026-11-05T10:00:00Z")
            .env("GIT_AUTHOR_DATE", "2026-11-05T10:00:00Z")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .status()
            .unwrap();
        assert!(out.success());
        assert_eq!(commit_time(root, "main").unwrap(), 1_793_872_800);
        let e = commit_time(root, "nope").unwrap_err().to_string();
        assert!(e.contains("`nope`"), "{e}");
    }

    #[test]
    fn file_history_lists_each_committed_content_once_oldest_first() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        git(root, &["init", "-q", "-b", "main"]);
        let mesh = root.join("mesh");
        let file = "domains/shop/schemas/order.avsc";
        for (i, text) in ["v1", "v2", "v1", "v3"].iter().enumerate() {
            write(&mesh, "mesh.toml", "[mesh]\n");
            write(&mesh, file, text);
            git(root, &["add", "."]);
            git(root, &["commit", "-q", "-m", &format!("commit {i}")]);
        }
        // A version on a branch the base does not reach is not part of its history.
        git(root, &["checkout", "-q", "-b", "side"]);
        write(&mesh, file, "side");
        git(root, &["commit", "-q", "-am", "side"]);
        git(root, &["checkout", "-q", "main"]);

        let h = file_history(&mesh, "main", file).unwrap();
        let texts: Vec<&[u8]> = h.versions.iter().map(|v| v.text.as_slice()).collect();
        assert_eq!(texts, [b"v1".as_slice(), b"v2", b"v3"]);
        assert!(!h.shallow);
        assert!(h.versions.iter().all(|v| v.commit.len() == 7 && v.time > 0));
        let at_side = file_history(&mesh, "side", file).unwrap();
        assert_eq!(at_side.versions.len(), 4);
        // A file no commit holds has no history; an unknown revision is named.
        assert!(
            file_history(&mesh, "main", "nope.avsc")
                .unwrap()
                .versions
                .is_empty()
        );
        let e = file_history(&mesh, "nope", file).unwrap_err().to_string();
        assert!(e.contains("`nope`"), "{e}");

        // A shallow clone has only the tip: the history says so.
        let shallow = root.join("shallow");
        let url = format!("file://{}", root.display());
        git(
            root,
            &[
                "clone",
                "-q",
                "--depth",
                "1",
                "--branch",
                "main",
                &url,
                shallow.to_str().unwrap(),
            ],
        );
        let h = file_history(&shallow.join("mesh"), "HEAD", file).unwrap();
        assert!(h.shallow);
        assert_eq!(h.versions.len(), 1);
    }

    #[test]
    fn read_at_reads_any_file_of_the_mesh_at_a_revision() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        git(root, &["init", "-q", "-b", "main"]);
        let mesh = root.join("mesh");
        write(&mesh, "mesh.toml", "[mesh]\n");
        write(&mesh, "certs/ca.pem", "v1");
        git(root, &["add", "."]);
        git(root, &["commit", "-q", "-m", "one"]);
        write(&mesh, "certs/ca.pem", "v2 in the work tree");
        assert_eq!(
            read_at(&mesh, "main", "certs/ca.pem").unwrap().as_deref(),
            Some(b"v1".as_slice())
        );
        assert_eq!(read_at(&mesh, "main", "certs/none.pem").unwrap(), None);
        let e = read_at(&mesh, "nope", "certs/ca.pem")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`nope`"), "{e}");
    }
}
