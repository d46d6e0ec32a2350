#!/usr/bin/env bash
# What building and running mesh needs on a fresh machine, installed with apt-get when run as
# root on Debian/Ubuntu, else named: Java 17+ and Maven (the sandbox's Kafka and Schema Registry),
# and for the Kafka client built into mesh (librdkafka with TLS and OIDC): cmake, pkg-config and
# the system's OpenSSL headers. The system OpenSSL, rather than a vendored copy, so mesh trusts the
# system's CA roots and gets its security updates from the distribution. For the tests only
# (scripts/test.sh sets MESH_SETUP_FOR_TESTS): a JDK (they build a small Kafka Streams
# application, crates/mesh-cli/tests/apps), Python 3 with venv and Node.js with npm (the export
# tests' validators, installed pinned by those tests from PyPI and npm) and Chromium (Debian's
# `chromium`, for the catalog site's browser test).
# Sourced by scripts/test.sh and scripts/demo.sh.

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: '$1' is required: $2" >&2; exit 1; }; }

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
{ command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openssl; } || missing+=(libssl-dev)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ -n "${MESH_SETUP_FOR_TESTS:-}" ]; then
  command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  { command -v python3 >/dev/null 2>&1 && python3 -c 'import ensurepip, venv' 2>/dev/null; } || missing+=(python3-venv)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing ${missing[*]} (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
need cargo "install Rust with rustup (https://rustup.rs)"
need java "install Java 17+ (e.g. apt-get install openjdk-17-jre-headless)"
need mvn "install Maven (e.g. apt-get install maven)"
need cmake "install cmake (e.g. apt-get install cmake)"
need pkg-config "install pkg-config (e.g. apt-get install pkg-config)"
need git "install git"
need curl "install curl"
if [ -n "${MESH_SETUP_FOR_TESTS:-}" ]; then
  need javac "install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)"
  need python3 "install Python 3 with venv (e.g. apt-get install python3 python3-venv)"
  python3 -c 'import ensurepip, venv' 2>/dev/null || { echo "setup: Python's venv with pip is required: install python3-venv" >&2; exit 1; }
  need node "install Node.js (e.g. apt-get install nodejs)"
  need npm "install npm (e.g. apt-get install npm)"
  need chromium "install Chromium (e.g. apt-get install chromium)"
fi
pkg-config --exists openssl || { echo "setup: the OpenSSL headers are required: install libssl-dev (Debian) or openssl-devel" >&2; exit 1; }

# A build directory outside the clone, so repeated runs (and CI on the same machine) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mesh/cargo-target}"
