"""Promotion gates on a real apiserver: the operator's reconciles block, open and override a version,
the evidence lives in ModelVersion status, the registry and modelctl refuse with the same words.

No kubelet in this tier: the staging ModelDeployment's status is written the way the operator writes
it once pods serve; every other write is the operator's own code (`controller`, `modelversion`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from modelops import gates
from modelops.registry import ModelRegistry, PromotionBlockedError
from modelops.registry.kubernetes import KubernetesBackend
from modelops_operator import builders, modelversion
from modelops_operator.kube import Kube, KubeError, custom_path
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.settings import Settings
from support.cluster import Poller
from support.operator_objects import MODEL, create, model_deployment, model_version, reconciled

SETTINGS = Settings()
PROMOTION = {
    "requires": [{"environment": "staging", "healthyForSeconds": 600}],
    "minMetrics": {"recall": 0.9},
}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _setup(kube: Kube, namespace: str) -> str:
    """v1.0.0 stable in production (gated); v1.1.0 good, v1.2.0 with a low recall; returns the MD name."""
    for version, recall in (("v1.0.0", 0.95), ("v1.1.0", 0.95), ("v1.2.0", 0.5)):
        create(kube, model_version(version, namespace=namespace, metrics={"recall": recall}))
    md = create(kube, model_deployment("v1.0.0", namespace=namespace, promotion=PROMOTION))
    name = str(md["metadata"]["name"])
    kube.apply(builders.build_deployment(md, model_version("v1.0.0", namespace=namespace), SETTINGS))
    kube.write_status(
        custom_path(namespace, "modeldeployments", name),
        {"servingVersion": "v1.0.0", "stableVersion": "v1.0.0"},
    )
    return name


def _set_version(kube: Kube, namespace: str, name: str, version: str) -> None:
    kube.json_patch(
        custom_path(namespace, "modeldeployments", name),
        [{"op": "replace", "path": "/spec/version", "value": version}],
    )


def _reconcile(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return reconciled(kube, namespace, name, SETTINGS)


def _degraded(md: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in md["status"]["conditions"] if c["type"] == "Degraded")


def _template_version(kube: Kube, namespace: str, name: str) -> str | None:
    return builders.template_version(
        kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}") or {}
    )


def _events(kube: Kube, namespace: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in kube.list_items(f"/api/v1/namespaces/{namespace}/events") if e.get("reason") == reason]


def _serve_in_staging(kube: Kube, namespace: str, version: str, since: datetime) -> None:
    """A staging ModelDeployment serving `version` since `since` (its status as the operator writes it)."""
    md = create(kube, model_deployment(version, environment="staging", namespace=namespace))
    available = {"type": "Available", "status": "True", "reason": "Serving", "message": "serving"}
    kube.write_status(
        custom_path(namespace, "modeldeployments", md["metadata"]["name"]),
        {
            "servingVersion": version,
            "servingSince": _stamp(since),
            "stableVersion": version,
            "conditions": [{**available, "lastTransitionTime": _stamp(since)}],
        },
    )
    modelversion.reconcile_model_version(kube, namespace, f"safety-classifier-{version.replace('.', '-')}")


def test_version_that_never_ran_in_staging_is_blocked_and_stable_keeps_serving(
    kube: Kube, namespace: str
) -> None:
    name = _setup(kube, namespace)
    _set_version(kube, namespace, name, "v1.1.0")
    md = _reconcile(kube, namespace, name)
    assert _degraded(md)["status"] == "True"
    assert _degraded(md)["reason"] == "PromotionBlocked"
    assert _degraded(md)["message"] == "v1.1.0 has not run in staging; v1.0.0 keeps serving"
    assert md["status"]["promotion"]["phase"] == "Blocked"
    assert _template_version(kube, namespace, name) == "v1.0.0"
    assert len(_events(kube, namespace, "PromotionBlocked")) == 1
    _reconcile(kube, namespace, name)
    assert len(_events(kube, namespace, "PromotionBlocked")) == 1, "a blocked gate warns once, not per resync"


def test_window_in_progress_then_open_rolls_out(kube: Kube, namespace: str) -> None:
    name = _setup(kube, namespace)
    now = datetime.now(UTC)
    _serve_in_staging(kube, namespace, "v1.1.0", now - timedelta(seconds=240))
    mv = kube.get(custom_path(namespace, "modelversions", "safety-classifier-v1-1-0"))
    assert mv is not None
    (record,) = mv["status"]["environments"]
    assert record["environment"] == "staging" and record["availableSince"] == _stamp(
        now - timedelta(seconds=240)
    )
    _set_version(kube, namespace, name, "v1.1.0")
    md = _reconcile(kube, namespace, name)
    assert "v1.1.0 has been healthy in staging for 4m of the required 10m" in _degraded(md)["message"]
    opens = datetime.fromisoformat(md["status"]["promotion"]["opensAt"].replace("Z", "+00:00"))
    assert abs((opens - (now + timedelta(seconds=360))).total_seconds()) <= 2
    # The operator restarts with the evidence in status; the window has passed meanwhile.
    staging_record = {**record, "availableSince": _stamp(now - timedelta(seconds=700))}
    kube.write_status(
        custom_path(namespace, "modelversions", "safety-classifier-v1-1-0"),
        {**mv["status"], "environments": [staging_record]},
    )
    md = _reconcile(kube, namespace, name)
    assert md["status"]["promotion"]["phase"] == "Open"
    assert _degraded(md)["status"] == "False"
    assert _template_version(kube, namespace, name) == "v1.1.0"
    assert _events(kube, namespace, "PromotionGatesOpen")


def test_low_recall_is_blocked_and_the_override_needs_a_reason(kube: Kube, namespace: str) -> None:
    name = _setup(kube, namespace)
    _serve_in_staging(kube, namespace, "v1.2.0", datetime.now(UTC) - timedelta(hours=1))
    _set_version(kube, namespace, name, "v1.2.0")
    md = _reconcile(kube, namespace, name)
    assert _degraded(md)["message"] == "v1.2.0 recall 0.5 is below the minimum 0.9; v1.0.0 keeps serving"
    path = custom_path(namespace, "modeldeployments", name)
    kube.request(
        "PATCH",
        path,
        {"metadata": {"annotations": {gates.OVERRIDE_ANNOTATION: "v1.2.0"}}},
        content_type="application/merge-patch+json",
    )
    md = _reconcile(kube, namespace, name)
    assert "ignored without a reason" in _degraded(md)["message"]
    assert _template_version(kube, namespace, name) == "v1.0.0"
    reason = {gates.OVERRIDE_REASON_ANNOTATION: "hotfix INC-42"}
    kube.request(
        "PATCH", path, {"metadata": {"annotations": reason}}, content_type="application/merge-patch+json"
    )
    md = _reconcile(kube, namespace, name)
    assert md["status"]["promotion"]["phase"] == "Overridden"
    assert md["status"]["promotion"]["override"]["reason"] == "hotfix INC-42"
    assert _template_version(kube, namespace, name) == "v1.2.0"
    (warning,) = _events(kube, namespace, "PromotionGatesOverridden")
    assert warning["type"] == "Warning" and "recall 0.5 is below the minimum 0.9" in warning["message"]


def test_promotion_spec_is_validated(kube: Kube, namespace: str) -> None:
    bad = model_deployment("v1.0.0", namespace=namespace, promotion={"minMetrics": {"recall": 1.5}})
    with pytest.raises(KubeError, match=r"spec\.promotion\.minMetrics\.recall"):
        create(kube, bad)


@pytest.fixture
def registry(apiserver: Any, namespace: str, tmp_path: Path) -> ModelRegistry:
    api_client = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    return ModelRegistry(
        KubernetesBackend(client.CustomObjectsApi(api_client), namespace, tmp_path / "models")
    )


def test_registry_and_modelctl_refuse_a_closed_gate(
    kube: Kube, apiserver: Any, namespace: str, registry: ModelRegistry
) -> None:
    from click.testing import CliRunner

    from modelops.cli.main import cli

    name = _setup(kube, namespace)
    with pytest.raises(PromotionBlockedError, match=r"v1\.1\.0 has not run in staging"):
        registry.deploy_model(MODEL, "v1.1.0", "production")
    assert (kube.get(custom_path(namespace, "modeldeployments", name)) or {})["spec"]["version"] == "v1.0.0"
    _serve_in_staging(kube, namespace, "v1.1.0", datetime.now(UTC) - timedelta(seconds=300))
    base = ["--kubeconfig", str(apiserver.kubeconfig), "-n", namespace]
    promoted = CliRunner().invoke(
        cli, [*base, "promote", MODEL, "v1.1.0", "--from", "staging", "--to", "production"]
    )
    assert promoted.exit_code == 1
    assert "healthy in staging for 5m of the required 10m" in promoted.output
    listed = CliRunner().invoke(cli, [*base, "checklist", MODEL, "v1.1.0", "-o", "json"])
    assert listed.exit_code == 1, listed.output
    items = {i["item"]: i for i in json.loads(listed.output)["items"]}
    assert items["deployed to staging"]["done"] is True
    assert items["staging tests passed"]["done"] is False
    assert "5m of the required 10m" in items["staging tests passed"]["evidence"]
    assert items["deployed to production"]["done"] is False
    table = CliRunner().invoke(cli, [*base, "checklist", MODEL, "v1.1.0"])
    assert "✅" in table.output and "❌" in table.output


def test_the_operator_requeues_itself_when_the_window_ends(kube: Kube, namespace: str) -> None:
    from modelops_operator import handlers

    name = _setup(kube, namespace)
    _serve_in_staging(kube, namespace, "v1.1.0", datetime.now(UTC) - timedelta(seconds=597))
    _set_version(kube, namespace, name, "v1.1.0")
    runtime = handlers.Runtime(SETTINGS, kube, OperatorMetrics())  # no resync, no watch: only the requeue
    key = (handlers.MD, namespace, name)
    runtime.queue.add(key)
    assert runtime.queue.run_due() == 1
    md = kube.get(custom_path(namespace, "modeldeployments", name)) or {}
    assert md["status"]["promotion"]["phase"] == "Blocked"
    assert 0 < runtime.queue.pending()[key] <= 4.5, "requeued for the moment the gate opens"
    runtime.queue.start(workers=1)
    try:
        Poller(20, what="the requeue at opensAt rolls v1.1.0 out").until(
            lambda: _template_version(kube, namespace, name) == "v1.1.0"
        )
    finally:
        runtime.queue.stop()
