"""A text-generation model through the operator on localkube: a `persona_model` ModelVersion (a tiny
Llama exported with onnxruntime-genai, in the package format) is deployed, becomes Available, answers a
chat round-trip through its Service (OpenAI-compatible and seed API), a version whose golden
generation was tampered is rolled back like a classifier, and a version that answers with the test-only
`MODELOPS_SERVER_FAULT_LATENCY_MS` added is rolled back by the metric analysis: its time to first token
(the latency figure of a text-generation model) breaks `maxLatencyP99Ms` under chat traffic.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
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
from support.persona import PERSONA, PersonaModels, persona_models, seal, tamper_golden

NAME = "persona-model-production"
DEADLINE_S = 60
MESSAGES = [{"role": "user", "content": "Hello, I had a long day."}]
SLOW, SLOW_MS, MAX_TTFT_P99_MS = "v1.2.0", 600, 300
ANALYSIS = {"windowSeconds": 20, "intervalSeconds": 1, "maxLatencyP99Ms": MAX_TTFT_P99_MS, "minRequests": 10,
            "inconclusive": "Hold"}  # fmt: skip


@pytest.fixture
def server_image(load_image: Any) -> str:
    return str(load_image("server"))


@pytest.fixture
def models(namespace: str, tmp_path: Path) -> Iterator[tuple[Path, dict[str, Path]]]:
    """v1.0.0: the tiny persona model; v1.1.0: the same with a wrong golden generation; v1.2.0: the same
    model again (served with injected latency)."""
    built = persona_models(tmp_path / "persona")
    root = model_root(namespace)
    good = root / PERSONA / "v1.0.0"
    shutil.copytree(built.model_dir, good)
    bad = tamper_golden(built, root, "v1.1.0")
    slow = _same_model_as(built, root, SLOW)
    readable_by_all(root)
    yield root, {"v1.0.0": good, "v1.1.0": bad, SLOW: slow}
    shutil.rmtree(root, ignore_errors=True)


def _same_model_as(models: PersonaModels, root: Path, version: str) -> Path:
    target = root / PERSONA / version
    shutil.copytree(models.model_dir, target)
    path = target / "metadata.json"
    metadata = json.loads(path.read_text(encoding="utf-8"))
    metadata["version"] = version
    path.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    seal(target, models.private_key)
    return target


def _deployment(namespace: str, root: Path, version: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {"model": PERSONA, "environment": "production", "version": version, "replicas": 1,
                 "server": {"image": image, "imagePullPolicy": "IfNotPresent", "startupSeconds": 120,
                            "env": [{"name": "MODELOPS_SERVER_MAX_NEW_TOKENS", "value": "64"},
                                    {"name": "MODELOPS_SERVER_FAULT_LATENCY_MS", "value": str(SLOW_MS)},
                                    {"name": "MODELOPS_SERVER_FAULT_VERSIONS", "value": SLOW}]},
                 "storage": {"type": "hostPath", "path": str(root)},
                 "rollback": {"automatic": True, "mode": "RevertSpec",
                              "progressDeadlineSeconds": DEADLINE_S}},
    }  # fmt: skip


def _md(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    return kubectl.existing("modeldeployment", NAME, namespace)


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
        _slow_version_is_rolled_back_by_the_analysis(kubectl, namespace, base, operator)


def _slow_version_is_rolled_back_by_the_analysis(
    kubectl: Kubectl, namespace: str, base: str, operator: Any
) -> None:
    """Chat traffic runs while v1.2.0 (every generation delayed by SLOW_MS) rolls out with the analysis on."""
    stop = threading.Event()
    body = {"model": PERSONA, "messages": MESSAGES, "max_tokens": 4, "temperature": 0}

    def chat() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    client.post(f"{base}/v1/chat/completions", json=body)
                except httpx.HTTPError:
                    stop.wait(0.2)  # the Service between pods: retry until the test ends

    load = threading.Thread(target=chat, name="chat-load", daemon=True)
    load.start()
    try:
        patch = {"spec": {"version": SLOW, "rollback": {"analysis": ANALYSIS}}}
        kubectl.run(
            "patch", "modeldeployment", NAME, "-n", namespace, "--type=merge", "-p", json.dumps(patch)
        )
        Poller(150, interval=0.5, what=f"{SLOW} rolled back by the analysis").until(
            lambda: any(
                f["version"] == SLOW for f in _md(kubectl, namespace)["status"].get("failedVersions", [])
            )
        )
    finally:
        stop.set()
        load.join(timeout=15)
    md = _md(kubectl, namespace)
    failure = next(f for f in md["status"]["failedVersions"] if f["version"] == SLOW)
    assert failure["cause"] == "AnalysisFailed", (failure, operator.log_tail())
    assert f"exceeds maxLatencyP99Ms {MAX_TTFT_P99_MS}" in failure["reason"], failure
    candidate = failure["figures"]["candidate"]
    assert candidate["requests"] >= ANALYSIS["minRequests"] and candidate["p99Ms"] > SLOW_MS, failure
    assert md["spec"]["version"] == "v1.0.0", md["spec"]
    print(f"\n{SLOW} (+{SLOW_MS} ms before the first token): candidate {candidate}; {failure['reason']}")
