//! `mesh-fuzz`: runs the fuzz targets for a time or a number of executions and prints the
//! executions, executions per second and crashes of each. Crashing inputs are written to the
//! crash folder (`target/mesh-fuzz/crashes` unless `--crashes DIR`). Each target runs in a
//! child process of its own, so an abort (a stack overflow) ends that target only and leaves
//! its input behind as `<target>-abort.bin`.
//!
//!     cargo run --release -p mesh-fuzz -- --target all --seconds 600 --seed 1

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use mesh_fuzz::{Options, QuietPanics, Target, harness, targets};

const USAGE: &str =
    "usage: mesh-fuzz [--target NAME|all] [--seconds N] [--execs N] [--seed N] [--crashes DIR]
       mesh-fuzz --target NAME --run FILE...
       mesh-fuzz --list

  --target   a target name, a comma-separated list, or `all` (default)
  --seconds  time for the whole run, shared equally among the targets (default 60)
  --execs    stop each target after N executions (instead of, or as well as, a time)
  --seed     the random seed (default 1); the same seed and limits repeat a run
  --crashes  where crashing inputs go (default target/mesh-fuzz/crashes)
  --run      run the files through the target once each and say what happened (a saved
             crash, a fixture); exits 1 if any panics
  --list     list the targets and exit";

struct Args {
    targets: Vec<&'static Target>,
    seconds: Option<u64>,
    execs: Option<u64>,
    seed: u64,
    crashes: PathBuf,
    run: Vec<PathBuf>,
    /// Set in the child process that runs one target (`--child SECONDS`, 0: no time limit).
    child: Option<f64>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        targets: targets::ALL.iter().collect(),
        seconds: None,
        execs: None,
        seed: 1,
        crashes: PathBuf::from("target/mesh-fuzz/crashes"),
        run: Vec::new(),
        child: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{a} needs a value\n\n{USAGE}"))
        };
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{a}: `{v}` is not a number"))
        };
        match a.as_str() {
            "--target" => {
                let v = value()?;
                if v != "all" {
                    args.targets = v
                        .split(',')
                        .map(|n| {
                            targets::by_name(n.trim())
                                .ok_or_else(|| format!("no target `{n}` (see --list)"))
                        })
                        .collect::<Result<_, _>>()?;
                }
            }
            "--seconds" => args.seconds = Some(number(value()?)?),
            "--execs" => args.execs = Some(number(value()?)?),
            "--seed" => args.seed = number(value()?)?,
            "--crashes" => args.crashes = PathBuf::from(value()?),
            "--child" => {
                let v = value()?;
                args.child = Some(v.parse().map_err(|_| format!("--child: `{v}`"))?);
            }
            "--run" => {
                args.run.push(PathBuf::from(value()?));
                args.run.extend(it.by_ref().map(PathBuf::from));
            }
            "--list" => {
                for t in targets::ALL {
                    println!(
                        "{:<18} {:<7} {}",
                        t.name,
                        harness::kind_name(t.kind),
                        t.about
                    );
                }
                return Ok(None);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    if args.seconds.is_none() && args.execs.is_none() {
        args.seconds = Some(60);
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mesh-fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    if !args.run.is_empty() {
        return replay(&args);
    }
    if let Some(seconds) = args.child {
        let limit = (seconds > 0.0).then(|| Duration::from_secs_f64(seconds));
        // The target runs on a thread with the main thread's stack size, as mesh's checks do.
        let worker = std::thread::Builder::new()
            .name(format!("mesh-fuzz {}", args.targets[0].name))
            .stack_size(8 << 20)
            .spawn(move || child(&args, limit));
        return match worker.map(|h| h.join()) {
            Ok(Ok(code)) => code,
            _ => ExitCode::from(2),
        };
    }
    parent(&args)
}

/// Runs each target in a child process and sums up.
fn parent(args: &Args) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(&args.crashes) {
        eprintln!("mesh-fuzz: cannot create {}: {e}", args.crashes.display());
        return ExitCode::from(2);
    }
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("mesh-fuzz: cannot find its own executable");
        return ExitCode::from(2);
    };
    let per_target = args
        .seconds
        .map_or(0.0, |s| s as f64 / args.targets.len() as f64);
    println!(
        "seed {}; crashes go to {}",
        args.seed,
        args.crashes.display()
    );
    println!(
        "{:<18} {:>10} {:>9} {:>9} {:>8} {:>10} {:>11} {:>8}",
        "target", "execs", "seconds", "exec/s", "corpus", "behaviours", "slowest ms", "crashes"
    );
    let (mut execs, mut secs, mut crashes) = (0u64, 0f64, 0u64);
    let mut details = Vec::new();
    for t in &args.targets {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["--child", &per_target.to_string(), "--target", t.name])
            .args(["--seed", &args.seed.to_string()])
            .arg("--crashes")
            .arg(&args.crashes);
        if let Some(n) = args.execs {
            cmd.args(["--execs", &n.to_string()]);
        }
        // The child's report goes to a file: read after it ends, or after it was stopped.
        let report = args.crashes.join(format!("{}.out", t.name));
        let status = match std::fs::File::create(&report)
            .and_then(|f| cmd.stdout(f).spawn())
            .and_then(|mut c| wait_or_kill(&mut c, per_target))
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("mesh-fuzz: cannot run {}: {e}", exe.display());
                return ExitCode::from(2);
            }
        };
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        let _ = std::fs::remove_file(&report);
        let mut lines = text.lines();
        if let Some(row) = lines.next() {
            println!("{row}");
        }
        let mut summed = false;
        for line in lines {
            match line.strip_prefix("RESULT ") {
                Some(r) => {
                    let f: Vec<&str> = r.split(' ').collect();
                    execs += f.first().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                    secs += f.get(1).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
                    crashes += f.get(2).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                    summed = true;
                }
                None => details.push(line.to_string()),
            }
        }
        if !summed {
            // The child died (an abort that catch_unwind cannot catch, a stack overflow) or
            // hung on one input and was stopped.
            crashes += 1;
            let in_flight = args.crashes.join(format!("in-flight-{}", t.name));
            let saved = args.crashes.join(format!("{}-abort.bin", t.name));
            let _ = std::fs::rename(&in_flight, &saved);
            let why = status.map_or_else(
                || format!("hung on one input for over {HANG_SECONDS} s and was stopped"),
                |s| s.to_string(),
            );
            println!("{:<18} aborted ({why})", t.name);
            details.push(format!(
                "\nabort in {}: {why} (the input it was running is {})",
                t.name,
                saved.display()
            ));
        }
    }
    println!(
        "total: {execs} executions in {secs:.1} s ({:.1} exec/s), {crashes} distinct crash(es)",
        execs as f64 / secs.max(1e-9)
    );
    for d in &details {
        println!("{d}");
    }
    if crashes == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs each file once through the first target named, on a thread with main's stack.
fn replay(args: &Args) -> ExitCode {
    let target: &'static Target = args.targets[0];
    let files = args.run.clone();
    let worker = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let _quiet = QuietPanics::install();
            let mut panicked = false;
            for f in &files {
                let Ok(bytes) = std::fs::read(f) else {
                    println!("{}: cannot read", f.display());
                    panicked = true;
                    continue;
                };
                match harness::execute(target, &bytes) {
                    Ok(b) => println!("{}: ok (behaviour {b:016x})", f.display()),
                    Err((place, message)) => {
                        panicked = true;
                        println!("{}: panicked at {place}: {message}", f.display());
                    }
                }
            }
            panicked
        });
    match worker.map(|h| h.join()) {
        Ok(Ok(false)) => ExitCode::SUCCESS,
        Ok(Ok(true)) => ExitCode::from(1),
        _ => ExitCode::from(2),
    }
}

/// A target's child process may overrun its time by this much (one slow input) before it is
/// counted as hung and stopped.
const HANG_SECONDS: u64 = 120;

/// Waits for a child; stops it when it overruns `seconds` (its time limit, 0 for none) by
/// [`HANG_SECONDS`]. `None`: it was stopped.
fn wait_or_kill(
    child: &mut std::process::Child,
    seconds: f64,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let deadline = (seconds > 0.0).then(|| {
        std::time::Instant::now() + Duration::from_secs_f64(seconds + HANG_SECONDS as f64)
    });
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if deadline.is_some_and(|d| std::time::Instant::now() > d) {
            child.kill()?;
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Fuzzes the one target of a child process: its table row, its crashes, then a `RESULT` line
/// for the parent.
fn child(args: &Args, limit: Option<Duration>) -> ExitCode {
    let t = args.targets[0];
    let in_flight = args.crashes.join(format!("in-flight-{}", t.name));
    let opts = Options {
        seed: args.seed,
        max_execs: args.execs,
        max_time: limit,
        crash_dir: Some(args.crashes.clone()),
        in_flight: Some(in_flight.clone()),
    };
    let o = {
        let _quiet = QuietPanics::install();
        mesh_fuzz::fuzz(t, &opts)
    };
    let _ = std::fs::remove_file(&in_flight);
    // The slowest input, to look at when the slowest execution is long.
    let _ = std::fs::write(
        args.crashes.join(format!("{}-slowest.bin", t.name)),
        &o.slowest_input,
    );
    println!(
        "{:<18} {:>10} {:>9.1} {:>9.1} {:>8} {:>10} {:>11} {:>8}",
        o.target,
        o.execs,
        o.elapsed.as_secs_f64(),
        o.execs_per_sec(),
        o.corpus,
        o.behaviours,
        o.slowest.as_millis(),
        o.crashes.len()
    );
    for c in &o.crashes {
        println!(
            "\ncrash in {} at {}: {}\n  input ({} bytes, saved as {}): {}",
            c.target,
            c.place,
            c.message,
            c.input.len(),
            c.saved_as
                .as_ref()
                .map_or_else(|| "-".into(), |p| p.display().to_string()),
            c.input_excerpt()
        );
    }
    println!(
        "RESULT {} {:.3} {}",
        o.execs,
        o.elapsed.as_secs_f64(),
        o.crashes.len()
    );
    ExitCode::SUCCESS
}
