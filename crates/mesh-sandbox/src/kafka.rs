//! Apache Kafka in the sandbox: the broker's configuration files (rendered as pure text), the
//! storage format step, the server command line, and commands for Kafka's own admin tools.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::config::{ADMIN_PASSWORD, ADMIN_USER, Layout, SandboxConfig};
use crate::process::{MARKER_COMPONENT, MARKER_DIR};
use crate::{Component, SandboxError};

/// The line Kafka logs once the broker is registered and unfenced, i.e. serving clients.
pub(crate) const STARTED_LINE: &str = "Kafka Server started";

/// Checks that every user can be written into the JAAS line (which quotes values and has no
/// escape for `"` that survives the properties parser) and that nobody redefines `admin`.
pub(crate) fn validate_users(users: &[(String, String)]) -> Result<(), SandboxError> {
    for (name, password) in users {
        let bad = |reason: &str| SandboxError::InvalidUser {
            name: name.clone(),
            reason: reason.to_owned(),
        };
        if name == ADMIN_USER {
            return Err(bad("`admin` is built in (password `admin-secret`)"));
        }
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(bad("use only letters, digits, `-`, `_` and `.`"));
        }
        if password.is_empty()
            || password
                .chars()
                .any(|c| matches!(c, '"' | '\\') || c.is_control())
        {
            return Err(bad(
                "the password must be non-empty, without quotes, backslashes or control characters",
            ));
        }
    }
    Ok(())
}

/// `server.properties` for one combined broker+controller with SASL/PLAIN on the client
/// listener and ACLs enforced. Deterministic, so a re-render can be compared with the file a
/// running broker was started with.
pub(crate) fn render_server_properties(cfg: &SandboxConfig, data_dir: &Path) -> String {
    let mut jaas = String::from("org.apache.kafka.common.security.plain.PlainLoginModule required");
    jaas.push_str(&format!(" user_{ADMIN_USER}=\"{ADMIN_PASSWORD}\""));
    for (name, password) in &cfg.users {
        jaas.push_str(&format!(" user_{name}=\"{password}\""));
    }
    jaas.push(';');
    let (client, controller, internal) = (cfg.kafka_port, cfg.controller_port, cfg.internal_port);
    // Backslashes are escapes in .properties files; a Unix path has none, but be safe.
    let data = data_dir.display().to_string().replace('\\', "\\\\");
    format!(
        "# Written by `mesh dev up`; rewritten on every start of this sandbox's broker.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=INTERNAL://127.0.0.1:{internal},CONTROLLER://127.0.0.1:{controller},CLIENT://127.0.0.1:{client}
# The controller listener is not advertised; clients use only CLIENT.
advertised.listeners=INTERNAL://127.0.0.1:{internal},CLIENT://127.0.0.1:{client}
listener.security.protocol.map=INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,CLIENT:SASL_PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=PLAIN
listener.name.client.sasl.enabled.mechanisms=PLAIN
listener.name.client.plain.sasl.jaas.config={jaas}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# ANONYMOUS is the broker itself on the PLAINTEXT listeners; admin is the sandbox's operator.
super.users=User:ANONYMOUS;User:{ADMIN_USER}
log.dirs={data}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
# Small segments keep an idle sandbox's disk use small.
log.segment.bytes=16777216
"
    )
}

/// log4j 1 configuration for the broker: everything to stdout, which `up` sends to the log file.
pub(crate) fn render_server_log4j() -> &'static str {
    "log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# Denied operations are logged at INFO by the authorizer: handy when an ACL is missing.
log4j.logger.kafka.authorizer.logger=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients.NetworkClient=WARN
"
}

/// log4j 1 configuration for Kafka's command-line tools: warnings only, on stderr, so their
/// stdout stays parseable.
pub(crate) fn render_tools_log4j() -> &'static str {
    "log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
"
}

/// A client `.properties` file (for `--command-config` of Kafka's tools) that logs in as `user`.
pub fn render_client_properties(user: &str, password: &str) -> String {
    format!(
        "security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{user}\" password=\"{password}\";
"
    )
}

/// A fresh cluster id: 16 random bytes in URL-safe base64 without padding (22 characters), the
/// form `kafka-storage random-uuid` prints.
pub(crate) fn new_cluster_id() -> Result<String, SandboxError> {
    let mut bytes = [0u8; 16];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| SandboxError::io("read random bytes from", "/dev/urandom", e))?;
    Ok(cluster_id_from_bytes(bytes))
}

pub(crate) fn cluster_id_from_bytes(mut bytes: [u8; 16]) -> String {
    // Kafka reserves ids whose most significant bits are all zero (Uuid.ZERO and the metadata
    // topic id); a random id almost never is, but make it impossible.
    bytes[0] |= 0x40;
    base64_url_no_pad(&bytes)
}

fn base64_url_no_pad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Whether the storage folder has been formatted (a new `--dir` has not).
pub(crate) fn is_formatted(layout: &Layout) -> bool {
    layout.kafka_data.join("meta.properties").is_file()
}

/// `kafka-storage format`: needed once per data folder before the first start.
pub(crate) fn format_storage(cfg: &SandboxConfig, layout: &Layout) -> Result<(), SandboxError> {
    let id = new_cluster_id()?;
    let mut cmd = java_command(cfg, layout, &layout.kafka_log4j);
    cmd.arg("kafka.tools.StorageTool")
        .arg("format")
        // One argument: a random id may start with '-', which the tool would read as an option.
        .arg(format!("--cluster-id={id}"))
        .arg("-c")
        .arg(&layout.server_properties)
        .stdin(Stdio::null());
    let output = cmd.output().map_err(|source| SandboxError::Spawn {
        command: format!("{} kafka.tools.StorageTool format", cfg.java.display()),
        source,
    })?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        return Err(SandboxError::CommandFailed {
            what: format!(
                "formatting Kafka storage in {}",
                layout.kafka_data.display()
            ),
            status: output.status.to_string(),
            output: text.trim().to_owned(),
        });
    }
    Ok(())
}

/// The broker's command line; the `-Dmesh.sandbox.*` markers let `down` and `status` tell
/// this sandbox's process from any other JVM.
pub(crate) fn server_command(cfg: &SandboxConfig, layout: &Layout) -> Command {
    let mut cmd = Command::new(&cfg.java);
    cmd.arg("-Xms128m")
        .arg("-Xmx512m")
        .arg("-XX:+UseG1GC")
        .arg("-XX:MaxGCPauseMillis=20")
        .arg("-Djava.awt.headless=true")
        .arg(marker_arg(MARKER_DIR, &layout.dir))
        .arg(format!("{MARKER_COMPONENT}{}", Component::Kafka.key()))
        .arg(log4j_arg(&layout.kafka_log4j))
        .arg("-cp")
        .arg(classpath(layout))
        .arg("kafka.Kafka")
        .arg(&layout.server_properties)
        .current_dir(&layout.dir);
    cmd
}

/// A `java` command with Kafka's jars on the classpath and the tools' quiet logging, ready for
/// a main class and its arguments.
pub(crate) fn java_command(cfg: &SandboxConfig, layout: &Layout, log4j: &Path) -> Command {
    let mut cmd = Command::new(&cfg.java);
    cmd.arg("-Xmx256m")
        .arg("-Djava.awt.headless=true")
        .arg(log4j_arg(log4j))
        .arg("-cp")
        .arg(classpath(layout));
    cmd
}

fn classpath(layout: &Layout) -> OsString {
    // The JVM expands `dir/*` to every jar in dir itself; no shell is involved.
    let mut cp = layout.kafka_libs.clone().into_os_string();
    cp.push("/*");
    cp
}

fn log4j_arg(path: &Path) -> OsString {
    let mut arg = OsString::from("-Dlog4j.configuration=file:");
    arg.push(path);
    arg
}

pub(crate) fn marker_arg(prefix: &str, dir: &Path) -> OsString {
    let mut arg = OsString::from(prefix);
    arg.push(dir);
    arg
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn cfg() -> SandboxConfig {
        let mut cfg = SandboxConfig::new("/sb", "/cache");
        cfg.users = vec![("alice".into(), "alice-secret".into())];
        cfg
    }

    fn props(text: &str) -> Vec<(&str, &str)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_once('=').expect("key=value"))
            .collect()
    }

    #[test]
    fn server_properties_make_acls_real() {
        let text = render_server_properties(&cfg(), Path::new("/sb/data/kafka"));
        let p = props(&text);
        let get = |k: &str| {
            p.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| *v)
                .unwrap_or_else(|| panic!("missing {k}"))
        };
        assert_eq!(get("process.roles"), "broker,controller");
        assert_eq!(get("controller.quorum.voters"), "1@127.0.0.1:19093");
        assert_eq!(
            get("listeners"),
            "INTERNAL://127.0.0.1:19094,CONTROLLER://127.0.0.1:19093,CLIENT://127.0.0.1:19092"
        );
        assert_eq!(
            get("advertised.listeners"),
            "INTERNAL://127.0.0.1:19094,CLIENT://127.0.0.1:19092"
        );
        assert_eq!(
            get("listener.security.protocol.map"),
            "INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,CLIENT:SASL_PLAINTEXT"
        );
        assert_eq!(
            get("authorizer.class.name"),
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        );
        assert_eq!(get("allow.everyone.if.no.acl.found"), "false");
        assert_eq!(get("super.users"), "User:ANONYMOUS;User:admin");
        assert_eq!(get("auto.create.topics.enable"), "false");
        assert_eq!(get("offsets.topic.replication.factor"), "1");
        assert_eq!(get("group.initial.rebalance.delay.ms"), "0");
        assert_eq!(get("log.dirs"), "/sb/data/kafka");
        assert_eq!(
            get("listener.name.client.plain.sasl.jaas.config"),
            "org.apache.kafka.common.security.plain.PlainLoginModule required \
             user_admin=\"admin-secret\" user_alice=\"alice-secret\";"
        );
        // Every key once: a duplicate would silently override the first.
        let mut keys: Vec<_> = p.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }

    #[test]
    fn ports_come_from_the_config() {
        let mut cfg = cfg();
        cfg.kafka_port = 1;
        cfg.controller_port = 2;
        cfg.internal_port = 3;
        let text = render_server_properties(&cfg, Path::new("/d"));
        assert!(text.contains(
            "listeners=INTERNAL://127.0.0.1:3,CONTROLLER://127.0.0.1:2,CLIENT://127.0.0.1:1\n"
        ));
        assert!(text.contains("controller.quorum.voters=1@127.0.0.1:2\n"));
    }

    #[test]
    fn client_properties_log_in_with_plain() {
        let text = render_client_properties("alice", "pw");
        assert!(text.contains("security.protocol=SASL_PLAINTEXT\n"));
        assert!(text.contains("sasl.mechanism=PLAIN\n"));
        assert!(text.contains("username=\"alice\" password=\"pw\";"));
    }

    #[test]
    fn users_that_would_break_the_jaas_line_are_rejected() {
        let ok = vec![("svc.orders-1_x".to_owned(), "p@ss w0rd!".to_owned())];
        assert!(validate_users(&ok).is_ok());
        for (name, pw) in [
            ("admin", "x"),
            ("", "x"),
            ("bad name", "x"),
            ("q\"uote", "x"),
            ("alice", ""),
            ("alice", "a\"b"),
            ("alice", "a\\b"),
            ("alice", "a\nb"),
        ] {
            let users = vec![(name.to_owned(), pw.to_owned())];
            assert!(
                matches!(
                    validate_users(&users),
                    Err(SandboxError::InvalidUser { .. })
                ),
                "{name:?}/{pw:?}"
            );
        }
    }

    #[test]
    fn cluster_ids_look_like_kafka_uuids() {
        assert_eq!(base64_url_no_pad(b"\xff\xff\xff"), "____");
        assert_eq!(base64_url_no_pad(b"Man"), "TWFu");
        assert_eq!(base64_url_no_pad(b"Ma"), "TWE");
        let id = cluster_id_from_bytes([0; 16]);
        assert_eq!(id.len(), 22);
        assert_ne!(id, "AAAAAAAAAAAAAAAAAAAAAA");
        let random = new_cluster_id().unwrap();
        assert_eq!(random.len(), 22);
        assert!(
            random
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn server_command_carries_the_markers() {
        let cfg = cfg();
        let layout = Layout::new(Path::new("/sb"), Path::new("/cache"), cfg.registry);
        let cmd = server_command(&cfg, &layout);
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args.contains(&"-Dmesh.sandbox.dir=/sb".to_owned()));
        assert!(args.contains(&"-Dmesh.sandbox.component=kafka".to_owned()));
        assert!(args.contains(&"/cache/kafka-3.9.2/libs/*".to_owned()));
        assert_eq!(
            args.last().map(PathBuf::from),
            Some(layout.server_properties)
        );
    }
}
