//! A mutation fuzzer on stable Rust over everything `mesh` reads that someone else may have
//! written: repo files (mesh.toml, domain.toml, product files, policy files and their CEL),
//! schema files, saved plan files, and what it reads back from a cluster (catalog records, lock
//! records, `__consumer_offsets` records, Schema Registry answers, a whole live state).
//!
//! Each [`Target`] is a function from bytes to a behaviour fingerprint that drives the real code
//! path and must not panic. The harness ([`harness::fuzz`]) mutates seeds taken from
//! `mesh-repo-example/` and `tests/bad-input/` (byte edits, splices, and structure-aware edits of
//! TOML and JSON), runs each input under `catch_unwind`, keeps inputs that show a new behaviour,
//! and shrinks every crash. A bounded, deterministic run is a test (`tests/bounded.rs`); the
//! binary runs longer (`cargo run --release -p mesh-fuzz -- --help`). See docs/fuzzing.md.
//!
//! Architecture invariant: only drives the public APIs of the other crates (no test-only hooks);
//! it knows no network, and the targets are pure apart from reading the seed files.

pub mod harness;
pub mod mutate;
pub mod rng;
pub mod targets;

pub use harness::{Crash, Options, Outcome, QuietPanics, fuzz};
pub use mutate::Kind;

/// One kind of input and the code path that reads it.
pub struct Target {
    pub name: &'static str,
    /// One line on what it drives.
    pub about: &'static str,
    /// How its inputs are mutated.
    pub kind: Kind,
    /// The starting inputs.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Runs one input; returns a fingerprint of what happened (not of the input).
    pub run: fn(&[u8]) -> u64,
}

/// FNV-1a: a small, stable hash (seeding per target, choices derived from an input).
pub fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
