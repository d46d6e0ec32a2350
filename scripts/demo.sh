#!/usr/bin/env bash
# The main job, for a newcomer: build mesh, validate mesh-repo-example, print its lineage.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mesh/cargo-target}"
cargo build --quiet -p mesh-cli
mesh="$CARGO_TARGET_DIR/debug/mesh"
echo "== mesh validate --repo mesh-repo-example --env local"
"$mesh" validate --repo mesh-repo-example --env local
echo
echo "== mesh graph --repo mesh-repo-example --format mermaid"
"$mesh" graph --repo mesh-repo-example --format mermaid
echo
echo "== mesh impact sales.orders --repo mesh-repo-example"
"$mesh" impact sales.orders --repo mesh-repo-example
