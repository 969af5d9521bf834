"""Issue 17 on the real cluster: Canary rollouts with real pods and a real load generator.

A pool of HTTP clients POSTs predictions through the ModelDeployment's Service for the whole test (a
connection that cannot be opened is retried until a deadline: kube-proxy rewrites its rules whenever
the endpoints change); the server's answers carry the model version, so the client side sees which
version answered.

1. v1.0.0 stable on 4 pods, then v1.1.0 as a canary of weight 25 followed by a manual pause: the
   share of requests answered by v1.1.0 is within tolerance of what status.canary reports (1/4); the
   operator is killed mid-step and converges (same step, same start, no second step Event);
   `modelctl rollout promote` ends the pause and the canary's Deployment becomes the stable one
   without restarting its pods.
2. v1.1.0 answers 30 % of its requests with 500 (the server's test-only fault settings): the step
   analysis aborts it at its first step, and the share of failed user requests during the whole
   rollout stays below weight x fault rate + a small margin (`pytest -s` prints it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.cluster import Kubectl, Poller
from support.e2e import (
    model_root,
    model_version_object,
    model_versions,
    readable_by_all,
    running_operator,
    service_url,
)
from support.load import Load
from support.scene import ModelDeploymentScene

MODEL = "safety_classifier"
NAME = ModelDeploymentScene.name  # the one object both tests drive
SLOT_B = f"{NAME}-b"
STABLE, CANARY = "v1.0.0", "v1.1.0"
REPLICAS = 4
PREDICT = f"/api/v1/ml-models/{MODEL}/predict"
FAULT_RATE = 0.3
FAULTS = [
    {"name": "MODELOPS_SERVER_FAULT_ERROR_RATE", "value": str(FAULT_RATE)},
    {"name": "MODELOPS_SERVER_FAULT_VERSIONS", "value": CANARY},
]
ANALYSIS = {
    "windowSeconds": 10,
    "intervalSeconds": 2,
    "maxErrorRate": 0.05,
    "minRequests": 20,
    "inconclusive": "Promote",
}
SHARE_TOLERANCE_POINTS = 10  # 400 answers at p = 0.25: one standard deviation is 2.2 points
BLAST_MARGIN = 0.03
READY_TIMEOUT_S = 180


def model_deployment(
    namespace: str, root: Path, steps: list[dict[str, Any]], analysis: dict[str, Any] | None
) -> dict[str, Any]:
    """4 replicas of v1.0.0, a Canary rollout; with an analysis, v1.1.0 fails FAULT_RATE of its answers."""
    rollback: dict[str, Any] = {"automatic": True, "progressDeadlineSeconds": 120}
    if analysis:
        rollback["analysis"] = analysis
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {
            "model": MODEL,
            "environment": "production",
            "version": STABLE,
            "replicas": REPLICAS,
            "storage": {"type": "hostPath", "path": str(root)},
            "server": {"env": FAULTS if analysis else []},
            "rollout": {"strategy": "Canary", "steps": steps},
            "rollback": rollback,
        },
    }


@dataclass
class Scene(ModelDeploymentScene):
    """The shared scene, plus the canary's pods, Deployments and `modelctl rollout`."""

    kubeconfig: Path

    def pods(self, selector: str) -> list[dict[str, Any]]:
        listed = self.kubectl.json("get", "pods", "-n", self.namespace, "-l", selector)
        return list(listed.get("items", []))

    def replicas(self, deployment: str) -> int | None:
        found = self.kubectl.get("deployment", deployment, self.namespace)
        return None if found is None else int(found["spec"]["replicas"])

    def modelctl(self, *args: str) -> str:
        command = [str(Path(sys.executable).parent / "modelctl"), "--registry", "kubernetes"]
        command += ["--kubeconfig", str(self.kubeconfig), "--namespace", self.namespace, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout


def make_scene(
    cluster: Any,
    namespace: str,
    load_image: Callable[[str], str],
    tmp_path: Path,
    *,
    steps: list[dict[str, Any]],
    analysis: dict[str, Any] | None,
) -> Iterator[Scene]:
    kubectl: Kubectl = cluster.client
    load_image("server")
    root = model_root(namespace)
    dirs = model_versions(root, MODEL, [STABLE, CANARY])
    readable_by_all(root)
    kubectl.apply(
        *(model_version_object(namespace, MODEL, v, d) for v, d in dirs.items()), namespace=namespace
    )
    with running_operator(cluster.kubeconfig, namespace, tmp_path) as operator:
        kubectl.apply(model_deployment(namespace, root, steps, analysis), namespace=namespace)
        yield Scene(kubectl, namespace, operator, cluster.kubeconfig)


def stable_is(version: str, slot: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def check(md: dict[str, Any]) -> bool:
        status = md.get("status", {})
        return status.get("stableVersion") == version and (
            slot is None or status.get("stableDeployment") == slot
        )

    return check


def canary_phase(phase: str) -> Callable[[dict[str, Any]], bool]:
    return lambda md: (md.get("status", {}).get("canary") or {}).get("phase") == phase


@pytest.fixture
def manual_scene(
    cluster: Any, namespace: str, load_image: Callable[[str], str], tmp_path: Path, crds_installed: None
) -> Iterator[Scene]:
    steps = [{"weight": 25, "pauseSeconds": 0}, {"pause": True}]
    yield from make_scene(cluster, namespace, load_image, tmp_path, steps=steps, analysis=None)


@pytest.fixture
def faulty_scene(
    cluster: Any, namespace: str, load_image: Callable[[str], str], tmp_path: Path, crds_installed: None
) -> Iterator[Scene]:
    steps = [{"weight": 25, "pauseSeconds": 60}, {"weight": 50, "pauseSeconds": 60}]
    yield from make_scene(cluster, namespace, load_image, tmp_path, steps=steps, analysis=ANALYSIS)


def test_canary_share_restart_and_promotion_without_pod_restart(manual_scene: Scene) -> None:
    scene = manual_scene
    url = service_url(scene.kubectl, scene.namespace, NAME) + PREDICT
    scene.wait(f"{STABLE} stable on {REPLICAS} pods", READY_TIMEOUT_S, stable_is(STABLE))
    with Load(url) as load:
        scene.set_version(CANARY)
        paused = scene.wait("the canary paused at 25 %", READY_TIMEOUT_S, canary_phase("Paused"))
        weight = paused["status"]["canary"]["weight"]
        assert weight["message"] == "asked 25%, serving 1/4 = 25%", weight
        measured_from = time.monotonic()
        answers = [a for a in load.wait_for(400, measured_from, 120) if a.status == 200]
        share = 100.0 * sum(a.version == CANARY for a in answers) / len(answers)
        print(f"\ncanary share, client side: {share:.1f}% of {len(answers)} answers; status says {weight}")
        assert abs(share - weight["servingPercent"]) <= SHARE_TOLERANCE_POINTS, (share, weight)

        canary_pods = {p["metadata"]["uid"] for p in scene.pods("modelops.io/slot=b")}
        assert len(canary_pods) == 1, scene.describe()
        started = paused["status"]["canary"]["stepStartedAt"]
        scene.operator.kill()  # mid-step, as a crash would
        scene.operator.start()
        status = scene.modelctl("-o", "json", "rollout", "status", MODEL)
        assert json.loads(status)["phase"] == "Paused", status
        scene.modelctl("rollout", "promote", MODEL)  # only the restarted operator can act on it
        promoted = scene.wait("the canary promoted to stable", READY_TIMEOUT_S, stable_is(CANARY, SLOT_B))
    assert promoted["status"]["canary"]["phase"] == "Promoted"
    steps = [h for h in promoted["status"]["history"] if h["event"] == "CanaryStep"]
    assert len(steps) == 2, f"a restarted operator must not start a step again: {steps}"
    assert started <= promoted["status"]["canary"]["completedSteps"][-1]["endedAt"]
    Poller(60, what=f"Deployment {NAME} scaled to 0").until(lambda: scene.replicas(NAME) == 0)
    survivors = {p["metadata"]["uid"]: p for p in scene.pods("modelops.io/slot=b")}
    assert canary_pods <= set(survivors), "the canary's pods must not be replaced at promotion"
    restarts = [s["restartCount"] for p in survivors.values() for s in p["status"]["containerStatuses"]]
    assert restarts and max(restarts) == 0, restarts


def test_a_faulty_canary_is_aborted_at_its_first_step_with_a_bounded_blast_radius(
    faulty_scene: Scene,
) -> None:
    scene = faulty_scene
    url = service_url(scene.kubectl, scene.namespace, NAME) + PREDICT
    with Load(url) as load:
        scene.wait(f"{STABLE} stable on {REPLICAS} pods", READY_TIMEOUT_S, stable_is(STABLE))
        set_at = time.monotonic()
        scene.set_version(CANARY)
        reverted = scene.wait(
            f"{CANARY} aborted and spec reverted",
            READY_TIMEOUT_S,
            lambda md: md["spec"]["version"] == STABLE and canary_phase("Aborted")(md),
        )
        reverted_at = time.monotonic()
        Poller(30, what="canary scaled to 0").until(lambda: scene.replicas(SLOT_B) == 0)
        drained_at = time.monotonic()
        answers = load.answers(set_at, drained_at)
    failure = next(f for f in reverted["status"]["failedVersions"] if f["version"] == CANARY)
    assert failure["cause"] == "AnalysisFailed", failure
    assert "exceeds maxErrorRate" in failure["reason"], failure
    assert failure["figures"]["baseline"]["requests"] > 0, "the stable pods are measured in the same window"
    assert reverted["status"]["canary"]["completedSteps"] == [], "aborted at its first step"
    weight = reverted["status"]["canary"]["weight"]["servingPercent"] / 100.0
    failed = sum(a.status != 200 for a in answers)
    canary_answers = [a for a in answers if a.version == CANARY or a.status == 500]
    share, bound = failed / len(answers), weight * FAULT_RATE + BLAST_MARGIN
    first = canary_answers[0].at if canary_answers else reverted_at
    print(
        f"\nblast radius: {failed} failed of {len(answers)} user requests during the rollout "
        f"({share:.2%}; bound {weight:.0%} x {FAULT_RATE:.0%} + {BLAST_MARGIN:.0%} = {bound:.2%}); "
        f"first canary answer -> spec reverted {reverted_at - first:.2f}s"
    )
    assert canary_answers, "the canary never answered a user request"
    assert share <= bound, (share, bound)
