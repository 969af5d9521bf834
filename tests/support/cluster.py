"""Helpers for tests that talk to a real Kubernetes apiserver: a deadline poller and kubectl with JSON.

Used by the e2e fixtures (`tests/e2e/conftest.py`), the integration fixtures
(`tests/integration/conftest.py`) and every test that waits for cluster state. Nothing here sleeps
for synchronisation: `Poller` checks repeatedly and fails with what it saw last. `stop_process` ends a
server a fixture started (Prometheus, the S3 server, the operator).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class PollTimeout(AssertionError):
    """The awaited state was not reached before the deadline."""


@dataclass
class Poller:
    """Calls a check until it returns something truthy or the deadline passes.

    `what` names the awaited state for the failure message, which also shows the last value (or
    exception) the check produced, so a timeout says what the cluster looked like.
    """

    timeout: float
    interval: float = 0.5
    what: str = "condition"
    retry_on: tuple[type[BaseException], ...] = (subprocess.CalledProcessError, subprocess.TimeoutExpired)

    def until(self, check: Callable[[], T | None]) -> T:
        deadline = time.monotonic() + self.timeout
        last: object = None
        while True:
            try:
                value = check()
                if value:
                    return value
                last = value
            except self.retry_on as error:
                last = _describe(error)
            if time.monotonic() >= deadline:
                raise PollTimeout(f"{self.what}: not reached within {self.timeout:.0f}s; last seen: {last!r}")
            time.sleep(self.interval)


def _describe(error: BaseException) -> str:
    if isinstance(error, subprocess.CalledProcessError):
        return f"rc {error.returncode}: {(error.stderr or error.stdout or '').strip()[-500:]}"
    return f"{type(error).__name__}: {error}"


@dataclass(frozen=True)
class Kubectl:
    """kubectl against one kubeconfig; methods return parsed JSON where that makes sense."""

    binary: Path
    kubeconfig: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        path = f"{self.binary.parent}:{os.environ.get('PATH', '')}"
        return {**os.environ, **self.extra_env, "KUBECONFIG": str(self.kubeconfig), "PATH": path}

    def run(self, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
        """Run kubectl; raise CalledProcessError (with stderr) on failure; return stdout."""
        result = subprocess.run(
            [str(self.binary), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise subprocess.CalledProcessError(result.returncode, result.args, result.stdout, result.stderr)
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json"))

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        scope = ["-n", namespace] if namespace else []
        try:
            found = self.json("get", kind, name, *scope)
        except subprocess.CalledProcessError as error:
            if "NotFound" in (error.stderr or ""):
                return None
            raise
        return dict(found)

    def existing(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The object; fails the test, naming it, when it does not exist."""
        found = self.get(kind, name, namespace)
        assert found is not None, f"{kind} {namespace or ''}/{name} does not exist"
        return found

    def apply(self, *manifests: Mapping[str, Any], namespace: str | None = None) -> str:
        """Server-side apply of the given objects."""
        scope = ["-n", namespace] if namespace else []
        document = yaml.safe_dump_all([dict(m) for m in manifests])
        return self.run("apply", "--server-side", "-f", "-", *scope, stdin=document)


def condition(obj: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    """The status condition of type `kind`, or None."""
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return None


def condition_is(obj: Mapping[str, Any] | None, kind: str, status: str, reason: str | None = None) -> bool:
    found = condition(obj or {}, kind)
    if found is None or found.get("status") != status:
        return False
    return reason is None or found.get("reason") == reason


def unique_name(prefix: str) -> str:
    """A DNS-1123 name unlikely to clash with another test's: prefix + 6 hex chars."""
    clean = "".join(c if c.isalnum() else "-" for c in prefix.lower()).strip("-")[:40].strip("-")
    return f"{clean}-{uuid.uuid4().hex[:6]}"


@contextmanager
def temporary_namespace(kubectl: Kubectl, prefix: str, timeout: float = 30) -> Iterator[str]:
    """A fresh namespace whose `default` ServiceAccount exists (pods need it); deleted afterwards."""
    name = unique_name(prefix)
    kubectl.run("create", "namespace", name)
    try:
        what = f"ServiceAccount default in namespace {name}"
        Poller(timeout, what=what).until(lambda: kubectl.get("serviceaccount", "default", name))
        yield name
    finally:
        kubectl.run("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM a server the test started, SIGKILL it when it is still there after `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
