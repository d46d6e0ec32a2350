//! Drives the sandbox by hand until `mesh dev` is wired up:
//! `cargo run -p mesh-sandbox --example sandbox -- up|down|status|fetch [DIR]`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_else(|| "status".to_owned());
    let dir = args.next().map(PathBuf::from);
    let cfg = match mesh_sandbox::SandboxConfig::from_env(dir) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command.as_str() {
        "up" => mesh_sandbox::up(&cfg, &mut |m| eprintln!("{m}")).map(|s| println!("{s}")),
        "down" => mesh_sandbox::down(&cfg).map(|stopped| {
            for s in stopped {
                println!("stopped {} (pid {})", s.component, s.pid);
            }
        }),
        "fetch" => mesh_sandbox::prefetch(&cfg, &mut |m| eprintln!("{m}")),
        "status" => {
            println!("{}", mesh_sandbox::status(&cfg));
            Ok(())
        }
        other => {
            eprintln!("unknown command {other:?}: use up, down, status or fetch");
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
