# Shared by the scripts (sourced from the repository root). The Python tools they use
# (cargo-lambda; for CI also cfn-lint) live in .venv, a virtual environment of this
# project (git-ignored): nothing is installed into a system or user Python, so a
# distribution's externally managed python3 (PEP 668) works as well as pyenv or conda.

VENV="$PWD/.venv"

say() { printf '%s\n' "$*" >&2; }

# Creates .venv with the first python3 on PATH, once.
ensure_venv() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    return 0
  fi
  command -v python3 >/dev/null 2>&1 || {
    say "python3 is required (any 3.8 or later); install it and run this again."
    return 1
  }
  say "Setting up $VENV (a Python environment for this project's tools; nothing is installed outside it)..."
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    # Debian/Ubuntu without the python3-venv package: no ensurepip. Make the
    # environment without pip and install pip from its wheel.
    rm -rf "$VENV"
    python3 -m venv --without-pip "$VENV"
    "$VENV/bin/python" scripts/bootstrap_pip.py
  fi
}

# Installs the pinned tools of a requirements file into .venv, when they changed.
ensure_tools() {
  local requirements="$1"
  ensure_venv
  local stamp
  stamp="$VENV/.installed-$(basename "$requirements" .txt)"
  if [ -f "$stamp" ] && cmp -s "$stamp" <(cat scripts/requirements/*.txt); then
    return 0
  fi
  say "Installing $(grep -hv '^[#-]' scripts/requirements/serve.txt "$requirements" | sort -u | tr '\n' ' ')into $VENV ..."
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cat scripts/requirements/*.txt >"$stamp"
}

# The cargo-lambda of .venv (never one that happens to be on PATH).
cargo_lambda() {
  "$VENV/bin/cargo-lambda" lambda "$@"
}

# The S3-compatible server the cost planner's end-to-end test writes to: s3s-fs, a
# real S3 protocol implementation over a local folder, built into .venv/bin once.
S3S_FS_VERSION=0.14.1
ensure_s3_server() {
  if "$VENV/bin/s3s-fs" --version 2>/dev/null | grep -q " $S3S_FS_VERSION\$"; then
    return 0
  fi
  say "Building s3s-fs $S3S_FS_VERSION into $VENV/bin (the S3 server of the cost-planner test; a minute or two, once)..."
  cargo install s3s-fs --version "$S3S_FS_VERSION" --locked --features binary --root "$VENV" --quiet
}

# The browser of the web page's tests: the distribution's Chromium and its chromedriver
# (Debian: chromium, chromium-driver), installed with apt-get when missing and this runs
# as root or with password-less sudo (CI); otherwise the message says what to install.
# CHROMIUM and CHROMEDRIVER choose others (a Chrome and its driver). Nothing downloads a
# browser.
ensure_browser() {
  CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
  CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver || ls /usr/lib/chromium-browser/chromedriver 2>/dev/null || true)}"
  if [ -z "$CHROMIUM" ] || [ -z "$CHROMEDRIVER" ]; then
    local as_root=""
    if [ "$(id -u)" != 0 ]; then
      sudo -n true 2>/dev/null && as_root="sudo -n"
    fi
    if { [ "$(id -u)" = 0 ] || [ -n "$as_root" ]; } && command -v apt-get >/dev/null 2>&1; then
      say "Installing the distribution's Chromium and chromedriver for the page's browser tests (apt-get, once)..."
      $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
        || { $as_root apt-get update -qq && $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
      CHROMIUM="$(command -v chromium)"
      CHROMEDRIVER="$(command -v chromedriver)"
    else
      say "The web page's tests need Chromium and its chromedriver (Debian: sudo apt-get install chromium chromium-driver), or CHROMIUM and CHROMEDRIVER set to a Chrome and its driver."
      return 1
    fi
  fi
  export CHROMIUM CHROMEDRIVER
  AXE_JS="$("$VENV/bin/python" scripts/fetch_axe.py "$VENV")"
  export AXE_JS
}

# A free TCP port on 127.0.0.1.
free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts the stand-in Hugging Face Hub (testkit's fixture repositories on loopback; any
# other repo id is a 404) and points HF_ENDPOINT at it, so a run that names repo ids
# needs no network and never reaches huggingface.co. Sets HUB_PID: the caller stops it.
start_stand_in_hub() {
  cargo build -q -p testkit --bin stand-in-hub
  local hub_port
  hub_port=$(free_port)
  "${CARGO_TARGET_DIR:-target}/debug/stand-in-hub" "127.0.0.1:$hub_port" >/dev/null &
  HUB_PID=$!
  export HF_ENDPOINT="http://127.0.0.1:$hub_port"
}
