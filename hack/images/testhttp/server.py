"""A tiny HTTP server for localkube's e2e tests (image `localhost/modelops-testhttp:dev`).

GET /healthz answers "ok" (the readiness probe); any other GET answers "hello from <hostname>", so a
test can tell which pod served it. `--port` (default 8080) picks the port. `--fetch URL` is the client
side: one GET with a 3 s timeout, body to stdout, exit 1 on any failure (tests retry it).
"""

from __future__ import annotations

import argparse
import socket
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    """Answers /healthz and / in plain text."""

    def do_GET(self) -> None:
        body = b"ok\n" if self.path == "/healthz" else f"hello from {socket.gethostname()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def fetch(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            sys.stdout.write(response.read().decode())
    except OSError as error:
        print(f"GET {url} failed: {error}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--fetch", metavar="URL")
    options = parser.parse_args()
    if options.fetch:
        return fetch(options.fetch)
    ThreadingHTTPServer(("0.0.0.0", options.port), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
