"""A text-generation model through the operator on localkube: a `persona_model` ModelVersion (a tiny
Llama exported with onnxruntime-genai, in the package format) is deployed, becomes Available, answers a
chat round-trip through its Service (OpenAI-compatible and seed API), and a version whose golden
generation was tampered is rolled back like a classifier.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.cluster import Kubectl, Poller, condition_is
from support.e2e import (
    http_json,
    model_root,
    model_version_object,
    readable_by_all,
    running_operator,
    service_url,
)
from support.persona import PERSONA, persona_models, tamper_golden

NAME = "persona-model-production"
DEADLINE_S = 60
MESSAGES = [{"role": "user", "content": "Hello, I had a long day."}]


@pytest.fixture
def server_image(load_image: Any) -> str:
    return str(load_image("server"))


@pytest.fixture
def models(namespace: str, tmp_path: Path) -> Iterator[tuple[Path, dict[str, Path]]]:
    """v1.0.0: the tiny persona model; v1.1.0: the same with a wrong golden generation."""
    built = persona_models(tmp_path / "persona")
    root = model_root(namespace)
    good = root / PERSONA / "v1.0.0"
    shutil.copytree(built.model_dir, good)
    bad = tamper_golden(built, root, "v1.1.0")
    readable_by_all(root)
    yield root, {"v1.0.0": good, "v1.1.0": bad}
    shutil.rmtree(root, ignore_errors=True)


def _deployment(namespace: str, root: Path, version: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {"model": PERSONA, "environment": "production", "version": version, "replicas": 1,
                 "server": {"image": image, "imagePullPolicy": "IfNotPresent", "startupSeconds": 120,
                            "env": [{"name": "MODELOPS_SERVER_MAX_NEW_TOKENS", "value": "64"}]},
                 "storage": {"type": "hostPath", "path": str(root)},
                 "rollback": {"automatic": True, "mode": "RevertSpec",
                              "progressDeadlineSeconds": DEADLINE_S}},
    }  # fmt: skip


def _md(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    found = kubectl.get("modeldeployment", NAME, namespace)
    assert found is not None
    return found


def _wait_stable(kubectl: Kubectl, namespace: str, version: str) -> None:
    def stable() -> bool:
        md = _md(kubectl, namespace)
        status = md.get("status", {})
        same = status.get("stableVersion") == version == status.get("servingVersion")
        return same and condition_is(md, "Available", "True")

    Poller(240, what=f"{version} serving, stable and Available").until(stable)


@pytest.mark.usefixtures("crds_installed")
def test_persona_model_serves_chat_and_a_tampered_golden_is_rolled_back(
    cluster: Any, namespace: str, models: tuple[Path, dict[str, Path]], server_image: str, tmp_path: Path
) -> None:
    kubectl: Kubectl = cluster.client
    root, dirs = models
    kubectl.apply(*(model_version_object(namespace, PERSONA, v, d) for v, d in dirs.items()))
    with running_operator(cluster.kubeconfig, namespace, tmp_path) as operator:
        kubectl.apply(_deployment(namespace, root, "v1.0.0", server_image))
        _wait_stable(kubectl, namespace, "v1.0.0")
        base = service_url(kubectl, namespace, NAME)
        _, health = http_json("GET", f"{base}/api/v1/ml-models/{PERSONA}/health", deadline_s=60)
        assert health["status"] == "healthy" and health["metadata"]["task"] == "text-generation"
        body = {"model": PERSONA, "messages": MESSAGES, "max_tokens": 16, "temperature": 0}
        _, chat = http_json("POST", f"{base}/v1/chat/completions", deadline_s=60, body=body)
        assert chat["object"] == "chat.completion" and isinstance(
            chat["choices"][0]["message"]["content"], str
        )
        assert chat["usage"]["completion_tokens"] >= 1
        _, seed = http_json("POST", f"{base}/api/v1/ml-models/{PERSONA}/generate", deadline_s=60,
                            body={"messages": MESSAGES, "max_new_tokens": 16, "temperature": 0})  # fmt: skip
        assert seed["text"] == chat["choices"][0]["message"]["content"]

        kubectl.run("patch", "modeldeployment", NAME, "-n", namespace, "--type=merge",
                    "-p", '{"spec":{"version":"v1.1.0"}}')  # fmt: skip
        Poller(DEADLINE_S + 90, interval=0.5, what="spec.version reverted to v1.0.0").until(
            lambda: _md(kubectl, namespace)["spec"]["version"] == "v1.0.0"
        )
        _wait_stable(kubectl, namespace, "v1.0.0")
        md = _md(kubectl, namespace)
        [failed] = md["status"]["failedVersions"]
        assert failed["version"] == "v1.1.0", operator.log_tail()
        assert "golden check failed" in failed["reason"], failed
        assert condition_is(md, "Degraded", "True", "RolledBack")
