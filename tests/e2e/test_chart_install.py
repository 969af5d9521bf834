"""Installs the Helm chart into localkube: the operator becomes Available and reconciles a real model.

This is the user's path (`helm install`, then `kubectl apply` a ModelVersion and a ModelDeployment), run
with the real operator image. The release watches only the test's namespace, so it never competes with
operators that other e2e tests start.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.models import make_model_dir
from support.tools import CHART_DIR, REPO_ROOT, run_tool

INSTALL_TIMEOUT_S = 240
MODEL_TIMEOUT_S = 240
HEALTH_PATH = "/api/v1/ml-models/safety_classifier/health"


class Release:
    """One helm release of the chart in a test namespace, and kubectl against the same cluster."""

    def __init__(self, cluster: Any, namespace: str) -> None:
        self.cluster, self.namespace = cluster, namespace
        self.name = f"mo-{secrets.token_hex(3)}"

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [self.cluster.helm, "--kubeconfig", self.cluster.kubeconfig, "-n", self.namespace, *args]
        return run_tool(command, check=check, env=self.cluster.env)

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        command = [self.cluster.kubectl, "--kubeconfig", self.cluster.kubeconfig, "-n", self.namespace, *args]
        return run_tool(command, check=check, env=self.cluster.env, input=stdin).stdout

    def describe(self) -> str:
        """What a failure message needs: the release's pods, their logs and the namespace's events."""
        pods = self.kubectl("get", "pods,deploy,md,mv", "-o", "wide", check=False)
        logs = self.kubectl("logs", f"deploy/{self.name}-modelops-operator", "--tail=40", check=False)
        events = self.kubectl("get", "events", "--sort-by=.lastTimestamp", check=False)
        return f"{pods}\n--- operator logs ---\n{logs}\n--- events ---\n{events}"


@pytest.fixture
def release(cluster: Any, namespace: str, load_image: Any) -> Iterator[Release]:
    load_image("operator")
    installed = Release(cluster, namespace)
    yield installed
    installed.helm("uninstall", installed.name, "--wait", "--timeout", "120s", check=False)


def install(release: Release, *overrides: str) -> None:
    sets = [arg for override in overrides for arg in ("--set", override)]
    result = release.helm(
        "install", release.name, str(CHART_DIR), "--set", f"operator.watchNamespaces={{{release.namespace}}}",
        "--set", "operator.requeueSeconds=1", *sets, "--wait", "--timeout", f"{INSTALL_TIMEOUT_S}s",
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"helm install failed:\n{result.stderr}\n{release.describe()}"


def test_helm_install_makes_the_operator_available(release: Release) -> None:
    install(release)
    deployment = json.loads(
        release.kubectl("get", "deploy", f"{release.name}-modelops-operator", "-o", "json")
    )
    conditions = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}
    assert conditions.get("Available") == "True", release.describe()
    assert deployment["status"].get("readyReplicas") == 1, release.describe()
    notes = release.helm("get", "notes", release.name).stdout
    assert f"rollout status deployment/{release.name}-modelops-operator" in notes
    metrics = service_get(release, f"{release.name}-modelops-metrics:metrics", "/metrics")
    assert "# HELP modelops_operator_reconciles_total" in metrics, metrics
    crds = release.kubectl(
        "get", "crd", "modelversions.modelops.io", "modeldeployments.modelops.io", "-o", "name"
    )
    assert len(crds.split()) == 2


@pytest.fixture
def models_root(namespace: str) -> Iterator[Path]:
    """A host dir the server pods can read through hostPath (the localkube node is this machine)."""
    root = REPO_ROOT / ".state" / "e2e-models" / namespace
    root.mkdir(parents=True, exist_ok=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def make_readable_by_all(root: Path) -> None:
    """The server pods run as a non-root user: let it traverse the dirs and read the model files."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def model_objects(namespace: str, root: Path, model_dir: Path) -> str:
    digest = hashlib.sha256((model_dir / "manifest.json").read_bytes()).hexdigest()
    version = {
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelVersion",
        "metadata": {"name": "safety-classifier-v1-0-0", "namespace": namespace},
        "spec": {"model": "safety_classifier", "version": "v1.0.0",
                 "artifact": {"uri": str(model_dir), "format": "onnx", "sha256": digest}},
    }  # fmt: skip
    deployment = {
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": "safety-classifier-staging", "namespace": namespace},
        "spec": {"model": "safety_classifier", "environment": "staging", "version": "v1.0.0", "replicas": 1,
                 "storage": {"type": "hostPath", "path": str(root)},
                 "rollback": {"progressDeadlineSeconds": 120}},
    }  # fmt: skip
    return yaml.safe_dump_all([version, deployment])


def service_get(release: Release, service: str, path: str, deadline_s: float = 60) -> str:
    """GET `path` from a Service through the apiserver's service proxy, retried until the deadline
    (a new Service and its endpoints appear asynchronously)."""
    url = f"/api/v1/namespaces/{release.namespace}/services/{service}/proxy{path}"
    command = [release.cluster.kubectl, "--kubeconfig", release.cluster.kubeconfig, "get", "--raw", url]
    deadline, last = time.monotonic() + deadline_s, ""
    while time.monotonic() < deadline:
        result = run_tool(command, check=False, env=release.cluster.env)
        if result.returncode == 0:
            return result.stdout
        last = result.stderr
        time.sleep(1)  # polling interval, not synchronisation: the loop ends on success or the deadline
    pytest.fail(f"no answer from {service}{path} within {deadline_s}s: {last}\n{release.describe()}")


def test_installed_operator_reconciles_a_model(release: Release, load_image: Any, models_root: Path) -> None:
    load_image("server")
    root = models_root
    install(release, f"policy.hostPaths={{{root}}}")  # the platform policy allows this test's models dir
    model_dir = make_model_dir(root, "safety_classifier", "v1.0.0")
    make_readable_by_all(root)
    release.kubectl("apply", "-f", "-", stdin=model_objects(release.namespace, root, model_dir))
    waited = release.kubectl("wait", "md/safety-classifier-staging", "--for=condition=Available",
                             f"--timeout={MODEL_TIMEOUT_S}s", check=False)  # fmt: skip
    assert "condition met" in waited, release.describe()
    health = json.loads(service_get(release, "safety-classifier-staging:http", HEALTH_PATH))
    assert (health["model_type"], health["version"], health["status"]) == (
        "safety_classifier",
        "v1.0.0",
        "healthy",
    )
    status = json.loads(release.kubectl("get", "md/safety-classifier-staging", "-o", "json"))["status"]
    assert status["servingVersion"] == "v1.0.0", status
    metrics = service_get(release, f"{release.name}-modelops-metrics:metrics", "/metrics")
    assert 'modelops_operator_reconciles_total{kind="' in metrics, metrics
