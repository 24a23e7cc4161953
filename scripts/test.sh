#!/usr/bin/env bash
# Runs every test: calculator unit, accounting and accuracy tests, handler tests on the
# event fixtures, the README contract, template/router parity, the fuzz test, the
# end-to-end walk over `cargo lambda watch`, the cost planner against a local S3 server
# and the quick-start check. cargo-lambda and s3s-fs come from the project's .venv (set
# up here on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_tools scripts/requirements/test.txt
ensure_s3_server
# The end-to-end test starts .venv's cargo-lambda; build the binaries it runs first.
export PATH="$VENV/bin:$PATH"
cargo build --workspace --bins
cargo test --workspace "$@"
# The calculator's property tests once more in release (no overflow checks: the
# results themselves must hold).
cargo test --release -p calculator --test robustness --test robustness_limits "$@"
# The serving model against every published run, and the check that the embedded
# factors are the calibration fit (release: it simulates every calibration row ~50 times).
cargo test --release -p planner --test serving "$@"
# The web page in a real browser (headless Chromium against the local API).
./scripts/browser_test.sh
