//! What an adapter says when a request fails: the kind of failure, which a caller can act on
//! (retry, plan again, stop and explain), and the message for people, which the adapter has
//! already made as helpful as it can (the ACL an operation needs, the setting to check).

use std::fmt;

/// The kind of a failed request, as far as the adapter can tell.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No answer: connection refused, unknown host, every broker down, a service that says it
    /// cannot take requests now (HTTP 502, 503, 429).
    Unreachable,
    /// The request got no answer in time; it may or may not have been carried out.
    TimedOut,
    /// The login or the secure connection was refused: wrong credentials, no OAUTHBEARER token,
    /// a certificate one side does not trust.
    Unauthenticated,
    /// Logged in, but not allowed to do `operation` ("create topics", "POST /subjects/…");
    /// the message names what is missing (the ACL, the role).
    Unauthorized { operation: String },
    /// Refused as invalid: a setting, a request or an item the other side will never accept as
    /// it is (a bad config value, an invalid schema, a partition count out of range).
    Invalid,
    /// What the request names does not exist (a topic, a subject, a route).
    NotFound,
    /// The request conflicts with what exists (a topic that already exists, an incompatible
    /// schema version).
    Conflict,
    /// Anything else.
    Other,
}

/// What a caller should do about a failed request (see [`AdapterError::decision`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Transient, and the request may be sent again as it is.
    Retry,
    /// The cluster is not what the plan assumed, or a write may or may not have happened: read
    /// the cluster again and make a new plan before doing anything more.
    Replan,
    /// Only a person can fix it (credentials, ACLs, settings, the repo): stop and show the
    /// message, which says what to change.
    Explain,
    /// Stop and show the message.
    Stop,
}

/// A failed adapter request. Displays as its message alone, so what people see is exactly what
/// the adapter wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterError {
    pub kind: ErrorKind,
    pub message: String,
}

impl AdapterError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AdapterError {
            kind,
            message: message.into(),
        }
    }

    /// An error of kind [`ErrorKind::Other`].
    pub fn other(message: impl Into<String>) -> Self {
        AdapterError::new(ErrorKind::Other, message)
    }

    /// An error of kind [`ErrorKind::Invalid`].
    pub fn invalid(message: impl Into<String>) -> Self {
        AdapterError::new(ErrorKind::Invalid, message)
    }

    /// Whether the failure may pass by itself: nothing answered, or not in time.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Unreachable | ErrorKind::TimedOut)
    }

    /// Whether the same request may simply be sent again: transient, and `idempotent` (sending
    /// it twice has the effect of sending it once: every read, an ACL create or delete, a
    /// compatibility level; not a topic create, whose second attempt would meet the first).
    pub fn retryable(&self, idempotent: bool) -> bool {
        idempotent && self.is_transient()
    }

    /// What to do about it, for a request that is or is not `idempotent`.
    pub fn decision(&self, idempotent: bool) -> Decision {
        match self.kind {
            ErrorKind::Unreachable | ErrorKind::TimedOut if idempotent => Decision::Retry,
            // The request may have been carried out before the answer was lost.
            ErrorKind::Unreachable | ErrorKind::TimedOut => Decision::Replan,
            ErrorKind::NotFound | ErrorKind::Conflict => Decision::Replan,
            ErrorKind::Unauthenticated | ErrorKind::Unauthorized { .. } | ErrorKind::Invalid => {
                Decision::Explain
            }
            ErrorKind::Other => Decision::Stop,
        }
    }
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AdapterError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_decision() {
        let e = |kind| AdapterError::new(kind, "m");
        let unauthorized = ErrorKind::Unauthorized {
            operation: "create topics".into(),
        };
        for (kind, idempotent, want) in [
            (ErrorKind::Unreachable, true, Decision::Retry),
            (ErrorKind::TimedOut, true, Decision::Retry),
            (ErrorKind::Unreachable, false, Decision::Replan),
            (ErrorKind::TimedOut, false, Decision::Replan),
            (ErrorKind::NotFound, true, Decision::Replan),
            (ErrorKind::Conflict, false, Decision::Replan),
            (ErrorKind::Unauthenticated, true, Decision::Explain),
            (unauthorized, true, Decision::Explain),
            (ErrorKind::Invalid, false, Decision::Explain),
            (ErrorKind::Other, true, Decision::Stop),
        ] {
            let err = e(kind.clone());
            assert_eq!(err.decision(idempotent), want, "{kind:?} {idempotent}");
            assert_eq!(
                err.retryable(idempotent),
                want == Decision::Retry,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn displays_as_its_message() {
        let e = AdapterError::new(ErrorKind::NotFound, "subject x not found");
        assert_eq!(e.to_string(), "subject x not found");
    }
}
