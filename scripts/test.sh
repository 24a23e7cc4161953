#!/usr/bin/env bash
# Runs every test: calculator unit and accuracy tests, handler tests on the event
# fixtures, template/router parity, and the end-to-end walk over `cargo lambda watch`
# (cargo-lambda is installed first if it is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_cargo_lambda
# Build the function binaries up front so the end-to-end test does not wait for them.
cargo build --workspace --bins
cargo test --workspace "$@"
