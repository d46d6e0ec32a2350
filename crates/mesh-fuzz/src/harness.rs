//! The run loop: pick an input from the corpus, mutate it, run the target under `catch_unwind`
//! with a quiet panic hook that keeps the panic's message and place, keep mutants that showed a
//! new behaviour, and collect (and shrink) every crash.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Target;
use crate::mutate::{self, Kind};
use crate::rng::Rng;

/// The corpus stops growing here; new behaviours then replace random entries.
const MAX_CORPUS: usize = 4096;
/// Executions spent shrinking one crash.
const SHRINK_BUDGET: usize = 2000;

/// How long and how to run one target.
#[derive(Clone, Debug)]
pub struct Options {
    pub seed: u64,
    /// Stop after this many executions…
    pub max_execs: Option<u64>,
    /// …or after this long, whichever comes first.
    pub max_time: Option<Duration>,
    /// Where crashing inputs are written (`<target>-<n>.bin` and `.txt` with the panic).
    pub crash_dir: Option<PathBuf>,
    /// Writes each input here before running it, so an abort that `catch_unwind` cannot catch
    /// (a stack overflow) leaves the input behind.
    pub in_flight: Option<PathBuf>,
}

/// A distinct panic: its place, message and the smallest input found that causes it.
#[derive(Clone, Debug)]
pub struct Crash {
    pub target: &'static str,
    /// `file:line:col` of the panic (the key crashes are told apart by).
    pub place: String,
    pub message: String,
    pub input: Vec<u8>,
    pub saved_as: Option<PathBuf>,
}

impl Crash {
    /// The input for a report: text when it is UTF-8, escaped bytes otherwise (shortened).
    pub fn input_excerpt(&self) -> String {
        let shown = match std::str::from_utf8(&self.input) {
            Ok(text) => format!("{text:?}"),
            Err(_) => format!("{:?}", self.input.escape_ascii().to_string()),
        };
        if shown.chars().count() > 600 {
            format!(
                "{}… ({} bytes)",
                shown.chars().take(600).collect::<String>(),
                self.input.len()
            )
        } else {
            shown
        }
    }
}

/// What a run of one target did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub target: &'static str,
    pub execs: u64,
    pub elapsed: Duration,
    pub corpus: usize,
    /// Distinct behaviours seen (the corpus' admission criterion).
    pub behaviours: usize,
    pub crashes: Vec<Crash>,
    /// The slowest single execution, and its input.
    pub slowest: Duration,
    pub slowest_input: Vec<u8>,
}

impl Outcome {
    pub fn execs_per_sec(&self) -> f64 {
        self.execs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

fn record_panic(info: &PanicHookInfo<'_>) {
    let place = info.location().map_or_else(
        || "<unknown>".to_string(),
        |l| format!("{}:{}:{}", l.file(), l.line(), l.column()),
    );
    let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = info.payload().downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    };
    if let Ok(mut last) = LAST_PANIC.lock() {
        // The first panic is the cause; a re-raise (`resume_unwind`) does not call the hook.
        last.get_or_insert((place, message));
    }
}

/// Silences the default panic hook (which would print every caught panic) for as long as it
/// lives, recording each panic's place and message instead.
pub struct QuietPanics {
    _private: (),
}

impl QuietPanics {
    pub fn install() -> Self {
        std::panic::set_hook(Box::new(record_panic));
        QuietPanics { _private: () }
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        // Back to the default hook.
        drop(std::panic::take_hook());
    }
}

/// Runs the target on one input: `Ok(behaviour)` or `Err((place, message))` of its panic.
pub fn execute(target: &Target, input: &[u8]) -> Result<u64, (String, String)> {
    if let Ok(mut last) = LAST_PANIC.lock() {
        *last = None;
    }
    match std::panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input))) {
        Ok(b) => Ok(b),
        Err(payload) => {
            let recorded = LAST_PANIC.lock().ok().and_then(|mut l| l.take());
            Err(recorded.unwrap_or_else(|| {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                ("<unknown>".to_string(), message)
            }))
        }
    }
}

/// Shrinks a crashing input while it still panics at the same place: chunks removed, halving
/// the chunk size, within a budget of executions.
pub fn shrink(target: &Target, input: &[u8], place: &str) -> Vec<u8> {
    let mut best = input.to_vec();
    let mut budget = SHRINK_BUDGET;
    let mut chunk = best.len().div_ceil(2).max(1);
    while chunk >= 1 && budget > 0 {
        let mut at = 0;
        let mut progressed = false;
        while at < best.len() && budget > 0 {
            let end = (at + chunk).min(best.len());
            let mut candidate = best[..at].to_vec();
            candidate.extend_from_slice(&best[end..]);
            budget -= 1;
            match execute(target, &candidate) {
                Err((p, _)) if p == place => {
                    best = candidate;
                    progressed = true;
                }
                _ => at += chunk,
            }
        }
        if !progressed {
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
    best
}

/// Fuzzes one target; the quiet panic hook must be installed by the caller.
pub fn fuzz(target: &Target, opts: &Options) -> Outcome {
    let mut rng = Rng::new(opts.seed ^ crate::fnv(target.name.as_bytes()));
    let seeds: Vec<Vec<u8>> = (target.seeds)();
    let mut corpus: Vec<Vec<u8>> = seeds.clone();
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    // Big mutants (a chunk repeated thousands of times) are run but not kept: mutated again
    // and again they would make every later input big and slow.
    let keep_up_to = seeds.iter().map(Vec::len).max().unwrap_or(0).max(2048) * 2;
    let mut behaviours = BTreeSet::new();
    let mut crashes: BTreeMap<String, Crash> = BTreeMap::new();
    let started = Instant::now();
    let mut execs = 0u64;
    let mut slowest = Duration::ZERO;
    let mut slowest_input = Vec::new();
    // The seeds run first, unmutated.
    let mut queue: Vec<Vec<u8>> = seeds.into_iter().rev().collect();
    loop {
        if opts.max_execs.is_some_and(|m| execs >= m)
            || opts.max_time.is_some_and(|t| started.elapsed() >= t)
        {
            break;
        }
        let input = queue.pop().unwrap_or_else(|| {
            let parent = corpus[rng.below(corpus.len())].clone();
            mutate::mutate(&mut rng, &parent, &corpus, target.kind)
        });
        if let Some(path) = &opts.in_flight {
            // Best effort: only for the post-mortem of an abort.
            let _ = std::fs::write(path, &input);
        }
        let t = Instant::now();
        let result = execute(target, &input);
        if t.elapsed() > slowest {
            slowest = t.elapsed();
            slowest_input.clone_from(&input);
        }
        execs += 1;
        match result {
            Ok(b) => {
                if behaviours.insert(b) && input.len() <= keep_up_to {
                    if corpus.len() < MAX_CORPUS {
                        corpus.push(input);
                    } else {
                        let i = rng.below(corpus.len());
                        corpus[i] = input;
                    }
                }
            }
            Err((place, message)) => {
                if crashes.contains_key(&place) {
                    continue;
                }
                let small = shrink(target, &input, &place);
                let mut crash = Crash {
                    target: target.name,
                    place: place.clone(),
                    message,
                    input: small,
                    saved_as: None,
                };
                if let Some(dir) = &opts.crash_dir {
                    crash.saved_as = save(dir, &crash, crashes.len());
                }
                crashes.insert(place, crash);
            }
        }
    }
    Outcome {
        target: target.name,
        execs,
        elapsed: started.elapsed(),
        corpus: corpus.len(),
        behaviours: behaviours.len(),
        crashes: crashes.into_values().collect(),
        slowest,
        slowest_input,
    }
}

fn save(dir: &std::path::Path, crash: &Crash, n: usize) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let stem = format!("{}-{n}", crash.target);
    let bin = dir.join(format!("{stem}.bin"));
    std::fs::write(&bin, &crash.input).ok()?;
    let note = format!(
        "target: {}\npanic at: {}\nmessage: {}\ninput: {}\n",
        crash.target,
        crash.place,
        crash.message,
        crash.input_excerpt()
    );
    std::fs::write(dir.join(format!("{stem}.txt")), note).ok()?;
    Some(bin)
}

/// The kind a target's inputs are mutated as.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Toml => "TOML",
        Kind::Json => "JSON",
        Kind::Text => "text",
        Kind::Binary => "binary",
    }
}
