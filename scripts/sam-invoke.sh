#!/usr/bin/env bash
# For users with Docker: builds the functions with `sam build` and invokes every event
# fixture of tests/events through `sam local invoke`, checking each answer's status as
# the fixture tests do (tests/expected-status.json, written from the same table).
# Needs Docker and the AWS SAM CLI; without Docker it says so and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  say "sam local invoke runs each function in a Docker container, and no Docker engine answers here."
  say "Install and start Docker, or invoke the functions without it: scripts/serve.sh, then scripts/invoke.sh <function> <event>."
  exit 1
fi
command -v sam >/dev/null 2>&1 || {
  say "The AWS SAM CLI is not on PATH: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html"
  exit 1
}
ensure_tools scripts/requirements/serve.txt
export PATH="$VENV/bin:$PATH" # sam's rust-cargolambda builder runs `cargo lambda build`

sam build --beta-features
"$VENV/bin/python" scripts/sam_invoke.py
