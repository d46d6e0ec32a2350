#!/usr/bin/env bash
# The whole test suite, from nothing: checks the toolchains, builds, and runs every test —
# including those that fetch and start a real Kafka and Schema Registry (via `mvn`, cached in
# ~/.m2 and ~/.cache/mesh after the first run).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "test.sh: '$1' is required: $2" >&2; exit 1; }; }
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing Java 17 and Maven (apt-get)" >&2
    apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null
  fi
fi
need cargo "install Rust with rustup (https://rustup.rs)"
need java "install Java 17+ (e.g. apt-get install openjdk-17-jre-headless)"
need mvn "install Maven (e.g. apt-get install maven)"
need git "install git"

# A build directory outside the clone, so repeated runs (and CI on the same machine) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mesh/cargo-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast
