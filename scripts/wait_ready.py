"""Waits until a URL answers 200, or the watched process exits: exit status 0 when the
URL answered, 1 otherwise. Used by serve.sh (python3 is there in every setup; curl is
not on every minimal distribution)."""

import os
import sys
import time
import urllib.request

url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.5)
sys.exit(1)
