//! Apache Kafka in the sandbox: the broker's configuration files (rendered as pure text), the
//! storage format step, the server command line, and commands for Kafka's own admin tools.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::config::{ADMIN_PASSWORD, ADMIN_USER, KafkaSeries, Layout, SandboxConfig};
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

/// The principal-mapping rule of the SSL listener: the certificate's CN, wherever it stands in
/// the RFC 2253 name Java prints (`OU=data,CN=order-service` → `order-service`); a name without
/// a CN keeps its full form.
pub(crate) const PRINCIPAL_MAPPING_RULES: &str = "RULE:^(?:.*,)?CN=([^,]+)(?:,.*)?$/$1/,DEFAULT";

/// Replication settings for a cluster of `brokers` nodes: (replication factor, min ISR). With
/// three nodes both are real (3 and 2), so losing one node keeps every topic writable.
pub(crate) fn replication(brokers: u8) -> (u8, u8) {
    let rf = brokers.clamp(1, 3);
    (rf, if rf >= 3 { 2 } else { 1 })
}

/// `controller.quorum.voters` for every node of the sandbox: `1@127.0.0.1:<controller>,…`.
pub(crate) fn quorum_voters(cfg: &SandboxConfig) -> String {
    cfg.node_ids()
        .map(|n| format!("{n}@127.0.0.1:{}", cfg.node(n).controller))
        .collect::<Vec<_>>()
        .join(",")
}

/// `server.properties` for one combined broker+controller node with SASL/PLAIN, SASL_SSL with
/// SCRAM, and SSL with client certificates, ACLs enforced. Deterministic, so a re-render can be
/// compared with the file a running node was started with.
pub(crate) fn render_server_properties(cfg: &SandboxConfig, node: u8, layout: &Layout) -> String {
    let mut jaas = String::from("org.apache.kafka.common.security.plain.PlainLoginModule required");
    jaas.push_str(&format!(" user_{ADMIN_USER}=\"{ADMIN_PASSWORD}\""));
    for (name, password) in &cfg.users {
        jaas.push_str(&format!(" user_{name}=\"{password}\""));
    }
    jaas.push(';');
    let ports = cfg.node(node);
    let (client, controller, internal) = (ports.client, ports.controller, ports.internal);
    let (scram, mtls) = (ports.sasl_ssl, ports.ssl);
    let voters = quorum_voters(cfg);
    let (rf, min_isr) = replication(cfg.brokers);
    // Backslashes are escapes in .properties files; a Unix path has none, but be safe.
    let path = |p: &Path| p.display().to_string().replace('\\', "\\\\");
    let data = path(&layout.node(node).data);
    let keystore = path(&layout.broker_keystore);
    let truststore = path(&layout.ca_cert);
    let scram_login = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
    // A fault test's relay listener: PLAIN like CLIENT, advertised where the test's proxy is.
    let relay = cfg.relays.get(usize::from(node) - 1);
    let (relay_listen, relay_advertised, relay_protocol, relay_sasl) = match relay {
        Some(r) => (
            format!(",RELAY://127.0.0.1:{}", r.listen),
            format!(",RELAY://127.0.0.1:{}", r.advertised),
            ",RELAY:SASL_PLAINTEXT".to_owned(),
            format!(
                "listener.name.relay.sasl.enabled.mechanisms=PLAIN\nlistener.name.relay.plain.sasl.jaas.config={jaas}\n"
            ),
        ),
        None => Default::default(),
    };
    let mut text = format!(
        "# Written by `mesh dev up`; rewritten on every start of this node.
process.roles=broker,controller
node.id={node}
controller.quorum.voters={voters}
listeners=INTERNAL://127.0.0.1:{internal},CONTROLLER://127.0.0.1:{controller},CLIENT://127.0.0.1:{client},SCRAM://127.0.0.1:{scram},MTLS://127.0.0.1:{mtls}{relay_listen}
# The controller listener is not advertised; clients use CLIENT, SCRAM or MTLS.
advertised.listeners=INTERNAL://127.0.0.1:{internal},CLIENT://127.0.0.1:{client},SCRAM://127.0.0.1:{scram},MTLS://127.0.0.1:{mtls}{relay_advertised}
listener.security.protocol.map=INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,CLIENT:SASL_PLAINTEXT,SCRAM:SASL_SSL,MTLS:SSL{relay_protocol}
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=PLAIN
listener.name.client.sasl.enabled.mechanisms=PLAIN
listener.name.client.plain.sasl.jaas.config={jaas}
{relay_sasl}# SCRAM credentials live in the cluster metadata (added at format time or by `up` afterwards).
listener.name.scram.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.scram.scram-sha-512.sasl.jaas.config={scram_login}
listener.name.scram.scram-sha-256.sasl.jaas.config={scram_login}
# TLS: the sandbox CA's broker certificate (SANs localhost, 127.0.0.1), an unencrypted PKCS#8 key.
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.truststore.type=PEM
ssl.truststore.location={truststore}
listener.name.mtls.ssl.client.auth=required
# The certificate's CN is the principal: CN=admin is User:admin.
ssl.principal.mapping.rules={PRINCIPAL_MAPPING_RULES}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# ANONYMOUS is the nodes themselves on the PLAINTEXT listeners; admin is the sandbox's operator.
super.users=User:ANONYMOUS;User:{ADMIN_USER}
log.dirs={data}
num.partitions=1
default.replication.factor={rf}
min.insync.replicas={min_isr}
offsets.topic.replication.factor={rf}
offsets.topic.num.partitions=1
transaction.state.log.replication.factor={rf}
transaction.state.log.min.isr={min_isr}
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
# Small segments keep an idle sandbox's disk use small.
log.segment.bytes=16777216
"
    );
    if layout.series() == KafkaSeries::V3 {
        // The new consumer group protocol (KIP-848) is a preview in 3.9, off unless listed here;
        // Kafka 4 serves it by default. Clients choose it with group.protocol=consumer.
        text.push_str("group.coordinator.rebalance.protocols=classic,consumer\n");
    }
    if layout.series() == KafkaSeries::V4 {
        // Share groups (KIP-932) keep their state in a topic that defaults to 3 replicas.
        text.push_str(&format!(
            "share.coordinator.state.topic.replication.factor={rf}\nshare.coordinator.state.topic.min.isr={min_isr}\n"
        ));
    }
    text
}

/// The broker's logging configuration: everything at INFO to stdout (which `up` sends to the
/// log file), denied operations included (`kafka.authorizer.logger` logs them at INFO).
/// Kafka 3.9 reads log4j 1 properties (through reload4j), Kafka 4 log4j2 properties.
pub(crate) fn render_server_log4j(series: KafkaSeries) -> &'static str {
    match series {
        KafkaSeries::V3 => {
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
        KafkaSeries::V4 => {
            "status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
# Denied operations are logged at INFO by the authorizer: handy when an ACL is missing.
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.network.name = org.apache.kafka.clients.NetworkClient
logger.network.level = WARN
"
        }
    }
}

/// Logging for Kafka's command-line tools: warnings only, on stderr, so their stdout stays
/// parseable.
pub(crate) fn render_tools_log4j(series: KafkaSeries) -> &'static str {
    match series {
        KafkaSeries::V3 => {
            "log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
"
        }
        KafkaSeries::V4 => {
            "status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
"
        }
    }
}

/// A client `.properties` file (for `--command-config` of Kafka's tools) that logs in as `user`
/// on the SASL_PLAINTEXT listener.
pub fn render_client_properties(user: &str, password: &str) -> String {
    format!(
        "security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{user}\" password=\"{password}\";
"
    )
}

/// A Java client `.properties` file for the SASL_SSL listener: SCRAM-SHA-512 as `user`,
/// trusting the PEM CA file `ca`.
pub fn render_scram_client_properties(user: &str, password: &str, ca: &Path) -> String {
    format!(
        "security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" password=\"{password}\";
ssl.truststore.type=PEM
ssl.truststore.location={}
",
        ca.display()
    )
}

/// A Java client `.properties` file for the SSL listener: trusting the PEM CA file `ca` and,
/// when given, presenting the client certificate in the PEM keystore `keystore` (key then
/// certificate, unencrypted). Without one the broker refuses the handshake.
pub fn render_ssl_client_properties(ca: &Path, keystore: Option<&Path>) -> String {
    let mut text = format!(
        "security.protocol=SSL
ssl.truststore.type=PEM
ssl.truststore.location={}
",
        ca.display()
    );
    if let Some(keystore) = keystore {
        text.push_str(&format!(
            "ssl.keystore.type=PEM\nssl.keystore.location={}\n",
            keystore.display()
        ));
    }
    text
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

/// Whether a node's storage folder has been formatted (a new `--dir` has not).
pub(crate) fn is_formatted(layout: &Layout, node: u8) -> bool {
    layout.node(node).data.join("meta.properties").is_file()
}

/// The cluster id a formatted node's storage carries, so nodes formatted later join the same
/// cluster.
pub(crate) fn formatted_cluster_id(layout: &Layout, node: u8) -> Option<String> {
    let text = fs::read_to_string(layout.node(node).data.join("meta.properties")).ok()?;
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "cluster.id")
        .map(|(_, v)| v.trim().to_owned())
}

/// The `--add-scram` arguments that give every user (admin included) SCRAM-SHA-512 and
/// SCRAM-SHA-256 credentials in a new cluster's bootstrap metadata.
pub(crate) fn add_scram_args(users: &[(String, String)]) -> Vec<String> {
    let mut args = Vec::new();
    let all = std::iter::once((ADMIN_USER, ADMIN_PASSWORD))
        .chain(users.iter().map(|(n, p)| (n.as_str(), p.as_str())));
    for (name, password) in all {
        for mechanism in ["SCRAM-SHA-512", "SCRAM-SHA-256"] {
            args.push("--add-scram".to_owned());
            args.push(format!("{mechanism}=[name={name},password=\"{password}\"]"));
        }
    }
    args
}

/// `kafka-storage format` of one node: needed once per data folder before its first start.
/// Every node of a cluster gets the same `cluster_id`; SCRAM credentials for `cfg.users` and
/// admin go into the bootstrap metadata. Returns the running formatter, to wait on with
/// [`finish_format`] (nodes are formatted in parallel: each is a JVM start).
pub(crate) fn start_format(
    cfg: &SandboxConfig,
    layout: &Layout,
    node: u8,
    cluster_id: &str,
) -> Result<std::process::Child, SandboxError> {
    let mut cmd = java_command(cfg, layout, &layout.tools_log4j);
    cmd.arg("kafka.tools.StorageTool")
        .arg("format")
        // One argument: a random id may start with '-', which the tool would read as an option.
        .arg(format!("--cluster-id={cluster_id}"))
        .arg("-c")
        .arg(&layout.node(node).server_properties)
        .args(add_scram_args(&cfg.users))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().map_err(|source| SandboxError::Spawn {
        command: format!("{} kafka.tools.StorageTool format", cfg.java.display()),
        source,
    })
}

/// Waits for a formatter started by [`start_format`].
pub(crate) fn finish_format(
    child: std::process::Child,
    layout: &Layout,
    node: u8,
) -> Result<(), SandboxError> {
    let output = child
        .wait_with_output()
        .map_err(|source| SandboxError::Spawn {
            command: "kafka.tools.StorageTool format".to_owned(),
            source,
        })?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        return Err(SandboxError::CommandFailed {
            what: format!(
                "formatting Kafka storage in {}",
                layout.node(node).data.display()
            ),
            status: output.status.to_string(),
            output: text.trim().to_owned(),
        });
    }
    Ok(())
}

/// A node's command line; the `-Dmesh.sandbox.*` markers let `down` and `status` tell this
/// sandbox's processes from any other JVM.
pub(crate) fn server_command(cfg: &SandboxConfig, layout: &Layout, node: u8) -> Command {
    let mut cmd = Command::new(&cfg.java);
    cmd.arg("-Xms128m")
        .arg("-Xmx512m")
        .arg("-XX:+UseG1GC")
        .arg("-XX:MaxGCPauseMillis=20")
        .arg("-Djava.awt.headless=true")
        .arg(marker_arg(MARKER_DIR, &layout.dir))
        .arg(format!(
            "{MARKER_COMPONENT}{}",
            Component::Kafka(node).key()
        ))
        .arg(log4j_arg(layout.series(), &layout.kafka_log4j))
        .arg("-cp")
        .arg(classpath(layout))
        .arg("kafka.Kafka")
        .arg(&layout.node(node).server_properties)
        .current_dir(&layout.dir);
    cmd
}

/// A `java` command with Kafka's jars on the classpath and the given logging config, ready for
/// a main class and its arguments.
pub(crate) fn java_command(cfg: &SandboxConfig, layout: &Layout, log4j: &Path) -> Command {
    let mut cmd = Command::new(&cfg.java);
    cmd.arg("-Xmx256m")
        .arg("-Djava.awt.headless=true")
        .arg(log4j_arg(layout.series(), log4j))
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

pub(crate) fn log4j_arg(series: KafkaSeries, path: &Path) -> OsString {
    let mut arg = OsString::from(match series {
        KafkaSeries::V3 => "-Dlog4j.configuration=file:",
        KafkaSeries::V4 => "-Dlog4j2.configurationFile=file:",
    });
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

    fn layout(cfg: &SandboxConfig) -> Layout {
        Layout::new(
            Path::new("/sb"),
            Path::new("/cache"),
            cfg.registry,
            &cfg.kafka_version,
        )
    }

    fn get<'a>(p: &'a [(&'a str, &'a str)], k: &str) -> &'a str {
        p.iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("missing {k}"))
    }

    fn assert_unique_keys(p: &[(&str, &str)]) {
        // Every key once: a duplicate would silently override the first.
        let mut keys: Vec<_> = p.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }

    #[test]
    fn server_properties_make_acls_real() {
        let cfg = cfg();
        let text = render_server_properties(&cfg, 1, &layout(&cfg));
        let p = props(&text);
        let get = |k: &str| get(&p, k);
        assert_eq!(get("process.roles"), "broker,controller");
        assert_eq!(get("node.id"), "1");
        assert_eq!(get("controller.quorum.voters"), "1@127.0.0.1:19093");
        assert_eq!(
            get("listeners"),
            "INTERNAL://127.0.0.1:19094,CONTROLLER://127.0.0.1:19093,CLIENT://127.0.0.1:19092,\
             SCRAM://127.0.0.1:19095,MTLS://127.0.0.1:19096"
        );
        assert_eq!(
            get("advertised.listeners"),
            "INTERNAL://127.0.0.1:19094,CLIENT://127.0.0.1:19092,SCRAM://127.0.0.1:19095,\
             MTLS://127.0.0.1:19096"
        );
        assert_eq!(
            get("listener.security.protocol.map"),
            "INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,CLIENT:SASL_PLAINTEXT,SCRAM:SASL_SSL,MTLS:SSL"
        );
        assert_eq!(
            get("authorizer.class.name"),
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        );
        assert_eq!(get("allow.everyone.if.no.acl.found"), "false");
        assert_eq!(get("super.users"), "User:ANONYMOUS;User:admin");
        assert_eq!(get("auto.create.topics.enable"), "false");
        assert_eq!(get("offsets.topic.replication.factor"), "1");
        assert_eq!(get("min.insync.replicas"), "1");
        assert_eq!(get("group.initial.rebalance.delay.ms"), "0");
        assert_eq!(get("log.dirs"), "/sb/data/kafka");
        assert_eq!(
            get("listener.name.client.plain.sasl.jaas.config"),
            "org.apache.kafka.common.security.plain.PlainLoginModule required \
             user_admin=\"admin-secret\" user_alice=\"alice-secret\";"
        );
        // TLS: PEM files from the sandbox CA; client certificates required on MTLS only.
        assert_eq!(
            get("listener.name.scram.sasl.enabled.mechanisms"),
            "SCRAM-SHA-512,SCRAM-SHA-256"
        );
        assert_eq!(get("ssl.keystore.type"), "PEM");
        assert_eq!(get("ssl.keystore.location"), "/sb/tls/broker.pem");
        assert_eq!(get("ssl.truststore.location"), "/sb/tls/ca.pem");
        assert_eq!(get("listener.name.mtls.ssl.client.auth"), "required");
        assert!(!p.iter().any(|(k, _)| *k == "ssl.client.auth"));
        assert!(!p.iter().any(|(k, _)| *k == "ssl.key.password"));
        assert_eq!(get("ssl.principal.mapping.rules"), PRINCIPAL_MAPPING_RULES);
        assert_eq!(get("share.coordinator.state.topic.replication.factor"), "1");
        assert_unique_keys(&p);
    }

    #[test]
    fn kafka_3_9_gets_no_kafka_4_keys() {
        let mut cfg = cfg();
        cfg.kafka_version = "3.9.2".into();
        let text = render_server_properties(&cfg, 1, &layout(&cfg));
        assert!(!text.contains("share.coordinator"));
        assert!(text.contains("listener.name.mtls.ssl.client.auth=required\n"));
        assert!(render_server_log4j(KafkaSeries::V3).starts_with("log4j.rootLogger=INFO"));
        assert!(
            render_server_log4j(KafkaSeries::V4)
                .contains("logger.authorizer.name = kafka.authorizer.logger")
        );
        assert!(
            render_tools_log4j(KafkaSeries::V4).contains("appender.stderr.target = SYSTEM_ERR")
        );
        assert!(render_tools_log4j(KafkaSeries::V3).contains("Target=System.err"));
    }

    #[test]
    fn three_nodes_share_a_quorum_and_replicate_three_times() {
        let mut cfg = cfg();
        cfg.brokers = 3;
        let layout = layout(&cfg);
        for node in 1..=3u8 {
            let text = render_server_properties(&cfg, node, &layout);
            let p = props(&text);
            let get = |k: &str| get(&p, k);
            assert_eq!(get("node.id"), node.to_string());
            assert_eq!(
                get("controller.quorum.voters"),
                "1@127.0.0.1:19093,2@127.0.0.1:19103,3@127.0.0.1:19113"
            );
            let base = 19092 + 10 * u16::from(node - 1);
            assert!(get("listeners").contains(&format!("CLIENT://127.0.0.1:{base},")));
            assert!(get("listeners").contains(&format!("MTLS://127.0.0.1:{}", base + 4)));
            assert_eq!(get("default.replication.factor"), "3");
            assert_eq!(get("min.insync.replicas"), "2");
            assert_eq!(get("offsets.topic.replication.factor"), "3");
            assert_eq!(get("transaction.state.log.replication.factor"), "3");
            assert_eq!(get("transaction.state.log.min.isr"), "2");
            assert_eq!(
                get("log.dirs"),
                if node == 1 {
                    "/sb/data/kafka".to_owned()
                } else {
                    format!("/sb/data/kafka-{node}")
                }
            );
            assert_unique_keys(&p);
        }
        assert_eq!(replication(1), (1, 1));
        assert_eq!(replication(2), (2, 1));
        assert_eq!(replication(3), (3, 2));
    }

    #[test]
    fn a_relay_listener_is_advertised_where_the_proxy_listens() {
        let mut cfg = cfg();
        assert!(!render_server_properties(&cfg, 1, &layout(&cfg)).contains("RELAY"));
        cfg.brokers = 2;
        cfg.relays = vec![
            crate::Relay {
                listen: 7001,
                advertised: 8001,
            },
            crate::Relay {
                listen: 7002,
                advertised: 8002,
            },
        ];
        let text = render_server_properties(&cfg, 2, &layout(&cfg));
        let get = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or_default()
                .to_owned()
        };
        assert!(get("listeners").ends_with(",RELAY://127.0.0.1:7002"));
        assert!(get("advertised.listeners").ends_with(",RELAY://127.0.0.1:8002"));
        assert!(get("listener.security.protocol.map").ends_with(",RELAY:SASL_PLAINTEXT"));
        assert_eq!(get("listener.name.relay.sasl.enabled.mechanisms"), "PLAIN");
        assert_eq!(
            get("listener.name.relay.plain.sasl.jaas.config"),
            get("listener.name.client.plain.sasl.jaas.config")
        );
    }

    #[test]
    fn ports_come_from_the_config() {
        let mut cfg = cfg();
        cfg.nodes[0] = crate::NodePorts {
            client: 1,
            controller: 2,
            internal: 3,
            sasl_ssl: 4,
            ssl: 5,
        };
        let text = render_server_properties(&cfg, 1, &layout(&cfg));
        assert!(text.contains(
            "listeners=INTERNAL://127.0.0.1:3,CONTROLLER://127.0.0.1:2,CLIENT://127.0.0.1:1,\
             SCRAM://127.0.0.1:4,MTLS://127.0.0.1:5\n"
        ));
        assert!(text.contains("controller.quorum.voters=1@127.0.0.1:2\n"));
    }

    #[test]
    fn scram_credentials_for_everyone_at_format_time() {
        let args = add_scram_args(&[("alice".to_owned(), "a=b,c".to_owned())]);
        assert_eq!(
            args,
            vec![
                "--add-scram",
                "SCRAM-SHA-512=[name=admin,password=\"admin-secret\"]",
                "--add-scram",
                "SCRAM-SHA-256=[name=admin,password=\"admin-secret\"]",
                "--add-scram",
                "SCRAM-SHA-512=[name=alice,password=\"a=b,c\"]",
                "--add-scram",
                "SCRAM-SHA-256=[name=alice,password=\"a=b,c\"]",
            ]
        );
    }

    #[test]
    fn tls_client_properties() {
        let text = render_scram_client_properties("alice", "pw", Path::new("/sb/tls/ca.pem"));
        assert!(text.contains("security.protocol=SASL_SSL\n"));
        assert!(text.contains("sasl.mechanism=SCRAM-SHA-512\n"));
        assert!(text.contains("ScramLoginModule required username=\"alice\" password=\"pw\";"));
        assert!(text.contains("ssl.truststore.type=PEM\nssl.truststore.location=/sb/tls/ca.pem\n"));
        let with = render_ssl_client_properties(
            Path::new("/ca.pem"),
            Some(Path::new("/tls/client-admin.pem")),
        );
        assert!(with.contains("security.protocol=SSL\n"));
        assert!(
            with.contains("ssl.keystore.type=PEM\nssl.keystore.location=/tls/client-admin.pem\n")
        );
        let without = render_ssl_client_properties(Path::new("/ca.pem"), None);
        assert!(!without.contains("keystore"));
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
        let layout = layout(&cfg);
        let args = |node: u8| -> Vec<String> {
            server_command(&cfg, &layout, node)
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        let one = args(1);
        assert!(one.contains(&"-Dmesh.sandbox.dir=/sb".to_owned()));
        assert!(one.contains(&"-Dmesh.sandbox.component=kafka".to_owned()));
        assert!(one.contains(&"/cache/kafka-4.4.0/libs/*".to_owned()));
        assert!(
            one.contains(
                &"-Dlog4j2.configurationFile=file:/sb/config/log4j2.properties".to_owned()
            )
        );
        assert_eq!(
            one.last().map(PathBuf::from),
            Some(layout.node(1).server_properties)
        );
        let two = args(2);
        assert!(two.contains(&"-Dmesh.sandbox.component=kafka-2".to_owned()));
        assert_eq!(
            two.last().map(String::as_str),
            Some("/sb/config/server-2.properties")
        );
        let mut old = cfg.clone();
        old.kafka_version = "3.9.2".into();
        let old_layout = Layout::new(Path::new("/sb"), Path::new("/cache"), old.registry, "3.9.2");
        let args: Vec<_> = server_command(&old, &old_layout, 1)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.contains(&"-Dlog4j.configuration=file:/sb/config/log4j.properties".to_owned())
        );
        assert!(args.contains(&"/cache/kafka-3.9.2/libs/*".to_owned()));
    }

    #[test]
    fn cluster_ids_are_read_back_from_meta_properties() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = cfg();
        let layout = Layout::new(
            tmp.path(),
            Path::new("/c"),
            cfg.registry,
            &cfg.kafka_version,
        );
        assert!(!is_formatted(&layout, 1));
        assert_eq!(formatted_cluster_id(&layout, 1), None);
        fs::create_dir_all(&layout.node(1).data).unwrap();
        fs::write(
            layout.node(1).data.join("meta.properties"),
            "#\nnode.id=1\nversion=1\ncluster.id=QbcDeFgHIjkLMnOpQrStUv\n",
        )
        .unwrap();
        assert!(is_formatted(&layout, 1));
        assert_eq!(
            formatted_cluster_id(&layout, 1).as_deref(),
            Some("QbcDeFgHIjkLMnOpQrStUv")
        );
    }
}
