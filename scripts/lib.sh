# Shared by the scripts: make sure cargo-lambda is installed and on PATH.
ensure_cargo_lambda() {
  local scripts
  scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)"
  if [ -n "$scripts" ]; then
    export PATH="$PATH:$scripts"
  fi
  if ! command -v cargo-lambda >/dev/null 2>&1; then
    echo "cargo-lambda not found: installing it from PyPI (python3 -m pip install cargo-lambda)" >&2
    python3 -m pip install --quiet cargo-lambda
  fi
  command -v cargo-lambda >/dev/null 2>&1 || {
    echo "cargo-lambda is still not on PATH; see https://www.cargo-lambda.info/guide/installation.html" >&2
    return 1
  }
}
