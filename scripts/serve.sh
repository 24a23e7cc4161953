#!/usr/bin/env bash
# Serves the whole API at http://localhost:9000 with `cargo lambda watch`, the same
# routes as template.yaml. The first run sets up .venv with cargo-lambda and builds the
# functions (a few minutes, with cargo's progress); every run says when the API answers,
# and the script holds its terminal until Ctrl-C stops it.
# Extra arguments go to `cargo lambda watch` (e.g. --invoke-port 9100).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_tools scripts/requirements/serve.txt

port=9000
args=("$@")
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    --invoke-port=* ) port="${args[$i]#*=}" ;;
    --invoke-port | -P ) port="${args[$((i + 1))]:-$port}" ;;
  esac
done

say "Building the functions (cargo build: about 7 minutes the first time on 2 cores, seconds after; its progress follows)..."
cargo build --workspace --bins

"$VENV/bin/cargo-lambda" lambda watch "$@" &
watch_pid=$!
# Stop only the process this script started; cargo-lambda stops the functions it ran.
trap 'kill -TERM "$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true' INT TERM EXIT

if "$VENV/bin/python" scripts/wait_ready.py "http://127.0.0.1:$port/health" "$watch_pid"; then
  say ""
  say "Ready: the API answers at http://localhost:$port (Ctrl-C stops it). Try:"
  say "  curl localhost:$port/api/models/Qwen3-8B"
  say "or open http://localhost:$port/ in a browser for the web page."
  say "This terminal stays with the server: use another one for requests."
  say ""
else
  say "The API did not answer at http://127.0.0.1:$port/health; see the log above."
  exit 1
fi
wait "$watch_pid"
