//! What can go wrong talking to Kafka, phrased so the reader knows what to do next. No variant
//! ever carries a secret: every text that comes from librdkafka or a broker passes through the
//! [`Redactor`](crate::settings::Redactor) first.

use std::time::Duration;

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

    /// The brokers answered but refused the credentials.
    #[error(
        "authentication failed for user {user} at {bootstrap}: {detail}; check sasl.username and \
         sasl.password (or the variables they reference) and sasl.mechanism"
    )]
    Authentication {
        user: String,
        bootstrap: String,
        detail: String,
    },

    /// Logged in, but an ACL does not allow the operation.
    #[error(
        "not authorized to {action} at {bootstrap}: {detail}; the user mesh logs in as needs ACLs \
         that allow it (or must be a super user)"
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

    /// A request failed for another reason; `detail` is the broker's or librdkafka's message.
    #[error("{action} at {bootstrap} failed: {detail}")]
    Request {
        action: String,
        bootstrap: String,
        detail: String,
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
