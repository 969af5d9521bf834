"""Helpers for the operator's e2e tests: the operator as a subprocess, model dirs on the node, HTTP
through Services with retries, and Event/status polling.

`tests/e2e/test_operator.py` (and the analysis e2e) use them. Every request to a Service or pod IP
retries until a deadline: kube-proxy programs a new Service asynchronously, so a single early request
can get "connection refused" even though everything is fine.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from support.cluster import Kubectl, Poller, stop_process
from support.models import make_model_dir
from support.s3server import S3Server

MODELS_ROOT = Path("/var/tmp/modelops-e2e")
REPO_ROOT = Path(__file__).resolve().parents[2]
# The platform policy of the e2e operators: the test model dirs, the project's local images, and
# plain-HTTP packages from in-cluster test servers.
E2E_POLICY = {
    "hostPaths": [str(MODELS_ROOT), str(REPO_ROOT / ".state")],
    "images": ["localhost/"],
    "packageSchemes": ["https", "http", "s3"],
}


def operator_binary() -> Path:
    """The console script of the venv running the tests."""
    return Path(sys.executable).parent / "modelops-operator"


@dataclass
class OperatorProcess:
    """`modelops-operator --namespace NS` as a child process, restartable and killable (SIGKILL)."""

    kubeconfig: Path
    namespace: str
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    args: tuple[str, ...] = ()  # more command-line arguments (`--liveness=...`)

    def start(self) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MODELOPS_OPERATOR_")}
        environ.update(
            {
                "MODELOPS_OPERATOR_REQUEUE_SECONDS": "1",
                "MODELOPS_OPERATOR_METRICS_PORT": "0",
                "MODELOPS_OPERATOR_POLICY": json.dumps(E2E_POLICY),
                **self.env,
            }
        )
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(operator_binary()),
                    "--namespace",
                    self.namespace,
                    "--kubeconfig",
                    str(self.kubeconfig),
                    *self.args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environ,
                cwd=REPO_ROOT,
            )

    def kill(self) -> None:
        """SIGKILL, as a crash or a node loss would: no clean-up runs."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process:
            stop_process(self.process, timeout=20)

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def running_operator(
    kubeconfig: Path,
    namespace: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[OperatorProcess]:
    """The operator watching `namespace` for the duration of the block."""
    operator = OperatorProcess(kubeconfig, namespace, log_dir / "operator.log", dict(env or {}), args=args)
    operator.start()
    try:
        yield operator
    finally:
        operator.stop()


def model_root(namespace: str) -> Path:
    """A host dir for this test's models; pods read it through hostPath (the node is this machine)."""
    root = MODELS_ROOT / namespace
    root.mkdir(parents=True, exist_ok=True)
    return root


def readable_by_all(root: Path) -> None:
    """The server runs as a non-root user: it must traverse the dirs and read the files."""
    for path in [*root.parents, root, *root.rglob("*")]:
        if path.is_symlink() or str(path) in {"/", "/var", "/var/tmp"}:
            continue
        path.chmod(0o755 if path.is_dir() else 0o644)


def digest_of(model_dir: Path) -> str:
    """The artifact digest: sha256 of manifest.json's bytes."""
    return hashlib.sha256((model_dir / "manifest.json").read_bytes()).hexdigest()


def model_versions(root: Path, model: str, versions: list[str]) -> dict[str, Path]:
    """Real model dirs for `versions` under `root`."""
    return {v: make_model_dir(root, model, v) for v in versions}


def model_version_object(namespace: str, model: str, version: str, model_dir: Path) -> dict[str, Any]:
    from modelops.names import model_version_name

    return {
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
        "metadata": {"name": model_version_name(model, version), "namespace": namespace},
        "spec": {"model": model, "version": version,
                 "artifact": {"uri": str(model_dir), "format": "onnx", "sha256": digest_of(model_dir)}},
    }  # fmt: skip


def node_ip(kubectl: Kubectl) -> str:
    """The node's InternalIP: where pods reach a server on this machine (the node is this machine)."""
    nodes = kubectl.json("get", "nodes")["items"]
    addresses = nodes[0]["status"]["addresses"]
    return str(next(a["address"] for a in addresses if a["type"] == "InternalIP"))


def push_model(s3: S3Server, src: Path, uri: str, encrypt_key: Path | None = None) -> dict[str, Any]:
    """`modelctl push src uri -o json` with the S3 server's credentials; its answer (artifact, sha256)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **s3.env()}
    argv = [str(Path(sys.executable).parent / "modelctl"), "push", str(src), uri, "-o", "json"]
    if encrypt_key is not None:
        argv += ["--encrypt-key", str(encrypt_key)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def s3_model_objects(
    namespace: str,
    s3: S3Server,
    pushed: Mapping[str, Mapping[str, Any]],
    image: str,
    *,
    name: str,
    model: str,
    rollback: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The storage Secret `s3-creds`, a ModelVersion per pushed version (`push_model`'s answers) and a
    ModelDeployment `name` of the first version with package storage from the S3 server."""
    from modelops.names import model_version_name

    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3-creds", "namespace": namespace},
              "stringData": s3.env()}  # fmt: skip
    versions = [
        {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
         "metadata": {"name": model_version_name(model, v), "namespace": namespace},
         "spec": {"model": model, "version": v, "artifact": {"uri": p["artifact"], "sha256": p["sha256"]}}}
        for v, p in pushed.items()
    ]  # fmt: skip
    spec = {"model": model, "environment": "production", "version": next(iter(pushed)), "replicas": 1,
            "server": {"image": image, "imagePullPolicy": "IfNotPresent", "startupSeconds": 60},
            "storage": {"type": "package", "url": "s3://models/{model}/{version}/",
                        "s3": {"secretName": "s3-creds"}}}  # fmt: skip
    if rollback:
        spec["rollback"] = dict(rollback)
    deployment = {"apiVersion": "modelops.io/v1alpha1", "kind": "ModelDeployment",
                  "metadata": {"name": name, "namespace": namespace}, "spec": spec}  # fmt: skip
    return [secret, *versions, deployment]


def http_json(
    method: str,
    url: str,
    deadline_s: float,
    *,
    body: Any = None,
    accept: tuple[int, ...] = (200,),
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Any]:
    """One logical request, retried on connection errors and unexpected statuses until the deadline."""
    deadline, last = time.monotonic() + deadline_s, "no attempt"
    while True:
        try:
            response = httpx.request(method, url, json=body, timeout=5, headers=headers)
            if response.status_code in accept:
                return response.status_code, response.json()
            last = f"HTTP {response.status_code}: {response.text[:300]}"
        except httpx.HTTPError as error:
            last = f"{type(error).__name__}: {error}"
        if time.monotonic() >= deadline:
            raise AssertionError(f"{method} {url}: no acceptable answer within {deadline_s}s; last: {last}")
        time.sleep(0.5)  # polling interval; the loop ends on success or at the deadline


def service_url(kubectl: Kubectl, namespace: str, name: str) -> str:
    svc = Poller(60, what=f"Service {name} with a ClusterIP").until(
        lambda: kubectl.get("service", name, namespace)
    )
    return f"http://{svc['spec']['clusterIP']}:{svc['spec']['ports'][0]['port']}"


def events(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    listed = kubectl.json("get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}")
    return list(listed.get("items", []))


def wait_event(
    kubectl: Kubectl, namespace: str, name: str, reason: str, timeout: float = 30
) -> dict[str, Any]:
    """The first Event with `reason` on object `name` (Events are posted just after the status)."""
    found: dict[str, Any] = Poller(timeout, what=f"Event {reason} on {name}").until(
        lambda: next((e for e in events(kubectl, namespace, name) if e.get("reason") == reason), None)
    )
    return found


@dataclass
class PredictClient:
    """A background client polling predict through the Service; counts answers by status and version."""

    url: str
    connect_retry_s: float = 10.0
    answers: list[tuple[int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connect_retries: list[str] = field(default_factory=list)
    started: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.started = time.monotonic()
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                self._one(client)
                self._stop.wait(0.1)

    def _one(self, client: httpx.Client) -> None:
        # A connection that cannot be opened is retried (bounded): kube-proxy rewrites the Service's
        # rules whenever the endpoints change and a SYN can be lost then. Every retry is recorded.
        deadline = time.monotonic() + self.connect_retry_s
        while True:
            try:
                response = client.post(self.url, json={"text": "hello, how are you today?"})
                version = response.json().get("version", "?") if response.status_code == 200 else ""
                self.answers.append((response.status_code, version))
                return
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                self.connect_retries.append(f"{time.monotonic() - self.started:.1f}s {type(error).__name__}")
                if time.monotonic() >= deadline:
                    self.errors.append(f"{type(error).__name__}: {error}")
                    return
            except (httpx.HTTPError, json.JSONDecodeError) as error:
                self.errors.append(f"{time.monotonic() - self.started:.1f}s {type(error).__name__}: {error}")
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
