"""Prometheus metrics of one server process, in their own registry (so tests can build many apps).

The names are a contract: the operator's rollback analysis parses `modelops_requests_total`,
`modelops_request_duration_seconds`, `modelops_predictions_total` (label distribution, `maxLabelShift`)
and `modelops_prediction_top_score_total` (mean top score, `maxScoreDelta`) from `/metrics`, and during a
Shadow rollout `modelops_shadow_requests_total` and `modelops_shadow_score_delta` (`minAgreement`). The data
plane and the routes record into these.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
TOKEN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)
SCORE_DELTA_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST

# `_created` series only double the exposition; the rollback analysis does not use them.
disable_created_metrics()  # type: ignore[no-untyped-call]


class ServerMetrics:
    """All metrics the server exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "modelops_requests_total", "HTTP requests by endpoint and status code", ["endpoint", "code"],
            registry=registry,
        )  # fmt: skip
        self.request_duration = Histogram(
            "modelops_request_duration_seconds", "Request latency by endpoint (4xx answers not included)",
            ["endpoint"],
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.inference_duration = Histogram(
            "modelops_inference_duration_seconds", "Model run time per batch (tokenize + ONNX Runtime)",
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.batch_size = Histogram(
            "modelops_batch_size", "Rows per model run", buckets=BATCH_BUCKETS, registry=registry
        )
        self.queue_seconds = Histogram(
            "modelops_queue_seconds", "Time a request waited for its batch to start",
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.predictions = Counter(
            "modelops_predictions_total", "Predicted labels (prediction distribution)", ["label"],
            registry=registry,
        )  # fmt: skip
        self.top_score = Counter(
            "modelops_prediction_top_score",
            "Sum of each prediction's top score by predicted label (/ modelops_predictions_total = mean)",
            ["label"], registry=registry,
        )  # fmt: skip
        self.model_load_seconds = Gauge(
            "modelops_model_load_seconds", "Seconds spent verifying and loading the model", registry=registry
        )
        self.model_info = Gauge(
            "modelops_model_info", "The served model (value 1)", ["model_type", "version"], registry=registry
        )
        self.model_ready = Gauge(
            "modelops_model_ready", "1 when the model is verified and ready", registry=registry
        )
        self._generation_metrics(registry)
        self._shadow_metrics(registry)
        # process_start_time_seconds (and CPU, memory, fds): a restarted server is seen in /metrics.
        ProcessCollector(registry=registry)

    def _generation_metrics(self, registry: CollectorRegistry) -> None:
        """Text-generation models: latency per token, token counts and generation slots."""
        self.time_to_first_token = Histogram(
            "modelops_generation_time_to_first_token_seconds",
            "From request arrival (queueing included) to the first generated token",
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.inter_token_latency = Histogram(
            "modelops_generation_inter_token_seconds",
            "Time between two tokens decoded by one generation (as decoded, whatever the stream's chunks)",
            buckets=TOKEN_BUCKETS, registry=registry,
        )  # fmt: skip
        self.prompt_tokens = Counter(
            "modelops_generation_prompt_tokens_total",
            "Prompt tokens of accepted generations",
            registry=registry,
        )
        self.completion_tokens = Counter(
            "modelops_generation_completion_tokens_total", "Tokens generated", registry=registry
        )
        self.generations = Counter(
            "modelops_generations_total", "Finished generations by finish reason", ["finish_reason"],
            registry=registry,
        )  # fmt: skip
        self.generations_active = Gauge(
            "modelops_generations_active", "Generations running now", registry=registry
        )
        self.guardrail_verdicts = Counter(
            "modelops_guardrail_verdicts_total", "Guardrail classifier verdicts (allowed, blocked, error)",
            ["verdict"], registry=registry,
        )  # fmt: skip
        self.generations_queued = Gauge(
            "modelops_generations_queued", "Generations waiting for a slot", registry=registry
        )

    def _shadow_metrics(self, registry: CollectorRegistry) -> None:
        """Shadow rollouts (shadow.py): mirrored texts by outcome, per candidate version."""
        self.shadow_requests = Counter(
            "modelops_shadow_requests_total",
            "Texts mirrored to a shadow candidate by result (agree, disagree, error, dropped)",
            ["version", "result"], registry=registry,
        )  # fmt: skip
        self.shadow_score_delta = Histogram(
            "modelops_shadow_score_delta", "|own top score - candidate top score| per mirrored text",
            ["version"], buckets=SCORE_DELTA_BUCKETS, registry=registry,
        )  # fmt: skip
        self.shadow_fraction = Gauge(
            "modelops_shadow_sample_fraction", "Share of requests mirrored now (0 = off)", registry=registry
        )

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return bytes(generate_latest(self.registry))
