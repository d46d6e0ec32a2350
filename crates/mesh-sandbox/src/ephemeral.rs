//! Throw-away sandboxes for tests and benchmarks: a fresh folder on free ports, stopped and
//! removed when dropped, even when the test panics, so no JVM outlives it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{SandboxConfig, SandboxError, down, up};

/// A running sandbox that is stopped (and its folder deleted) on drop.
pub struct Ephemeral {
    pub cfg: SandboxConfig,
    root: PathBuf,
}

impl Ephemeral {
    /// Starts a sandbox in a new temporary folder on free ports, with these extra SASL users.
    /// Downloads come from the shared cache (see [`SandboxConfig::from_env`]).
    pub fn start(
        users: &[(&str, &str)],
        progress: &mut dyn FnMut(&str),
    ) -> Result<Ephemeral, SandboxError> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "mesh-sandbox-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut cfg = SandboxConfig::from_env(Some(root.join("sandbox")))?;
        cfg.use_free_ports()?;
        cfg.users = users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        // Built before `up`, so a failed start is cleaned up by the same drop.
        let sandbox = Ephemeral { cfg, root };
        up(&sandbox.cfg, progress)?;
        Ok(sandbox)
    }

    /// A folder next to the sandbox's own, for the test's files; removed with it.
    pub fn scratch(&self) -> &Path {
        &self.root
    }
}

impl Drop for Ephemeral {
    fn drop(&mut self) {
        if let Err(e) = down(&self.cfg) {
            eprintln!("cleanup: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
