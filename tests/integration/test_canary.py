"""The Canary strategy on a real apiserver: the CRD refuses bad steps naming the field, and the operator's
own reconciles create the second Deployment behind the one Service, consume the promote and abort
annotations, scale the canary to 0 and revert the spec through the rollback path, with Events.

No kubelet in this tier: pods stay Pending, so the canary never reaches its weight; the stable version's
status is written the way the operator writes it once pods serve (as in test_promotion_gates).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from modelops.vocabulary import ABORT_ANNOTATION, PROMOTE_ANNOTATION
from modelops_operator import builders
from modelops_operator.kube import Kube, KubeError, custom_path
from modelops_operator.settings import Settings
from support.operator_objects import create, model_deployment, reconciled, rollout_started

SETTINGS = Settings()
STEPS = [{"weight": 25, "pauseSeconds": 30}, {"pause": True}]

INVALID = [
    ("strategy", {"strategy": "BlueGreen"}, "spec.rollout.strategy"),
    ("no-steps", {"strategy": "Canary"}, "spec.rollout.steps"),
    ("weight-zero", {"strategy": "Canary", "steps": [{"weight": 0}]}, "spec.rollout.steps[0].weight"),
    ("weight-above-100", {"strategy": "Canary", "steps": [{"weight": 101}]}, "spec.rollout.steps[0].weight"),
    ("decreasing", {"strategy": "Canary", "steps": [{"weight": 50}, {"weight": 25}]}, "must increase"),
    (
        "repeated",
        {"strategy": "Canary", "steps": [{"weight": 50}, {"pause": True}, {"weight": 50}]},
        "increase",
    ),
    (
        "weight-and-pause",
        {"strategy": "Canary", "steps": [{"weight": 5, "pause": True}]},
        "spec.rollout.steps",
    ),
    ("empty-step", {"strategy": "Canary", "steps": [{}]}, "spec.rollout.steps"),
    ("pause-seconds-alone", {"strategy": "Canary", "steps": [{"pauseSeconds": 5}]}, "pauseSeconds"),
    ("tolerance", {"weightTolerance": 101}, "spec.rollout.weightTolerance"),
]


@pytest.mark.parametrize(("case", "rollout", "field"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_rollouts_are_rejected_naming_the_field(
    kube: Kube, namespace: str, case: str, rollout: dict[str, Any], field: str
) -> None:
    with pytest.raises(KubeError) as rejected:
        create(kube, model_deployment("v1.0.0", namespace=namespace, rollout=rollout))
    assert rejected.value.status == 422, f"{case}: {rejected.value}"
    assert field in str(rejected.value), f"{case}: message does not name {field}: {rejected.value}"


def test_rollout_defaults_to_rolling_update(kube: Kube, namespace: str) -> None:
    md = model_deployment("v1.0.0", namespace=namespace)
    assert create(kube, md)["spec"]["rollout"] == {
        "strategy": "RollingUpdate",
        "allowCoarseWeights": False,
        "weightTolerance": 5,
    }
    canary = model_deployment("v1.0.0", environment="canary", namespace=namespace)
    canary["spec"]["rollout"] = {"strategy": "Canary", "steps": STEPS}
    assert create(kube, canary)["spec"]["rollout"]["steps"] == STEPS


def _md_path(namespace: str, name: str) -> str:
    return custom_path(namespace, "modeldeployments", name)


def _deployment(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    return kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")


def _reconcile(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return reconciled(kube, namespace, name, SETTINGS)


def _events(kube: Kube, namespace: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in kube.list_items(f"/api/v1/namespaces/{namespace}/events") if e.get("reason") == reason]


def _annotate(kube: Kube, namespace: str, name: str, key: str, value: str) -> None:
    body = {"metadata": {"annotations": {key: value}}}
    kube.request("PATCH", _md_path(namespace, name), body, content_type="application/merge-patch+json")


def _canary_started(kube: Kube, namespace: str) -> str:
    """v1.1.0 stable on 4 pods, then spec.version v1.2.0 with a Canary rollout; one reconcile."""
    return rollout_started(kube, namespace, {"strategy": "Canary", "steps": STEPS}, replicas=4)


def test_a_canary_runs_as_a_second_deployment_behind_the_one_service(kube: Kube, namespace: str) -> None:
    name = _canary_started(kube, namespace)
    canary = _deployment(kube, namespace, f"{name}-b")
    stable = _deployment(kube, namespace, name)
    assert canary is not None and stable is not None
    assert canary["spec"]["replicas"] == 1 and builders.template_version(canary) == "v1.2.0"
    assert stable["spec"]["replicas"] == 4 and builders.template_version(stable) == "v1.1.0"
    assert canary["metadata"]["labels"]["modelops.io/track"] == "canary"
    service = kube.get(f"/api/v1/namespaces/{namespace}/services/{name}")
    assert service is not None
    selector = service["spec"]["selector"].items()
    assert selector <= canary["spec"]["template"]["metadata"]["labels"].items()
    assert selector <= stable["spec"]["template"]["metadata"]["labels"].items()
    # The two Deployments do not select each other's pods.
    assert "modelops.io/slot" not in stable["spec"]["selector"]["matchLabels"]
    assert canary["spec"]["selector"]["matchLabels"]["modelops.io/slot"] == "b"
    md = kube.get(_md_path(namespace, name)) or {}
    state = md["status"]["canary"]
    assert state["weight"]["message"] == "asked 25%, serving 1/4 = 25%", "status.canary is not pruned"
    assert state["canaryDeployment"] == f"{name}-b" and state["phase"] == "Progressing"


def test_promote_is_consumed_and_abort_scales_the_canary_to_zero_and_reverts(
    kube: Kube, namespace: str
) -> None:
    name = _canary_started(kube, namespace)
    _annotate(kube, namespace, name, PROMOTE_ANNOTATION, "v1.2.0")
    md = _reconcile(kube, namespace, name)
    assert PROMOTE_ANNOTATION not in (md["metadata"].get("annotations") or {})
    assert md["status"]["canary"]["approvedStep"] == 0
    assert _events(kube, namespace, "PromoteRequested")
    _annotate(kube, namespace, name, ABORT_ANNOTATION, "v1.2.0")
    md = _reconcile(kube, namespace, name)
    assert ABORT_ANNOTATION not in (md["metadata"].get("annotations") or {})
    assert md["spec"]["version"] == "v1.1.0", "RevertSpec: the spec goes back to the stable version"
    assert md["status"]["failedVersions"][0]["cause"] == "Aborted"
    assert md["status"]["canary"]["phase"] == "Aborted"
    assert (_deployment(kube, namespace, f"{name}-b") or {})["spec"]["replicas"] == 0
    assert (_deployment(kube, namespace, name) or {})["spec"]["replicas"] == 4
    assert _events(kube, namespace, "AbortRequested") and _events(kube, namespace, "RolledBack")
    again = _reconcile(kube, namespace, name)  # the reverted spec is the stable version: nothing moves
    assert (_deployment(kube, namespace, f"{name}-b") or {})["spec"]["replicas"] == 0
    assert again["status"]["phase"] == "RolledBack"


def test_an_unservable_weight_is_refused_on_the_object(kube: Kube, namespace: str) -> None:
    name = _canary_started(kube, namespace)
    rollout = copy.deepcopy({"strategy": "Canary", "steps": [{"weight": 10, "pauseSeconds": 30}]})
    kube.json_patch(_md_path(namespace, name), [{"op": "replace", "path": "/spec/rollout", "value": rollout}])
    md = _reconcile(kube, namespace, name)
    degraded = next(c for c in md["status"]["conditions"] if c["type"] == "Degraded")
    assert degraded["reason"] == "InvalidSpec"
    assert "spec.rollout.steps[0].weight: asked 10%, serving 1/4 = 25%" in degraded["message"]
    assert (_deployment(kube, namespace, f"{name}-b") or {})["spec"]["replicas"] == 0
