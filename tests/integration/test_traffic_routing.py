"""A Canary routed by a Gateway API HTTPRoute, on a real apiserver with the real HTTPRoute CRD.

The operator's own reconciles (`controller.reconcile_model_deployment`) create the `-stable` and
`-canary` Services and patch the weights of the route's backendRefs: each step's exact weight once its
canary pod is ready, canary 0 on abort, stable 100 on promotion; the route's other rules are left alone.
A route that does not exist, or that points at none of the operator's Services, refuses the canary with
a condition naming `spec.rollout.trafficRouting.httpRoute`.

No kubelet in this tier: the ReplicaSet controller creates the pods, and the test marks them Running
and Ready through the pods' status subresource (what a kubelet would report), so the real Deployment
controllers count them. No Gateway controller either: the route is only stored (and validated by its
CRD), which is all the operator writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from modelops.vocabulary import ABORT_ANNOTATION, PROMOTE_ANNOTATION, VERSION_LABEL
from modelops_operator import builders, controller
from modelops_operator.kube import Kube, custom_path
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.settings import Settings
from support.cluster import Poller
from support.operator_objects import create, model_deployment, model_version

SETTINGS = Settings()
STABLE, NEW = "v1.1.0", "v1.2.0"
ROUTE = "shop"
STEPS = [{"weight": 10}, {"pause": True}]
FIELD = "spec.rollout.trafficRouting.httpRoute"
OTHER_REF = {"name": "another-app", "port": 80}
OTHER_RULE = {"backendRefs": [OTHER_REF]}


def _route_path(namespace: str, name: str = ROUTE) -> str:
    return f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes/{name}"


def _create_route(kube: Kube, namespace: str, md_name: str | None) -> None:
    """The user's route: a rule to `<md_name>-stable` (none when None) and a rule to another app."""
    ours = [{"backendRefs": [{"name": f"{md_name}-stable", "port": 8080}]}] if md_name else []
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": ROUTE, "namespace": namespace},
        "spec": {"rules": [*ours, OTHER_RULE]},
    }
    kube.request("POST", f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes", route)


def _weights(kube: Kube, namespace: str) -> dict[str, int]:
    route = kube.get(_route_path(namespace)) or {}
    rules = route["spec"]["rules"]
    other = rules[1]["backendRefs"]
    assert other == [{**OTHER_REF, "group": "", "kind": "Service", "weight": 1}], "another rule is untouched"
    return {ref["name"]: ref.get("weight", 1) for ref in rules[0]["backendRefs"]}


def _mark_pods_ready(kube: Kube, namespace: str) -> None:
    """What a kubelet would report for every pod: Running and Ready."""
    ready = {"type": "Ready", "status": "True"}
    for pod in kube.list_items(f"/api/v1/namespaces/{namespace}/pods"):
        conditions = pod.get("status", {}).get("conditions", [])
        if pod["metadata"].get("deletionTimestamp") or ready in conditions:
            continue
        status = {"phase": "Running", "conditions": [ready, {"type": "PodScheduled", "status": "True"}]}
        path = f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}/status"
        kube.request("PATCH", path, {"status": status}, content_type="application/merge-patch+json")


def _reconcile_until(
    kube: Kube, namespace: str, name: str, what: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Reconcile (and let the pods report ready) until `check` holds on the ModelDeployment."""

    def step() -> dict[str, Any] | None:
        _mark_pods_ready(kube, namespace)
        controller.reconcile_model_deployment(kube, SETTINGS, OperatorMetrics(), namespace, name)
        md = kube.get(custom_path(namespace, "modeldeployments", name)) or {}
        return md if check(md) else None

    found: dict[str, Any] = Poller(60, interval=0.3, what=what).until(step)
    return found


def _annotate(kube: Kube, namespace: str, name: str, key: str, value: str) -> None:
    body = {"metadata": {"annotations": {key: value}}}
    path = custom_path(namespace, "modeldeployments", name)
    kube.request("PATCH", path, body, content_type="application/merge-patch+json")


def _canary_phase(phase: str) -> Callable[[dict[str, Any]], bool]:
    return lambda md: (md.get("status", {}).get("canary") or {}).get("phase") == phase


def _serving(kube: Kube, namespace: str, route: str = ROUTE) -> str:
    """v1.1.0 stable on 4 ready pods, then v1.2.0 as a Canary routed by HTTPRoute `route`."""
    for version in (STABLE, NEW):
        create(kube, model_version(version, namespace=namespace))
    md = create(kube, model_deployment(STABLE, namespace=namespace, replicas=4))
    name = str(md["metadata"]["name"])
    kube.apply(builders.build_deployment(md, model_version(STABLE, namespace=namespace), SETTINGS))
    kube.write_status(
        custom_path(namespace, "modeldeployments", name), {"servingVersion": STABLE, "stableVersion": STABLE}
    )
    rollout = {"strategy": "Canary", "steps": STEPS, "trafficRouting": {"httpRoute": route}}
    kube.json_patch(
        custom_path(namespace, "modeldeployments", name),
        [
            {"op": "replace", "path": "/spec/version", "value": NEW},
            {"op": "replace", "path": "/spec/rollout", "value": rollout},
        ],
    )
    return name


def test_the_steps_set_exact_weights_on_the_route_and_promotion_sends_all_to_stable(
    kube: Kube, namespace: str, http_routes: None
) -> None:
    name = _serving(kube, namespace)
    _create_route(kube, namespace, name)
    paused = _reconcile_until(kube, namespace, name, "the canary paused at 10 %", _canary_phase("Paused"))
    assert _weights(kube, namespace) == {f"{name}-stable": 90, f"{name}-canary": 10}
    assert paused["status"]["canary"]["trafficRouting"]["type"] == "HTTPRoute"
    assert paused["status"]["canary"]["routeWeight"] == 10, "stored: the next step's wait keeps it"
    assert paused["status"]["canary"]["weight"]["canaryReplicas"] == 1, "10 % of 4 pods: 1 canary pod"
    for service, version in ((f"{name}-stable", "v1-1-0"), (f"{name}-canary", "v1-2-0")):
        found = kube.get(f"/api/v1/namespaces/{namespace}/services/{service}") or {}
        assert found["spec"]["selector"][VERSION_LABEL] == version, service
    _annotate(kube, namespace, name, PROMOTE_ANNOTATION, NEW)
    _reconcile_until(kube, namespace, name, "the canary promoted", _canary_phase("Promoted"))
    assert _weights(kube, namespace) == {f"{name}-stable": 100, f"{name}-canary": 0}
    stable = kube.get(f"/api/v1/namespaces/{namespace}/services/{name}-stable") or {}
    assert stable["spec"]["selector"][VERSION_LABEL] == "v1-2-0", "stable now selects the promoted pods"


def test_abort_sets_the_canary_weight_to_zero(kube: Kube, namespace: str, http_routes: None) -> None:
    name = _serving(kube, namespace)
    _create_route(kube, namespace, name)
    _reconcile_until(kube, namespace, name, "the canary paused at 10 %", _canary_phase("Paused"))
    _annotate(kube, namespace, name, ABORT_ANNOTATION, NEW)
    aborted = _reconcile_until(kube, namespace, name, "the canary aborted", _canary_phase("Aborted"))
    assert aborted["spec"]["version"] == STABLE
    assert _weights(kube, namespace) == {f"{name}-stable": 100, f"{name}-canary": 0}


@pytest.mark.parametrize("route", ["missing", "foreign"])
def test_a_route_the_operator_may_not_use_refuses_the_canary_naming_the_field(
    kube: Kube, namespace: str, http_routes: None, route: str
) -> None:
    name = _serving(kube, namespace, route=ROUTE)
    if route == "foreign":  # a route that never points at the operator's Services
        _create_route(kube, namespace, None)

    def refused(md: dict[str, Any]) -> bool:
        degraded = [c for c in md.get("status", {}).get("conditions", []) if c["type"] == "Degraded"]
        return bool(degraded) and degraded[0]["reason"] == "InvalidSpec"

    md = _reconcile_until(kube, namespace, name, "the canary refused", refused)
    message = next(c for c in md["status"]["conditions"] if c["type"] == "Degraded")["message"]
    assert message.startswith(f"{FIELD}: HTTPRoute {namespace}/{ROUTE}"), message
    assert ("does not exist" if route == "missing" else f"Service {name}-stable") in message
    canary = kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}-b")
    assert canary is None or canary["spec"]["replicas"] == 0
    if route == "foreign":
        route_now = kube.get(_route_path(namespace)) or {}
        [rule] = route_now["spec"]["rules"]
        assert [ref["name"] for ref in rule["backendRefs"]] == [OTHER_REF["name"]], "never patched"
        assert rule["backendRefs"][0]["weight"] == 1
