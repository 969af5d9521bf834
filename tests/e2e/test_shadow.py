"""Issue 17 on the real cluster: Shadow rollouts with real pods and a real load generator.

v1.0.0 is stable on 2 pods and the load generator POSTs predictions through the ModelDeployment's
Service for the whole test. One ModelDeployment goes through two shadows (one cluster start-up for both):

1. v1.1.0 has v1.0.0's weights with its two labels swapped, so it disagrees on every mirrored text
   (>= 20 %): it is rejected (spec reverted, candidate scaled to 0) with zero user-visible errors, and
   every user answer came from v1.0.0. The client-side p99 before, while and after mirroring is
   printed (`pytest -s`), and so is how long after the operator wrote the target the first stable
   pod's server read it (the kubelet's refresh of the mounted ConfigMap, hastened by the annotation).
2. v1.2.0 has v1.0.0's weights and labels (equivalent): while it is mirrored to, the operator is
   killed and started again; the shadow still passes (one ShadowStarted, one ShadowPassed) and v1.2.0
   is rolled out with RollingUpdate and becomes stable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.cluster import Kubectl, Poller
from support.e2e import model_root, model_version_object, readable_by_all, running_operator, service_url
from support.load import Answer, Load
from support.models import make_model_dir
from support.scene import ModelDeploymentScene

MODEL = "safety_classifier"
NAME = ModelDeploymentScene.name
STABLE, SWAPPED, SAME = "v1.0.0", "v1.1.0", "v1.2.0"
PREDICT = f"/api/v1/ml-models/{MODEL}/predict"
SHADOW = {"sampleFraction": 0.5, "durationSeconds": 15, "minRequests": 20}
READY_TIMEOUT_S = 180
# minAgreement judges the shadow; the short window is the analysis of the rolled-out version after it
ANALYSIS = {"minAgreement": 0.8, "windowSeconds": 5, "intervalSeconds": 1}


def model_deployment(namespace: str, root: Path) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {
            "model": MODEL,
            "environment": "production",
            "version": STABLE,
            "replicas": 2,
            "storage": {"type": "hostPath", "path": str(root)},
            "rollout": {"strategy": "Shadow", "shadow": SHADOW},
            "rollback": {"automatic": True, "progressDeadlineSeconds": 120, "analysis": ANALYSIS},
        },
    }


@pytest.fixture
def scene(
    cluster: Any, namespace: str, load_image: Callable[[str], str], tmp_path: Path, crds_installed: None
) -> Iterator[ModelDeploymentScene]:
    kubectl: Kubectl = cluster.client
    load_image("server")
    root = model_root(namespace)
    stable = make_model_dir(root, MODEL, STABLE)
    weights = (stable / "model.onnx").read_bytes()
    dirs = {
        STABLE: stable,
        SWAPPED: make_model_dir(root, MODEL, SWAPPED, labels=("risk", "safe"), model_bytes=weights),
        SAME: make_model_dir(root, MODEL, SAME, model_bytes=weights),
    }
    readable_by_all(root)
    kubectl.apply(
        *(model_version_object(namespace, MODEL, v, d) for v, d in dirs.items()), namespace=namespace
    )
    with running_operator(cluster.kubeconfig, namespace, tmp_path) as operator:
        kubectl.apply(model_deployment(namespace, root), namespace=namespace)
        yield ModelDeploymentScene(kubectl, namespace, operator)


def shadow_phase(phase: str, version: str) -> Callable[[dict[str, Any]], bool]:
    def check(md: dict[str, Any]) -> bool:
        shadow = md.get("status", {}).get("shadow") or {}
        return shadow.get("phase") == phase and shadow.get("version") == version

    return check


def p99_ms(answers: list[Answer]) -> float:
    latencies = sorted(a.seconds for a in answers)
    return 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]


def target_read_delay(scene: ModelDeploymentScene, since_wall: str) -> float:
    """Seconds from the operator writing the target to the first stable pod's server mirroring."""
    pods = scene.kubectl.json(
        "get", "pods", "-n", scene.namespace, "-l", "app.kubernetes.io/name=modelops-server"
    )
    pod = pods["items"][0]["metadata"]["name"]
    path = f"/api/v1/namespaces/{scene.namespace}/pods/{pod}:8080/proxy/metrics"

    def mirroring() -> float | None:
        for family in text_string_to_metric_families(scene.kubectl.run("get", "--raw", path)):
            for sample in family.samples:
                if sample.name == "modelops_shadow_sample_fraction" and sample.value > 0:
                    return time.time()
        return None

    seen = Poller(120, interval=0.2, what=f"{pod} mirroring").until(mirroring)
    return seen - datetime.fromisoformat(since_wall.replace("Z", "+00:00")).timestamp()


def test_a_disagreeing_shadow_is_rejected_and_an_equivalent_one_promoted(scene: ModelDeploymentScene) -> None:
    url = service_url(scene.kubectl, scene.namespace, NAME) + PREDICT
    scene.wait(
        f"{STABLE} stable", READY_TIMEOUT_S, lambda md: md.get("status", {}).get("stableVersion") == STABLE
    )
    with Load(url) as load:
        before = load.wait_for(200, time.monotonic(), 60)
        scene.set_version(SWAPPED)
        started = scene.wait("mirroring to v1.1.0", READY_TIMEOUT_S, shadow_phase("Mirroring", SWAPPED))
        mirror_from = time.monotonic()
        delay = target_read_delay(scene, started["status"]["shadow"]["mirroringSince"])
        rejected = scene.wait(
            f"{SWAPPED} rejected",
            READY_TIMEOUT_S,
            lambda md: md["spec"]["version"] == STABLE and shadow_phase("Rejected", SWAPPED)(md),
        )
        during = load.answers(mirror_from)
        figures = rejected["status"]["shadow"]["figures"]
        failure = next(f for f in rejected["status"]["failedVersions"] if f["version"] == SWAPPED)
        assert figures["disagree"] >= 20 and figures["agreement"] <= 0.8, figures
        assert "minAgreement" in failure["reason"], failure
        Poller(60, what="candidate scaled to 0").until(
            lambda: (
                (scene.kubectl.get("deployment", f"{NAME}-shadow", scene.namespace) or {})
                .get("spec", {})
                .get("replicas")
                == 0
            )
        )
        after = load.wait_for(200, time.monotonic(), 60)  # mirroring off again
        answers = load.answers()
        errors = [a for a in answers if a.status != 200]
        assert not errors, f"{len(errors)} user-visible errors of {len(answers)}"
        assert {a.version for a in answers} == {STABLE}, "the candidate answered a user"
        print(
            f"\nshadow rejected: {figures}; user p99 without mirroring {p99_ms(before):.1f} ms before "
            f"({len(before)} requests) and {p99_ms(after):.1f} ms after ({len(after)}), while mirroring "
            f"{p99_ms(during):.1f} ms ({len(during)}); "
            f"{len(answers)} user requests, 0 errors; target read {delay:.1f}s after it was written"
        )

        scene.set_version(SAME)
        scene.wait("mirroring to v1.2.0", READY_TIMEOUT_S, shadow_phase("Mirroring", SAME))
        scene.operator.kill()  # mid-shadow, as a crash would
        scene.operator.start()
        promoted = scene.wait(
            f"{SAME} promoted after its shadow",
            READY_TIMEOUT_S,
            lambda md: md.get("status", {}).get("stableVersion") == SAME,
        )
        late_errors = [a for a in load.answers() if a.status != 200]
    history = [h["event"] for h in promoted["status"]["history"] if h["version"] == SAME]
    assert history.count("ShadowStarted") == 1 and history.count("ShadowPassed") == 1, history
    assert promoted["status"]["shadow"]["figures"]["agreement"] == 1.0, promoted["status"]["shadow"]
    assert not late_errors, f"{len(late_errors)} user-visible errors"
