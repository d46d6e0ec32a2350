//! `mesh-fuzz`: runs the fuzz targets for a time or a number of executions and prints the
//! executions, executions per second and crashes of each. Crashing inputs are written to the
//! crash folder (`target/mesh-fuzz/crashes` unless `--crashes DIR`).
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
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        targets: targets::ALL.iter().collect(),
        seconds: None,
        execs: None,
        seed: 1,
        crashes: PathBuf::from("target/mesh-fuzz/crashes"),
        run: Vec::new(),
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
    let per_target = args
        .seconds
        .map(|s| Duration::from_secs_f64(s as f64 / args.targets.len() as f64));
    // The targets run on a thread with the main thread's stack size, as mesh's checks do.
    let worker = std::thread::Builder::new()
        .name("mesh-fuzz".into())
        .stack_size(8 << 20)
        .spawn(move || run(&args, per_target));
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!("mesh-fuzz: the fuzzing thread failed");
            ExitCode::from(2)
        }
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

fn run(args: &Args, per_target: Option<Duration>) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(&args.crashes) {
        eprintln!("mesh-fuzz: cannot create {}: {e}", args.crashes.display());
        return ExitCode::from(2);
    }
    println!(
        "seed {}; crashes go to {}; an abort (stack overflow) leaves its input in {}/in-flight-<target>",
        args.seed,
        args.crashes.display(),
        args.crashes.display()
    );
    println!(
        "{:<18} {:>10} {:>9} {:>9} {:>8} {:>10} {:>11} {:>8}",
        "target", "execs", "seconds", "exec/s", "corpus", "behaviours", "slowest ms", "crashes"
    );
    let _quiet = QuietPanics::install();
    let mut all = Vec::new();
    let (mut execs, mut secs) = (0u64, 0f64);
    for t in &args.targets {
        let opts = Options {
            seed: args.seed,
            max_execs: args.execs,
            max_time: per_target,
            crash_dir: Some(args.crashes.clone()),
            in_flight: Some(args.crashes.join(format!("in-flight-{}", t.name))),
        };
        let o = mesh_fuzz::fuzz(t, &opts);
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
        let _ = std::fs::remove_file(args.crashes.join(format!("in-flight-{}", t.name)));
        execs += o.execs;
        secs += o.elapsed.as_secs_f64();
        all.extend(o.crashes);
    }
    println!(
        "total: {execs} executions in {secs:.1} s ({:.1} exec/s), {} distinct crash(es)",
        execs as f64 / secs.max(1e-9),
        all.len()
    );
    for c in &all {
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
    if all.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
