//! The sandbox's processes: detached spawning, pid files, telling our JVMs from anyone else's
//! (through markers on their command line in `/proc/<pid>/cmdline`), stopping them, and the
//! lock that keeps two `up`s on one folder from racing.
//!
//! Linux-only in practice: it reads `/proc`. Elsewhere a pid is never recognised as ours, so
//! `down` refuses to signal anything rather than risk a stranger.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{Component, SandboxError};

/// System-property prefix naming the sandbox folder on a server's command line.
pub(crate) const MARKER_DIR: &str = "-Dmesh.sandbox.dir=";
/// System-property prefix naming the component on a server's command line.
pub(crate) const MARKER_COMPONENT: &str = "-Dmesh.sandbox.component=";

/// Reads a pid file: `None` when it is missing or does not hold a positive number.
pub(crate) fn read_pid(path: &Path) -> Option<u32> {
    let text = fs::read_to_string(path).ok()?;
    parse_pid(&text)
}

pub(crate) fn parse_pid(text: &str) -> Option<u32> {
    text.trim().parse::<u32>().ok().filter(|pid| *pid > 1)
}

/// Writes a pid file atomically (temp file + rename), so a reader never sees half a number.
pub(crate) fn write_pid(path: &Path, pid: u32) -> Result<(), SandboxError> {
    let tmp = path.with_extension("pid.tmp");
    fs::write(&tmp, format!("{pid}\n")).map_err(|e| SandboxError::io("write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| SandboxError::io("write", path, e))
}

pub(crate) fn remove_pid(path: &Path) -> Result<(), SandboxError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(SandboxError::io("remove", path, e)),
        _ => Ok(()),
    }
}

/// A process's arguments from `/proc/<pid>/cmdline`; `None` when it is gone (or a zombie,
/// whose cmdline is empty) or `/proc` is unavailable.
fn cmdline(pid: u32) -> Option<Vec<Vec<u8>>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if raw.is_empty() {
        return None;
    }
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
    )
}

/// Whether `args` is a JVM this sandbox (folder `dir`) started as `component`.
pub(crate) fn cmdline_matches(args: &[Vec<u8>], dir: &Path, component: Component) -> bool {
    let Some(program) = args.first() else {
        return false;
    };
    let program = Path::new(OsStr::from_bytes(program));
    let is_java = program
        .file_name()
        .is_some_and(|name| name.as_bytes() == b"java");
    let mut want_dir = MARKER_DIR.as_bytes().to_vec();
    want_dir.extend_from_slice(dir.as_os_str().as_bytes());
    let want_component = format!("{MARKER_COMPONENT}{}", component.key());
    is_java && args.contains(&want_dir) && args.iter().any(|a| a == want_component.as_bytes())
}

/// Whether `pid` is alive (not a zombie) and is this sandbox's `component`. Checking the
/// command line, not just the pid, guards against pid reuse after a reboot or crash.
pub(crate) fn is_ours(pid: u32, dir: &Path, component: Component) -> bool {
    reap(pid);
    cmdline(pid).is_some_and(|args| cmdline_matches(&args, dir, component))
}

/// A sandbox JVM found by scanning `/proc` for our markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marked {
    pub pid: u32,
    pub dir: PathBuf,
    pub component: String,
}

/// Every live sandbox JVM on the machine, from any folder: used to adopt a server whose pid
/// file was lost and to say whose a busy port probably is.
pub(crate) fn marked_processes() -> Vec<Marked> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(args) = cmdline(pid) else { continue };
        if let Some(marked) = parse_markers(pid, &args) {
            found.push(marked);
        }
    }
    found.sort_by_key(|m| m.pid);
    found
}

pub(crate) fn parse_markers(pid: u32, args: &[Vec<u8>]) -> Option<Marked> {
    let value = |prefix: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(prefix.as_bytes()))
            .map(<[u8]>::to_vec)
    };
    let dir = value(MARKER_DIR)?;
    let component = value(MARKER_COMPONENT)?;
    Some(Marked {
        pid,
        dir: PathBuf::from(OsStr::from_bytes(&dir)),
        component: String::from_utf8_lossy(&component).into_owned(),
    })
}

/// Starts `cmd` detached: its own session (so closing the terminal or Ctrl-C in it does not
/// reach the server, and it outlives `mesh`), stdin from /dev/null, stdout and stderr to `log`
/// (the previous log kept as `<log>.1`).
pub(crate) fn spawn_detached(mut cmd: Command, log: &Path) -> Result<Child, SandboxError> {
    if log.exists() {
        let old = log.with_extension("log.1");
        fs::rename(log, &old).map_err(|e| SandboxError::io("rotate", log, e))?;
    }
    let out = File::create(log).map_err(|e| SandboxError::io("create", log, e))?;
    let err = out
        .try_clone()
        .map_err(|e| SandboxError::io("open", log, e))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent; it is the only
    // call made between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let command = format!("{:?}", cmd);
    cmd.spawn()
        .map_err(|source| SandboxError::Spawn { command, source })
}

/// Collects the exit status of `pid` if it is our own child that has exited, so it does not
/// linger as a zombie (which `/proc` would still list) while this process lives on, as in tests.
fn reap(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG only inspects the process table; for a pid that is not our
    // child it fails with ECHILD and changes nothing.
    unsafe {
        libc::waitpid(pid, &mut status, libc::WNOHANG);
    }
}

/// Whether `pid` has finished exiting: gone from `/proc`, or a zombie (state Z or X).
fn has_exited(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => matches!(stat_state(&stat), Some('Z' | 'X') | None),
        Err(_) => true,
    }
}

/// The state letter of a `/proc/<pid>/stat` line: the field after the command name, which is
/// in parentheses and may itself contain spaces and parentheses.
fn stat_state(stat: &str) -> Option<char> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().next()?.chars().next()
}

fn signal(pid: u32, sig: libc::c_int) -> io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill has no memory-safety preconditions; the pid was verified as ours just before.
    if unsafe { libc::kill(pid, sig) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Stops our `component` at `pid`: SIGTERM (both servers shut down cleanly on it), then
/// SIGKILL after `grace`. Returns once the process is gone.
pub(crate) fn terminate(
    pid: u32,
    dir: &Path,
    component: Component,
    grace: Duration,
) -> Result<(), SandboxError> {
    let stop_failed = |reason: String| SandboxError::StopFailed {
        component,
        pid,
        reason,
    };
    if let Err(e) = signal(pid, libc::SIGTERM) {
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Ok(());
        }
        return Err(stop_failed(format!("SIGTERM failed: {e}")));
    }
    if wait_gone(pid, dir, component, grace) {
        return Ok(());
    }
    match signal(pid, libc::SIGKILL) {
        Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
            return Err(stop_failed(format!("SIGKILL failed: {e}")));
        }
        _ => {}
    }
    if wait_gone(pid, dir, component, Duration::from_secs(10)) {
        Ok(())
    } else {
        Err(stop_failed(format!(
            "still running {} s after SIGKILL",
            grace.as_secs() + 10
        )))
    }
}

fn wait_gone(pid: u32, dir: &Path, component: Component, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        reap(pid);
        // Not just "cmdline no longer matches": the kernel drops a process's memory (and so its
        // cmdline) before it closes its sockets, and the ports must be free when we return.
        if has_exited(pid) {
            reap(pid); // it may have turned into a zombie since the reap above
            return true;
        }
        if cmdline(pid).is_some_and(|args| !cmdline_matches(&args, dir, component)) {
            return true; // the pid now belongs to someone else
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// An exclusive advisory lock on a file, held until dropped; the kernel releases it if the
/// process dies, so a crashed `up` never leaves a stale lock.
pub(crate) struct FileLock {
    _file: File,
}

impl FileLock {
    pub(crate) fn acquire(path: &Path) -> Result<FileLock, SandboxError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| SandboxError::io("open lock file", path, e))?;
        loop {
            // SAFETY: flock on a descriptor we own; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(FileLock { _file: file });
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(SandboxError::io("lock", path, e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn pid_files_round_trip_and_reject_junk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kafka.pid");
        assert_eq!(read_pid(&path), None);
        write_pid(&path, 4242).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "4242\n");
        assert_eq!(read_pid(&path), Some(4242));
        remove_pid(&path).unwrap();
        remove_pid(&path).unwrap(); // removing twice is fine
        assert_eq!(read_pid(&path), None);
        for junk in ["", "abc", "-5", "0", "1", "12 34"] {
            assert_eq!(parse_pid(junk), None, "{junk:?}");
        }
        assert_eq!(parse_pid(" 77\n"), Some(77));
    }

    #[test]
    fn only_our_marked_java_matches() {
        let dir = Path::new("/home/u/sb");
        let ours = args(&[
            "/usr/lib/jvm/bin/java",
            "-Xmx512m",
            "-Dmesh.sandbox.dir=/home/u/sb",
            "-Dmesh.sandbox.component=kafka",
            "kafka.Kafka",
        ]);
        assert!(cmdline_matches(&ours, dir, Component::Kafka(1)));
        assert!(!cmdline_matches(&ours, dir, Component::Registry));
        assert!(!cmdline_matches(
            &ours,
            Path::new("/home/u/sb2"),
            Component::Kafka(1)
        ));
        assert!(!cmdline_matches(
            &ours,
            Path::new("/home/u"),
            Component::Kafka(1)
        ));
        let not_java = args(&[
            "/bin/sleep",
            "-Dmesh.sandbox.dir=/home/u/sb",
            "-Dmesh.sandbox.component=kafka",
        ]);
        assert!(!cmdline_matches(&not_java, dir, Component::Kafka(1)));
        assert!(!cmdline_matches(&[], dir, Component::Kafka(1)));
        // Node 2 is a different process from node 1.
        assert!(!cmdline_matches(&ours, dir, Component::Kafka(2)));
        let two = args(&[
            "java",
            "-Dmesh.sandbox.dir=/home/u/sb",
            "-Dmesh.sandbox.component=kafka-2",
        ]);
        assert!(cmdline_matches(&two, dir, Component::Kafka(2)));
        assert!(!cmdline_matches(&two, dir, Component::Kafka(1)));
        assert_eq!(
            parse_markers(9, &ours),
            Some(Marked {
                pid: 9,
                dir: dir.to_path_buf(),
                component: "kafka".into()
            })
        );
        assert_eq!(parse_markers(9, &args(&["java", "-jar", "x.jar"])), None);
    }

    #[test]
    fn stat_state_survives_odd_command_names() {
        assert_eq!(stat_state("123 (java) S 1 123 123 0"), Some('S'));
        assert_eq!(stat_state("9 (a) b) (c)) Z 1 2"), Some('Z'));
        assert_eq!(stat_state("garbage"), None);
        assert!(!has_exited(std::process::id()));
        assert!(has_exited(u32::MAX));
    }

    #[test]
    // The exited child is deliberately left unwaited: is_ours must see through the zombie.
    #[allow(clippy::zombie_processes)]
    fn a_dead_or_foreign_pid_is_not_ours() {
        // Our own test process is alive but is no sandbox JVM.
        assert!(!is_ours(
            std::process::id(),
            Path::new("/x"),
            Component::Kafka(1)
        ));
        // A child that has exited (and would be a zombie until reaped) is not ours either.
        let child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        thread::sleep(Duration::from_millis(200));
        assert!(!is_ours(pid, Path::new("/x"), Component::Kafka(1)));
    }

    #[test]
    fn the_lock_is_exclusive_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let first = FileLock::acquire(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        let waiter = thread::spawn(move || {
            let _second = FileLock::acquire(&p).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        drop(first);
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
        waiter.join().unwrap();
    }
}
