//! The apply lock's state machine. The lock lives in a single-partition topic whose records get
//! the broker's clock (`LogAppendTime`); every contender replays the same records in the same
//! order (the partition's total order), so all agree on who holds the lock at any offset. Pure:
//! the Kafka adapter reads the records, this module decides.
//!
//! Rules, applied in offset order:
//! - a CLAIM takes the lock when nobody holds it, or when the holder's lease has run out at the
//!   claim's timestamp (claim time > holder's last claim/heartbeat time + lease); otherwise it
//!   loses and is ignored for good;
//! - a HEARTBEAT of the holder moves its "last seen" time; anyone else's is ignored;
//! - a RELEASE naming the holder frees the lock (`mesh unlock` names the holder's id).

use serde::{Deserialize, Serialize};

/// Who wants the lock, as written in a CLAIM record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// Random, unique per attempt.
    pub id: String,
    /// `MESH_LOCK_OWNER`, or `$USER@hostname`.
    pub who: String,
    pub pid: u32,
    /// "mesh apply", "mesh apply plan.json".
    pub command: String,
    /// The CI run, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_run: Option<String>,
    pub lease_ms: i64,
}

/// One record of the lock topic (its value, as JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LockEvent {
    Claim(Claim),
    Heartbeat {
        id: String,
    },
    Release {
        id: String,
        /// Set by `mesh unlock`: who forced the release.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        forced_by: Option<String>,
    },
}

impl LockEvent {
    /// Decodes a record's value as read back from the lock topic; `None` for anything that is
    /// not a lock event (written by something else: every reader skips it alike).
    pub fn decode(value: Option<&[u8]>) -> Option<LockEvent> {
        serde_json::from_slice(value?).ok()
    }
}

/// A record as read back: its offset and the broker's timestamp (ms since the epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockRecord {
    pub offset: i64,
    pub timestamp_ms: i64,
    pub event: LockEvent,
}

/// The lock's holder after a replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub claim: Claim,
    /// Offset of the winning CLAIM.
    pub offset: i64,
    /// Broker time of the winning CLAIM.
    pub since_ms: i64,
    /// Broker time of its last CLAIM or HEARTBEAT.
    pub last_seen_ms: i64,
}

impl Holder {
    /// Broker time after which a new claim wins.
    pub fn expires_ms(&self) -> i64 {
        self.last_seen_ms.saturating_add(self.claim.lease_ms)
    }
}

/// Replays records (in offset order) and returns who holds the lock after the last one.
pub fn replay<'a>(records: impl IntoIterator<Item = &'a LockRecord>) -> Option<Holder> {
    let mut holder: Option<Holder> = None;
    for r in records {
        match &r.event {
            LockEvent::Claim(claim) => {
                let free = match &holder {
                    None => true,
                    Some(h) => r.timestamp_ms > h.expires_ms(),
                };
                if free {
                    holder = Some(Holder {
                        claim: claim.clone(),
                        offset: r.offset,
                        since_ms: r.timestamp_ms,
                        last_seen_ms: r.timestamp_ms,
                    });
                }
            }
            LockEvent::Heartbeat { id } => {
                if let Some(h) = holder.as_mut().filter(|h| &h.claim.id == id) {
                    h.last_seen_ms = h.last_seen_ms.max(r.timestamp_ms);
                }
            }
            LockEvent::Release { id, .. } => {
                if holder.as_ref().is_some_and(|h| &h.claim.id == id) {
                    holder = None;
                }
            }
        }
    }
    holder
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(id: &str, lease_ms: i64) -> LockEvent {
        LockEvent::Claim(Claim {
            id: id.into(),
            who: format!("{id}@host"),
            pid: 1,
            command: "mesh apply".into(),
            ci_run: None,
            lease_ms,
        })
    }

    fn hb(id: &str) -> LockEvent {
        LockEvent::Heartbeat { id: id.into() }
    }

    fn release(id: &str, forced_by: Option<&str>) -> LockEvent {
        LockEvent::Release {
            id: id.into(),
            forced_by: forced_by.map(str::to_string),
        }
    }

    /// Records at the given broker times, offsets 0, 1, 2, …
    fn log(events: Vec<(i64, LockEvent)>) -> Vec<LockRecord> {
        events
            .into_iter()
            .enumerate()
            .map(|(i, (t, event))| LockRecord {
                offset: i as i64,
                timestamp_ms: t,
                event,
            })
            .collect()
    }

    fn holder_id(events: Vec<(i64, LockEvent)>) -> Option<String> {
        replay(&log(events)).map(|h| h.claim.id)
    }

    #[test]
    fn a_claim_on_a_free_lock_wins() {
        assert_eq!(replay(&[]), None);
        let h = replay(&log(vec![(1000, claim("a", 60_000))])).unwrap();
        assert_eq!(h.claim.id, "a");
        assert_eq!((h.offset, h.since_ms, h.expires_ms()), (0, 1000, 61_000));
    }

    #[test]
    fn a_held_lock_ignores_later_claims_for_good() {
        let events = vec![(1000, claim("a", 60_000)), (2000, claim("b", 60_000))];
        assert_eq!(holder_id(events), Some("a".into()));
        // b lost: its heartbeats and release change nothing, and it never holds later.
        let events = vec![
            (1000, claim("a", 60_000)),
            (2000, claim("b", 60_000)),
            (3000, hb("b")),
            (4000, release("b", None)),
        ];
        assert_eq!(holder_id(events), Some("a".into()));
        let events = vec![
            (1000, claim("a", 60_000)),
            (2000, claim("b", 60_000)),
            (3000, release("a", None)),
        ];
        assert_eq!(holder_id(events), None, "b's claim does not revive");
    }

    #[test]
    fn an_expired_lease_lets_the_next_claim_win() {
        // Exactly at the expiry the holder still holds; one millisecond later it does not.
        let events = vec![(1000, claim("a", 5000)), (6000, claim("b", 5000))];
        assert_eq!(holder_id(events), Some("a".into()));
        let events = vec![(1000, claim("a", 5000)), (6001, claim("b", 5000))];
        assert_eq!(holder_id(events), Some("b".into()));
        // The expired holder's late heartbeat does not take it back.
        let events = vec![
            (1000, claim("a", 5000)),
            (7000, claim("b", 5000)),
            (7100, hb("a")),
            (7200, release("a", None)),
        ];
        assert_eq!(holder_id(events), Some("b".into()));
    }

    #[test]
    fn a_release_frees_the_lock() {
        let events = vec![
            (1000, claim("a", 60_000)),
            (2000, release("a", None)),
            (3000, claim("b", 60_000)),
        ];
        assert_eq!(holder_id(events), Some("b".into()));
    }

    #[test]
    fn a_forced_release_names_the_holder() {
        let events = vec![
            (1000, claim("a", 60_000)),
            (2000, release("a", Some("ops@laptop"))),
        ];
        assert_eq!(holder_id(events), None);
    }

    #[test]
    fn heartbeats_extend_the_lease() {
        let events = vec![
            (1000, claim("a", 5000)),
            (4000, hb("a")),
            (8000, hb("a")),
            (12_000, claim("b", 5000)),
        ];
        let h = replay(&log(events)).unwrap();
        assert_eq!((h.claim.id.as_str(), h.since_ms), ("a", 1000));
        assert_eq!(h.expires_ms(), 13_000);
    }

    #[test]
    fn records_are_json_with_a_type_tag() {
        let text = serde_json::to_string(&hb("a")).unwrap();
        assert_eq!(text, r#"{"type":"heartbeat","id":"a"}"#);
        let back: LockEvent = serde_json::from_str(
            r#"{"type":"claim","id":"a","who":"w","pid":2,"command":"mesh apply","lease_ms":9}"#,
        )
        .unwrap();
        assert!(matches!(back, LockEvent::Claim(c) if c.lease_ms == 9 && c.ci_run.is_none()));
    }
}
