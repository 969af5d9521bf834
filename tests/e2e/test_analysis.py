"""Issue 8 on the real cluster: a version failing 30% of predictions is rolled back by the metric analysis.

The ModelDeployment runs every version with the server's test-only fault settings (`spec.server.env`):
`MODELOPS_SERVER_FAULT_ERROR_RATE=0.3`, limited by `MODELOPS_SERVER_FAULT_VERSIONS` to v1.1.0. A load
generator thread POSTs predictions to the Service for the whole test. v1.0.0 passes its analysis and
becomes stable; v1.1.0 breaks maxErrorRate and the operator reverts spec.version to v1.0.0 with
`cause: AnalysisFailed` and the measured figures; healthy v1.2.0 under the same load passes its window
and becomes stable. `pytest -s` prints the detection time the issue asks for (client-side threshold
crossing → spec reverted, and analysis window start → spec reverted).

The second test checks `maxRegression` alone (no absolute latency threshold): v1.1.0 answers with
`MODELOPS_SERVER_FAULT_LATENCY_MS` added, and is rolled back because its p99 exceeds 1.5 times the p99
the stable pods served during the rollout (the baseline, measured before they terminate).

The third checks `maxLabelShift` alone: v1.1.0 is a biased classifier that answers `risk` to every text,
with perfect HTTP figures (all 200, fast). The stable v1.0.0 answers `safe` to the load's text, so the
Jensen-Shannon divergence of the two label distributions is ~1 and the version is rolled back: the case
no HTTP-only analysis catches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.cluster import Kubectl
from support.e2e import (
    model_root,
    model_version_object,
    model_versions,
    readable_by_all,
    running_operator,
    service_url,
)
from support.models import build_onnx_model, make_model_dir
from support.scene import ModelDeploymentScene

MODEL = "safety_classifier"
NAME = ModelDeploymentScene.name  # the one object both tests drive
VERSIONS = ["v1.0.0", "v1.1.0", "v1.2.0"]
FAILING = "v1.1.0"
WINDOW_S, INTERVAL_S, MIN_REQUESTS, MAX_ERROR_RATE = 20, 2, 20, 0.05
ANALYSIS = {
    "windowSeconds": WINDOW_S,
    "intervalSeconds": INTERVAL_S,
    "maxErrorRate": MAX_ERROR_RATE,
    "minRequests": MIN_REQUESTS,
    "inconclusive": "Hold",  # so a promotion below can only come from a Passed analysis
}
FAULTS = [
    {"name": "MODELOPS_SERVER_FAULT_ERROR_RATE", "value": "0.3"},
    {"name": "MODELOPS_SERVER_FAULT_VERSIONS", "value": FAILING},
]
LATENCY_FAULT_MS, MAX_REGRESSION = 600, 1.5
LATENCY_ANALYSIS = {
    "windowSeconds": WINDOW_S,
    "intervalSeconds": 1,
    "maxRegression": MAX_REGRESSION,
    "minRequests": 10,
    "inconclusive": "Hold",
}
SLOW = [
    {"name": "MODELOPS_SERVER_FAULT_LATENCY_MS", "value": str(LATENCY_FAULT_MS)},
    {"name": "MODELOPS_SERVER_FAULT_VERSIONS", "value": FAILING},
]
LABEL_SHIFT_ANALYSIS = {
    "windowSeconds": 15,
    "intervalSeconds": 1,
    "maxErrorRate": MAX_ERROR_RATE,
    "maxLabelShift": 0.3,
    "minRequests": 10,
    "inconclusive": "Hold",
}
PREDICT = f"/api/v1/ml-models/{MODEL}/predict"
PROMOTE_TIMEOUT_S = 240
ROLLBACK_TIMEOUT_S = 180
LOAD_PACE_S = 0.1  # ~10 requests/s: plenty for minRequests, gentle on a 2-core machine


@dataclass(frozen=True)
class Answer:
    at: float
    status: int  # 0: no HTTP answer (e.g. connection refused before kube-proxy programmed the Service)
    version: str | None
    label: str | None = None


class LoadGenerator:
    """Threads POSTing predictions to the Service, recording each answer with its time."""

    def __init__(self, url: str, workers: int = 1) -> None:
        self.url = url
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"load-generator-{n}", daemon=True)
            for n in range(workers)
        ]

    def __enter__(self) -> LoadGenerator:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def answers(self) -> list[Answer]:
        with self._lock:
            return list(self._answers)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                answer = self._send(client)
                with self._lock:
                    self._answers.append(answer)
                self._stop.wait(LOAD_PACE_S)  # pacing of the load, not synchronisation

    def _send(self, client: httpx.Client) -> Answer:
        try:
            response = client.post(self.url, json={"text": "hello, how are you today?"})
        except httpx.HTTPError:
            return Answer(time.monotonic(), 0, None)
        body = response.json() if response.status_code == 200 else {}
        return Answer(time.monotonic(), response.status_code, body.get("version"), body.get("label"))


def threshold_crossed_at(answers: list[Answer]) -> float | None:
    """When the client had >= minRequests answers since the failing version's first, > maxErrorRate 500s.

    Only the failing version answers 500 (FAULT_VERSIONS), so its traffic starts at its first answer.
    """
    first = next((i for i, a in enumerate(answers) if a.version == FAILING or a.status == 500), None)
    if first is None:
        return None
    errors = 0
    for count, answer in enumerate(answers[first:], start=1):
        errors += answer.status == 500
        if count >= MIN_REQUESTS and errors / count > MAX_ERROR_RATE:
            return answer.at
    return None


def model_deployment(
    namespace: str, root: Path, faults: list[dict[str, str]], analysis: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {
            "model": MODEL,
            "environment": "production",
            "version": "v1.0.0",
            "replicas": 1,
            "storage": {"type": "hostPath", "path": str(root)},
            "server": {"env": faults},
            "rollback": {"automatic": True, "progressDeadlineSeconds": 120, "analysis": analysis},
        },
    }


Scene = ModelDeploymentScene


def stable_is(version: str) -> Callable[[dict[str, Any]], bool]:
    return lambda md: md.get("status", {}).get("stableVersion") == version


def rolled_back(md: dict[str, Any]) -> bool:
    failed = [f for f in md.get("status", {}).get("failedVersions", []) if f.get("version") == FAILING]
    return md["spec"]["version"] == "v1.0.0" and bool(failed)


def seconds_between(start: str, end: str) -> float:
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


@pytest.fixture
def scene(
    cluster: Any, namespace: str, load_image: Callable[[str], str], tmp_path: Path, crds_installed: None
) -> Iterator[Scene]:
    yield from make_scene(cluster, namespace, load_image, tmp_path, faults=FAULTS, analysis=ANALYSIS)


@pytest.fixture
def biased_scene(
    cluster: Any, namespace: str, load_image: Callable[[str], str], tmp_path: Path, crds_installed: None
) -> Iterator[Scene]:
    yield from make_scene(
        cluster, namespace, load_image, tmp_path, faults=[], analysis=LABEL_SHIFT_ANALYSIS, biased=FAILING
    )


@pytest.fixture
def slow_scene(
    cluster: Any, namespace: str, load_image: Callable[[str], str], tmp_path: Path, crds_installed: None
) -> Iterator[Scene]:
    yield from make_scene(cluster, namespace, load_image, tmp_path, faults=SLOW, analysis=LATENCY_ANALYSIS)


def make_scene(
    cluster: Any,
    namespace: str,
    load_image: Callable[[str], str],
    tmp_path: Path,
    *,
    faults: list[dict[str, str]],
    analysis: dict[str, Any],
    biased: str | None = None,
) -> Iterator[Scene]:
    kubectl: Kubectl = cluster.client
    load_image("server")
    root = model_root(namespace)
    dirs = model_versions(root, MODEL, VERSIONS)
    if biased is not None:  # the same layout, but a classifier that answers `risk` to every text
        dirs[biased] = make_model_dir(root, MODEL, biased, model_bytes=build_onnx_model(2, favour=1))
    readable_by_all(root)
    kubectl.apply(
        *(model_version_object(namespace, MODEL, v, d) for v, d in dirs.items()), namespace=namespace
    )
    with running_operator(cluster.kubeconfig, namespace, tmp_path) as operator:
        kubectl.apply(model_deployment(namespace, root, faults, analysis), namespace=namespace)
        yield Scene(kubectl, namespace, operator)


def test_error_rate_rolls_back_and_a_healthy_version_is_promoted(scene: Scene) -> None:
    url = service_url(scene.kubectl, scene.namespace, NAME) + PREDICT
    with LoadGenerator(url) as load:
        first = scene.wait("v1.0.0 passes its analysis", PROMOTE_TIMEOUT_S, stable_is("v1.0.0"))
        assert first["status"].get("analysis", {}).get("phase") == "Passed", scene.describe()

        scene.set_version(FAILING)
        reverted = scene.wait(f"{FAILING} rolled back by the analysis", ROLLBACK_TIMEOUT_S, rolled_back)
        reverted_at = time.monotonic()
        crossed_at = threshold_crossed_at(load.answers())

        failure = next(f for f in reverted["status"]["failedVersions"] if f["version"] == FAILING)
        assert failure["cause"] == "AnalysisFailed", failure
        assert "exceeds maxErrorRate 5.0%" in failure["reason"], failure
        assert failure["figures"]["candidate"]["errorRate"] > MAX_ERROR_RATE, failure
        analysis = reverted["status"]["analysis"]
        assert (analysis["phase"], analysis["version"]) == ("Failed", FAILING), analysis
        assert crossed_at is not None, "the client never saw the failing version cross the threshold"
        window_to_verdict = seconds_between(analysis["startedAt"], analysis["updatedAt"])
        print(
            f"\n{FAILING}: threshold crossed (client view) -> spec reverted {reverted_at - crossed_at:.2f}s; "
            f"window start -> failing sample {window_to_verdict:.2f}s"
        )

        scene.set_version("v1.2.0")
        promoted = scene.wait("v1.2.0 passes its analysis", PROMOTE_TIMEOUT_S, stable_is("v1.2.0"))
        answers = load.answers()

    analysis = promoted["status"]["analysis"]
    assert (analysis["phase"], analysis["version"]) == ("Passed", "v1.2.0"), analysis
    assert analysis["candidate"]["requests"] >= MIN_REQUESTS, analysis
    assert analysis["candidate"]["errors"] == 0, analysis
    assert promoted["spec"]["version"] == "v1.2.0"
    assert any(a.version == "v1.2.0" and a.status == 200 for a in answers), "no prediction answered by v1.2.0"


def test_latency_regression_against_the_stable_baseline_rolls_back(slow_scene: Scene) -> None:
    scene = slow_scene
    url = service_url(scene.kubectl, scene.namespace, NAME) + PREDICT
    with LoadGenerator(url, workers=2) as load:  # running before the rollout: the stable pods serve it
        scene.wait("v1.0.0 passes its analysis", PROMOTE_TIMEOUT_S, stable_is("v1.0.0"))

        scene.set_version(FAILING)
        reverted = scene.wait(f"{FAILING} rolled back by the analysis", ROLLBACK_TIMEOUT_S, rolled_back)
        reverted_at = time.monotonic()
        answers = load.answers()

    failure = next(f for f in reverted["status"]["failedVersions"] if f["version"] == FAILING)
    assert failure["cause"] == "AnalysisFailed", failure
    assert f"above maxRegression {MAX_REGRESSION:g}" in failure["reason"], failure
    baseline, candidate = failure["figures"]["baseline"], failure["figures"]["candidate"]
    assert baseline["requests"] >= LATENCY_ANALYSIS["minRequests"], failure
    assert candidate["p99Ms"] > MAX_REGRESSION * baseline["p99Ms"], failure
    assert "maxLatencyP99Ms" not in failure["figures"]["thresholds"], failure
    analysis = reverted["status"]["analysis"]
    assert (analysis["phase"], analysis["baseline"]["version"]) == ("Failed", "v1.0.0"), analysis
    slow = [a for a in answers if a.version == FAILING]
    assert slow, "the client never got an answer from the slow version"
    print(
        f"\n{FAILING} (+{LATENCY_FAULT_MS} ms): baseline {baseline}, candidate {candidate}; "
        f"first slow answer -> spec reverted {reverted_at - slow[0].at:.2f}s; "
        f"window start -> failing sample {seconds_between(analysis['startedAt'], analysis['updatedAt']):.2f}s"
    )


def test_a_label_shift_with_healthy_http_figures_is_rolled_back(biased_scene: Scene) -> None:
    scene = biased_scene
    url = service_url(scene.kubectl, scene.namespace, NAME) + PREDICT
    with LoadGenerator(url, workers=2) as load:  # running before the rollout: the stable pods serve it
        scene.wait("v1.0.0 passes its analysis", PROMOTE_TIMEOUT_S, stable_is("v1.0.0"))

        scene.set_version(FAILING)
        reverted = scene.wait(f"{FAILING} rolled back by the analysis", ROLLBACK_TIMEOUT_S, rolled_back)
        reverted_at = time.monotonic()
        answers = load.answers()

    failure = next(f for f in reverted["status"]["failedVersions"] if f["version"] == FAILING)
    assert failure["cause"] == "AnalysisFailed", failure
    assert "exceeds maxLabelShift 0.3" in failure["reason"], failure
    baseline, candidate = failure["figures"]["baseline"], failure["figures"]["candidate"]
    assert set(candidate["predictions"]) == {"risk"} and candidate["errors"] == 0, failure
    assert baseline["predictions"].get("safe", 0) >= LABEL_SHIFT_ANALYSIS["minRequests"], failure
    shifted = [a for a in answers if a.version == FAILING]
    assert shifted and all(a.status == 200 and a.label == "risk" for a in shifted), shifted[:5]
    assert not [a for a in answers if a.status >= 500], "healthy HTTP figures: no 5xx at all"
    analysis = reverted["status"]["analysis"]
    print(
        f"\n{FAILING} (always `risk`, {len(shifted)} answers, all 200): baseline {baseline['predictions']}, "
        f"candidate {candidate['predictions']}; first `risk` answer -> spec reverted "
        f"{reverted_at - shifted[0].at:.2f}s; window start -> failing sample "
        f"{seconds_between(analysis['startedAt'], analysis['updatedAt']):.2f}s"
    )
