//! The bounded fuzzing run of the test suite: every target, a fixed seed and a fixed number of
//! executions (so the run is the same on every machine), the seeds themselves first. It fails
//! with each crashing input shown. The counts keep the whole run near 20 s in a debug build on
//! an idle machine (a whole check of the example repo costs ~15 ms there, a lock record well
//! under 1 ms). The long run is `cargo run --release -p mesh-fuzz` (docs/fuzzing.md).

use mesh_fuzz::{Options, QuietPanics, targets};

const SEED: u64 = 0x6d65_7368; // "mesh"

/// Executions per target, by the cost of one execution in a debug build.
fn execs(target: &str) -> u64 {
    match target {
        "mesh-toml" | "domain-toml" | "product-toml" | "policy-toml" | "cel" => 60,
        "registry-schema" => 60,
        "catalog-record" | "consumer-offsets" | "live-state" => 120,
        "registry-answer" | "connect-answer" => 150,
        "saved-plan" => 300,
        "avro" | "json-schema" | "protobuf" => 800,
        _ => 3000,
    }
}

#[test]
fn no_input_crashes_mesh() {
    // A thread with the main thread's stack, as mesh's checks run on.
    let run = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let _quiet = QuietPanics::install();
            let mut report = Vec::new();
            let mut crashes = Vec::new();
            for t in targets::ALL {
                let opts = Options {
                    seed: SEED,
                    max_execs: Some(execs(t.name)),
                    max_time: None,
                    crash_dir: None,
                    in_flight: None,
                };
                let o = mesh_fuzz::fuzz(t, &opts);
                report.push(format!(
                    "{}: {} execs in {:.1} s, {} behaviours",
                    o.target,
                    o.execs,
                    o.elapsed.as_secs_f64(),
                    o.behaviours
                ));
                crashes.extend(o.crashes);
            }
            (report, crashes)
        })
        .expect("a thread");
    let (report, crashes) = run.join().expect("the fuzzing thread");
    eprintln!("{}", report.join("\n"));
    let shown: Vec<String> = crashes
        .iter()
        .map(|c| {
            format!(
                "{} panicked at {}: {}\n    input: {}",
                c.target,
                c.place,
                c.message,
                c.input_excerpt()
            )
        })
        .collect();
    assert!(
        crashes.is_empty(),
        "{} crash(es); make each a fixture (docs/fuzzing.md) and fix it:\n  - {}",
        crashes.len(),
        shown.join("\n  - ")
    );
}
