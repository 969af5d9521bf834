"""Recorded server metrics for the analysis tests: real prometheus_client registries, no hand-written text.

`RecordedPod` plays one inference-server process: it observes requests (and predicted labels with their
top scores) into a `CollectorRegistry` with the server's metric names and labels, and renders them with
`generate_latest`, exactly the text a pod's /metrics answers. `restart()` replaces the registry
(counters back to zero, new start time), as a container restart does. `prometheus_answer_from_text`
turns a real server's /metrics text into a Prometheus query answer. Used by
`tests/unit/operator/analysis/` and `tests/unit/server/test_generation_analysis.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

SERVER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RecordedPod:
    """One server process's request metrics."""

    def __init__(self, start_time: float | None = None, buckets: Iterable[float] = SERVER_BUCKETS) -> None:
        self.buckets = tuple(buckets)
        self.start_time = start_time
        self._build()

    def _build(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelops_requests", "Requests answered", ["endpoint", "code"], registry=self.registry
        )
        self.duration = Histogram(
            "modelops_request_duration_seconds",
            "Request duration",
            ["endpoint"],
            buckets=self.buckets,
            registry=self.registry,
        )
        self.predictions = Counter(
            "modelops_predictions", "Predicted labels", ["label"], registry=self.registry
        )
        self.ttft: Histogram | None = None  # registered by the first `first_token`
        self.top_score = Counter(
            "modelops_prediction_top_score", "Sum of top scores by label", ["label"], registry=self.registry
        )
        if self.start_time is not None:
            start = Gauge("process_start_time_seconds", "Process start", registry=self.registry)
            start.set(self.start_time)

    def serve(self, count: int, code: str = "200", seconds: float = 0.02, endpoint: str = "predict") -> None:
        """Record `count` requests answered with `code` after `seconds`."""
        for _ in range(count):
            self.requests.labels(endpoint=endpoint, code=code).inc()
            self.duration.labels(endpoint=endpoint).observe(seconds)

    def first_token(self, count: int, seconds: float) -> None:
        """Record `count` generations whose first token came after `seconds`."""
        if self.ttft is None:
            self.ttft = Histogram(
                "modelops_generation_time_to_first_token_seconds",
                "Time to first token",
                buckets=self.buckets,
                registry=self.registry,
            )
        for _ in range(count):
            self.ttft.observe(seconds)

    def predict(self, label: str, count: int = 1, score: float = 0.9) -> None:
        """Record `count` predictions of `label`, each with top score `score` (what /predict counts)."""
        self.predictions.labels(label=label).inc(count)
        self.top_score.labels(label=label).inc(score * count)

    def restart(self, start_time: float | None = None) -> None:
        """A container restart: every counter starts again from zero."""
        self.start_time = start_time
        self._build()

    def exposition(self) -> str:
        """What GET /metrics answers."""
        return generate_latest(self.registry).decode("utf-8")

    def prometheus_series(self, namespace: str, pod: str) -> list[dict[str, Any]]:
        """The same series as a Prometheus instant-query answer would list them for this pod."""
        return [
            {
                "metric": {"__name__": sample.name, "namespace": namespace, "pod": pod, **sample.labels},
                "value": [1_700_000_000.0, repr(float(sample.value))],
            }
            for metric in self.registry.collect()
            for sample in metric.samples
        ]


def prometheus_answer(namespace: str, pods: dict[str, RecordedPod]) -> dict[str, Any]:
    """A successful /api/v1/query answer holding every series of these pods."""
    result = [series for name, pod in pods.items() for series in pod.prometheus_series(namespace, name)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def prometheus_answer_from_text(namespace: str, texts: dict[str, str]) -> dict[str, Any]:
    """The answer Prometheus would give after scraping these pods' /metrics texts (pod name → text)."""
    result = [
        {
            "metric": {"__name__": sample.name, "namespace": namespace, "pod": pod, **sample.labels},
            "value": [1_700_000_000.0, repr(float(sample.value))],
        }
        for pod, text in texts.items()
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def observe_then_judge(
    thresholds: Any,
    status: Any,
    scrape: Any,
    now: Any,
    *,
    version: str,
    stable_version: str | None,
    available: bool,
) -> Any:
    """One reconcile's analysis step as the operator runs it: scrape only when `is_due` (what
    `hooks.collect` does in observation), then `evaluate` (what `hooks.judge` does in the plan)."""
    from modelops_operator.analysis.step import evaluate, is_due, resume

    progress = resume(thresholds, status, version=version, stable_version=stable_version)
    snapshot = scrape() if is_due(progress, now) else None
    return evaluate(
        thresholds, status, snapshot, now, version=version, stable_version=stable_version, available=available
    )
