"""Fetches axe-core (the accessibility rules the browser test runs in the page) from the
npm registry into .venv, once, and checks the tarball against the integrity hash the
registry published for that version (pinned here) on every run, so no unverified or
truncated script runs in the test's browser. Prints the path of axe.min.js. Needs no
node or npm."""

import base64
import hashlib
import io
import os
import pathlib
import sys
import tarfile
import tempfile
import urllib.request

VERSION = "4.14.1"
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
URL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def write_atomically(path: pathlib.Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)


folder = pathlib.Path(sys.argv[1]) / f"axe-core-{VERSION}"
tarball_path = folder / "axe-core.tgz"
script_path = folder / "axe.min.js"
tarball = tarball_path.read_bytes() if tarball_path.exists() else b""
if integrity(tarball) != INTEGRITY:
    with urllib.request.urlopen(URL, timeout=120) as response:
        tarball = response.read()
    if integrity(tarball) != INTEGRITY:
        sys.exit(f"axe-core {VERSION}: the download's hash {integrity(tarball)} is not the published {INTEGRITY}")
    write_atomically(tarball_path, tarball)
with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
    script = archive.extractfile("package/axe.min.js").read()
if not script_path.exists() or script_path.read_bytes() != script:
    write_atomically(script_path, script)
print(script_path)
