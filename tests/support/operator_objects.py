"""Hand-built ModelDeployment / ModelVersion objects and observed states for operator tests.

The unit tests of the reconcile drive the pure `plan` with these, and the integration tests send the
same objects to a real apiserver, so both tiers test the same shapes; `reconciled` and `rollout_started`
are the integration tests' one reconcile through the controller and their stable-then-new-version start.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from modelops.names import deployment_name, model_version_name
from modelops_operator import builders, controller
from modelops_operator.kube import custom_path
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.settings import Settings

MODEL = "safety_classifier"
DIGEST = "ab" * 32
T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def model_version(
    version: str, model: str = MODEL, namespace: str = "default", **spec: Any
) -> dict[str, Any]:
    """A valid ModelVersion object."""
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {
            "name": model_version_name(model, version),
            "namespace": namespace,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "generation": 1,
        },
        "spec": {
            "model": model,
            "version": version,
            "artifact": {"uri": f"/app/models/{model}/{version}", "format": "onnx", "sha256": DIGEST},
            "metrics": {"accuracy": 0.9},
            "labels": ["safe", "unsafe"],
            **spec,
        },
    }


def model_deployment(
    version: str,
    environment: str = "production",
    namespace: str = "default",
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A valid ModelDeployment object with hostPath storage."""
    md: dict[str, Any] = {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {
            "name": deployment_name(MODEL, environment),
            "namespace": namespace,
            "uid": "0d5e4c6a-1111-2222-3333-444455556666",
            "generation": 1,
        },
        "spec": {
            "model": MODEL,
            "environment": environment,
            "version": version,
            "replicas": 2,
            "storage": {"type": "hostPath", "path": "/app/models"},
            "rollback": {"automatic": True, "mode": "RevertSpec", "progressDeadlineSeconds": 60},
            **spec,
        },
    }
    if status is not None:
        md["status"] = copy.deepcopy(status)
    return md


def later(seconds: float) -> datetime:
    """T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def create(kube: Any, obj: dict[str, Any]) -> dict[str, Any]:
    """POST a ModelVersion or ModelDeployment as a client would: without the fields the server sets."""
    body = copy.deepcopy(obj)
    for key in ("uid", "generation", "creationTimestamp"):
        body["metadata"].pop(key, None)
    plural = "modelversions" if obj["kind"] == "ModelVersion" else "modeldeployments"
    namespace = obj["metadata"]["namespace"]
    created: dict[str, Any] = kube.request(
        "POST", f"/apis/modelops.io/v1alpha1/namespaces/{namespace}/{plural}", body
    )
    return created


def reconciled(kube: Any, namespace: str, name: str, settings: Settings | None = None) -> dict[str, Any]:
    """One reconcile of ModelDeployment `name` through the controller; the object after it."""
    controller.reconcile_model_deployment(kube, settings or Settings(), OperatorMetrics(), namespace, name)
    md: dict[str, Any] | None = kube.get(custom_path(namespace, "modeldeployments", name))
    assert md is not None, f"ModelDeployment {namespace}/{name} is gone after its reconcile"
    return md


def rollout_started(kube: Any, namespace: str, rollout: dict[str, Any], **spec: Any) -> str:
    """v1.1.0 stable (`model_deployment` with `spec`; its Deployment applied, status saying so), then
    spec.version v1.2.0 with `rollout` as spec.rollout; one reconcile. The ModelDeployment's name."""
    for version in ("v1.1.0", "v1.2.0"):
        create(kube, model_version(version, namespace=namespace))
    md = create(kube, model_deployment("v1.1.0", namespace=namespace, **spec))
    name = str(md["metadata"]["name"])
    path = custom_path(namespace, "modeldeployments", name)
    kube.apply(builders.build_deployment(md, model_version("v1.1.0", namespace=namespace), Settings()))
    kube.write_status(path, {"servingVersion": "v1.1.0", "stableVersion": "v1.1.0"})
    kube.json_patch(
        path,
        [
            {"op": "replace", "path": "/spec/version", "value": "v1.2.0"},
            {"op": "add", "path": "/spec/rollout", "value": rollout},
        ],
    )
    reconciled(kube, namespace, name)
    return name
