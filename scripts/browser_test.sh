#!/usr/bin/env bash
# The web page's tests in a real browser (tests/browser/page_test.py): starts the whole
# API with `cargo lambda watch` on a free port, runs the tests against it in the
# distribution's headless Chromium, and stops it. The screenshots land in
# docs/screenshots/. Run by scripts/test.sh; needs the functions built (cargo build
# --workspace --bins), which test.sh does first.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_tools scripts/requirements/test.txt
ensure_browser

port="$(free_port)"
log="$(mktemp -t page-test-watch.XXXXXX.log)"
# A Hub model typed on the page is read from the stand-in Hub.
start_stand_in_hub
"$VENV/bin/cargo-lambda" lambda watch --invoke-port "$port" >"$log" 2>&1 &
watch_pid=$!
# Stop only the processes this script started; cargo-lambda stops the functions it ran.
trap 'kill -TERM "$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true; kill "$HUB_PID" 2>/dev/null || true' EXIT

say "Browser tests of the web page against the API on port $port (log: $log)..."
if ! "$VENV/bin/python" scripts/wait_ready.py "http://127.0.0.1:$port/health" "$watch_pid"; then
  say "The API did not start; its log:"
  cat "$log" >&2
  exit 1
fi
PAGE_URL="http://127.0.0.1:$port" SE_OFFLINE=true "$VENV/bin/python" tests/browser/page_test.py
