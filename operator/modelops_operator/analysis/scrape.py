"""Read the serving pods' request counters: through the apiserver pod proxy, or from Prometheus.

The operator runs outside the pods' network in general (and in tests on the host), so by default it
asks the apiserver to proxy `GET /metrics` to each pod
(`CoreV1Api.connect_get_namespaced_pod_proxy_with_path`). When `analysis.prometheusURL` is set it
instead runs one instant query against that Prometheus for the same pods' series (labels `namespace`
and `pod`, as the prometheus-operator's PodMonitors and the usual relabelling of Kubernetes pod
discovery set them; tests/e2e/test_canary.py runs a real Prometheus configured that way).

The query reads raw counter values, not `rate()`: the window arithmetic (increase since the window
started, restarts, pods that come and go) is `window.advance`'s, the same for both paths, so no rate
window has to match the analysis window or the scrape interval. It aggregates with `max by` the labels
the analysis reads, so a pod scraped by two jobs (a PodMonitor beside an annotation-based job) is
counted once, and the `job`/`instance` labels never split a counter.

Both return a `samples.Snapshot` of the candidate's and the stable version's pods (the operator already
lists the pods, with the version each serves, and passes them in `Targets`); a pod that cannot be read
is reported in `Snapshot.errors` and left out, never fatal. HTTP is injected as small callables so
tests can drive it. Called by `hooks.collect` (the operator's observation step).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from modelops_operator.kube import Kube, KubeError
from modelops_operator.metrics_auth import MetricsToken

from .samples import (
    BUCKET_METRIC,
    PREDICTIONS_METRIC,
    REQUESTS_METRIC,
    START_METRIC,
    TOP_SCORE_METRIC,
    TTFT_BUCKET_METRIC,
    MetricsParseError,
    PodCounters,
    RawSample,
    Snapshot,
    counters_from_samples,
    parse_exposition,
)

MetricsFetcher = Callable[[str], str]
"""Pod name → that pod's /metrics text."""
PrometheusQuery = Callable[[str], Mapping[str, Any]]
"""PromQL → the decoded JSON answer of /api/v1/query."""

SCRAPE_TIMEOUT_SECONDS = 5.0
# The labels `samples.counters_from_samples` reads (and the metric name): everything else is dropped.
_KEPT_LABELS = ("__name__", "namespace", "pod", "endpoint", "code", "le", "label")
_READ_ERRORS = (KubeError, OSError, MetricsParseError, UnicodeDecodeError)


@dataclass(frozen=True)
class Targets:
    """Which pods to read: the ModelDeployment's pods, by the version they serve."""

    namespace: str
    pods: Mapping[str, str | None]
    """Pod name → version it serves (the pod's modelops.io/version annotation, canonical)."""
    version: str
    stable_version: str | None = None

    def pods_of(self, version: str | None) -> list[str]:
        """Names of the pods serving `version` (none for None)."""
        if version is None:
            return []
        return sorted(name for name, served in self.pods.items() if served == version)

    def baseline_version(self) -> str | None:
        """The stable version, when there is one other than the candidate."""
        return None if self.stable_version == self.version else self.stable_version


def proxy_fetcher(kube: Kube, namespace: str, port: int, token: MetricsToken) -> MetricsFetcher:
    """Fetch a pod's /metrics through the apiserver pod proxy (the operator's one proxy path), with
    the metrics token when metricsAuth is on (a missing token Secret is that pod's read error)."""

    def fetch(pod: str) -> str:
        headers = token.headers()
        return kube.pod_proxy_text(namespace, pod, port, "/metrics", SCRAPE_TIMEOUT_SECONDS, headers=headers)

    return fetch


def prometheus_query(base_url: str) -> PrometheusQuery:
    """Run instant queries against the Prometheus HTTP API at `base_url`."""

    def query(promql: str) -> Mapping[str, Any]:
        url = base_url.rstrip("/") + "/api/v1/query"
        response = httpx.get(url, params={"query": promql}, timeout=SCRAPE_TIMEOUT_SECONDS)
        response.raise_for_status()
        answer: Mapping[str, Any] = response.json()
        return answer

    return query


def scrape_pods(targets: Targets, fetch: MetricsFetcher) -> Snapshot:
    """Read every candidate and stable pod's /metrics; unreadable pods become `errors`."""
    errors: list[str] = []
    candidate = _read_pods(targets.pods_of(targets.version), fetch, errors)
    baseline = _read_pods(targets.pods_of(targets.baseline_version()), fetch, errors)
    return Snapshot(candidate=candidate, baseline=baseline, errors=tuple(errors))


def scrape_prometheus(targets: Targets, query: PrometheusQuery) -> Snapshot:
    """Read the same counters from Prometheus with one instant query for all pods."""
    candidate_pods, baseline_pods = (
        targets.pods_of(targets.version),
        targets.pods_of(targets.baseline_version()),
    )
    if not candidate_pods + baseline_pods:
        return Snapshot()
    try:
        counters = counters_from_prometheus(
            query(prometheus_instant_query(targets.namespace, candidate_pods + baseline_pods))
        )
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        return Snapshot(errors=(f"Prometheus query: {_short(error)}",))
    return Snapshot(
        candidate={pod: counters[pod] for pod in candidate_pods if pod in counters},
        baseline={pod: counters[pod] for pod in baseline_pods if pod in counters},
    )


def prometheus_selector(namespace: str, pods: Iterable[str]) -> str:
    """PromQL selecting the analysed series of these pods (a pod name's dots matched literally)."""
    metrics = [REQUESTS_METRIC, BUCKET_METRIC, TTFT_BUCKET_METRIC, START_METRIC, PREDICTIONS_METRIC]
    names = "|".join([*metrics, TOP_SCORE_METRIC])
    pod_pattern = "|".join(pod.replace(".", "\\\\.") for pod in sorted(pods))
    return f'{{__name__=~"{names}",namespace="{namespace}",pod=~"{pod_pattern}"}}'


def prometheus_instant_query(namespace: str, pods: Iterable[str]) -> str:
    """The one instant query: each analysed series once per pod, whichever jobs scrape it."""
    return f"max by ({','.join(_KEPT_LABELS)}) ({prometheus_selector(namespace, pods)})"


def counters_from_prometheus(answer: Mapping[str, Any]) -> dict[str, PodCounters]:
    """Group an instant-vector answer by its `pod` label into per-pod counters."""
    if answer.get("status") != "success":
        raise ValueError(
            f"Prometheus answered {answer.get('status')}: {answer.get('error', 'no error text')}"
        )
    by_pod: dict[str, list[RawSample]] = defaultdict(list)
    for series in answer["data"]["result"]:
        labels = dict(series["metric"])
        sample = RawSample(labels.pop("__name__", ""), labels, float(series["value"][1]))
        by_pod[labels.get("pod", "")].append(sample)
    return {pod: counters_from_samples(samples) for pod, samples in by_pod.items() if pod}


def _read_pods(pods: list[str], fetch: MetricsFetcher, errors: list[str]) -> dict[str, PodCounters]:
    counters: dict[str, PodCounters] = {}
    for pod in pods:
        try:
            counters[pod] = parse_exposition(fetch(pod))
        except _READ_ERRORS as error:
            errors.append(f"pod {pod}: {_short(error)}")
    return counters


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    reason = getattr(error, "reason", None)
    first = text[0] if text else type(error).__name__
    return f"{type(error).__name__}: {reason or first}"[:200]
