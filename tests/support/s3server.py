"""A real S3-compatible server for the tests: versitygw (posix backend) as a child process.

`hack/build-binaries versitygw` (part of `hack/localkube build`) builds it from the Go module proxy into
~/.cache/modelops/bin/versitygw-<version>/. The integration tier runs it on loopback; the e2e tier binds
it to the node's address so pods reach it. Buckets are directories under the server's root; the access
log (one line per request) proves whether a download happened.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localkube_py.settings import read_versions
from support.cluster import stop_process

REGION = "us-east-1"


def versitygw_binary() -> Path:
    """The pinned versitygw binary; AssertionError saying how to build it when it is missing."""
    version = read_versions()["VERSITYGW_VERSION"]
    cache = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))
    binary = cache / "bin" / f"versitygw-{version}" / "versitygw"
    if not binary.is_file():
        raise AssertionError(
            f"{binary} is missing: run `hack/localkube build` (or hack/build-binaries versitygw)"
        )
    return binary


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class S3Server:
    """How to reach a running server: endpoint, root credentials, and its on-disk root and access log."""

    endpoint: str
    access_key: str
    secret_key: str
    root: Path
    access_log: Path

    def env(self, **overrides: str) -> dict[str, str]:
        """The variables a storage Secret holds (what `fetch` and `modelctl push` read)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": REGION, **overrides,
        }  # fmt: skip

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, config=Config(s3={"addressing_style": "path"}),
        )  # fmt: skip

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def requests(self, action: str, key: str) -> int:
        """How many `action` requests (e.g. s3_GetObject) for object `key` the access log records."""
        if not self.access_log.exists():
            return 0
        return sum(1 for line in self.access_log.read_text().splitlines() if f" {action} {key} " in line)

    def wait_logged(self, action: str, key: str, count: int = 1, timeout: float = 10) -> None:
        """Poll until the access log shows `count` `action`s on `key` (lines are written after the answer)."""
        deadline = time.monotonic() + timeout
        while self.requests(action, key) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"fewer than {count} {action} {key} in {self.access_log} after {timeout}s"
                )
            time.sleep(0.05)  # polling interval until the deadline


def _wait_listening(host: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"versitygw exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)  # polling interval until the deadline
    raise AssertionError(f"versitygw did not listen on {host}:{port} within 30s: {log.read_text()[-2000:]}")


@contextmanager
def running_s3_server(workdir: Path, host: str = "127.0.0.1") -> Iterator[S3Server]:
    """versitygw serving `workdir/data` on host:<free port> for the duration of the block."""
    # Metadata in sidecar files, not xattrs: works on any filesystem (tmpfs, overlay) the tests run on.
    data, meta, log = workdir / "data", workdir / "meta", workdir / "versitygw.log"
    data.mkdir(parents=True, exist_ok=True)
    meta.mkdir(parents=True, exist_ok=True)
    port = free_port(host)
    access, secret = "modelops-" + secrets.token_hex(4), secrets.token_urlsafe(24)
    server = S3Server(f"http://{host}:{port}", access, secret, data, workdir / "access.log")
    env = {**os.environ, "ROOT_ACCESS_KEY": access, "ROOT_SECRET_KEY": secret}
    argv = [
        str(versitygw_binary()), "--port", f"{host}:{port}", "--region", REGION,
        "--access-log", str(server.access_log), "posix", "--sidecar", str(meta), str(data),
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_listening(host, port, process, log)
        yield server
    finally:
        stop_process(process, timeout=10)
