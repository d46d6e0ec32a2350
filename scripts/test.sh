#!/usr/bin/env bash
# The whole test suite, from nothing: checks the toolchains, builds, and runs every test —
# including those that fetch and start a real Kafka and Schema Registry (via `mvn`, cached in
# ~/.m2 and ~/.cache/mesh after the first run).
set -euo pipefail
cd "$(dirname "$0")/.."

MESH_SETUP_FOR_TESTS=1 source scripts/setup.sh
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast
