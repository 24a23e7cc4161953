#!/usr/bin/env python3
"""Start-up of a function binary against a local Lambda Runtime API.

A small emulator of the Runtime API (the 2018-06-01 interface Lambda serves to a
function's bootstrap) on loopback hands one event to a freshly spawned binary and
records, from the spawn: the binary's first `GET .../invocation/next` (its
initialisation done) and its response for the event. Repeated, the median of each is
printed. Lambda adds its sandbox and download time to these.

    python3 scripts/startup.py target/release/health tests/events/health.json [runs]
"""

import json
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Emulator:
    """One event for one start: its `next`, and the response."""

    def __init__(self, event: bytes):
        self.event = event
        self.served = False
        self.first_next = None
        self.answered = None
        self.done = threading.Event()

    def handler(self):
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    self.send_error(404)
                    return
                if emulator.first_next is None:
                    emulator.first_next = time.perf_counter()
                if emulator.served:
                    # The function waits for its next event: the run is over, and the
                    # process is stopped while it waits (no answer is written).
                    emulator.done.wait(10)
                    self.close_connection = True
                    return
                emulator.served = True
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", "startup-1")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:startup")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(emulator.event)))
                self.end_headers()
                self.wfile.write(emulator.event)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                if emulator.answered is None:
                    emulator.answered = time.perf_counter()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                emulator.done.set()

        return Handler


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A stopped function's connection ends mid-request; that is expected.
        pass


def one_start(binary: str, event: bytes):
    emulator = Emulator(event)
    server = QuietServer(("127.0.0.1", 0), emulator.handler())
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "startup",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_LOG_LEVEL": "ERROR",
        "PATH": "/usr/bin:/bin",
    }
    start = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    emulator.done.wait(30)
    process.kill()
    process.wait()
    server.shutdown()
    server.server_close()
    if emulator.first_next is None or emulator.answered is None:
        raise SystemExit(f"{binary} did not answer the event")
    return (emulator.first_next - start) * 1000, (emulator.answered - start) * 1000


def main():
    binary, event_path = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    with open(event_path, "rb") as f:
        event = f.read()
    json.loads(event)
    starts = [one_start(binary, event) for _ in range(runs)]
    first = statistics.median(s[0] for s in starts)
    answer = statistics.median(s[1] for s in starts)
    print(f"{binary}: median of {runs} starts: first next {first:.1f} ms, first answer {answer:.1f} ms")


if __name__ == "__main__":
    main()
