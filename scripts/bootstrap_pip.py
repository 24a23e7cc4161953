"""Installs pip into the running Python (a fresh virtual environment made with
--without-pip) from pip's own wheel on PyPI, checked against the SHA-256 the index
publishes.

Debian's and Ubuntu's python3 ship without ensurepip unless the python3-venv package
is installed, so `python3 -m venv` cannot put pip into a new environment there; pip
runs from its wheel instead, which needs only the standard library.
"""

import hashlib
import json
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

PIP_WHEEL = "pip-26.3-py3-none-any.whl"
INDEX = "https://pypi.org/simple/pip/"


def main() -> None:
    # The index's JSON form (PEP 691) lists every file with its address and hash.
    request = urllib.request.Request(
        INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    wheel = next(f for f in files if f["filename"] == PIP_WHEEL)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / PIP_WHEEL
        with urllib.request.urlopen(urllib.parse.urljoin(INDEX, wheel["url"]), timeout=120) as r:
            path.write_bytes(r.read())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != wheel["hashes"]["sha256"]:
            sys.exit(f"{PIP_WHEEL}: checksum {digest} does not match the index")
        # A wheel is a zip that Python can run: pip installs itself from it.
        subprocess.run(
            [sys.executable, str(path / "pip"), "install", "--quiet", str(path)],
            check=True,
        )


if __name__ == "__main__":
    main()
