"""The Shadow strategy on a real apiserver: the CRD refuses bad shadow fields naming them, and the
operator's own reconciles create the candidate's Deployment and Service (not selected by the user-facing
Service) and on abort revert the spec through the rollback path, turn mirroring off and scale the
candidate to 0. (The target written once the candidate is ready: unit tests and e2e.)

No kubelet in this tier: pods stay Pending; the stable version's status is written the way the operator
writes it once pods serve.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelops.vocabulary import ABORT_ANNOTATION
from modelops_operator import builders
from modelops_operator.kube import Kube, KubeError, custom_path
from modelops_operator.settings import Settings
from support.operator_objects import create, model_deployment, reconciled, rollout_started

SETTINGS = Settings()
SHADOW = {"strategy": "Shadow", "shadow": {"sampleFraction": 0.5, "durationSeconds": 30}}

FIELD = "spec.rollout.shadow"
INVALID = [
    ("fraction-zero", {"sampleFraction": 0}, f"{FIELD}.sampleFraction"),
    ("then-shadow", {"then": "Shadow"}, f"{FIELD}.then"),
    ("duration-zero", {"durationSeconds": 0}, f"{FIELD}.durationSeconds"),
    ("then-canary-no-steps", {"then": "Canary"}, "spec.rollout.steps"),
    ("queue-zero", {"queueSize": 0}, f"{FIELD}.queueSize"),
]


@pytest.mark.parametrize(("case", "shadow", "field"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_shadow_fields_are_rejected_naming_the_field(
    kube: Kube, namespace: str, case: str, shadow: dict[str, Any], field: str
) -> None:
    rollout = {"strategy": "Shadow", "shadow": shadow}
    with pytest.raises(KubeError) as rejected:
        create(kube, model_deployment("v1.0.0", namespace=namespace, rollout=rollout))
    assert rejected.value.status == 422, f"{case}: {rejected.value}"
    assert field in str(rejected.value), f"{case}: message does not name {field}: {rejected.value}"


def test_min_agreement_above_one_is_rejected(kube: Kube, namespace: str) -> None:
    md = model_deployment("v1.0.0", namespace=namespace)
    md["spec"]["rollback"]["analysis"] = {"minAgreement": 1.5}
    with pytest.raises(KubeError, match=r"spec.rollback.analysis.minAgreement"):
        create(kube, md)


def test_shadow_defaults_and_no_target_field(kube: Kube, namespace: str) -> None:
    rollout = {"strategy": "Shadow", "shadow": {"url": "http://evil.example/steal"}}
    created = create(kube, model_deployment("v1.0.0", namespace=namespace, rollout=rollout))
    assert created["spec"]["rollout"]["shadow"] == {
        "sampleFraction": 0.1,
        "durationSeconds": 300,
        "minRequests": 100,
        "replicas": 1,
        "queueSize": 64,
        "timeoutSeconds": 2,
        "then": "RollingUpdate",
    }, "a mirror URL cannot be written into the spec: the apiserver prunes it"


def _path(namespace: str, name: str) -> str:
    return custom_path(namespace, "modeldeployments", name)


def _reconcile(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return reconciled(kube, namespace, name, SETTINGS)


def _shadow_started(kube: Kube, namespace: str) -> str:
    return rollout_started(kube, namespace, SHADOW)


def test_a_shadow_gets_its_own_objects_and_an_abort_reverts(kube: Kube, namespace: str) -> None:
    name = _shadow_started(kube, namespace)
    objects = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    candidate = kube.get(f"{objects}/{name}-shadow")
    service = kube.get(f"/api/v1/namespaces/{namespace}/services/{name}-shadow")
    user_service = kube.get(f"/api/v1/namespaces/{namespace}/services/{name}")
    assert candidate is not None and service is not None and user_service is not None
    labels = candidate["spec"]["template"]["metadata"]["labels"]
    assert not user_service["spec"]["selector"].items() <= labels.items()
    assert builders.template_version(candidate) == "v1.2.0"
    md = kube.get(_path(namespace, name))
    assert md is not None and md["status"]["shadow"]["phase"] == "Starting", "no target before it is ready"
    body = {"metadata": {"annotations": {ABORT_ANNOTATION: "v1.2.0"}}}
    kube.request("PATCH", _path(namespace, name), body, content_type="application/merge-patch+json")
    md = _reconcile(kube, namespace, name)
    assert md["spec"]["version"] == "v1.1.0" and md["status"]["shadow"]["phase"] == "Rejected"
    config = kube.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}-shadow")
    assert json.loads(config["data"]["target.json"]) == {}
    candidate = kube.get(f"{objects}/{name}-shadow")
    assert candidate is not None and candidate["spec"]["replicas"] == 0
    stable = kube.get(f"{objects}/{name}")
    assert stable is not None and builders.template_version(stable) == "v1.1.0"
