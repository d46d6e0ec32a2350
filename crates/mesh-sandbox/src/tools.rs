//! Kafka's own command-line tools, run from the sandbox's jars, and the client configs they log
//! in with: an independent witness for end-to-end tests of what `mesh` did to the cluster.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::SandboxError;
use crate::config::{ADMIN_PASSWORD, ADMIN_USER, KafkaSeries, Layout, Listener, SandboxConfig};
use crate::kafka::{
    java_command, render_client_properties, render_scram_client_properties,
    render_ssl_client_properties,
};
use crate::tls::{ClientCertificate, client_certificate, file_stem};

/// Kafka's command-line tools the tests use. Their main classes moved between 3.9 and 4.x;
/// [`kafka_tool`] picks the right one for the sandbox's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KafkaTool {
    /// `kafka-topics`
    Topics,
    /// `kafka-configs`
    Configs,
    /// `kafka-acls`
    Acls,
    /// `kafka-consumer-groups`
    ConsumerGroups,
    /// `kafka-console-consumer`
    ConsoleConsumer,
    /// `kafka-console-producer`
    ConsoleProducer,
    /// `kafka-get-offsets`
    GetOffsets,
    /// `kafka-metadata-quorum`
    MetadataQuorum,
    /// `kafka-features`
    Features,
    /// `kafka-storage`
    Storage,
}

impl KafkaTool {
    /// Every tool (for checks that each class exists in the jars).
    pub const ALL: [KafkaTool; 10] = [
        KafkaTool::Topics,
        KafkaTool::Configs,
        KafkaTool::Acls,
        KafkaTool::ConsumerGroups,
        KafkaTool::ConsoleConsumer,
        KafkaTool::ConsoleProducer,
        KafkaTool::GetOffsets,
        KafkaTool::MetadataQuorum,
        KafkaTool::Features,
        KafkaTool::Storage,
    ];

    /// The main class in a Kafka series (checked against the jars of 3.9.2 and 4.4.0).
    pub fn main_class(self, series: KafkaSeries) -> &'static str {
        use KafkaSeries::{V3, V4};
        match (self, series) {
            (KafkaTool::Topics, _) => "org.apache.kafka.tools.TopicCommand",
            (KafkaTool::Configs, V3) => "kafka.admin.ConfigCommand",
            (KafkaTool::Configs, V4) => "org.apache.kafka.tools.ConfigCommand",
            (KafkaTool::Acls, V3) => "kafka.admin.AclCommand",
            (KafkaTool::Acls, V4) => "org.apache.kafka.tools.AclCommand",
            (KafkaTool::ConsumerGroups, _) => {
                "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
            }
            (KafkaTool::ConsoleConsumer, _) => "org.apache.kafka.tools.consumer.ConsoleConsumer",
            (KafkaTool::ConsoleProducer, V3) => "kafka.tools.ConsoleProducer",
            (KafkaTool::ConsoleProducer, V4) => "org.apache.kafka.tools.ConsoleProducer",
            (KafkaTool::GetOffsets, _) => "org.apache.kafka.tools.GetOffsetShell",
            (KafkaTool::MetadataQuorum, _) => "org.apache.kafka.tools.MetadataQuorumCommand",
            (KafkaTool::Features, _) => "org.apache.kafka.tools.FeatureCommand",
            (KafkaTool::Storage, _) => "kafka.tools.StorageTool",
        }
    }
}

/// A `java` command that runs one of Kafka's tools in the class the sandbox's Kafka version
/// has, logging only warnings (to stderr). Add the tool's arguments, e.g.
///
/// ```no_run
/// # let cfg = mesh_sandbox::SandboxConfig::new("/tmp/sb", "/tmp/cache");
/// use mesh_sandbox::{KafkaTool, Listener};
/// let admin = mesh_sandbox::admin_properties(&cfg, Listener::SaslSsl)?;
/// let out = mesh_sandbox::kafka_tool(&cfg, KafkaTool::Topics)
///     .args(["--bootstrap-server", &cfg.bootstrap(Listener::SaslSsl), "--list"])
///     .arg("--command-config")
///     .arg(&admin)
///     .output();
/// # Ok::<(), mesh_sandbox::SandboxError>(())
/// ```
///
/// An unknown `cfg.kafka_version` is treated as 4.x here (`up` refuses it anyway). The jars
/// must have been fetched ([`crate::up`] or [`crate::prefetch`]).
pub fn kafka_tool(cfg: &SandboxConfig, tool: KafkaTool) -> Command {
    let series = cfg.kafka_series().unwrap_or(KafkaSeries::V4);
    kafka_tool_command(cfg, tool.main_class(series))
}

/// A `java` command that runs `main_class` from the sandbox's Kafka jars, logging only warnings
/// (to stderr). Prefer [`kafka_tool`], which knows where each class lives in each version.
pub fn kafka_tool_command(cfg: &SandboxConfig, main_class: &str) -> Command {
    let layout = cfg.layout();
    let mut cmd = java_command(cfg, &layout, &layout.tools_log4j);
    cmd.arg(main_class);
    cmd
}

/// The `--command-config` file that logs Kafka's tools in as `admin` on SASL_PLAINTEXT
/// (written if missing).
pub fn admin_client_properties(cfg: &SandboxConfig) -> Result<PathBuf, SandboxError> {
    write(
        cfg,
        "admin-client.properties",
        &render_client_properties(ADMIN_USER, ADMIN_PASSWORD),
    )
}

/// The `--command-config` file that logs Kafka's tools in as `admin` on `listener`: PLAIN,
/// SCRAM-SHA-512, or admin's client certificate (CN=admin). The TLS ones need the sandbox's
/// CA, made by the first `up`.
pub fn admin_properties(cfg: &SandboxConfig, listener: Listener) -> Result<PathBuf, SandboxError> {
    let layout = cfg.layout();
    let path = admin_properties_path(&layout, listener);
    let text = admin_properties_text(&layout, cfg, listener);
    write_at(&layout, &path, &text)
}

pub(crate) fn admin_properties_path(layout: &Layout, listener: Listener) -> PathBuf {
    match listener {
        Listener::SaslPlaintext => layout.admin_properties.clone(),
        other => layout
            .config_dir
            .join(format!("admin-{}.properties", other.key())),
    }
}

fn admin_properties_text(layout: &Layout, cfg: &SandboxConfig, listener: Listener) -> String {
    match listener {
        Listener::SaslPlaintext => render_client_properties(ADMIN_USER, ADMIN_PASSWORD),
        Listener::SaslSsl => {
            render_scram_client_properties(ADMIN_USER, ADMIN_PASSWORD, &layout.ca_cert)
        }
        Listener::Ssl => {
            let admin = client_certificate(cfg, ADMIN_USER);
            render_ssl_client_properties(&layout.ca_cert, Some(&admin.keystore))
        }
    }
}

/// Writes admin's `.properties` for every listener (`up` does, so `status` can name them).
pub(crate) fn write_admin_properties(
    cfg: &SandboxConfig,
    layout: &Layout,
) -> Result<(), SandboxError> {
    for listener in Listener::ALL {
        let path = admin_properties_path(layout, listener);
        write_at(layout, &path, &admin_properties_text(layout, cfg, listener))?;
    }
    Ok(())
}

/// Writes a `--command-config` file that logs in as `user` with SASL/PLAIN on the
/// SASL_PLAINTEXT listener (one of `cfg.users`, or any name to test a failed login) into the
/// sandbox's config folder, and returns its path.
pub fn write_client_properties(
    cfg: &SandboxConfig,
    user: &str,
    password: &str,
) -> Result<PathBuf, SandboxError> {
    check_user(user, password)?;
    write(
        cfg,
        &format!("client-{user}.properties"),
        &render_client_properties(user, password),
    )
}

/// Writes a `--command-config` file for the SASL_SSL listener: SCRAM-SHA-512 as `user` (a
/// wrong password makes a failed login), trusting the sandbox CA.
pub fn write_scram_client_properties(
    cfg: &SandboxConfig,
    user: &str,
    password: &str,
) -> Result<PathBuf, SandboxError> {
    check_user(user, password)?;
    let layout = cfg.layout();
    write(
        cfg,
        &format!("client-{user}-scram.properties"),
        &render_scram_client_properties(user, password, &layout.ca_cert),
    )
}

/// Writes a `--command-config` file for the SSL listener that presents `certificate` (from
/// [`crate::issue_client_certificate`] or [`crate::client_certificate`]), or none at all (the
/// broker then refuses the handshake), trusting the sandbox CA.
pub fn write_ssl_client_properties(
    cfg: &SandboxConfig,
    certificate: Option<&ClientCertificate>,
) -> Result<PathBuf, SandboxError> {
    let layout = cfg.layout();
    let name = match certificate {
        Some(c) => format!("client-{}-ssl.properties", file_stem(&c.subject)),
        None => "client-no-certificate-ssl.properties".to_owned(),
    };
    let text =
        render_ssl_client_properties(&layout.ca_cert, certificate.map(|c| c.keystore.as_path()));
    write(cfg, &name, &text)
}

fn check_user(user: &str, password: &str) -> Result<(), SandboxError> {
    if user != ADMIN_USER {
        crate::kafka::validate_users(&[(user.to_owned(), password.to_owned())])?;
    }
    Ok(())
}

fn write(cfg: &SandboxConfig, file: &str, text: &str) -> Result<PathBuf, SandboxError> {
    let layout = cfg.layout();
    let path = layout.config_dir.join(file);
    write_at(&layout, &path, text)
}

fn write_at(layout: &Layout, path: &Path, text: &str) -> Result<PathBuf, SandboxError> {
    fs::create_dir_all(&layout.config_dir)
        .map_err(|e| SandboxError::io("create", &layout.config_dir, e))?;
    fs::write(path, text).map_err(|e| SandboxError::io("write", path, e))?;
    Ok(path.to_path_buf())
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
        assert!(args.contains(&"/cache/kafka-4.4.0/libs/*".to_owned()));
        assert!(
            args.contains(
                &"-Dlog4j2.configurationFile=file:/cache/kafka-4.4.0/tools-log4j2.properties"
                    .to_owned()
            )
        );
        assert_eq!(
            args.last().map(String::as_str),
            Some("kafka.admin.AclCommand")
        );
    }

    #[test]
    fn tools_follow_the_kafka_version() {
        let mut cfg = SandboxConfig::new("/sb", "/cache");
        let last = |cmd: Command| {
            cmd.get_args()
                .last()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(
            last(kafka_tool(&cfg, KafkaTool::Acls)),
            "org.apache.kafka.tools.AclCommand"
        );
        assert_eq!(
            last(kafka_tool(&cfg, KafkaTool::ConsoleProducer)),
            "org.apache.kafka.tools.ConsoleProducer"
        );
        cfg.kafka_version = "3.9.2".into();
        assert_eq!(
            last(kafka_tool(&cfg, KafkaTool::Acls)),
            "kafka.admin.AclCommand"
        );
        assert_eq!(
            last(kafka_tool(&cfg, KafkaTool::Configs)),
            "kafka.admin.ConfigCommand"
        );
        assert_eq!(
            last(kafka_tool(&cfg, KafkaTool::ConsoleProducer)),
            "kafka.tools.ConsoleProducer"
        );
        assert_eq!(
            last(kafka_tool(&cfg, KafkaTool::Topics)),
            "org.apache.kafka.tools.TopicCommand"
        );
        let args: Vec<_> = kafka_tool(&cfg, KafkaTool::Topics)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args.contains(
            &"-Dlog4j.configuration=file:/cache/kafka-3.9.2/tools-log4j.properties".to_owned()
        ));
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
        let scram = write_scram_client_properties(&cfg, "alice", "pw").unwrap();
        assert!(scram.ends_with("config/client-alice-scram.properties"));
        assert!(
            fs::read_to_string(&scram)
                .unwrap()
                .contains("SCRAM-SHA-512")
        );
        let none = write_ssl_client_properties(&cfg, None).unwrap();
        assert!(!fs::read_to_string(&none).unwrap().contains("keystore"));
        let cert = client_certificate(&cfg, "admin");
        let with = write_ssl_client_properties(&cfg, Some(&cert)).unwrap();
        assert!(with.ends_with("config/client-admin-ssl.properties"));
        let ssl_admin = admin_properties(&cfg, Listener::Ssl).unwrap();
        assert!(ssl_admin.ends_with("config/admin-ssl.properties"));
        assert!(
            fs::read_to_string(&ssl_admin)
                .unwrap()
                .contains("tls/client-admin.pem")
        );
        assert_eq!(
            admin_properties(&cfg, Listener::SaslPlaintext).unwrap(),
            admin
        );
    }
}
