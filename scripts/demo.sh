#!/usr/bin/env bash
# The main job, for a newcomer: build mesh, start the local sandbox (a real Apache Kafka and a
# Schema Registry, fetched with Maven on first use), then validate, plan and apply
# mesh-repo-example against it, and write its catalog site (with live facts from the sandbox).
# Run it twice: the second plan shows no changes.
# `mesh dev down` stops the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --quiet -p mesh-cli
mesh="$CARGO_TARGET_DIR/debug/mesh"
repo=mesh-repo-example
step() { echo; echo "== $*"; }

# The example's sink connector logs in as its own principal; the sandbox gets that user, and
# mesh reads the connector's login line from the environment (never from the repo).
loader_pw=warehouse-loader-secret
export MESH_WAREHOUSE_LOADER_JAAS="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"finance-warehouse-loader\" password=\"$loader_pw\";"
step "mesh dev up --connect --user finance-warehouse-loader:…"
"$mesh" dev up --connect --user "finance-warehouse-loader:$loader_pw"
step "mesh validate --repo $repo --env local"
"$mesh" validate --repo "$repo" --env local
step "mesh plan --repo $repo --env local"
"$mesh" plan --repo "$repo" --env local
step "mesh apply --repo $repo --env local --auto-approve"
"$mesh" apply --repo "$repo" --env local --auto-approve
step "mesh plan --repo $repo --env local --detailed-exitcode   (nothing left to do)"
"$mesh" plan --repo "$repo" --env local --detailed-exitcode
step "mesh drift --repo $repo --env local-tls   (the same cluster read over SASL_SSL + SCRAM, registry over HTTPS)"
"$mesh" drift --repo "$repo" --env local-tls
step "mesh impact sales.orders --repo $repo"
"$mesh" impact sales.orders --repo "$repo"
step "mesh drift --repo $repo --env local   (nothing changed outside mesh)"
"$mesh" drift --repo "$repo" --env local
catalog=target/mesh-catalog
step "mesh catalog --repo $repo --env local --out $catalog"
"$mesh" catalog --repo "$repo" --env local --out "$catalog"
echo "The catalog site is in $catalog: open file://$PWD/$catalog/index.html in a browser."
