//! What can go wrong talking to Kafka, phrased so the reader knows what to do next. No variant
//! ever carries a secret: every text that comes from librdkafka or a broker passes through the
//! [`Redactor`](crate::settings::Redactor) first.

use std::time::Duration;

use mesh_plan::{AdapterError, ErrorKind};
use rdkafka::types::RDKafkaErrorCode;

/// An error of the Kafka adapter.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The client properties were rejected before anything was sent.
    #[error(
        "invalid Kafka client settings: {detail}; check the `[environments.<env>.kafka]` table in mesh.toml"
    )]
    Config { detail: String },

    /// No broker could be reached (connection refused, unknown host, TLS failure, timeout).
    #[error(
        "the Kafka cluster at {bootstrap} is unreachable: {detail}; check that the brokers are running \
         (for the local sandbox: `mesh dev status`) and that bootstrap_servers is right"
    )]
    Unreachable { bootstrap: String, detail: String },

    /// The TLS handshake with the brokers failed; `hint` says what to fix.
    #[error("the TLS handshake with the Kafka cluster at {bootstrap} failed: {detail}; {hint}")]
    Tls {
        bootstrap: String,
        detail: String,
        hint: String,
    },

    /// No OAUTHBEARER token could be had from the identity provider.
    #[error(
        "no OAUTHBEARER token for the Kafka cluster at {bootstrap}: {detail}; check that \
         sasl.oauthbearer.token.endpoint.url is reachable from here and that the client id and \
         secret (sasl.oauthbearer.client.id / client.secret) are right"
    )]
    Token { bootstrap: String, detail: String },

    /// The brokers answered but refused the credentials.
    #[error(
        "authentication failed for user {user} at {bootstrap}: {detail}; check sasl.username and \
         sasl.password (or the variables they reference) and sasl.mechanism{}",
        scram_hint(detail)
    )]
    Authentication {
        user: String,
        bootstrap: String,
        detail: String,
    },

    /// Logged in, but an ACL does not allow the operation.
    #[error(
        "not authorized to {action} at {bootstrap}: {detail}; the principal mesh logs in as {}",
        needed_acl(action)
    )]
    Authorization {
        action: String,
        bootstrap: String,
        detail: String,
    },

    /// No answer in time.
    #[error(
        "{action} at {bootstrap} timed out after {timeout:?}; the cluster may be overloaded or \
         unreachable: retry, or raise the timeout"
    )]
    Timeout {
        action: String,
        bootstrap: String,
        timeout: Duration,
    },

    /// A request failed for another reason; `detail` is the broker's or librdkafka's message,
    /// `kind` what its error code says (see [`kind_of`]).
    #[error("{action} at {bootstrap} failed: {detail}")]
    Request {
        action: String,
        bootstrap: String,
        detail: String,
        kind: ErrorKind,
    },

    /// The catalog topic holds a record `mesh` cannot read.
    #[error(
        "catalog topic {topic}: the record at partition {partition}, offset {offset} is not a mesh \
         catalog record ({detail}); it was not written by mesh: remove it by producing a tombstone \
         (null value) for its key"
    )]
    Catalog {
        topic: String,
        partition: i32,
        offset: i64,
        detail: String,
    },
}

impl KafkaError {
    /// What kind of failure this is, for a caller deciding to retry, plan again or explain.
    pub fn kind(&self) -> ErrorKind {
        match self {
            KafkaError::Config { .. } | KafkaError::Catalog { .. } => ErrorKind::Invalid,
            KafkaError::Unreachable { .. } => ErrorKind::Unreachable,
            // A certificate one side does not trust, or no token to log in with: the
            // connection cannot be authenticated until a setting changes.
            KafkaError::Tls { .. }
            | KafkaError::Token { .. }
            | KafkaError::Authentication { .. } => ErrorKind::Unauthenticated,
            KafkaError::Authorization { action, .. } => ErrorKind::Unauthorized {
                operation: action.clone(),
            },
            KafkaError::Timeout { .. } => ErrorKind::TimedOut,
            KafkaError::Request { kind, .. } => kind.clone(),
        }
    }
}

impl From<KafkaError> for AdapterError {
    fn from(e: KafkaError) -> Self {
        AdapterError::new(e.kind(), e.to_string())
    }
}

/// The kind of failure a Kafka error code stands for, in a request to do `action`.
pub(crate) fn kind_of(code: RDKafkaErrorCode, action: &str) -> ErrorKind {
    use RDKafkaErrorCode as C;
    match code {
        C::TopicAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::TransactionalIdAuthorizationFailed
        | C::DelegationTokenAuthorizationFailed => ErrorKind::Unauthorized {
            operation: action.to_owned(),
        },
        C::Authentication
        | C::SaslAuthenticationFailed
        | C::UnsupportedSASLMechanism
        | C::IllegalSASLState
        | C::UnacceptableCredential
        | C::SSL => ErrorKind::Unauthenticated,
        C::AllBrokersDown
        | C::BrokerTransportFailure
        | C::Resolve
        | C::BrokerNotAvailable
        | C::NetworkException
        | C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::NotController
        | C::CoordinatorNotAvailable
        | C::CoordinatorLoadInProgress
        | C::NotCoordinator
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::KafkaStorageError
        | C::ThrottlingQuotaExceeded => ErrorKind::Unreachable,
        C::RequestTimedOut | C::OperationTimedOut | C::MessageTimedOut | C::TimedOutQueue => {
            ErrorKind::TimedOut
        }
        C::UnknownTopicOrPartition
        | C::UnknownTopic
        | C::UnknownPartition
        | C::UnknownTopicId
        | C::ResourceNotFound
        | C::GroupIdNotFound
        | C::UnknownGroup => ErrorKind::NotFound,
        C::TopicAlreadyExists
        | C::DuplicateResource
        | C::Conflict
        | C::ReassignmentInProgress
        | C::ConcurrentTransactions
        | C::NonEmptyGroup => ErrorKind::Conflict,
        C::InvalidPartitions
        | C::InvalidReplicationFactor
        | C::InvalidReplicaAssignment
        | C::InvalidConfig
        | C::InvalidRequest
        | C::InvalidTopic
        | C::InvalidArgument
        | C::PolicyViolation
        | C::TopicDeletionDisabled
        | C::InvalidPrincipalType
        | C::SecurityDisabled
        | C::UnsupportedVersion
        | C::UnsupportedFeature
        | C::InvalidRecord
        | C::MessageSizeTooLarge
        | C::InvalidMessageSize => ErrorKind::Invalid,
        _ => ErrorKind::Other,
    }
}

/// For a refused SCRAM login: the user also needs credentials for that mechanism.
fn scram_hint(detail: &str) -> &'static str {
    if detail.contains("SCRAM") {
        " (a SCRAM user needs credentials for exactly that mechanism on the cluster: \
         kafka-configs --alter --entity-type users --entity-name USER --add-config 'SCRAM-SHA-512=[password=…]')"
    } else {
        ""
    }
}

/// The ACL an action needs, in Kafka's words (see docs/connecting.md for the whole list).
pub(crate) fn needed_acl(action: &str) -> &'static str {
    let a = action.to_ascii_lowercase();
    if a.contains("describe acls") || a.contains("describe the cluster") {
        "needs DESCRIBE on the CLUSTER resource (kafka-acls --add --allow-principal User:… --operation Describe --cluster)"
    } else if a.contains("create acls") || a.contains("delete acls") {
        "needs ALTER on the CLUSTER resource (kafka-acls --add --allow-principal User:… --operation Alter --cluster)"
    } else if a.contains("create topics") {
        "needs CREATE on the CLUSTER resource, or on the topics (kafka-acls --add --allow-principal User:… --operation Create --cluster)"
    } else if a.contains("alter topic configs") {
        "needs ALTER_CONFIGS on the topics (kafka-acls --add --allow-principal User:… --operation AlterConfigs --topic T)"
    } else if a.contains("describe topic configs") {
        "needs DESCRIBE_CONFIGS on the topics (kafka-acls --add --allow-principal User:… --operation DescribeConfigs --topic T)"
    } else if a.contains("create partitions") {
        "needs ALTER on the topics (kafka-acls --add --allow-principal User:… --operation Alter --topic T)"
    } else if a.contains("delete topics") {
        "needs DELETE on the topics (kafka-acls --add --allow-principal User:… --operation Delete --topic T)"
    } else if a.contains("committed offsets") {
        "needs DESCRIBE on the consumer groups and READ on __consumer_offsets (see docs/lifecycle.md)"
    } else if a.contains("write the catalog") || a.contains("lock") {
        "needs WRITE and DESCRIBE on the catalog and lock topics (kafka-acls --add --allow-principal User:… --operation Write --operation Describe --topic _mesh-catalog --resource-pattern-type prefixed)"
    } else if a.contains("read the catalog") {
        "needs READ and DESCRIBE on the catalog topic (kafka-acls --add --allow-principal User:… --operation Read --operation Describe --topic _mesh-catalog)"
    } else if a.contains("describe topic") || a.contains("metadata") {
        "needs DESCRIBE on the topics mesh manages (kafka-acls --add --allow-principal User:… --operation Describe --topic T)"
    } else {
        "needs ACLs that allow it (or must be a super user); docs/connecting.md lists every ACL mesh uses"
    }
}

/// What to do about a failed TLS handshake, from OpenSSL's words for it (as librdkafka reports
/// them); `None` when the text is not about TLS.
pub(crate) fn tls_hint(detail: &str, has_client_cert: bool) -> Option<&'static str> {
    let d = detail.to_ascii_lowercase();
    let tls = d.contains("ssl") || d.contains("tls") || d.contains("certificate");
    if !tls {
        return None;
    }
    Some(if d.contains("expired") {
        "a certificate has expired (the brokers', or the client certificate in ssl.certificate.location): renew it"
    } else if d.contains("hostname mismatch") || d.contains("ip address mismatch") {
        "the brokers' certificate does not name the address mesh connected to: use a host name the certificate was issued for in bootstrap_servers (and in the brokers' advertised listeners)"
    } else if d.contains("unable to get local issuer")
        || d.contains("self-signed certificate")
        || d.contains("self signed certificate")
        || d.contains("unable to get issuer")
        || d.contains("unknown ca")
        || d.contains("could not be verified")
    {
        "the brokers' certificate is signed by a CA this client does not trust: set ssl.ca.location to that CA's PEM file (relative paths are relative to the mesh repo)"
    } else if d.contains("certificate required")
        || d.contains("peer did not return a certificate")
        || (!has_client_cert && d.contains("bad certificate"))
    {
        "the listener requires a client certificate: set ssl.certificate.location and ssl.key.location"
    } else if d.contains("bad certificate") || d.contains("certificate unknown") {
        "the brokers refused the client certificate: it must be signed by a CA the brokers trust (ssl.certificate.location)"
    } else if d.contains("wrong version number")
        || d.contains("packet length too long")
        || d.contains("record layer failure")
    {
        "security.protocol does not match the listener: a TLS client on a plaintext port, or the other way round"
    } else if d.contains("private key") || d.contains("ssl.key") {
        "the client's private key cannot be used: check ssl.key.location (and ssl.key.password if it is encrypted)"
    } else if d.contains("handshake") || d.contains("certificate verify failed") {
        "check ssl.ca.location, the brokers' host names, and (for mutual TLS) ssl.certificate.location and ssl.key.location"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_are_told_apart() {
        let cases = [
            (
                "SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured or root CA certificates are installed (install ca-certificates package)",
                "ssl.ca.location to that CA",
            ),
            (
                "SSL handshake failed: ssl/statem/statem_clnt.c:1890: error:0A000086:SSL routines::certificate verify failed: Hostname mismatch",
                "host name the certificate",
            ),
            (
                "SSL handshake failed: certificate verify failed: certificate has expired",
                "renew it",
            ),
            (
                "SSL handshake failed: error:0A00045C:SSL routines::tlsv13 alert certificate required",
                "requires a client certificate",
            ),
            (
                "SSL handshake failed: error:0A00010B:SSL routines::wrong version number",
                "does not match the listener",
            ),
        ];
        for (text, want) in cases {
            let hint = tls_hint(text, true).unwrap_or_else(|| panic!("no hint for {text}"));
            assert!(hint.contains(want), "{text} -> {hint}");
        }
        assert_eq!(
            tls_hint(
                "Connect to ipv4#127.0.0.1:1 failed: Connection refused",
                false
            ),
            None
        );
        // What a Java broker answers a client that sent no certificate, and one it distrusts.
        let bad = "Receive failed: error:0A000412:SSL routines::sslv3 alert bad certificate: SSL alert number 42";
        let hint = |t: &str, cert: bool| tls_hint(t, cert).unwrap_or_default();
        assert!(hint(bad, false).contains("requires a client certificate"));
        assert!(hint(bad, true).contains("refused the client certificate"));
        // With OpenSSL's own reason appended, the host name or the expiry wins over "CA".
        let why = "certificate verify failed: broker certificate could not be verified, verify \
                   that ssl.ca.location is correctly configured";
        assert!(hint(&format!("{why} [OpenSSL: hostname mismatch]"), false).contains("host name"));
        assert!(
            hint(&format!("{why} [OpenSSL: certificate has expired]"), false).contains("renew")
        );
        assert!(
            hint(
                &format!("{why} [OpenSSL: unable to get local issuer certificate]"),
                false
            )
            .contains("ssl.ca.location to that CA")
        );
    }

    #[test]
    fn error_codes_map_to_kinds() {
        use RDKafkaErrorCode as C;
        let unauthorized = ErrorKind::Unauthorized {
            operation: "create topics".into(),
        };
        for (code, want) in [
            (C::TopicAuthorizationFailed, unauthorized.clone()),
            (C::ClusterAuthorizationFailed, unauthorized.clone()),
            (C::GroupAuthorizationFailed, unauthorized),
            (C::SaslAuthenticationFailed, ErrorKind::Unauthenticated),
            (C::Authentication, ErrorKind::Unauthenticated),
            (C::AllBrokersDown, ErrorKind::Unreachable),
            (C::BrokerTransportFailure, ErrorKind::Unreachable),
            (C::Resolve, ErrorKind::Unreachable),
            (C::NotController, ErrorKind::Unreachable),
            (C::RequestTimedOut, ErrorKind::TimedOut),
            (C::OperationTimedOut, ErrorKind::TimedOut),
            (C::UnknownTopicOrPartition, ErrorKind::NotFound),
            (C::GroupIdNotFound, ErrorKind::NotFound),
            (C::TopicAlreadyExists, ErrorKind::Conflict),
            (C::InvalidPartitions, ErrorKind::Invalid),
            (C::InvalidReplicationFactor, ErrorKind::Invalid),
            (C::InvalidConfig, ErrorKind::Invalid),
            (C::PolicyViolation, ErrorKind::Invalid),
            (C::Fail, ErrorKind::Other),
        ] {
            assert_eq!(kind_of(code, "create topics"), want, "{code:?}");
        }
    }

    #[test]
    fn every_error_has_a_kind_and_keeps_its_message() {
        let bootstrap = || "k:9092".to_owned();
        let cases = [
            (
                KafkaError::Config { detail: "x".into() },
                ErrorKind::Invalid,
            ),
            (
                KafkaError::Unreachable {
                    bootstrap: bootstrap(),
                    detail: "Connection refused".into(),
                },
                ErrorKind::Unreachable,
            ),
            (
                KafkaError::Tls {
                    bootstrap: bootstrap(),
                    detail: "certificate verify failed".into(),
                    hint: "set ssl.ca.location".into(),
                },
                ErrorKind::Unauthenticated,
            ),
            (
                KafkaError::Authentication {
                    user: "u".into(),
                    bootstrap: bootstrap(),
                    detail: "invalid credentials".into(),
                },
                ErrorKind::Unauthenticated,
            ),
            (
                KafkaError::Authorization {
                    action: "create ACLs".into(),
                    bootstrap: bootstrap(),
                    detail: "CLUSTER_AUTHORIZATION_FAILED".into(),
                },
                ErrorKind::Unauthorized {
                    operation: "create ACLs".into(),
                },
            ),
            (
                KafkaError::Timeout {
                    action: "describe ACLs".into(),
                    bootstrap: bootstrap(),
                    timeout: Duration::from_secs(30),
                },
                ErrorKind::TimedOut,
            ),
            (
                KafkaError::Request {
                    action: "write the catalog topic c".into(),
                    bootstrap: bootstrap(),
                    detail: "the topic does not exist".into(),
                    kind: ErrorKind::NotFound,
                },
                ErrorKind::NotFound,
            ),
        ];
        for (e, kind) in cases {
            let text = e.to_string();
            let a = AdapterError::from(e);
            assert_eq!(a.kind, kind, "{text}");
            assert_eq!(a.message, text);
        }
        // The hint naming the ACL survives the conversion.
        let a = AdapterError::from(KafkaError::Authorization {
            action: "create ACLs".into(),
            bootstrap: bootstrap(),
            detail: "d".into(),
        });
        assert!(a.message.contains("ALTER on the CLUSTER"), "{a}");
    }

    #[test]
    fn authorization_failures_name_the_acl() {
        for (action, want) in [
            ("create topics", "CREATE on the CLUSTER"),
            ("create ACLs", "ALTER on the CLUSTER"),
            ("describe ACLs", "DESCRIBE on the CLUSTER"),
            ("alter topic configs", "ALTER_CONFIGS"),
            ("describe topic configs", "DESCRIBE_CONFIGS"),
            ("create partitions", "ALTER on the topics"),
            ("delete topics", "DELETE on the topics"),
        ] {
            assert!(needed_acl(action).contains(want), "{action}");
        }
        let e = KafkaError::Authentication {
            user: "u".into(),
            bootstrap: "b:1".into(),
            detail: "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512".into(),
        };
        assert!(e.to_string().contains("SCRAM-SHA-512=[password"), "{e}");
    }
}
