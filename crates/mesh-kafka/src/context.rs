//! The rdkafka client context: librdkafka's error events and log lines are captured (redacted)
//! instead of printed, so a refused connection or a failed SASL login becomes a typed error;
//! delivery reports of catalog writes are collected here too.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::settings::Redactor;

/// How many error events and log lines to keep (the newest); enough to explain a failure.
const KEEP: usize = 50;

/// A librdkafka error event: the code and its (redacted) reason.
#[derive(Clone, Debug)]
pub(crate) struct ClientEvent {
    pub code: Option<RDKafkaErrorCode>,
    pub reason: String,
}

#[derive(Default)]
struct Captured {
    errors: Vec<ClientEvent>,
    logs: Vec<String>,
    /// Delivery results of the write in progress (catalog or lock records), by record index:
    /// the offset the record got, or the (redacted) error.
    deliveries: Vec<(usize, Result<i64, String>)>,
}

/// Shared by every client one `KafkaCluster` creates.
#[derive(Clone)]
pub(crate) struct MeshContext {
    captured: Arc<Mutex<Captured>>,
    redactor: Redactor,
}

impl MeshContext {
    pub(crate) fn new(redactor: Redactor) -> MeshContext {
        MeshContext {
            captured: Arc::default(),
            redactor,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Captured> {
        // A panic while holding the lock cannot leave `Captured` inconsistent (plain pushes).
        self.captured.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the error events and log lines captured so far.
    pub(crate) fn clear(&self) {
        let mut c = self.lock();
        c.errors.clear();
        c.logs.clear();
    }

    /// The error events captured since the last [`clear`](Self::clear).
    pub(crate) fn errors(&self) -> Vec<ClientEvent> {
        self.lock().errors.clone()
    }

    /// The last few warning-or-worse log lines since the last clear.
    pub(crate) fn logs(&self) -> Vec<String> {
        self.lock().logs.clone()
    }

    /// Records an error event (its reason redacted).
    pub(crate) fn record_error(&self, code: Option<RDKafkaErrorCode>, reason: &str) {
        let event = ClientEvent {
            code,
            reason: self.redactor.apply(reason),
        };
        let mut c = self.lock();
        // The oldest go first: a long-lived client must not grow without bound.
        if c.errors.len() == KEEP {
            c.errors.remove(0);
        }
        c.errors.push(event);
    }

    /// Records a log line (redacted) if it is a warning or worse (syslog level <= 4).
    pub(crate) fn record_log(&self, level: i32, facility: &str, message: &str) {
        if level > 4 {
            return;
        }
        let line = self.redactor.apply(&format!("{facility}: {message}"));
        let mut c = self.lock();
        if c.logs.len() == KEEP {
            c.logs.remove(0);
        }
        c.logs.push(line);
    }

    pub(crate) fn take_deliveries(&self) -> Vec<(usize, Result<i64, String>)> {
        std::mem::take(&mut self.lock().deliveries)
    }
}

impl ClientContext for MeshContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.record_log(level as i32, fac, log_message);
    }

    fn error(&self, error: RdKafkaError, reason: &str) {
        self.record_error(error.rdkafka_error_code(), reason);
    }
}

impl ConsumerContext for MeshContext {}

impl ProducerContext for MeshContext {
    /// The index of the record in the batch being written.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        let outcome = match result {
            Ok(message) => Ok(rdkafka::Message::offset(message)),
            Err((e, _)) => Err(self.redactor.apply(&e.to_string())),
        };
        self.lock().deliveries.push((index, outcome));
    }
}
