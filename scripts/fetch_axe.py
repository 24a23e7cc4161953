"""Fetches axe-core (the accessibility rules the browser test runs in the page) from the
npm registry into .venv, once, and checks the tarball against the integrity hash the
registry published for that version (pinned here), so no unverified script runs in the
test's browser. Prints the path of axe.min.js. Needs no node or npm."""

import base64
import hashlib
import io
import pathlib
import sys
import tarfile
import urllib.request

VERSION = "4.14.1"
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
URL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"

target = pathlib.Path(sys.argv[1]) / f"axe-core-{VERSION}" / "axe.min.js"
if not target.exists():
    with urllib.request.urlopen(URL, timeout=120) as response:
        tarball = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if digest != INTEGRITY:
        sys.exit(f"axe-core {VERSION}: the download's hash {digest} is not the published {INTEGRITY}")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        script = archive.extractfile("package/axe.min.js").read()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(script)
print(target)
