#!/usr/bin/env bash
# Starts the whole API locally at http://localhost:9000 with `cargo lambda watch`
# (same routes as template.yaml), installing cargo-lambda first if it is missing.
# Extra arguments go to `cargo lambda watch` (e.g. --invoke-port 9100).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_cargo_lambda
exec cargo lambda watch "$@"
