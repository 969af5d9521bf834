"""`modelctl` and `ModelRegistry` against real server pods on localkube: the README's seed workflow.

keygen → sign → verify → package → register v1.0.0 and v1.1.0 → deploy to production → the serving
version (from the ModelDeployment's status, written by the operator once pods answer) → the seed health
JSON through the apiserver's service proxy → upgrade → `rollback` to the previous good version →
`status`. The real console script runs as a subprocess with the cluster's KUBECONFIG; the operator runs
as a subprocess watching only this test's namespace. Every wait polls with a deadline, and every call
that goes through the cluster is retried until one, because Services and endpoints lag behind pods.

Figures are printed (run with `-s`): how long each deploy or rollback takes to serve.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelops.registry import ModelRegistry
from modelops.registry.kubernetes import KubernetesBackend
from support.cluster import Kubectl, Poller
from support.e2e import model_root, readable_by_all, running_operator
from support.models import make_model_dir

MODEL = "safety_classifier"
ENV = "production"
VERSIONS = ("v1.0.0", "v1.1.0")
SIGNING_SECRET = "model-signing-key"
ROLLOUT_TIMEOUT_S = 120
COMMAND_TIMEOUT_S = 60


@dataclass(frozen=True)
class Modelctl:
    """The installed `modelctl` console script, bound to one namespace and models directory."""

    env: dict[str, str]
    namespace: str
    models_dir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a command; the caller decides what a non-zero exit means."""
        binary = Path(sys.executable).parent / "modelctl"
        global_options = ["--models-dir", str(self.models_dir), "--namespace", self.namespace]
        return subprocess.run(
            [str(binary), *global_options, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )

    def ok(self, *args: str) -> str:
        """Run a command that must succeed at once; return its stdout."""
        result = self.run(*args)
        assert result.returncode == 0, (
            f"modelctl {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
        )
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json"))

    def poll_json(self, what: str, timeout: float, accept: Any, *args: str) -> Any:
        """Repeat `modelctl ARGS -o json` until `accept(answer)` holds; fail with the last answer."""
        last: list[str] = ["no attempt"]

        def attempt() -> Any:
            result = self.run(*args, "-o", "json")
            last[0] = f"rc {result.returncode}: {result.stdout.strip()[-600:]} {result.stderr.strip()[-400:]}"
            if result.returncode != 0:
                return None
            answer = json.loads(result.stdout)
            return answer if accept(answer) else None

        try:
            return Poller(timeout, interval=1.0, what=what).until(attempt)
        except AssertionError as error:
            raise AssertionError(f"{error}\nlast modelctl answer: {last[0]}") from None


@pytest.fixture
def models_dir(namespace: str) -> Iterator[Path]:
    """The seed's models directory on the node (this machine), with two real versions."""
    root = model_root(namespace)
    for version in VERSIONS:
        make_model_dir(root, MODEL, version)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def modelctl(cluster: Any, namespace: str, models_dir: Path) -> Modelctl:
    return Modelctl(dict(cluster.env), namespace, models_dir)


def _deployed(modelctl: Modelctl, version: str) -> dict[str, Any]:
    """Wait until `modelctl deployed` reports `version` as the serving version; print how long it took."""
    started = time.monotonic()
    answer: dict[str, Any] = modelctl.poll_json(
        f"modelctl deployed reporting {version}",
        ROLLOUT_TIMEOUT_S,
        lambda found: found.get("serving") == version,
        "deployed", MODEL, "--env", ENV,
    )  # fmt: skip
    print(f"modelctl deployed reports {version} after {time.monotonic() - started:.1f}s")
    return answer


def _healthy(modelctl: Modelctl, version: str) -> dict[str, Any]:
    """Wait until the seed health endpoint, reached through the Service, answers healthy for `version`."""
    answer: dict[str, Any] = modelctl.poll_json(
        f"modelctl health healthy for {version}",
        60,
        lambda found: found.get("status") == "healthy" and found.get("version") == version,
        "health", MODEL, "--env", ENV,
    )  # fmt: skip
    return answer


def _sign_and_register(modelctl: Modelctl, kubectl: Kubectl, keys: Path, packages: Path) -> None:
    private_key, public_key = keys / "signing-key.pem", keys / "signing-key.pub"
    modelctl.ok("keygen", "--out-dir", str(keys))
    for version in VERSIONS:
        modelctl.ok("sign", "--type", MODEL, "--version", version, "--key", str(private_key))
        verified = modelctl.json(
            "verify", "--type", MODEL, "--version", version, "--public-key", str(public_key)
        )
        assert verified["verified"] is True and verified["signature"] is True, verified
    modelctl.ok("package", "--type", MODEL, "--version", "v1.0.0", "--packages-dir", str(packages))
    assert (packages / f"{MODEL}_v1.0.0.tar.gz").is_file(), sorted(packages.iterdir())
    readable_by_all(modelctl.models_dir)  # the server pods run as a non-root user
    kubectl.run(
        "create", "secret", "generic", SIGNING_SECRET, "-n", modelctl.namespace,
        f"--from-file=public.pem={public_key}",
    )  # fmt: skip
    for version in VERSIONS:
        registered = modelctl.json("register", MODEL, version, "--signature-secret", SIGNING_SECRET)
        assert registered["version"] == version and registered["sha256"], registered
    listed = modelctl.json("versions", MODEL)
    assert [row["version"] for row in listed] == list(VERSIONS), listed
    assert modelctl.json("latest", MODEL)["latest"] == "v1.1.0"


@pytest.mark.usefixtures("crds_installed")
def test_seed_workflow_deploy_health_upgrade_rollback(
    cluster: Any, namespace: str, modelctl: Modelctl, load_image: Any, tmp_path: Path
) -> None:
    kubectl: Kubectl = cluster.client
    _sign_and_register(modelctl, kubectl, tmp_path / "keys", tmp_path / "model_packages")
    not_serving = modelctl.run("deployed", MODEL, "--env", ENV)
    assert not_serving.returncode == 1 and "Error:" in not_serving.stderr, not_serving
    operator_env = {"MODELOPS_OPERATOR_DEFAULT_SERVER_IMAGE": str(load_image("server"))}
    with running_operator(cluster.kubeconfig, namespace, tmp_path, operator_env) as operator:
        try:
            _deploy_upgrade_rollback(cluster, namespace, modelctl)
        except AssertionError as error:
            raise AssertionError(f"{error}\noperator log:\n{operator.log_tail()}") from None


def _deploy_upgrade_rollback(cluster: Any, namespace: str, modelctl: Modelctl) -> None:
    modelctl.ok("deploy", MODEL, "v1.0.0", "--env", ENV)
    _deployed(modelctl, "v1.0.0")
    health = _healthy(modelctl, "v1.0.0")
    assert health["model_type"] == MODEL and health["available"] and health["loadable"], health
    assert health["metadata"]["signed"] is True, health

    upgrade = modelctl.json("deploy", MODEL, "v1.1.0", "--env", ENV)
    # The answer is the object as patched: asked for v1.1.0, the pods still serve v1.0.0 (cluster truth).
    assert (upgrade["desired"], upgrade["serving"]) == ("v1.1.0", "v1.0.0"), upgrade
    _deployed(modelctl, "v1.1.0")
    _healthy(modelctl, "v1.1.0")

    rolled_back = modelctl.json("rollback", MODEL, "--env", ENV)
    # The previous good version, by default; v1.1.0 serves until the operator has rolled v1.0.0 out.
    assert (rolled_back["desired"], rolled_back["serving"]) == ("v1.0.0", "v1.1.0"), rolled_back
    assert rolled_back["status"] == "progressing", rolled_back  # the operator has not seen the new spec
    registry = ModelRegistry(
        KubernetesBackend.from_config(cluster.kubeconfig, namespace, modelctl.models_dir)
    )
    Poller(ROLLOUT_TIMEOUT_S, what="ModelRegistry.get_deployed_version back on v1.0.0").until(
        lambda: registry.get_deployed_version(MODEL, ENV) == "v1.0.0"
    )
    deployment = registry.get_deployment(MODEL, ENV)
    assert deployment is not None and deployment.version == "v1.0.0", deployment
    _deployed(modelctl, "v1.0.0")
    _healthy(modelctl, "v1.0.0")

    rows = modelctl.poll_json(
        "modelctl status: v1.0.0 desired, serving, stable and available",
        60,
        lambda found: (
            [(r["desired"], r["serving"], r["stable"], r["status"]) for r in found]
            == [("v1.0.0", "v1.0.0", "v1.0.0", "available")]
        ),
        "status",
    )
    assert (rows[0]["model_type"], rows[0]["environment"]) == (MODEL, ENV), rows
    assert MODEL in modelctl.ok("status", MODEL)  # the table form names the model too
