#!/usr/bin/env bash
# Invokes one function of the API that scripts/serve.sh is serving, with an event file,
# in any shell (it uses the cargo-lambda serve.sh installed in .venv):
#   scripts/invoke.sh memory-inference tests/events/memory-inference.json
# Extra arguments go to `cargo lambda invoke` (e.g. --invoke-port 9100).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: scripts/invoke.sh <function> <event-file> [cargo lambda invoke options]" >&2
  echo "  functions: the folders of functions/; events: tests/events/*.json" >&2
  exit 2
fi
function="$1"
event="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
shift 2
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_tools scripts/requirements/serve.txt
cargo_lambda invoke "$function" --data-file "$event" "$@"
echo
