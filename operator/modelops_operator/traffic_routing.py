"""A Canary's exact weights on a Gateway API HTTPRoute, instead of replica ratios.

With `spec.rollout.trafficRouting.httpRoute: <route>` the operator owns two more Services,
`<name>-stable` and `<name>-canary` (the ModelDeployment's pods of the stable and of the newest version,
selected by their version label), and sets the weights of the route's backendRefs that name them. The
route itself is the user's (or the platform's): the operator reads it (`observe.observe_route`) and
changes only the backendRefs of the rules that point at its Services, with a JSON patch whose `test`
ops make a concurrent edit fail instead of being overwritten. A route that is missing, unreadable or
has no rule pointing at `<name>-stable` is a problem naming the field (`canary` refuses the canary
with it). No Gateway controller ships with modelops: the weights take effect wherever one implements
the route.

`canary` records the weight in force in `status.canary.routeWeight` (set once the step's canary pods
are ready); `plan` (called by `reconcile.plan` after `canary.settle`) builds the Services and the
route patch from it: an aborted, refused or stopped canary, and a promoted one (whose Deployment the
`-stable` Service then selects), get canary 0 / stable 100. Pure, like `reconcile`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from modelops.names import version_to_dns
from modelops.versions import InvalidVersionError
from modelops.vocabulary import VERSION_LABEL
from modelops_operator import builders
from modelops_operator.draft import Draft
from modelops_operator.state import ObservedRoute

FIELD = "spec.rollout.trafficRouting.httpRoute"
GROUP = "gateway.networking.k8s.io"
KIND = "HTTPRoute"
STABLE_SUFFIX, CANARY_SUFFIX = "stable", "canary"
REPLICA_RATIO = "ReplicaRatio"
ROUTING_PHASES = ("Progressing", "Paused", "Promoting")  # canary.ACTIVE, PAUSED, PROMOTING


def route_name(md: Mapping[str, Any]) -> str | None:
    """The HTTPRoute named in the spec, or None (weights are replica ratios)."""
    routing = ((md.get("spec") or {}).get("rollout") or {}).get("trafficRouting") or {}
    name = routing.get("httpRoute")
    return str(name) if name else None


def route_path(namespace: str, name: str) -> str:
    """The API path of an HTTPRoute."""
    return f"/apis/{GROUP}/v1/namespaces/{namespace}/httproutes/{name}"


def service_names(name: str) -> tuple[str, str]:
    """The stable and canary Services of ModelDeployment `name`."""
    return f"{name}-{STABLE_SUFFIX}", f"{name}-{CANARY_SUFFIX}"


def problem(md: Mapping[str, Any], observed: ObservedRoute | None) -> str | None:
    """Why the named route cannot carry the weights (the field named), or None."""
    name = route_name(md)
    if name is None:
        return None
    namespace = md["metadata"]["namespace"]
    where = f"{FIELD}: HTTPRoute {namespace}/{name}"
    if observed is None or observed.error:
        return f"{where} cannot be read: {observed.error if observed else 'not observed'}"
    if observed.route is None:
        return f"{where} does not exist (is the Gateway API HTTPRoute CRD installed?)"
    stable, canary = service_names(md["metadata"]["name"])
    if not _managed_rules(observed.route, md["metadata"]["name"]):
        return (
            f"{where} has no rule with a backendRef to Service {stable}; the operator only sets the "
            f"weights of rules that point at {stable} or {canary}"
        )
    return None


def plan(draft: Draft) -> None:
    """The Services and the route's weights for what `status.canary` says is served now."""
    name = route_name(draft.md)
    state = draft.status.get("canary")
    if isinstance(state, dict):  # a copy: the carried status may still be the observed object's
        state = draft.status["canary"] = {k: dict(v) if isinstance(v, dict) else v for k, v in state.items()}
    if name is None:
        if isinstance(state, dict) and "version" in state:
            state["trafficRouting"] = {"type": REPLICA_RATIO}
        return
    stable_version = draft.status.get("stableVersion")
    if not stable_version or not draft.target:
        return
    draft.plan.route_services = _services(draft, str(stable_version))
    observed = draft.obs.http_route
    if problem(draft.md, observed) is not None or observed is None or observed.route is None:
        return
    weight = _canary_weight(state)
    draft.plan.route_patch = weights_patch(observed.route, draft.md["metadata"]["name"], weight)
    if isinstance(state, dict) and "version" in state:
        state["trafficRouting"] = {
            "type": KIND,
            "httpRoute": name,
            "stableWeight": 100 - weight,
            "canaryWeight": weight,
        }
        _describe_weight(state, name, weight)


def _describe_weight(state: dict[str, Any], route: str, weight: int) -> None:
    """`status.canary.weight` says what the route serves, not the replica ratio."""
    served = state.get("weight")
    if not isinstance(served, dict) or state.get("phase") not in ROUTING_PHASES:
        return
    pods = f"{served.get('canaryReplicas', 0)}/{served.get('replicas', 0)} pods"
    served["servingPercent"] = weight
    served["message"] = (
        f"asked {served.get('asked')}%, HTTPRoute {route} sends {weight}% to the canary ({pods})"
    )


def weights_patch(route: Mapping[str, Any], name: str, canary_weight: int) -> list[dict[str, Any]] | None:
    """JSON patch setting stable/canary weights on every managed rule; None when already set."""
    ops: list[dict[str, Any]] = []
    for index, rule in _managed_rules(route, name):
        refs = list(rule.get("backendRefs") or [])
        wanted = _weighted_refs(refs, name, canary_weight)
        if wanted != refs:
            path = f"/spec/rules/{index}/backendRefs"
            ops += [
                {"op": "test", "path": path, "value": refs},
                {"op": "replace", "path": path, "value": wanted},
            ]
    return ops or None


def _canary_weight(state: Any) -> int:
    if not isinstance(state, dict) or state.get("phase") not in ROUTING_PHASES:
        return 0
    return int(state.get("routeWeight", 0))


def _managed_rules(route: Mapping[str, Any], name: str) -> list[tuple[int, dict[str, Any]]]:
    ours = set(service_names(name))
    rules = (route.get("spec") or {}).get("rules") or []
    return [
        (i, rule)
        for i, rule in enumerate(rules)
        if any(_is_service(ref) and ref.get("name") in ours for ref in rule.get("backendRefs") or [])
    ]


def _is_service(ref: Mapping[str, Any]) -> bool:
    return ref.get("group", "") in ("", "core") and ref.get("kind", "Service") == "Service"


def _weighted_refs(refs: list[dict[str, Any]], name: str, canary_weight: int) -> list[dict[str, Any]]:
    """The rule's refs with ours replaced by stable then canary at the weights (others kept as they are)."""
    stable, canary = service_names(name)
    ours = [r for r in refs if _is_service(r) and r.get("name") in (stable, canary)]
    template = copy.deepcopy(next((r for r in ours if r.get("name") == stable), ours[0]))
    template.pop("weight", None)
    others = [r for r in refs if r not in ours]
    weighted = [
        {**template, "name": stable, "weight": 100 - canary_weight},
        {**template, "name": canary, "weight": canary_weight},
    ]
    return weighted + others


def _services(draft: Draft, stable_version: str) -> list[dict[str, Any]]:
    """`<name>-stable` and `<name>-canary`: the main Service's ports, pods of one version each."""
    name = draft.md["metadata"]["name"]
    services = []
    for service_name, version in zip(service_names(name), (stable_version, draft.target), strict=True):
        try:
            label = version_to_dns(version)
        except (InvalidVersionError, ValueError):
            continue
        service = builders.build_service(draft.md, draft.settings)
        service["metadata"]["name"] = service_name
        service["spec"]["selector"] = {**service["spec"]["selector"], VERSION_LABEL: label}
        services.append(service)
    return services
