"""A Canary routed by a Gateway API HTTPRoute: exact weights on the route's backendRefs, the stable and
canary Services, abort and promote, and a route that cannot carry the weights (condition naming the
field). The pure plan, transition by transition; tests/integration/test_traffic_routing.py applies it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelops.vocabulary import ABORT_ANNOTATION, VERSION_LABEL
from modelops_operator import conditions as c
from modelops_operator import reconcile, traffic_routing
from modelops_operator.settings import Settings
from modelops_operator.state import Observed, ObservedRoute
from support.operator_objects import T0, later, model_deployment, model_version
from support.reconcile_scenes import after, done, pods, stable_status

SETTINGS = Settings()
NAME = "safety-classifier-production"
STABLE_SVC, CANARY_SVC = f"{NAME}-stable", f"{NAME}-canary"
STABLE, NEW = "v1.1.0", "v1.2.0"
ROUTE = "shop"
STEPS = [{"weight": 10, "pauseSeconds": 30}, {"weight": 60, "pauseSeconds": 30}]
GATEWAY_REF = {"name": "other-app", "port": 80}


def http_route(*refs: dict[str, Any]) -> dict[str, Any]:
    """A route with a rule to the stable Service (and `refs`) and one rule the operator must not touch."""
    ours = [{"name": STABLE_SVC, "port": 8080}, *refs]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": ROUTE, "namespace": "default"},
        "spec": {"rules": [{"backendRefs": ours}, {"backendRefs": [GATEWAY_REF]}]},
    }


def routed_md(route: str | None = ROUTE) -> dict[str, Any]:
    rollout: dict[str, Any] = {"strategy": "Canary", "steps": STEPS}
    if route:
        rollout["trafficRouting"] = {"httpRoute": route}
    return model_deployment(NEW, status=stable_status(STABLE, 4), replicas=4, rollout=rollout)


def plan(
    md: dict[str, Any],
    route: ObservedRoute | None,
    *,
    stable: int = 4,
    canary: int | None = None,
    now: datetime = T0,
) -> reconcile.Plan:
    status = md["status"]
    stable_version = status["stableVersion"]
    canary_version = md["spec"]["version"]
    obs = Observed(
        md=md,
        now=now,
        target_mv=model_version(canary_version),
        stable_mv=model_version(stable_version),
        deployment=done(stable_version, stable),
        other_deployment=None if canary is None else done(canary_version, canary),
        pods=pods(stable_version, stable) + (pods(canary_version, canary) if canary else ()),
        http_route=route,
    )
    return reconcile.plan(obs, SETTINGS)


def weights(result: reconcile.Plan, route: dict[str, Any]) -> dict[str, int]:
    """The weights the plan's patch leaves on the route's first rule (after the `test` ops pass)."""
    assert result.route_patch is not None
    ops = [op for op in result.route_patch if op["op"] == "replace"]
    assert [op["path"] for op in ops] == ["/spec/rules/0/backendRefs"], "only the rule pointing at us"
    tests = [op for op in result.route_patch if op["op"] == "test"]
    assert tests[0]["value"] == route["spec"]["rules"][0]["backendRefs"]
    return {ref["name"]: ref["weight"] for ref in ops[0]["value"]}


def observed(route: dict[str, Any] | None) -> ObservedRoute:
    return ObservedRoute(ROUTE, route=route)


def test_the_canary_weight_is_set_exactly_on_the_route_not_by_replica_ratio() -> None:
    route = http_route()
    md = routed_md()
    start = plan(md, observed(route))
    assert "failedVersions" not in start.status and start.canary_deployment is not None
    assert weights(start, route) == {STABLE_SVC: 100, CANARY_SVC: 0}, "no weight before the canary is ready"
    md = after(md, start)
    reached = plan(md, observed(route), stable=3, canary=1, now=later(20))
    assert weights(reached, route) == {STABLE_SVC: 90, CANARY_SVC: 10}, "10% exactly, with 1 pod of 4"
    canary = reached.status["canary"]
    assert canary["trafficRouting"] == {
        "type": "HTTPRoute",
        "httpRoute": ROUTE,
        "stableWeight": 90,
        "canaryWeight": 10,
    }
    assert canary["weight"]["message"] == "asked 10%, HTTPRoute shop sends 10% to the canary (1/4 pods)"


def test_the_stable_and_canary_services_select_one_version_each() -> None:
    result = plan(routed_md(), observed(http_route()))
    services = {s["metadata"]["name"]: s for s in result.route_services}
    assert set(services) == {STABLE_SVC, CANARY_SVC}
    assert services[STABLE_SVC]["spec"]["selector"][VERSION_LABEL] == "v1-1-0"
    assert services[CANARY_SVC]["spec"]["selector"][VERSION_LABEL] == "v1-2-0"
    assert result.service is not None
    assert services[STABLE_SVC]["spec"]["ports"] == result.service["spec"]["ports"]


def test_weights_already_on_the_route_are_not_patched_again() -> None:
    route = http_route({"name": CANARY_SVC, "port": 8080})
    route["spec"]["rules"][0]["backendRefs"] = [
        {"name": STABLE_SVC, "port": 8080, "weight": 100},
        {"name": CANARY_SVC, "port": 8080, "weight": 0},
    ]
    assert traffic_routing.weights_patch(route, NAME, 0) is None
    assert traffic_routing.weights_patch(route, NAME, 10) is not None


def test_other_backends_of_the_rule_are_kept() -> None:
    route = http_route(GATEWAY_REF)
    patch = traffic_routing.weights_patch(route, NAME, 25)
    assert patch is not None
    assert patch[-1]["value"][-1] == GATEWAY_REF


def test_abort_sets_the_canary_weight_to_zero() -> None:
    route = http_route()
    md = routed_md()
    md = after(md, plan(md, observed(route)))
    md = after(md, plan(md, observed(route), stable=3, canary=1, now=later(20)))
    md["metadata"]["annotations"] = {ABORT_ANNOTATION: NEW}
    aborted = plan(md, observed(route), stable=3, canary=1, now=later(25))
    assert aborted.status["canary"]["phase"] == "Aborted"
    assert weights(aborted, route) == {STABLE_SVC: 100, CANARY_SVC: 0}


def test_promotion_sends_everything_to_the_stable_service_which_now_selects_the_new_version() -> None:
    route = http_route()
    md = routed_md()
    md = after(md, plan(md, observed(route)))
    md = after(md, plan(md, observed(route), stable=3, canary=1, now=later(20)))
    md = after(md, plan(md, observed(route), stable=3, canary=1, now=later(51)))  # step 1 done
    md = after(md, plan(md, observed(route), stable=2, canary=2, now=later(60)))  # step 2 reached: 60%
    assert md["status"]["canary"]["trafficRouting"]["canaryWeight"] == 60
    md = after(md, plan(md, observed(route), stable=2, canary=2, now=later(91)))  # scaling to full
    promoted = plan(md, observed(route), stable=0, canary=4, now=later(95))
    assert promoted.status["canary"]["phase"] == "Promoted"
    assert weights(promoted, route) == {STABLE_SVC: 100, CANARY_SVC: 0}
    services = {s["metadata"]["name"]: s for s in promoted.route_services}
    assert services[STABLE_SVC]["spec"]["selector"][VERSION_LABEL] == "v1-2-0"


def test_a_missing_route_refuses_the_canary_naming_the_field() -> None:
    result = plan(routed_md(), observed(None))
    degraded = c.find(result.status["conditions"], c.DEGRADED)
    assert degraded is not None and degraded["reason"] == c.REASON_INVALID_SPEC
    assert degraded["message"].startswith("spec.rollout.trafficRouting.httpRoute: HTTPRoute default/shop")
    assert "does not exist" in degraded["message"]
    assert result.canary_deployment is None and result.route_patch is None


def test_a_route_that_does_not_point_at_our_services_is_not_touched() -> None:
    foreign = http_route()
    foreign["spec"]["rules"] = [{"backendRefs": [GATEWAY_REF]}]
    result = plan(routed_md(), observed(foreign))
    degraded = c.find(result.status["conditions"], c.DEGRADED)
    assert degraded is not None and "spec.rollout.trafficRouting.httpRoute" in degraded["message"]
    assert f"no rule with a backendRef to Service {STABLE_SVC}" in degraded["message"]
    assert result.route_patch is None


def test_an_unreadable_route_is_reported_with_the_reason() -> None:
    forbidden = ObservedRoute(
        ROUTE, error="HTTP 403: Forbidden (the operator needs get and patch on httproutes)"
    )
    result = plan(routed_md(), forbidden)
    degraded = c.find(result.status["conditions"], c.DEGRADED)
    assert degraded is not None and "cannot be read: HTTP 403" in degraded["message"]


def test_without_a_route_the_weights_are_replica_ratios() -> None:
    md = routed_md(route=None)
    refused = c.find(plan(md, None).status["conditions"], c.DEGRADED)
    assert refused is not None and "weightTolerance" in refused["message"], "10% of 4 pods is out of reach"
    md["spec"]["rollout"]["allowCoarseWeights"] = True
    result = plan(md, None)
    assert result.status["canary"]["trafficRouting"] == {"type": "ReplicaRatio"}
    assert result.route_services == [] and result.route_patch is None
