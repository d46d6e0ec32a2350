//! The apply lock as the CLI uses it: who is asking (owner, pid, CI run), the lease, taking the
//! lock (claim, read back to the claim, replay), heartbeats from a background thread, release
//! when the holder is dropped; and `mesh unlock`. The rules are `mesh_plan::lock`; the topic
//! is `mesh_kafka`'s. See docs/saved-plans-and-locks.md.

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use mesh_kafka::KafkaCluster;
use mesh_plan::lock::{Claim, Holder, LockEvent, replay};

/// The lease when `MESH_LOCK_LEASE_SECONDS` is not set.
const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The lock topic of a mesh: next to its catalog topic.
pub fn lock_topic(catalog_topic: &str) -> String {
    format!("{catalog_topic}-lock")
}

/// The lock, held: a heartbeat thread runs until it is dropped, and dropping it releases the
/// lock (on success and on every error path that unwinds; a killed process leaves the lease
/// to expire).
pub struct Held {
    cluster: Arc<KafkaCluster>,
    topic: String,
    id: String,
    stop: Option<mpsc::Sender<()>>,
    heartbeat: Option<JoinHandle<()>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        // Closing the channel stops the heartbeat thread.
        drop(self.stop.take());
        if let Some(t) = self.heartbeat.take() {
            let _ = t.join();
        }
        let release = LockEvent::Release {
            id: self.id.clone(),
            forced_by: None,
        };
        match self.cluster.append_lock_event(&self.topic, &release) {
            Ok(_) => eprintln!("mesh: released the apply lock"),
            Err(e) => eprintln!(
                "warning: could not release the apply lock ({e}); it expires when its lease runs out"
            ),
        }
    }
}

/// The lease: `MESH_LOCK_LEASE_SECONDS`, or 60 s.
fn lease() -> Result<Duration, String> {
    match std::env::var("MESH_LOCK_LEASE_SECONDS") {
        Err(_) => Ok(DEFAULT_LEASE),
        Ok(s) => match s.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
            _ => Err(format!(
                "MESH_LOCK_LEASE_SECONDS={s} is not a positive number of seconds"
            )),
        },
    }
}

/// Who holds the lock, for others to read: `MESH_LOCK_OWNER`, or `$USER@hostname`.
fn owner() -> String {
    if let Ok(o) = std::env::var("MESH_LOCK_OWNER")
        && !o.trim().is_empty()
    {
        return o;
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host}")
}

/// The CI run's URL on GitHub Actions.
fn ci_run() -> Option<String> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    Some(format!(
        "{}/{}/actions/runs/{}",
        var("GITHUB_SERVER_URL")?,
        var("GITHUB_REPOSITORY")?,
        var("GITHUB_RUN_ID")?
    ))
}

/// A random id for one claim: 128 bits from std's randomly keyed hasher (seeded by the OS).
fn random_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let a = RandomState::new().hash_one((std::process::id(), nanos));
    let b = RandomState::new().hash_one((nanos, std::process::id()));
    format!("{a:016x}{b:016x}")
}

fn time_ms(ms: i64) -> String {
    crate::live::rfc3339(u64::try_from(ms / 1000).unwrap_or(0))
}

/// "alice@ci-runner-3 (pid 4242, mesh apply)".
fn who(h: &Holder) -> String {
    let mut s = format!("{} (pid {}, {}", h.claim.who, h.claim.pid, h.claim.command);
    if let Some(url) = &h.claim.ci_run {
        s.push_str(&format!(", {url}"));
    }
    s.push(')');
    s
}

/// Takes the apply lock of the cluster behind `props`, or fails fast naming the holder.
pub fn acquire(
    props: &BTreeMap<String, String>,
    catalog_topic: &str,
    env: &str,
    command: &str,
) -> Result<Held, String> {
    let lease = lease()?;
    // A connection of its own: the heartbeat thread uses it while the apply uses the other.
    let cluster = Arc::new(
        KafkaCluster::connect(props, crate::live::kafka_timeout()).map_err(|e| e.to_string())?,
    );
    let topic = lock_topic(catalog_topic);
    cluster
        .ensure_lock_topic(&topic)
        .map_err(|e| e.to_string())?;
    let claim = Claim {
        id: random_id(),
        who: owner(),
        pid: std::process::id(),
        command: command.to_string(),
        ci_run: ci_run(),
        lease_ms: i64::try_from(lease.as_millis()).unwrap_or(i64::MAX),
    };
    let id = claim.id.clone();
    let offset = cluster
        .append_lock_event(&topic, &LockEvent::Claim(claim))
        .map_err(|e| e.to_string())?;
    let records = match cluster.read_lock_records(&topic, Some(offset)) {
        Ok(r) => r,
        Err(e) => {
            // The claim may have won: give it back rather than block others for a lease.
            let _ = cluster.append_lock_event(
                &topic,
                &LockEvent::Release {
                    id: id.clone(),
                    forced_by: None,
                },
            );
            return Err(e.to_string());
        }
    };
    match replay(&records) {
        Some(h) if h.claim.id == id => {}
        Some(h) => {
            return Err(format!(
                "the cluster is locked by {} since {}; its lease expires {} unless it heartbeats (help: wait, or if that apply crashed, mesh unlock --env {env})",
                who(&h),
                time_ms(h.since_ms),
                time_ms(h.expires_ms()),
            ));
        }
        None => {
            return Err(format!(
                "lock topic {topic}: the claim at offset {offset} was not read back; retry"
            ));
        }
    }
    eprintln!(
        "mesh: holds the apply lock ({topic}, lease {}s)",
        lease.as_secs()
    );
    let (stop, stopped) = mpsc::channel::<()>();
    let beat = {
        let cluster = Arc::clone(&cluster);
        let topic = topic.clone();
        let id = id.clone();
        std::thread::spawn(move || {
            loop {
                match stopped.recv_timeout(lease / 3) {
                    Err(RecvTimeoutError::Timeout) => {
                        let event = LockEvent::Heartbeat { id: id.clone() };
                        match cluster.append_lock_event(&topic, &event) {
                            Err(e) => eprintln!("warning: apply lock heartbeat failed: {e}"),
                            // Say so if the lease ran out before this heartbeat (this process
                            // stalled) and someone else claimed the lock, or it was forced free.
                            Ok(offset) => {
                                if let Ok(records) = cluster.read_lock_records(&topic, Some(offset))
                                    && replay(&records).is_none_or(|h| h.claim.id != id)
                                {
                                    eprintln!(
                                        "warning: this apply lost the apply lock (its lease ran out, or mesh unlock freed it); another apply may run at the same time"
                                    );
                                    return;
                                }
                            }
                        }
                    }
                    // Stopped (the holder was dropped).
                    _ => return,
                }
            }
        })
    };
    let held = Held {
        cluster,
        topic,
        id,
        stop: Some(stop),
        heartbeat: Some(beat),
    };
    Ok(held)
}

/// `mesh unlock`: force-releases the lock and says who held it.
pub fn unlock(props: &BTreeMap<String, String>, catalog_topic: &str) -> Result<String, String> {
    let cluster =
        KafkaCluster::connect(props, crate::live::kafka_timeout()).map_err(|e| e.to_string())?;
    let topic = lock_topic(catalog_topic);
    if !cluster
        .lock_topic_exists(&topic)
        .map_err(|e| e.to_string())?
    {
        return Ok("not locked\n".into());
    }
    let records = cluster
        .read_lock_records(&topic, None)
        .map_err(|e| e.to_string())?;
    let Some(h) = replay(&records) else {
        return Ok("not locked\n".into());
    };
    // Names the holder's claim: should it release and someone else claim meanwhile, this
    // record frees nobody else.
    let release = LockEvent::Release {
        id: h.claim.id.clone(),
        forced_by: Some(owner()),
    };
    cluster
        .append_lock_event(&topic, &release)
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "released the lock held by {} since {}\n",
        who(&h),
        time_ms(h.since_ms)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ() {
        let (a, b) = (random_id(), random_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn the_holder_is_described_with_pid_command_and_ci_run() {
        let h = Holder {
            claim: Claim {
                id: "x".into(),
                who: "alice@ci-runner-3".into(),
                pid: 4242,
                command: "mesh apply".into(),
                ci_run: Some("https://github.com/acme/mesh/actions/runs/7".into()),
                lease_ms: 60_000,
            },
            offset: 0,
            since_ms: 1_795_000_000_000,
            last_seen_ms: 1_795_000_000_000,
        };
        assert_eq!(
            who(&h),
            "alice@ci-runner-3 (pid 4242, mesh apply, https://github.com/acme/mesh/actions/runs/7)"
        );
        assert!(time_ms(h.since_ms).ends_with('Z'));
    }
}
