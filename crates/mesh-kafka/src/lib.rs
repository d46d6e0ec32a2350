//! The Kafka adapter of `mesh`: [`KafkaCluster`] reads a cluster's live state
//! ([`mesh_plan::ClusterReader`]) and applies plans to it ([`mesh_plan::ClusterWriter`]), through
//! rdkafka (librdkafka).
//!
//! Everything is batched: one metadata request, DescribeConfigs for all managed topics at once,
//! one DescribeAcls, the catalog topic read once to its end; each write is one request for the
//! whole batch, and returns one result per item with the broker's own message.
//!
//! [`KafkaCluster::connect`] fails fast and clearly: librdkafka's error events and log lines are
//! captured by the client context, so a cluster nobody answers for, or a refused SASL login,
//! becomes a typed [`KafkaError`] within the timeout instead of a hang. No error, log line or
//! `Debug` output of this crate contains a secret from the client properties.
//!
//! Architecture invariant: the only crate that knows rdkafka. Its unsafe code is confined to
//! `ffi.rs` (the admin calls rdkafka's safe API lacks), behind a safe API; the crate denies
//! unsafe code everywhere else.

#![deny(unsafe_code)]

mod commits;
mod context;
mod error;
#[allow(unsafe_code)]
mod ffi;
mod inventory;
mod lock;
mod offsets;
mod read;
mod settings;
mod tlscheck;
mod write;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;

use mesh_plan::ErrorKind;

pub use commits::{
    OFFSETS_TOPIC, OffsetsKey, decode_commit_time, decode_key, last_commits, partition_for,
};
pub use error::KafkaError;
pub use offsets::GroupTopicOffsets;
pub use read::Health;

use context::MeshContext;
use settings::Settings;

/// A connection to one Kafka cluster: one librdkafka client (a producer: it writes the catalog
/// topic, answers metadata requests, and carries the admin requests of `ffi.rs`; unlike
/// rdkafka's `AdminClient` it reports librdkafka's error events, with their codes), plus the
/// settings to open a short-lived consumer whenever the catalog is read. `Send + Sync`.
pub struct KafkaCluster {
    settings: Settings,
    context: MeshContext,
    producer: BaseProducer<MeshContext>,
    timeout: Duration,
    /// Catalog writes collect delivery reports in the shared context: one at a time.
    write_lock: Mutex<()>,
}

impl fmt::Debug for KafkaCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately not the client configuration: it holds the password.
        f.debug_struct("KafkaCluster")
            .field("bootstrap", &self.settings.bootstrap)
            .field("user", &self.settings.user)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl KafkaCluster {
    /// The ACL bindings of these principals, as a read has them (`principal_acls`): the cheap
    /// part of a read, for waiting until ACL changes have propagated.
    pub fn acls_of(
        &self,
        principals: &std::collections::BTreeSet<String>,
    ) -> Result<std::collections::BTreeSet<mesh_plan::AclBinding>, KafkaError> {
        self.principal_acls(principals)
    }

    /// Connects with the given client properties (`bootstrap.servers`, `security.protocol`,
    /// `sasl.*`, … as librdkafka names them; a Java `sasl.jaas.config` line for PLAIN or SCRAM
    /// is translated) and checks, within `timeout`, that a broker answers and accepts the
    /// credentials. `timeout` also bounds every later request.
    ///
    /// Errors: [`KafkaError::Config`] for properties librdkafka rejects,
    /// [`KafkaError::Unreachable`] when no broker answers (returned as soon as librdkafka
    /// reports all brokers down, not only at the timeout), [`KafkaError::Authentication`] for
    /// refused credentials.
    pub fn connect(
        props: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Result<KafkaCluster, KafkaError> {
        let settings = Settings::new(props)?;
        let context = MeshContext::new(settings.redactor.clone());
        let config_error = |e: RdKafkaError| KafkaError::Config {
            detail: explain_config_error(&settings.redactor.apply(&e.to_string())),
        };
        let mut producer_config = settings.config.clone();
        producer_config
            .set("acks", "all")
            // `write_catalog` creates nothing: a missing catalog topic is an error, not a new topic.
            .set("allow.auto.create.topics", "false")
            .set("message.timeout.ms", millis(timeout).to_string());
        let producer = producer_config
            .create_with_context(context.clone())
            .map_err(config_error)?;
        let cluster = KafkaCluster {
            settings,
            context,
            producer,
            timeout,
            write_lock: Mutex::new(()),
        };
        cluster.probe()?;
        Ok(cluster)
    }

    /// The admin calls of `ffi.rs`, on the client's handle.
    pub(crate) fn admin(&self) -> ffi::Admin<'_> {
        ffi::Admin::new(self.producer.client(), self.timeout)
    }

    /// Serves the client's main queue: error events (and log lines) reach the context, where
    /// `connection_error` looks for them, and delivery reports their catalog write.
    pub(crate) fn pump(&self) {
        self.producer.poll(Duration::from_millis(1));
    }

    /// The `bootstrap.servers` this cluster was reached at.
    pub fn bootstrap_servers(&self) -> &str {
        &self.settings.bootstrap
    }

    /// The timeout every request gets.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Waits until a broker answers a metadata request, or librdkafka reports that it cannot
    /// reach any broker or that the login was refused.
    fn probe(&self) -> Result<(), KafkaError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // Brokers-only metadata (the cluster id): cheap on any cluster size.
            if self
                .producer
                .client()
                .fetch_cluster_id(left.min(Duration::from_millis(100)))
                .is_some()
            {
                self.pump();
                self.context.clear();
                return Ok(());
            }
            if let Some(e) = self.connection_error(true) {
                return Err(e);
            }
            if Instant::now() >= deadline {
                let detail = match self.context.logs().last() {
                    Some(line) => format!(
                        "no broker answered within {:?} (last client log: {line})",
                        self.timeout
                    ),
                    None => format!("no broker answered within {:?}", self.timeout),
                };
                return Err(KafkaError::Unreachable {
                    bootstrap: self.settings.bootstrap.clone(),
                    detail,
                });
            }
        }
    }

    /// A typed error for what librdkafka reported about its connections since the last clear:
    /// a refused login, or (with `all_down_is_fatal`) every broker down.
    fn connection_error(&self, all_down_is_fatal: bool) -> Option<KafkaError> {
        self.pump();
        let errors = self.context.errors();
        let bootstrap = || self.settings.bootstrap.clone();
        // The identity provider first: without a token there is no login to refuse.
        let logs = self.context.logs();
        let texts = || {
            errors
                .iter()
                .map(|e| e.reason.as_str())
                .chain(logs.iter().map(String::as_str))
        };
        if let Some(detail) = texts().find(|t| is_token_failure(t)) {
            return Some(KafkaError::Token {
                bootstrap: bootstrap(),
                detail: detail.to_owned(),
            });
        }
        if let Some(auth) = errors.iter().find(|e| refused_login(e)) {
            return Some(self.auth_error(auth.reason.clone()));
        }
        // A failed handshake fails the same way every time: no need to wait for the timeout.
        let has_cert = [
            "ssl.certificate.location",
            "ssl.certificate.pem",
            "ssl.keystore.location",
        ]
        .iter()
        .any(|k| self.settings.config.get(k).is_some());
        if let Some(mut detail) = errors
            .iter()
            .filter(|e| e.code != Some(RDKafkaErrorCode::AllBrokersDown))
            .find(|e| error::tls_hint(&e.reason, has_cert).is_some())
            .map(|e| e.reason.clone())
        {
            // librdkafka says only "certificate verify failed": ask OpenSSL why.
            if detail.contains("verify failed") {
                if let Some(why) = tlscheck::verify_failure(&self.settings.config, self.timeout) {
                    detail = format!("{detail} [OpenSSL: {why}]");
                }
            }
            let hint = error::tls_hint(&detail, has_cert).unwrap_or_default();
            return Some(KafkaError::Tls {
                bootstrap: bootstrap(),
                detail,
                hint: hint.to_owned(),
            });
        }
        if all_down_is_fatal
            && (errors
                .iter()
                .any(|e| e.code == Some(RDKafkaErrorCode::AllBrokersDown))
                || every_server_failed_twice(&self.settings.bootstrap, &errors))
        {
            // The specific reason (connection refused, unknown host, TLS) is in an earlier event.
            let reason = errors
                .iter()
                .find(|e| e.code != Some(RDKafkaErrorCode::AllBrokersDown))
                .or(errors.first())
                .map(|e| e.reason.clone())
                .unwrap_or_default();
            return Some(KafkaError::Unreachable {
                bootstrap: self.settings.bootstrap.clone(),
                detail: reason,
            });
        }
        None
    }

    fn auth_error(&self, detail: String) -> KafkaError {
        KafkaError::Authentication {
            user: self
                .settings
                .user
                .clone()
                .unwrap_or_else(|| "(no sasl.username set)".into()),
            bootstrap: self.settings.bootstrap.clone(),
            detail: self.settings.redactor.apply(&detail),
        }
    }

    /// The typed error for a failed `action`, from an error code and its message.
    fn failure(&self, action: &str, code: Option<RDKafkaErrorCode>, detail: &str) -> KafkaError {
        use RDKafkaErrorCode as C;
        let bootstrap = self.settings.bootstrap.clone();
        let detail = self.settings.redactor.apply(detail);
        let action = action.to_owned();
        match code {
            Some(c) if is_auth(Some(c)) => self.auth_error(detail),
            Some(
                C::TopicAuthorizationFailed
                | C::GroupAuthorizationFailed
                | C::ClusterAuthorizationFailed
                | C::TransactionalIdAuthorizationFailed,
            ) => KafkaError::Authorization {
                action,
                bootstrap,
                detail,
            },
            Some(C::AllBrokersDown | C::BrokerTransportFailure | C::Resolve | C::SSL)
            | Some(C::RequestTimedOut | C::OperationTimedOut | C::MessageTimedOut) => {
                // A refused login shows up as a transport failure or a timeout of the request.
                if let Some(auth) = self.connection_error(false) {
                    return auth;
                }
                if matches!(
                    code,
                    Some(C::RequestTimedOut | C::OperationTimedOut | C::MessageTimedOut)
                ) {
                    KafkaError::Timeout {
                        action,
                        bootstrap,
                        timeout: self.timeout,
                    }
                } else {
                    KafkaError::Unreachable { bootstrap, detail }
                }
            }
            _ => KafkaError::Request {
                kind: code.map_or(ErrorKind::Other, |c| error::kind_of(c, &action)),
                action,
                bootstrap,
                detail,
            },
        }
    }

    /// The typed error for an rdkafka error.
    fn rd_failure(&self, action: &str, e: &RdKafkaError) -> KafkaError {
        let code = match e {
            RdKafkaError::AdminOp(code) => Some(*code),
            other => other.rdkafka_error_code(),
        };
        self.failure(action, code, &e.to_string())
    }

    /// Asks a live broker for the cluster metadata, which also names the broker admin requests
    /// go to ("the controller"; in KRaft, a live broker the one answering picks). librdkafka
    /// keeps the last one it heard of and sends CreateAcls, CreateTopics, … there, waiting for
    /// it until the request times out — even when that broker has stopped since (found by the
    /// fault tests: a broker stopped mid-apply made every ACL create time out). Best effort: a
    /// failure here leaves the request itself to say what is wrong.
    pub(crate) fn refresh_controller(&self) {
        let _ = self
            .producer
            .client()
            .fetch_metadata(None, self.timeout.min(Duration::from_secs(5)));
    }

    /// The typed error for a failed FFI admin request. After a timeout, the metadata is read
    /// again, so that a retry goes to a broker that is up.
    fn admin_failure(&self, action: &str, e: ffi::AdminError) -> KafkaError {
        match e {
            ffi::AdminError::TimedOut => {
                self.refresh_controller();
                self.failure(action, Some(RDKafkaErrorCode::RequestTimedOut), "")
            }
            ffi::AdminError::Request { code, message } => {
                self.failure(action, Some(code), &message)
            }
            ffi::AdminError::Invalid(message) => self.failure(action, None, &message),
        }
    }
}

/// Whether every bootstrap server has failed to connect (refused, unresolvable) at least twice,
/// i.e. on a retry too. librdkafka's own "all brokers down" event does not always come (this
/// build reports only the transport failures), and waiting for the whole timeout helps nobody.
fn every_server_failed_twice(bootstrap: &str, errors: &[context::ClientEvent]) -> bool {
    let servers: Vec<&str> = bootstrap
        .split(',')
        .map(|s| s.trim())
        .map(|s| s.rsplit_once("://").map_or(s, |(_, rest)| rest))
        .filter(|s| !s.is_empty())
        .collect();
    !servers.is_empty()
        && servers.iter().all(|server| {
            let mark = format!("{server}/");
            errors
                .iter()
                .filter(|e| {
                    matches!(
                        e.code,
                        Some(RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::Resolve)
                    ) && e.reason.contains(&mark)
                })
                .count()
                >= 2
        })
}

/// librdkafka's complaint about a setting, with what to do where it names a feature this
/// build lacks.
fn explain_config_error(detail: &str) -> String {
    if detail.contains("GSSAPI") {
        format!(
            "sasl.mechanism GSSAPI (Kerberos) is not built into mesh's Kafka client; connect with \
             SCRAM-SHA-512, SCRAM-SHA-256, PLAIN or OAUTHBEARER over SASL_SSL, or with a client \
             certificate (security.protocol = SSL) (librdkafka: {detail})"
        )
    } else {
        detail.to_owned()
    }
}

/// A failure to get an OAUTHBEARER token from the identity provider (librdkafka's OIDC client).
fn is_token_failure(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    (t.contains("oidc") || t.contains("oauthbearer token") || t.contains("token endpoint"))
        && !t.contains("authentication failed")
}

fn is_auth(code: Option<RDKafkaErrorCode>) -> bool {
    matches!(
        code,
        Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed)
    )
}

/// Whether an event is the brokers refusing the login. librdkafka reports a handshake cut off
/// by the connection dropping ("SASL PLAIN mechanism handshake failed: Local: Broker transport
/// failure") with the same authentication code; that is a transport failure, which a retry
/// rides out, not a refusal (seen through a fault proxy dropping connections).
fn refused_login(e: &context::ClientEvent) -> bool {
    is_auth(e.code) && !e.reason.contains("Broker transport failure")
}

/// A duration in whole milliseconds for librdkafka properties (at least 1).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_cluster_can_be_shared_between_threads() {
        assert_send_sync::<KafkaCluster>();
    }

    #[test]
    fn an_unreachable_token_endpoint_is_named_without_the_secret() {
        let props: BTreeMap<String, String> = [
            ("bootstrap.servers", "127.0.0.1:1"),
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "OAUTHBEARER"),
            ("sasl.oauthbearer.method", "oidc"),
            ("sasl.oauthbearer.client.id", "mesh"),
            ("sasl.oauthbearer.client.secret", "oidc-client-secret-42"),
            (
                "sasl.oauthbearer.token.endpoint.url",
                "https://127.0.0.1:9/oauth2/token",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let err = KafkaCluster::connect(&props, Duration::from_secs(10)).unwrap_err();
        assert!(matches!(err, KafkaError::Token { .. }), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::Unauthenticated);
        let text = err.to_string();
        assert!(
            text.contains("sasl.oauthbearer.token.endpoint.url"),
            "{text}"
        );
        assert!(
            !format!("{text} {err:?}").contains("oidc-client-secret-42"),
            "{text}"
        );
    }

    fn event(code: RDKafkaErrorCode, reason: &str) -> context::ClientEvent {
        context::ClientEvent {
            code: Some(code),
            reason: reason.to_owned(),
        }
    }

    #[test]
    fn a_handshake_cut_off_by_the_connection_is_not_a_refused_login() {
        let cut = "sasl_plaintext://127.0.0.1:41133/1: GroupCoordinator: SASL PLAIN mechanism handshake failed: Local: Broker transport failure: broker's supported mechanisms: (n/a)";
        let refused = "sasl_plaintext://127.0.0.1:41133/1: SASL authentication error: Authentication failed: Invalid username or password";
        assert!(!refused_login(&event(
            RDKafkaErrorCode::Authentication,
            cut
        )));
        assert!(refused_login(&event(
            RDKafkaErrorCode::Authentication,
            refused
        )));
        assert!(!refused_login(&event(
            RDKafkaErrorCode::BrokerTransportFailure,
            refused
        )));
    }

    #[test]
    fn all_bootstrap_servers_failing_twice_is_unreachable() {
        let event = |reason: &str| event(RDKafkaErrorCode::BrokerTransportFailure, reason);
        let a = "sasl_ssl://k1:9093/bootstrap: Connect to ipv4#10.0.0.1:9093 failed: Connection refused";
        let b = "sasl_ssl://k2:9093/bootstrap: Connect to ipv4#10.0.0.2:9093 failed: Connection refused";
        let twice_each = [event(a), event(b), event(a), event(b)];
        assert!(every_server_failed_twice("k1:9093,k2:9093", &twice_each));
        // One server failed only once (it may still answer), or not at all.
        assert!(!every_server_failed_twice(
            "k1:9093,k2:9093",
            &twice_each[..3]
        ));
        assert!(!every_server_failed_twice("k1:9093,k3:9093", &twice_each));
        assert!(!every_server_failed_twice("", &twice_each));
    }

    #[test]
    fn a_closed_port_is_unreachable_and_may_be_tried_again() {
        let props: BTreeMap<String, String> = [("bootstrap.servers", "127.0.0.1:1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let err = KafkaCluster::connect(&props, Duration::from_secs(10)).unwrap_err();
        assert!(matches!(err, KafkaError::Unreachable { .. }), "{err:?}");
        let text = err.to_string();
        let typed = mesh_plan::AdapterError::from(err);
        assert_eq!(typed.kind, ErrorKind::Unreachable);
        assert_eq!(typed.message, text);
        assert!(typed.retryable(true) && !typed.retryable(false));
    }

    #[test]
    fn kerberos_is_named_as_not_built() {
        let props: BTreeMap<String, String> = [
            ("bootstrap.servers", "127.0.0.1:1"),
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "GSSAPI"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let err = KafkaCluster::connect(&props, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, KafkaError::Config { .. }), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(
            err.to_string().contains("GSSAPI (Kerberos) is not built"),
            "{err}"
        );
    }

    #[test]
    fn tls_settings_are_accepted_by_this_build() {
        // Built without OpenSSL, librdkafka refuses SASL_SSL with "OpenSSL not available".
        for (protocol, mechanism) in [
            ("SASL_SSL", "SCRAM-SHA-512"),
            ("SASL_SSL", "OAUTHBEARER"),
            ("SSL", ""),
        ] {
            let mut props: BTreeMap<String, String> = [
                ("bootstrap.servers", "127.0.0.1:1"),
                ("security.protocol", protocol),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            if !mechanism.is_empty() {
                props.insert("sasl.mechanism".into(), mechanism.into());
            }
            if mechanism.starts_with("SCRAM") {
                props.insert("sasl.username".into(), "u".into());
                props.insert("sasl.password".into(), "p".into());
            }
            if mechanism == "OAUTHBEARER" {
                props.insert("sasl.oauthbearer.method".into(), "oidc".into());
                props.insert("sasl.oauthbearer.client.id".into(), "id".into());
                props.insert("sasl.oauthbearer.client.secret".into(), "s".into());
                props.insert(
                    "sasl.oauthbearer.token.endpoint.url".into(),
                    "https://127.0.0.1:1/token".into(),
                );
            }
            let settings = Settings::new(&props).unwrap();
            let made: Result<BaseProducer<MeshContext>, _> = settings
                .config
                .create_with_context(MeshContext::new(settings.redactor.clone()));
            assert!(made.is_ok(), "{protocol} {mechanism}: {:?}", made.err());
        }
    }

    #[test]
    fn rejected_properties_are_config_errors_without_the_password() {
        let props: BTreeMap<String, String> = [
            ("bootstrap.servers", "127.0.0.1:1"),
            ("sasl.password", "hunter2-secret"),
            ("no.such.property", "hunter2-secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let err = KafkaCluster::connect(&props, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, KafkaError::Config { .. }), "{err:?}");
        assert!(err.to_string().contains("no.such.property"), "{err}");
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    }
}
