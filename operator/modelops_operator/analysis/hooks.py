"""The two calls the operator's promotion rule makes: `collect` (I/O, in observe) and `judge` (pure).

`promotion.collect(api, md, thresholds, candidate, pods, stored=...)` runs during the operator's
observation of a ModelDeployment; it delegates to `collect` here, which scrapes when the analysis is not
final and `intervalSeconds` have passed (None otherwise), already while the candidate rolls out.
`promotion.decide` delegates to `judge`, which folds that snapshot into the stored analysis (the typed
`stored.StoredAnalysis`, decoded once per reconcile, already `resumable`) and returns the progress;
`progress.action` is one of promotion's verdicts (Promote, Wait, Fail, Hold).
`promotion.rollout_analysis` calls `judge(..., available=False)` during the rollout: the stable pods'
baseline is folded in then, the window starts only when the candidate is Available.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from modelops.versions import InvalidVersionError, canonical
from modelops_operator.kube import Kube
from modelops_operator.metrics_auth import MetricsToken

from .decision import Thresholds
from .progress import AnalysisProgress
from .samples import Snapshot
from .scrape import Targets, prometheus_query, proxy_fetcher, scrape_pods, scrape_prometheus
from .step import evaluate, is_due, resume
from .stored import StoredAnalysis


def collect(
    kube: Kube,
    md: Mapping[str, Any],
    thresholds: Thresholds,
    candidate: str,
    pods: Iterable[Any],
    *,
    stored: StoredAnalysis,
    now: datetime,
    port: int = 8080,
    token: MetricsToken | None = None,
) -> Snapshot | None:
    """Scrape the candidate's and the stable version's pods when a sample is due, else None.

    None as well when the candidate is the stable version, or its analysis is final.

    `pods` are the operator's observed pods (anything with `.name` and `.version`, the canonical
    version the pod serves); `kube` makes the pod-proxy requests, with `token`'s metrics token
    (metricsAuth) when the platform turned it on; `stored` is `md`'s `status.analysis` (`Observed.analysis`).
    """
    status = md.get("status") or {}
    version, stable = _canonical(candidate), status.get("stableVersion")
    if version == stable:
        return None  # nothing to analyse: the stable version is served (e.g. after a rollback)
    resumed = stored.resumable(status.get("failedVersions") or [])
    progress = resume(thresholds, resumed.raw, version=version, stable_version=stable)
    if not is_due(progress, now):
        return None
    namespace = md["metadata"]["namespace"]
    targets = Targets(namespace, {pod.name: pod.version for pod in pods}, version, stable)
    if progress.thresholds.prometheus_url:
        return scrape_prometheus(targets, prometheus_query(progress.thresholds.prometheus_url))
    return scrape_pods(targets, proxy_fetcher(kube, namespace, port, token or MetricsToken.off()))


def judge(
    stored: StoredAnalysis,
    thresholds: Thresholds,
    candidate: str,
    stable: str | None,
    snapshot: Snapshot | None,
    *,
    now: datetime,
    available: bool = True,
) -> AnalysisProgress:
    """Fold `snapshot` (from `collect`) into the `stored` analysis (already `resumable`) and judge the
    candidate against `thresholds` (the parsed `spec.rollback.analysis`)."""
    version = _canonical(candidate)
    return evaluate(
        thresholds,
        stored.raw,
        snapshot,
        now,
        version=version,
        stable_version=stable,
        available=available,
    )


def _canonical(version: str) -> str:
    try:
        return canonical(version)
    except InvalidVersionError:
        return version
