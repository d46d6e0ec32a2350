//! What can go wrong talking to a Schema Registry. No variant ever holds a credential: the
//! client keeps them out of URLs, and every text that comes from the network is redacted first.

use std::fmt;

/// An error from [`crate::RegistryClient`].
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The base URL cannot be used (not http/https, credentials embedded in it, …).
    #[error("invalid Schema Registry URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// A TLS file of `[environments.<env>.schema_registry]` cannot be used.
    #[error(
        "schema_registry.{setting} {path}: {reason}; check the file named in [environments.<env>.schema_registry] of mesh.toml"
    )]
    Tls {
        setting: String,
        path: String,
        reason: String,
    },
    /// The HTTP client could not be built, or was called where it cannot block.
    #[error("cannot use the Schema Registry client: {reason}")]
    Setup { reason: String },
    /// No HTTP answer: connection refused, DNS failure, TLS failure, or a timeout.
    #[error("the Schema Registry at {url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    /// HTTP 401 or 403.
    #[error(
        "authentication failed at the Schema Registry at {url}: {request} answered HTTP {status}{}",
        suffix(message)
    )]
    Unauthorized {
        url: String,
        request: String,
        status: u16,
        message: String,
    },
    /// Any other non-success answer, with the registry's `error_code` when it sent one.
    #[error(
        "the Schema Registry at {url} refused {request}: HTTP {status}{}{}",
        ErrorCode(*error_code),
        suffix(message)
    )]
    Api {
        url: String,
        request: String,
        status: u16,
        error_code: Option<i64>,
        message: String,
    },
    /// A success answer whose body is not what the Confluent API documents.
    #[error("unexpected answer from the Schema Registry at {url} to {request}: {reason}")]
    InvalidResponse {
        url: String,
        request: String,
        reason: String,
    },
}

impl RegistryError {
    /// The registry's `error_code` (40401 subject not found, 40402 version not found, …).
    pub fn error_code(&self) -> Option<i64> {
        match self {
            RegistryError::Api { error_code, .. } => *error_code,
            _ => None,
        }
    }
}

fn suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

struct ErrorCode(Option<i64>);

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(code) => write!(f, " (error {code})"),
            None => Ok(()),
        }
    }
}
