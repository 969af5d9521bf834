"""The real `modelops-server` console script on free loopback ports (REST and gRPC), for client tests.

Used by `tests/unit/server/conftest.py`'s `server` fixture, which the tritonclient and schemathesis tests
share: they talk to the process over real sockets exactly as a user's client would.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from support.serving import MODEL_TYPE

SERVER = Path(sys.executable).parent / "modelops-server"
DEADLINE_S = 60.0
MAX_BODY = 64 * 1024  # the limit the shared test server runs with


@dataclass(frozen=True)
class ServerProcess:
    """Where the server listens: `http` and `grpc` are host:port."""

    http: str
    grpc: str

    @property
    def base(self) -> str:
        return f"http://{self.http}"


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(server: ServerProcess, process: subprocess.Popen[bytes]) -> None:
    deadline, last = time.monotonic() + DEADLINE_S, "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode} before it was ready")
        try:
            answer = httpx.get(f"{server.base}/v2/health/ready", timeout=2)
            if answer.status_code == 200:
                return
            last = answer.text
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.1)  # poll interval, bounded by the deadline
    raise AssertionError(f"server not ready within {DEADLINE_S}s: {last}")


@contextmanager
def server_process(models_dir: Path, *args: str, model_type: str = MODEL_TYPE) -> Iterator[ServerProcess]:
    """Start the server with gRPC on, wait until ready, and stop it (SIGTERM) afterwards."""
    http_port, grpc_port = free_port(), free_port()
    command = [str(SERVER), "serve", "--host", "127.0.0.1", "--port", str(http_port), "--grpc-port",
               str(grpc_port), "--models-dir", str(models_dir), "--model-type", model_type,
               "--max-body-bytes", str(MAX_BODY), *args]  # fmt: skip
    process = subprocess.Popen(command, env=dict(os.environ), stderr=subprocess.DEVNULL)
    running = ServerProcess(f"127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}")
    try:
        _wait_ready(running, process)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def metric(server: ServerProcess, name: str) -> float:
    """The value of an unlabelled (or fully spelled-out) sample on the server's /metrics, 0 when absent."""
    text = httpx.get(server.base + "/metrics", timeout=10).text
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def poll(server: ServerProcess, name: str, wanted: float, deadline_s: float = 20.0) -> None:
    """Wait until the sample `name` equals `wanted` (a clear failure after `deadline_s`)."""
    deadline, value = time.monotonic() + deadline_s, None
    while time.monotonic() < deadline:
        value = metric(server, name)
        if value == wanted:
            return
        time.sleep(0.05)  # poll interval, bounded by the deadline
    raise AssertionError(f"{name} is {value}, not {wanted}, after {deadline_s}s")
