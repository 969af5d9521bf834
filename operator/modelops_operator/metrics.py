"""The operator's own Prometheus metrics (reconciles, errors, rollbacks, reconcile duration).

`controller` records them; `main` serves them on settings.metrics_port. One registry per process so
tests can create isolated ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server


@dataclass
class OperatorMetrics:
    """The counters and histogram the operator exports."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.reconciles = Counter(
            "modelops_operator_reconciles_total",
            "Reconciles run, by kind and result",
            ["kind", "result"],
            registry=self.registry,
        )
        self.errors = Counter(
            "modelops_operator_errors_total",
            "Reconcile errors, by kind and class (permanent, temporary or unexpected)",
            ["kind", "error_class"],
            registry=self.registry,
        )
        self.rollbacks = Counter(
            "modelops_operator_rollbacks_total",
            "Automatic rollbacks (spec reverted), by namespace and model",
            ["namespace", "model"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "modelops_operator_reconcile_duration_seconds",
            "Time one reconcile takes",
            ["kind"],
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def serve(self, port: int) -> None:
        """Expose /metrics on `port` (0 disables)."""
        if port:
            start_http_server(port, registry=self.registry)
