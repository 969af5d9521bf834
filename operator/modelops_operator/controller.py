"""One reconcile of a ModelDeployment end to end: read fresh state, plan, apply the plan.

`handlers` calls `reconcile_model_deployment` for every event and timer tick; it is idempotent. The
apply order matters for crash safety: objects first, then the status (which records a failed version
before anything else can forget it), then the spec revert, then Events.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from modelops.vocabulary import MODEL_DEPLOYMENTS
from modelops_operator import builders, observe, reconcile, traffic_routing
from modelops_operator.draft import Event, Plan, timestamp
from modelops_operator.kube import Kube, KubeError, custom_path
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.settings import Settings
from modelops_operator.state import DeploymentState, Observed

log = logging.getLogger(__name__)


def reconcile_model_deployment(
    kube: Kube, settings: Settings, metrics: OperatorMetrics, namespace: str, name: str
) -> Plan | None:
    """Reconcile one ModelDeployment; None when it no longer exists."""
    started = time.monotonic()
    try:
        md = kube.get(custom_path(namespace, MODEL_DEPLOYMENTS, name))
        if md is None or md["metadata"].get("deletionTimestamp"):
            return None
        now = datetime.now(UTC)
        observed = observe.observe(kube, md, settings, now)
        result = reconcile.plan(observed, settings)
        apply_plan(kube, md, result, timestamp(now), observed=observed)
    except KubeError as error:
        kind = "temporary" if error.temporary else "permanent"
        metrics.errors.labels("ModelDeployment", kind).inc()
        metrics.reconciles.labels("ModelDeployment", "error").inc()
        raise
    finally:
        metrics.duration.labels("ModelDeployment").observe(time.monotonic() - started)
    metrics.reconciles.labels("ModelDeployment", "ok").inc()
    if result.rolled_back:
        metrics.rollbacks.labels(namespace, observed.spec.model).inc()
    return result


def apply_plan(
    kube: Kube, md: dict[str, Any], plan: Plan, now: str, *, observed: Observed | None = None
) -> None:
    """Make the plan true in the cluster. A Deployment that `observed` shows exactly as this process
    last applied it is not applied again (a server-side apply that would change nothing)."""
    path = custom_path(md["metadata"]["namespace"], MODEL_DEPLOYMENTS, md["metadata"]["name"])
    namespace = md["metadata"]["namespace"]
    for name in plan.scale_to_zero:  # a canary's pods leave first: the blast radius shrinks at once
        scale = [{"op": "replace", "path": "/spec/replicas", "value": 0}]
        kube.json_patch(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", scale)
    seen = _observed_deployments(observed)
    for obj in (plan.service, *plan.route_services, plan.canary_deployment, plan.deployment, *plan.objects):
        if obj is None:
            continue
        found = seen.get(obj["metadata"]["name"]) if obj["kind"] == "Deployment" else None
        if found is None or not kube.unchanged_since_applied(obj, found.uid, found.generation):
            kube.apply(obj)
    if plan.route_patch and (route := traffic_routing.route_name(md)):
        kube.json_patch(traffic_routing.route_path(namespace, route), plan.route_patch)
    for pod_name, notes in plan.pod_annotations.items():  # their kubelet refreshes mounted files
        kube.annotate(f"/api/v1/namespaces/{namespace}/pods/{pod_name}", notes)
    if plan.status != (md.get("status") or {}):
        kube.write_status(path, plan.status)
    if plan.spec_patch:
        _revert_spec(kube, path, plan.spec_patch)
    for key in plan.remove_annotations:
        escaped = key.replace("~", "~0").replace("/", "~1")
        kube.json_patch(path, [{"op": "remove", "path": f"/metadata/annotations/{escaped}"}])
    for event in plan.events:
        _post(kube, md, event, now)


def _observed_deployments(observed: Observed | None) -> dict[str, DeploymentState]:
    """The observed Deployments by name (the stable slot's and the other one's)."""
    if observed is None:
        return {}
    name = observed.md["metadata"]["name"]
    slot = str((observed.md.get("status") or {}).get("stableDeployment") or name)
    found = {slot: observed.deployment, builders.other_slot(name, slot): observed.other_deployment}
    return {key: state for key, state in found.items() if state is not None}


def _revert_spec(kube: Kube, path: str, ops: list[dict[str, Any]]) -> None:
    try:
        kube.json_patch(path, ops)
    except KubeError as error:
        if error.status != 422:  # 422: the "test" op failed, someone changed spec.version meanwhile
            raise
        log.info("spec.version changed before the revert of %s; the next reconcile decides again", path)


def _post(kube: Kube, md: dict[str, Any], event: Event, now: str) -> None:
    try:
        kube.post_event(md, event.type, event.reason, event.message, now)
    except KubeError as error:  # an Event is best effort; the status already says it
        log.warning("could not post event %s on %s: %s", event.reason, md["metadata"]["name"], error)
