//! How far an apply has got, for people: on a terminal, one line per running phase with its
//! counts and rate, overwritten in place (`\r`) and replaced by the phase's result line when it
//! ends; elsewhere (CI logs, pipes) only the result lines, one per phase, with no carriage
//! returns or escape codes.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many redraws of the running line per second (a registry phase ticks per request).
const REDRAW: Duration = Duration::from_millis(100);

/// `schemas 640/1,200 (53 %), 512/s` — the running line of a phase.
pub fn running_line(phase: &str, finished: usize, total: usize, elapsed: Duration) -> String {
    let percent = (finished * 100).checked_div(total).unwrap_or(100);
    format!(
        "{phase} {}/{} ({percent} %){}",
        thousands(finished),
        thousands(total),
        rate(finished, elapsed)
    )
}

/// `schemas: 1200 done` or `schemas: 0 done, 2 failed` (what scripts and tests read, unchanged),
/// with the phase's time and rate on a terminal: `schemas: 1200 done in 2.3 s, 521/s`.
pub fn result_line(
    phase: &str,
    done: usize,
    failed: usize,
    elapsed: Duration,
    terminal: bool,
) -> String {
    let mut line = if failed > 0 {
        format!("{phase}: {done} done, {failed} failed")
    } else {
        format!("{phase}: {done} done")
    };
    if terminal {
        line.push_str(&format!(
            " in {:.1} s{}",
            elapsed.as_secs_f64(),
            rate(done + failed, elapsed)
        ));
    }
    line
}

/// `, 512/s`; nothing for a phase too short to say.
fn rate(n: usize, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if n == 0 || secs < 0.05 {
        return String::new();
    }
    format!(", {}/s", thousands((n as f64 / secs).round() as usize))
}

/// `5540` → `5,540`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The progress of one apply, written to `out` (stderr in the binary). Shared by the threads
/// that send registry requests, hence the lock.
pub struct Progress<W: Write + Send> {
    terminal: bool,
    state: Mutex<State<W>>,
}

struct State<W> {
    out: W,
    /// When the running phase began (when the one before it ended).
    started: Instant,
    last_drawn: Option<Instant>,
    /// A running line is on screen and must be cleared before the next line.
    drawn: bool,
}

impl<W: Write + Send> Progress<W> {
    /// `terminal`: whether `out` is a terminal (running lines are drawn only then).
    pub fn new(out: W, terminal: bool) -> Self {
        Progress {
            terminal,
            state: Mutex::new(State {
                out,
                started: Instant::now(),
                last_drawn: None,
                drawn: false,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<W>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A phase has got this far: redraws its running line on a terminal (at most every
    /// [`REDRAW`], and always at the last item); nothing elsewhere.
    pub fn tick(&self, phase: &str, finished: usize, total: usize) {
        if !self.terminal {
            return;
        }
        let mut s = self.state();
        let now = Instant::now();
        let due = s.last_drawn.is_none_or(|t| now.duration_since(t) >= REDRAW);
        if !due && finished < total {
            return;
        }
        let line = running_line(phase, finished, total, now.duration_since(s.started));
        // Output errors (a closed terminal) are not the apply's business.
        let _ = write!(s.out, "\r{line}\x1b[K");
        let _ = s.out.flush();
        s.last_drawn = Some(now);
        s.drawn = true;
    }

    /// A phase ended: its result line (replacing its running line on a terminal), and when it
    /// failed, which phase the apply stopped in.
    pub fn finished(&self, phase: &str, done: usize, failed: usize) {
        let mut s = self.state();
        let now = Instant::now();
        let line = result_line(
            phase,
            done,
            failed,
            now.duration_since(s.started),
            self.terminal,
        );
        if s.drawn {
            let _ = write!(s.out, "\r\x1b[K");
        }
        let _ = writeln!(s.out, "{line}");
        if failed > 0 {
            let _ = writeln!(
                s.out,
                "apply stopped in phase `{phase}`: the phases after it were not attempted"
            );
        }
        let _ = s.out.flush();
        s.started = now;
        s.last_drawn = None;
        s.drawn = false;
    }

    /// A step that reports no counts of its own while it runs (a plan's registry read) began:
    /// its running line on a terminal; nothing elsewhere.
    pub fn started(&self, step: &str, total: usize) {
        if !self.terminal {
            return;
        }
        let mut s = self.state();
        s.started = Instant::now();
        let _ = write!(s.out, "\r{step} {}…\x1b[K", thousands(total));
        let _ = s.out.flush();
        s.drawn = true;
    }

    /// The step of [`Progress::started`] is over: on a terminal, its line with the time and
    /// rate replaces the running one; nothing elsewhere (the plan's output is unchanged).
    pub fn ended(&self, step: &str, total: usize) {
        if !self.terminal {
            return;
        }
        let mut s = self.state();
        let elapsed = s.started.elapsed();
        let line = format!(
            "{step} {} in {:.1} s{}",
            thousands(total),
            elapsed.as_secs_f64(),
            rate(total, elapsed)
        );
        let _ = writeln!(s.out, "\r{line}\x1b[K");
        let _ = s.out.flush();
        s.drawn = false;
        s.started = Instant::now();
    }

    /// The writer, once the apply is over (for tests).
    #[cfg(test)]
    fn into_inner(self) -> W {
        self.state
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_counts_and_rate() {
        assert_eq!(
            running_line("schemas", 640, 1200, Duration::from_millis(1250)),
            "schemas 640/1,200 (53 %), 512/s"
        );
        assert_eq!(
            running_line("ACLs created", 0, 0, Duration::ZERO),
            "ACLs created 0/0 (100 %)"
        );
        assert_eq!(
            result_line("schemas", 1200, 0, Duration::from_millis(2300), true),
            "schemas: 1200 done in 2.3 s, 522/s"
        );
        assert_eq!(
            result_line("schemas", 0, 2, Duration::from_secs(1), true),
            "schemas: 0 done, 2 failed in 1.0 s, 2/s"
        );
        // Off a terminal: the lines scripts read, as they always were.
        assert_eq!(
            result_line("schemas", 1200, 0, Duration::from_secs(2), false),
            "schemas: 1200 done"
        );
        assert_eq!(
            result_line("schemas", 0, 2, Duration::from_secs(2), false),
            "schemas: 0 done, 2 failed"
        );
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    fn run(terminal: bool) -> String {
        let p = Progress::new(Vec::new(), terminal);
        for n in 1..=3 {
            p.tick("schemas", n, 3);
        }
        p.finished("schemas", 3, 0);
        p.tick("catalog records", 1, 2);
        p.finished("catalog records", 1, 1);
        String::from_utf8(p.into_inner()).unwrap()
    }

    #[test]
    fn a_step_without_counts_shows_only_on_a_terminal() {
        for terminal in [false, true] {
            let p = Progress::new(Vec::new(), terminal);
            p.started("read subjects", 1200);
            p.ended("read subjects", 1200);
            let out = String::from_utf8(p.into_inner()).unwrap();
            if terminal {
                assert!(
                    out.starts_with("\rread subjects 1,200…\x1b[K\rread subjects 1,200 in "),
                    "{out:?}"
                );
                assert!(out.ends_with("\x1b[K\n"), "{out:?}");
            } else {
                assert_eq!(out, "");
            }
        }
    }

    #[test]
    fn off_a_terminal_only_result_lines_are_written() {
        let out = run(false);
        assert_eq!(
            out,
            "schemas: 3 done\ncatalog records: 1 done, 1 failed\n\
             apply stopped in phase `catalog records`: the phases after it were not attempted\n"
        );
        assert!(!out.contains('\r') && !out.contains('\x1b'));
    }

    #[test]
    fn on_a_terminal_the_running_line_is_redrawn_then_replaced() {
        let out = run(true);
        // The first tick and the last (finished == total) are always drawn.
        assert!(out.starts_with("\rschemas 1/3 (33 %)"), "{out:?}");
        assert!(out.contains("\rschemas 3/3 (100 %)"), "{out:?}");
        // Each result line replaces the running one and ends with a newline.
        assert!(out.contains("\r\x1b[Kschemas: 3 done in "), "{out:?}");
        assert!(
            out.contains("\r\x1b[Kcatalog records: 1 done, 1 failed in "),
            "{out:?}"
        );
        assert_eq!(out.matches('\n').count(), 3, "{out:?}");
    }
}
