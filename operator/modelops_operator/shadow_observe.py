"""Read a Shadow rollout's state from the cluster: the candidate's objects and the stable pods' counters.

`observe.observe` calls `observe_shadow` for a ModelDeployment whose strategy is Shadow or whose shadow
has not been torn down yet; the pure `shadow` strategy reads the result (`state.ShadowObserved`).
While a shadow runs, each ready stable pod's /metrics is read through the apiserver pod proxy (the
operator's one path to pods, with the metrics token under metricsAuth) and its mirror counters for the
candidate version kept; a pod that cannot be read is skipped this time (its last counters are in status).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from modelops_operator import builders, shadow, shadow_objects
from modelops_operator.analysis import shadow as judgement
from modelops_operator.analysis.scrape import proxy_fetcher
from modelops_operator.kube import Kube, KubeError
from modelops_operator.metrics_auth import MetricsToken
from modelops_operator.rollout_strategy import SHADOW, strategy_of
from modelops_operator.settings import Settings
from modelops_operator.state import DeploymentState, PodState, ShadowObserved

# observe's own readers of a Deployment and of a pod (passed in: observe imports this module)
Readers = tuple[
    Callable[[dict[str, Any]], DeploymentState],
    Callable[[Kube, dict[str, Any], str, Settings, MetricsToken], PodState],
]


def wanted(md: dict[str, Any]) -> bool:
    """A shadow may run or may still have objects to remove (else no request is spent on it)."""
    state = (md.get("status") or {}).get("shadow") or {}
    if strategy_of(md) == SHADOW and state.get("version") != md["spec"].get("version"):
        return True  # a shadow of spec.version may start
    return bool(state) and not state.get("tornDown")


def observe_shadow(
    kube: Kube,
    md: dict[str, Any],
    settings: Settings,
    stable_pods: Iterable[PodState],
    *,
    token: MetricsToken,
    readers: Readers,
) -> ShadowObserved:
    """The candidate's Deployment, pods and Service IP, the target written, the stable pods' counters."""
    deployment_state, pod_state = readers
    namespace, name = md["metadata"]["namespace"], builders.shadow_name(md["metadata"]["name"])
    found = kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    service = kube.get(f"/api/v1/namespaces/{namespace}/services/{name}")
    pods = kube.list_items(f"/api/v1/namespaces/{namespace}/pods", shadow_objects.label_selector(md))
    ip = ((service or {}).get("spec") or {}).get("clusterIP")
    return ShadowObserved(
        deployment=deployment_state(found) if found else None,
        pods=tuple(pod_state(kube, p, md["spec"]["model"], settings, token) for p in pods),
        service_ip=str(ip) if ip and ip != "None" else None,
        samples=_samples(kube, md, settings, stable_pods, token),
    )


def _samples(
    kube: Kube, md: dict[str, Any], settings: Settings, stable_pods: Iterable[PodState], token: MetricsToken
) -> dict[str, dict[str, float]]:
    version = shadow.scraping(md)
    if version is None:
        return {}
    fetch = proxy_fetcher(kube, md["metadata"]["namespace"], settings.server_port, token)
    samples = {}
    for pod in stable_pods:
        if not pod.ready or pod.version == version:
            continue
        try:
            samples[pod.name] = judgement.parse(fetch(pod.name), version)
        except (KubeError, ValueError):
            continue  # read again at the next sample; the status keeps what it had
    return samples
