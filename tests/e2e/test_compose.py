"""The seed's Docker integration for real: `examples/docker-compose.yaml` under podman-compose.

The model server and the Node.js backend run from the locally built images (`hack/localkube image
server|node-backend`: buildah, cached by content) with a temporary models directory mounted read-only as
MODELS_DIR; the backend's health route must answer with the seed's JSON for exactly that model (version,
labels, manifest digest) and its predictions must match ONNX Runtime run here and the Python server. The
project is taken down afterwards, also on failure, and nothing of it may remain. It needs no Kubernetes
(podman's own CNI network, not localkube's) and runs beside a running localkube cluster.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localkube_py.settings import REPO_ROOT
from support.cluster import Poller
from support.compose import ComposeProject, free_loopback_port, podman
from support.localkube import run_localkube
from support.models import make_model_dir, reference_scores

COMPOSE_FILE = REPO_ROOT / "examples" / "docker-compose.yaml"
MODEL = "safety_classifier"
VERSION = "v1.0.0"
LABELS = ("safe", "risk")
HEALTH = f"/api/v1/ml-models/{MODEL}/health"
PREDICT = f"/api/v1/ml-models/{MODEL}/predict"
TEXTS = ("I want to hurt myself", "hello, how are you today?")


def image(name: str) -> str:
    """The content-keyed tag of a project image in podman's storage (built or loaded from the cache)."""
    return run_localkube("image", name, timeout=1500).stdout.strip().splitlines()[-1]


@pytest.fixture
def models_dir() -> Iterator[Path]:
    """A models directory the containers' users (uid 10001 and 1000) can read; removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="modelops-compose-"))
    root.chmod(0o755)
    make_model_dir(root, MODEL, VERSION, LABELS)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def project(models_dir: Path) -> Iterator[ComposeProject]:
    variables = {
        "MODELOPS_SERVER_IMAGE": image("server"),
        "MODELOPS_BACKEND_IMAGE": image("node-backend"),
        "MODELOPS_MODELS_HOST_DIR": str(models_dir),
        "MODELOPS_MODEL_VERSION": VERSION,
        "MODELOPS_HOST_IP": "127.0.0.1",
        "MODELOPS_API_PORT": str(free_loopback_port()),
        "MODELOPS_BACKEND_PORT": str(free_loopback_port()),
    }
    compose = ComposeProject(COMPOSE_FILE, variables)
    try:
        yield compose
    finally:
        compose.down()


def get_json(url: str, what: str, compose: ComposeProject, timeout: float = 90) -> dict[str, Any]:
    """GET until a 200 with a JSON body (the containers start asynchronously); fail with their logs."""

    def answer() -> dict[str, Any] | None:
        response = httpx.get(url, timeout=5)
        return response.json() if response.status_code == 200 else None

    try:
        return Poller(timeout, what=what, retry_on=(httpx.HTTPError,)).until(answer)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{compose.logs()}") from None


def check_health(document: dict[str, Any], digest: str) -> None:
    """The seed health document for exactly the mounted model."""
    assert document["model_type"] == MODEL
    assert document["version"] == VERSION
    assert document["status"] == "healthy"
    metadata = document["metadata"]
    assert metadata["labels"] == list(LABELS)
    assert metadata["sha256"] == digest


def predict(base: str, text: str) -> dict[str, Any]:
    response = httpx.post(f"{base}{PREDICT}", json={"text": text}, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_compose_serves_the_mounted_model_from_both_services(
    project: ComposeProject, models_dir: Path
) -> None:
    model_dir = models_dir / MODEL / VERSION
    digest = hashlib.sha256((model_dir / "manifest.json").read_bytes()).hexdigest()
    project.up()
    backend = f"http://127.0.0.1:{project.variables['MODELOPS_BACKEND_PORT']}"
    api = f"http://127.0.0.1:{project.variables['MODELOPS_API_PORT']}"

    check_health(get_json(f"{backend}{HEALTH}", "the Node backend's health route", project), digest)
    check_health(get_json(f"{api}{HEALTH}", "the Python server's health route", project), digest)
    for text in TEXTS:
        expected = reference_scores(model_dir, text, LABELS)
        from_node, from_python = predict(backend, text), predict(api, text)
        assert from_node["label"] == from_python["label"] == max(expected, key=expected.__getitem__)
        for label, score in expected.items():
            assert from_node["scores"][label] == pytest.approx(score, abs=1e-5)
            assert from_python["scores"][label] == pytest.approx(score, abs=1e-5)
    assert predict(backend, TEXTS[0])["label"] == "risk"  # the model is not a constant

    missing = httpx.get(f"{backend}/api/v1/ml-models/intent_classifier/health", timeout=10)
    assert missing.status_code == 503, missing.text  # only the mounted model exists
    assert "/app/models/intent_classifier does not exist" in missing.json()["reason"]

    for service in ("api", "backend"):  # the models volume is mounted read-only
        write = podman("exec", f"{project.name}_{service}_1", "touch", "/app/models/probe")
        assert write.returncode != 0 and "Read-only file system" in write.stderr, (service, write)

    output = project.down()
    assert project.leftovers() == [], f"left after down:\n{output}"
