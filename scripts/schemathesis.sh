#!/usr/bin/env bash
# Schema-driven fuzzing: serves the API with `cargo lambda watch` on a free port, runs
# Schemathesis against docs/openapi.yaml with every check on (settings in
# schemathesis.toml, hooks in scripts/schemathesis_hooks.py), and stops the server.
# Extra arguments go to `schemathesis run` (e.g. --seed 3).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_tools scripts/requirements/ci.txt
# The hooks module is imported from scripts/: no bytecode cache written into the tree.
export PYTHONDONTWRITEBYTECODE=1

port=$(free_port)
log=$(mktemp)
# Repo ids the registry does not hold are read from the Hub: the stand-in Hub answers.
serve_pid=""
start_stand_in_hub
# Stops only what this script started: serve.sh (which stops its cargo-lambda on TERM)
# and the stand-in Hub.
cleanup() {
  if [ -n "$serve_pid" ]; then
    kill -TERM "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  kill "$HUB_PID" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT
# --ignore-changes: the build under test stays the one served. Without it cargo-lambda
# restarts every function when any file under the tree changes (a Python bytecode
# cache, an editor's swap file) and a request in flight during the restart hangs.
./scripts/serve.sh --invoke-port "$port" --ignore-changes >"$log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 600); do
  grep -q '^Ready' "$log" && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$log"; say "serve.sh stopped"; exit 1; }
  sleep 1
done
grep -q '^Ready' "$log" || { cat "$log"; say "the API did not start"; exit 1; }

SCHEMATHESIS_HOOKS=scripts.schemathesis_hooks "$VENV/bin/schemathesis" run docs/openapi.yaml \
  --url "http://127.0.0.1:$port" --checks all --workers 1 --generation-database none \
  --no-color "$@"
