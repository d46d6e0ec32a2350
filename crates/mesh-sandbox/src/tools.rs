//! Kafka's own command-line tools, run from the sandbox's jars, and the client configs they log
//! in with: an independent witness for end-to-end tests of what `mesh` did to the cluster.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::SandboxError;
use crate::config::{ADMIN_PASSWORD, ADMIN_USER, SandboxConfig};
use crate::kafka::{java_command, render_client_properties};

/// A `java` command that runs `main_class` from the sandbox's Kafka jars, logging only warnings
/// (to stderr). Add the tool's arguments, e.g.
///
/// ```no_run
/// # let cfg = mesh_sandbox::SandboxConfig::new("/tmp/sb", "/tmp/cache");
/// let admin = mesh_sandbox::admin_client_properties(&cfg)?;
/// let out = mesh_sandbox::kafka_tool_command(&cfg, "org.apache.kafka.tools.TopicCommand")
///     .args(["--bootstrap-server", &cfg.bootstrap_servers(), "--list", "--command-config"])
///     .arg(&admin)
///     .output();
/// # Ok::<(), mesh_sandbox::SandboxError>(())
/// ```
///
/// Main classes in Kafka 3.9: `org.apache.kafka.tools.TopicCommand`,
/// `org.apache.kafka.tools.consumer.group.ConsumerGroupCommand`, `kafka.admin.AclCommand`,
/// `kafka.admin.ConfigCommand`. The jars must have been fetched ([`crate::up`] or
/// [`crate::prefetch`]).
pub fn kafka_tool_command(cfg: &SandboxConfig, main_class: &str) -> Command {
    let layout = cfg.layout();
    let mut cmd = java_command(cfg, &layout, &layout.tools_log4j);
    cmd.arg(main_class);
    cmd
}

/// The `--command-config` file that logs Kafka's tools in as `admin` (written if missing).
pub fn admin_client_properties(cfg: &SandboxConfig) -> Result<PathBuf, SandboxError> {
    write(cfg, "admin-client.properties", ADMIN_USER, ADMIN_PASSWORD)
}

/// Writes a `--command-config` file that logs in as `user` (one of `cfg.users`, or any name to
/// test a failed login) into the sandbox's config folder, and returns its path.
pub fn write_client_properties(
    cfg: &SandboxConfig,
    user: &str,
    password: &str,
) -> Result<PathBuf, SandboxError> {
    if user != ADMIN_USER {
        crate::kafka::validate_users(&[(user.to_owned(), password.to_owned())])?;
    }
    write(cfg, &format!("client-{user}.properties"), user, password)
}

fn write(
    cfg: &SandboxConfig,
    file: &str,
    user: &str,
    password: &str,
) -> Result<PathBuf, SandboxError> {
    let layout = cfg.layout();
    fs::create_dir_all(&layout.config_dir)
        .map_err(|e| SandboxError::io("create", &layout.config_dir, e))?;
    let path = layout.config_dir.join(file);
    fs::write(&path, render_client_properties(user, password))
        .map_err(|e| SandboxError::io("write", &path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_commands_use_the_cached_jars_and_quiet_logging() {
        let cfg = SandboxConfig::new("/sb", "/cache");
        let cmd = kafka_tool_command(&cfg, "kafka.admin.AclCommand");
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(cmd.get_program(), "java");
        assert!(args.contains(&"/cache/kafka-3.9.2/libs/*".to_owned()));
        assert!(args.contains(
            &"-Dlog4j.configuration=file:/cache/kafka-3.9.2/tools-log4j.properties".to_owned()
        ));
        assert_eq!(
            args.last().map(String::as_str),
            Some("kafka.admin.AclCommand")
        );
    }

    #[test]
    fn client_property_files_land_in_the_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SandboxConfig::new(dir.path(), dir.path().join("cache"));
        let admin = admin_client_properties(&cfg).unwrap();
        assert!(
            fs::read_to_string(&admin)
                .unwrap()
                .contains("username=\"admin\"")
        );
        let alice = write_client_properties(&cfg, "alice", "pw").unwrap();
        assert!(alice.ends_with("config/client-alice.properties"));
        assert!(write_client_properties(&cfg, "../evil", "pw").is_err());
    }
}
