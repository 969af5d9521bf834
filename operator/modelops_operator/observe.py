"""Read the cluster state of one ModelDeployment into an `Observed` for the pure reconcile.

`handlers` calls `observe` before `reconcile.plan`. Besides the Deployment's counters it reads the
pods, and for an unready pod whose server is running it asks the server's own health check (through
the apiserver pod proxy) why: that is how a reason like "sha256 mismatch for model.onnx" reaches
status.failedVersions and the Events, and how the reconcile learns that a failure is definitive (the
artifact was rejected: digest, signature, metadata, graph, golden answer) and rolls back at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelops.names import model_version_name
from modelops.versions import InvalidVersionError, canonical
from modelops.vocabulary import DEPLOYMENT_DEADLINE_EXCEEDED, DEPLOYMENT_PROGRESSING, MODEL_VERSIONS
from modelops_operator import builders, policy, promotion, shadow_observe, traffic_routing
from modelops_operator.analysis.stored import StoredAnalysis
from modelops_operator.draft import parse_time
from modelops_operator.kube import Kube, KubeError, custom_path
from modelops_operator.metrics_auth import MetricsToken
from modelops_operator.settings import Settings
from modelops_operator.spec import ModelDeploymentSpec, ModelVersionSpec
from modelops_operator.state import DeploymentState, Observed, ObservedRoute, PodState

LOADING_REASON = "model is loading"  # the server's health `reason` before its load finished


def observe(kube: Kube, md: dict[str, Any], settings: Settings, now: datetime) -> Observed:
    """Everything `reconcile.plan` needs about `md`, read from the cluster now; ValueError naming the
    field, before any request, when its stored spec is one the CRD would refuse today."""
    spec = ModelDeploymentSpec.of(md)
    stored = StoredAnalysis.of(md.get("status"))  # status.analysis, decoded once (Observed.analysis)
    meta = md["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    stable = (md.get("status") or {}).get("stableVersion")
    slot = (md.get("status") or {}).get("stableDeployment") or name
    deployments = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    deployment = kube.get(f"{deployments}/{slot}")
    other = kube.get(f"{deployments}/{builders.other_slot(name, slot)}") if _two_slots(md, spec) else None
    token = MetricsToken(kube, namespace, settings.platform_policy.metrics_auth_secret)
    # No Deployment of it (a new ModelDeployment, or both deleted): no pod of it serves; a LIST fewer.
    found = (
        kube.list_items(f"/api/v1/namespaces/{namespace}/pods", _selector(name))
        if deployment or other
        else []
    )
    pods = tuple(pod_state(kube, p, spec.model, settings, token) for p in found)
    return Observed(
        md=md,
        now=now,
        target_mv=find_model_version(kube, namespace, spec.model, spec.version),
        stable_mv=find_model_version(kube, namespace, spec.model, stable) if stable else None,
        deployment=deployment_state(deployment) if deployment else None,
        other_deployment=deployment_state(other) if other else None,
        pods=pods,
        analysis_samples=_samples(kube, md, spec, settings, pods, stored=stored, now=now, token=token),
        parsed=spec,
        stored=stored,
        http_route=observe_route(kube, md),
        shadow=(
            shadow_observe.observe_shadow(
                kube, md, settings, pods, token=token, readers=(deployment_state, pod_state)
            )
            if shadow_observe.wanted(md)
            else None
        ),
    )


def observe_route(kube: Kube, md: dict[str, Any]) -> ObservedRoute | None:
    """The HTTPRoute named in spec.rollout.trafficRouting.httpRoute (None when none is named)."""
    name = traffic_routing.route_name(md)
    if name is None:
        return None
    try:
        route = kube.get(traffic_routing.route_path(md["metadata"]["namespace"], name))
    except KubeError as error:
        if error.temporary:
            raise
        return ObservedRoute(name, error=f"{error} (the operator needs get and patch on httproutes)")
    return ObservedRoute(name, route=route)


def _two_slots(md: dict[str, Any], spec: ModelDeploymentSpec) -> bool:
    """Only a ModelDeployment that ever ran a canary has a second Deployment (a GET fewer for others)."""
    status = md.get("status") or {}
    return spec.rollout.canary or "canary" in status or "stableDeployment" in status


def _samples(
    kube: Kube,
    md: dict[str, Any],
    spec: ModelDeploymentSpec,
    settings: Settings,
    pods: Any,
    *,
    stored: StoredAnalysis,
    now: datetime,
    token: MetricsToken | None = None,
) -> Any:
    # A Prometheus URL outside the platform policy is never queried (no SSRF); plan reports it.
    if spec.analysis is None or policy.prometheus_violation(spec, settings.platform_policy) is not None:
        return None
    return promotion.collect(kube, md, spec.analysis, spec.version, pods, stored=stored, now=now, token=token)


def _selector(name: str) -> str:
    return ",".join(f"{k}={v}" for k, v in builders.selector_labels(name).items())


def find_model_version(kube: Kube, namespace: str, model: str, version: str) -> dict[str, Any] | None:
    """The ModelVersion of `model` `version`: by its conventional name, else by its spec fields."""
    try:
        wanted = canonical(version)
        by_name = kube.get(custom_path(namespace, MODEL_VERSIONS, model_version_name(model, version)))
    except (InvalidVersionError, ValueError):
        return None
    if by_name is not None and _matches(by_name, model, wanted):
        return by_name
    candidates = kube.list_items(custom_path(namespace, MODEL_VERSIONS))
    return next((mv for mv in candidates if _matches(mv, model, wanted)), None)


def _matches(mv: dict[str, Any], model: str, version: str) -> bool:
    try:
        spec = ModelVersionSpec.of(mv)
    except ValueError:
        return False
    return spec.model == model and spec.version == version


def deployment_state(dep: dict[str, Any]) -> DeploymentState:
    """The counters and conditions of an observed Deployment."""
    status, spec = dep.get("status", {}), dep.get("spec", {})
    stalled = next(
        (
            c
            for c in status.get("conditions", [])
            if c.get("type") == DEPLOYMENT_PROGRESSING and c.get("reason") == DEPLOYMENT_DEADLINE_EXCEEDED
        ),
        None,
    )
    return DeploymentState(
        version=builders.template_version(dep),
        uid=str(dep["metadata"].get("uid", "")),
        generation=int(dep["metadata"].get("generation", 1)),
        observed_generation=int(status.get("observedGeneration", 0)),
        replicas=int(spec.get("replicas", 1)),
        status_replicas=int(status.get("replicas", 0)),
        updated=int(status.get("updatedReplicas", 0)),
        ready=int(status.get("readyReplicas", 0)),
        available=int(status.get("availableReplicas", 0)),
        progress_deadline_exceeded=stalled is not None,
        progress_deadline_at=parse_time(stalled.get("lastUpdateTime")) if stalled else None,
    )


def pod_state(
    kube: Kube, pod: dict[str, Any], model: str, settings: Settings, token: MetricsToken | None = None
) -> PodState:
    """One pod's version, readiness, restarts and the reason it is not ready."""
    meta, status = pod["metadata"], pod.get("status", {})
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
    container: dict[str, Any] = next(
        (s for s in status.get("containerStatuses", []) if s.get("name") == "server"), {}
    )
    waiting, message = _container_problem(container)
    restarts = int(container.get("restartCount", 0))
    failed_init = _failed_init_container(status)
    if failed_init:  # e.g. fetch-model could not download or verify: its own words, its restarts
        message = f"init container {failed_init['name']}: {_last_line(failed_init)}"
        restarts = max(restarts, int(failed_init.get("restartCount", 0)))
    health = Health()
    if not ready and "running" in container.get("state", {}):
        health = _health(kube, meta, model, settings, token or MetricsToken.off())
    return PodState(
        name=meta["name"],
        version=(meta.get("annotations") or {}).get(builders.VERSION_ANNOTATION),
        ready=ready,
        restarts=restarts,
        waiting_reason=waiting,
        message=message,
        health_reason=health.reason,
        definitive=health.definitive,
        loading=health.loading,
        failed_since=health.since,
        terminating=bool(meta.get("deletionTimestamp")),
    )


@dataclass(frozen=True)
class Health:
    """What an unready server said about itself through its seed health check."""

    reason: str | None = None
    definitive: bool = False
    loading: bool = False
    since: str | None = None


def _container_problem(container: dict[str, Any]) -> tuple[str | None, str]:
    waiting = container.get("state", {}).get("waiting") or {}
    terminated = container.get("lastState", {}).get("terminated") or {}
    reason = waiting.get("reason")
    text = waiting.get("message") or terminated.get("message") or ""
    if not text and terminated.get("reason"):
        text = f"last exit {terminated.get('exitCode')}: {terminated['reason']}"
    return reason, " ".join(str(text).split())[:500]


def _failed_init_container(status: dict[str, Any]) -> dict[str, Any] | None:
    """The first init container whose current or last run exited non-zero (and has not since succeeded)."""
    for init in status.get("initContainerStatuses", []):
        if (init.get("state", {}).get("terminated") or {}).get("exitCode") == 0:
            continue
        for state in (init.get("state", {}), init.get("lastState", {})):
            if int((state.get("terminated") or {}).get("exitCode", 0)) != 0:
                return {"name": init.get("name"), "restartCount": init.get("restartCount", 0), **state}
    return None


def _last_line(failed: dict[str, Any]) -> str:
    """The last line of the termination message (the fetch step's `error: ...` line), else the reason."""
    terminated = failed["terminated"]
    lines = [line.strip() for line in str(terminated.get("message") or "").splitlines() if line.strip()]
    text = lines[-1].removeprefix("error: ") if lines else f"exit {terminated.get('exitCode')}"
    return text[:400]


def _health(kube: Kube, meta: dict[str, Any], model: str, settings: Settings, token: MetricsToken) -> Health:
    """The server's own explanation from its seed health check; empty when it cannot be asked.

    `failure.definitive` (the artifact was rejected) lets the reconcile roll back at once; a server
    that answers without `failure` is still loading, so the reconcile looks again shortly.
    """
    try:
        _, body = kube.pod_proxy_get(
            meta["namespace"],
            meta["name"],
            settings.server_port,
            builders.health_path(model),
            settings.health_timeout_seconds,
            headers=token.headers(),
        )
    except KubeError:
        return Health()
    if not isinstance(body, dict) or "model_type" not in body:  # the apiserver's own error, not the server
        return Health()
    if body.get("status") == "healthy":
        return Health()
    reason = body.get("reason") or body.get("message")
    failure = body.get("failure")
    if not isinstance(failure, dict):  # still loading (a server older than `failure` says it in words)
        return Health(str(reason) if reason else None, loading=reason == LOADING_REASON)
    since = failure.get("since")
    return Health(
        str(failure.get("reason") or reason or "unhealthy"),
        definitive=failure.get("definitive") is True,
        since=str(since) if since else None,
    )
