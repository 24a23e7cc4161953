"""Invokes every event fixture through `sam local invoke` (after `sam build`) and
checks each answer's status against tests/expected-status.json. Run by sam-invoke.sh."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def resources_by_binary() -> dict:
    """Logical id of the function resource that builds each binary (template.yaml)."""
    resources, current = {}, None
    for line in (ROOT / "template.yaml").read_text().splitlines():
        header = re.match(r"^  (\w+):\s*$", line)
        if header:
            current = header.group(1)
        binary = re.match(r"^\s+Binary: (\S+)", line)
        if binary and current:
            resources[binary.group(1)] = current
    return resources


def function_for(event: dict, routes: dict) -> str:
    return routes.get(event.get("routeKey", ""), "not-found")


def main() -> int:
    expected = json.loads((ROOT / "tests/expected-status.json").read_text())
    routes = expected["routes"]
    resources = resources_by_binary()
    failures = 0
    for name, status in sorted(expected["fixtures"].items()):
        path = ROOT / "tests/events" / f"{name}.json"
        event = json.loads(path.read_text())
        resource = resources[function_for(event, routes)]
        run = subprocess.run(
            ["sam", "local", "invoke", resource, "-e", str(path)],
            capture_output=True, text=True, cwd=ROOT,
        )
        answer = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "{}"
        got = json.loads(answer).get("statusCode")
        ok = got == status
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {got} (expected {status})")
    print(f"{len(expected['fixtures']) - failures} of {len(expected['fixtures'])} fixtures as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
