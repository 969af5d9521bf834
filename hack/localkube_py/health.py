"""Waiting for components to become healthy, with a deadline and the failing component's log tail.

Used by `cluster.up` and the integration fixture; every wait polls (no fixed sleeps) and fails with
a message naming the component, the check and the last lines of its log.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


class StartError(RuntimeError):
    """A component did not become healthy in time; the message carries its log tail."""


def log_tail(log: Path, lines: int = 40) -> str:
    try:
        content = log.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no log at {log})"
    return "\n".join(content[-lines:])


def wait_until(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    """Poll `check` every 0.2 s until it is true; raise StartError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    if check():
        return
    detail = f"\n--- last lines of {log} ---\n{log_tail(log)}" if log else ""
    raise StartError(f"{what} not healthy after {timeout:.0f}s{detail}")


def tls_context(pki: Path | None, identity: str | None = None) -> ssl.SSLContext:
    """Verify against the cluster CA (when given) and present `identity`'s client certificate."""
    if pki is None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if identity:
        context.load_cert_chain(str(pki / f"{identity}.crt"), str(pki / f"{identity}.key"))
    return context


def get(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET `url`; (status, body), or (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, ssl.SSLError):
        return 0, b""


def port_in_use(port: int) -> bool:
    """Something accepts TCP connections on 127.0.0.1:`port`."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    return get(url, context)[0] == 200


def node_ready(server: str, pki: Path, node: str) -> bool:
    """The node exists and its Ready condition is True."""
    status, body = get(f"{server}/api/v1/nodes/{node}", tls_context(pki, "admin"))
    if status != 200:
        return False
    conditions = (json.loads(body).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
