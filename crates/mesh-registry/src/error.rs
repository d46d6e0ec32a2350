//! What can go wrong talking to a Schema Registry. No variant ever holds a credential: the
//! client keeps them out of URLs, and every text that comes from the network is redacted first.

use std::fmt;

use mesh_plan::{AdapterError, ErrorKind};

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
    /// No HTTP answer: connection refused, DNS failure, TLS failure, or (`timed_out`) none in
    /// time.
    #[error("the Schema Registry at {url} is unreachable: {reason}")]
    Unreachable {
        url: String,
        reason: String,
        timed_out: bool,
    },
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

    /// What kind of failure this is, for a caller deciding to retry, plan again or explain.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::InvalidUrl { .. } | RegistryError::Tls { .. } => ErrorKind::Invalid,
            RegistryError::Setup { .. } | RegistryError::InvalidResponse { .. } => ErrorKind::Other,
            RegistryError::Unreachable {
                timed_out: true, ..
            } => ErrorKind::TimedOut,
            RegistryError::Unreachable { .. } => ErrorKind::Unreachable,
            RegistryError::Unauthorized {
                status, request, ..
            } => status_kind(*status, None, request),
            RegistryError::Api {
                status,
                error_code,
                request,
                ..
            } => status_kind(*status, *error_code, request),
        }
    }
}

/// The kind of failure an HTTP status (and the Confluent API's `error_code`) stands for, in
/// answer to `request` ("PUT /config/orders-value").
pub(crate) fn status_kind(status: u16, error_code: Option<i64>, request: &str) -> ErrorKind {
    match (status, error_code) {
        (401, _) => ErrorKind::Unauthenticated,
        (403, _) => ErrorKind::Unauthorized {
            operation: request.to_owned(),
        },
        // 50002: the registry's own "operation timed out" (e.g. waiting for its store).
        (408 | 504, _) | (_, Some(50002)) => ErrorKind::TimedOut,
        // Busy or not ready (a registry whose store is not up yet answers 503); 50003: a
        // follower could not forward the request to the primary (an election under way).
        (429 | 502 | 503, _) | (_, Some(50003)) => ErrorKind::Unreachable,
        // 40401 subject, 40402 version, 40403 schema not found; a 404 without a code: no route.
        (404, _) => ErrorKind::NotFound,
        // 409: an incompatible schema, or a subject in another mode.
        (409, _) => ErrorKind::Conflict,
        // 42201 invalid schema, 42202 invalid version, 42203 invalid compatibility level.
        (400 | 405 | 415 | 422, _) => ErrorKind::Invalid,
        _ => ErrorKind::Other,
    }
}

impl From<RegistryError> for AdapterError {
    fn from(e: RegistryError) -> Self {
        AdapterError::new(e.kind(), e.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, error_code: Option<i64>) -> RegistryError {
        RegistryError::Api {
            url: "https://sr".into(),
            request: "POST /subjects/orders-value/versions".into(),
            status,
            error_code,
            message: "m".into(),
        }
    }

    #[test]
    fn statuses_and_error_codes_map_to_kinds() {
        let post = || ErrorKind::Unauthorized {
            operation: "POST /subjects/orders-value/versions".into(),
        };
        for (status, code, want) in [
            (404, Some(40401), ErrorKind::NotFound),
            (404, Some(40402), ErrorKind::NotFound),
            (404, None, ErrorKind::NotFound),
            (409, Some(409), ErrorKind::Conflict),
            (422, Some(42201), ErrorKind::Invalid),
            (422, Some(42203), ErrorKind::Invalid),
            (400, None, ErrorKind::Invalid),
            (408, None, ErrorKind::TimedOut),
            (504, None, ErrorKind::TimedOut),
            (500, Some(50002), ErrorKind::TimedOut),
            (503, None, ErrorKind::Unreachable),
            (502, None, ErrorKind::Unreachable),
            (429, None, ErrorKind::Unreachable),
            (500, Some(50001), ErrorKind::Other),
            (500, Some(50003), ErrorKind::Unreachable),
            (500, None, ErrorKind::Other),
            (403, None, post()),
        ] {
            assert_eq!(api(status, code).kind(), want, "{status} {code:?}");
        }
        let login = |status| RegistryError::Unauthorized {
            url: "https://sr".into(),
            request: "POST /subjects/orders-value/versions".into(),
            status,
            message: String::new(),
        };
        assert_eq!(login(401).kind(), ErrorKind::Unauthenticated);
        assert_eq!(login(403).kind(), post());
    }

    #[test]
    fn every_error_has_a_kind_and_keeps_its_message() {
        let unreachable = |timed_out| RegistryError::Unreachable {
            url: "https://sr".into(),
            reason: "cannot connect: Connection refused".into(),
            timed_out,
        };
        for (e, kind) in [
            (unreachable(false), ErrorKind::Unreachable),
            (unreachable(true), ErrorKind::TimedOut),
            (
                RegistryError::InvalidUrl {
                    url: "ftp://x".into(),
                    reason: "not http".into(),
                },
                ErrorKind::Invalid,
            ),
            (
                RegistryError::Tls {
                    setting: "ca_file".into(),
                    path: "ca.pem".into(),
                    reason: "no such file".into(),
                },
                ErrorKind::Invalid,
            ),
            (
                RegistryError::InvalidResponse {
                    url: "https://sr".into(),
                    request: "GET /config".into(),
                    reason: "not JSON".into(),
                },
                ErrorKind::Other,
            ),
            (api(409, Some(409)), ErrorKind::Conflict),
        ] {
            let text = e.to_string();
            let a = AdapterError::from(e);
            assert_eq!(a.kind, kind, "{text}");
            assert_eq!(a.message, text);
        }
    }
}
