"""One broken object must not stall the others: the work queue on a real apiserver.

The broken object is one the apiserver stored before the CRD was tightened (a model type with a double
underscore): exactly the upgrade case where the operator meets data its own code rejects.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import pytest

from modelops_operator import builders, handlers
from modelops_operator import conditions as c
from modelops_operator.kube import Kube, KubeError, custom_path
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.settings import Settings
from support.cluster import Poller
from support.operator_objects import create, model_deployment, model_version

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/modeldeployments.modelops.io"
BAD_MODEL = "safety__classifier"


def _model_schema(crd: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return spec["properties"]["model"]  # type: ignore[no-any-return]


def _set_model_pattern(kube: Kube, pattern: str) -> None:
    crd = kube.get(CRD_PATH)
    assert crd is not None
    _model_schema(crd)["pattern"] = pattern
    kube.request("PUT", CRD_PATH, crd)


def _bad_md(namespace: str) -> dict[str, Any]:
    md = model_deployment("v1.0.0", namespace=namespace, model=BAD_MODEL)
    md["metadata"] = {"name": "legacy-model", "namespace": namespace}
    return md


def _trycreate(kube: Kube, namespace: str, md: dict[str, Any]) -> bool:
    try:
        kube.request("POST", custom_path(namespace, "modeldeployments"), md)
    except KubeError as error:
        if error.status == 422:  # the looser pattern is not in force yet
            return False
        raise
    return True


@pytest.fixture
def legacy_object(kube: Kube, namespace: str) -> Iterator[str]:
    """A ModelDeployment stored under an older, looser CRD pattern; the CRD is restored afterwards."""
    strict = _model_schema(kube.get(CRD_PATH) or {})["pattern"]
    _set_model_pattern(kube, "^[a-z][a-z0-9_]{0,38}[a-z0-9]$")
    try:
        md = _bad_md(namespace)
        Poller(30, what="the legacy object stored").until(lambda: _trycreate(kube, namespace, md))
    finally:
        _set_model_pattern(kube, strict)
    probe = _bad_md(namespace)
    probe["metadata"]["name"] = "probe"
    Poller(30, what="the strict pattern back in force").until(
        lambda: not _trycreate(kube, namespace, copy.deepcopy(probe))
    )
    yield "legacy-model"


def test_a_broken_object_is_reported_on_itself_and_the_others_are_reconciled(
    kube: Kube, namespace: str, legacy_object: str
) -> None:
    create(kube, model_version("v1.0.0", namespace=namespace))
    good = [
        model_deployment("v1.0.0", environment=env, namespace=namespace) for env in ("staging", "production")
    ]
    for md in good:
        create(kube, md)
    runtime = handlers.Runtime(Settings(namespaces=(namespace,)), kube, OperatorMetrics())
    handlers.resync_once(runtime)
    started = time.monotonic()
    runtime.queue.run_due()
    for md in good:
        name = md["metadata"]["name"]
        dep = kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        assert dep is not None and builders.template_version(dep) == "v1.0.0", f"{name} was not reconciled"
    broken = kube.get(custom_path(namespace, "modeldeployments", legacy_object)) or {}
    degraded = c.find((broken.get("status") or {}).get("conditions", []), c.DEGRADED)
    assert degraded is not None, f"no Degraded condition on the broken object: {broken.get('status')}"
    assert degraded["status"] == "True" and degraded["reason"] == c.REASON_RECONCILE_ERROR
    assert "invalid model type 'safety__classifier'" in degraded["message"]
    key = ("modeldeployments", namespace, legacy_object)
    assert runtime.queue.failures(key) == 1
    # Due 1 s (the first backoff) after its failure, which happened during run_due: measured as a due
    # time, not as "seconds left", so a slow machine between the two calls cannot make it flaky.
    due = time.monotonic() + runtime.queue.pending()[key]
    assert started + 1.0 <= due <= time.monotonic() + 1.0, "retried alone, with a 1 s backoff"
    others = {k for k in runtime.queue.pending() if k != key and k[0] == "modeldeployments"}
    assert all(runtime.queue.pending()[k] > 0.5 for k in others)
