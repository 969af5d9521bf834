"""Turn the inference server's Prometheus metrics into the few counters the analysis needs.

The analysis (issue 8) judges a model version on its error rate and p99 latency. The server exposes
`modelops_requests_total{endpoint,code}` and the histogram `modelops_request_duration_seconds{endpoint}`;
this module keeps only the model endpoints (classifiers: `predict`, `infer`; text generation:
`generate`, `chat_completions`, `generate_oip`) and sums them per pod into a flat `PodCounters` mapping:
`requests` (answers other than 4xx), `errors` (5xx answers, and 429: see `is_server_error`), one
`le:<bound>` entry per cumulative latency bucket and, when the process exposes it, `start` (process
start time, used to spot restarts).

Which histogram is the latency: for a classifier the request duration of `predict`/`infer`; for a
text-generation model the time to first token (`modelops_generation_time_to_first_token_seconds`),
because a generation's whole duration grows with the answer's length (and a stream's with the
client), while the wait for the first token is what a user feels and what a slower version moves.
The generation endpoints' request durations are therefore not read.
For the model-aware thresholds it also keeps `label:<name>` (predictions per label, from
`modelops_predictions_total`) and `topScore` (the sum of their top scores). Flat string keys keep the
window state JSON-serialisable for `status.analysis.state`.

Callers: `scrape.py` (pod /metrics text and Prometheus query answers), `window.py` (keys), `quantile.py`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

REQUESTS_METRIC = "modelops_requests_total"
BUCKET_METRIC = "modelops_request_duration_seconds_bucket"
START_METRIC = "process_start_time_seconds"
PREDICTIONS_METRIC = "modelops_predictions_total"
TOP_SCORE_METRIC = "modelops_prediction_top_score_total"
TTFT_BUCKET_METRIC = "modelops_generation_time_to_first_token_seconds_bucket"
GENERATION_ENDPOINTS = frozenset({"generate", "chat_completions", "generate_oip"})
ANALYSED_ENDPOINTS = frozenset({"predict", "infer"}) | GENERATION_ENDPOINTS
CAPACITY_CODE = "429"

REQUESTS = "requests"
ERRORS = "errors"
START = "start"
BUCKET_PREFIX = "le:"
LABEL_PREFIX = "label:"
TOP_SCORE = "topScore"

PodCounters = dict[str, float]
"""One pod's counters at one scrape: `requests`, `errors`, `le:<bound>`..., optional `start`."""


class MetricsParseError(ValueError):
    """The text is not Prometheus exposition format."""


@dataclass(frozen=True)
class RawSample:
    """One series value as exposed: metric name, labels, value."""

    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Snapshot:
    """Counters read at one moment: pod name → counters, for the candidate and the stable version."""

    candidate: dict[str, PodCounters] = field(default_factory=dict)
    baseline: dict[str, PodCounters] = field(default_factory=dict)
    errors: tuple[str, ...] = ()


def bucket_key(upper_bound: float) -> str:
    """The `PodCounters` key of the cumulative bucket with this upper bound (`le`)."""
    return BUCKET_PREFIX + ("+Inf" if math.isinf(upper_bound) else repr(float(upper_bound)))


def bucket_bound(key: str) -> float | None:
    """The upper bound of a bucket key, or None when the key is not a bucket."""
    if not key.startswith(BUCKET_PREFIX):
        return None
    return float(key.removeprefix(BUCKET_PREFIX))


def label_key(label: str) -> str:
    """The `PodCounters` key of the predictions of `label`."""
    return LABEL_PREFIX + label


def label_of(key: str) -> str | None:
    """The label of a predictions key, or None when the key is not one."""
    return key.removeprefix(LABEL_PREFIX) if key.startswith(LABEL_PREFIX) else None


def is_client_error(code: str) -> bool:
    """True for HTTP 4xx status codes other than 429: a caller's mistake, not counted at all."""
    return code.startswith("4") and code != CAPACITY_CODE


def is_server_error(code: str) -> bool:
    """True for 5xx, the label "timeout", and 429: a request the version had no capacity to serve
    (generation slots and queue full) was not served; a version that slows down sheds load this way."""
    return code.startswith("5") or code in ("timeout", CAPACITY_CODE)


def parse_exposition(text: str) -> PodCounters:
    """Parse one pod's /metrics text into its counters; raises MetricsParseError on malformed text."""
    try:
        samples = [
            RawSample(sample.name, dict(sample.labels), float(sample.value))
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]
    except (ValueError, TypeError, IndexError) as error:
        raise MetricsParseError(f"cannot parse Prometheus metrics: {error}") from error
    return counters_from_samples(samples)


def counters_from_samples(samples: Iterable[RawSample]) -> PodCounters:
    """Sum the prediction endpoints' series of one pod into `PodCounters`."""
    counters: PodCounters = {REQUESTS: 0.0, ERRORS: 0.0}
    for sample in samples:
        _add_sample(counters, sample)
    return counters


def _add_sample(counters: PodCounters, sample: RawSample) -> None:
    if sample.name == START_METRIC:
        counters[START] = sample.value
        return
    if sample.name in (PREDICTIONS_METRIC, TOP_SCORE_METRIC) and "label" in sample.labels:
        key = label_key(sample.labels["label"]) if sample.name == PREDICTIONS_METRIC else TOP_SCORE
        counters[key] = counters.get(key, 0.0) + sample.value
        return
    if sample.name == TTFT_BUCKET_METRIC and "le" in sample.labels:
        _add_bucket(counters, sample)  # text generation: time to first token is the latency
        return
    endpoint = sample.labels.get("endpoint")
    if endpoint not in ANALYSED_ENDPOINTS:
        return
    if sample.name == REQUESTS_METRIC:
        if is_client_error(sample.labels.get("code", "")):
            return  # a caller's mistake (400, 401, 413): neither a success nor a model failure
        counters[REQUESTS] += sample.value
        if is_server_error(sample.labels.get("code", "")):
            counters[ERRORS] += sample.value
    elif sample.name == BUCKET_METRIC and "le" in sample.labels and endpoint not in GENERATION_ENDPOINTS:
        _add_bucket(counters, sample)


def _add_bucket(counters: PodCounters, sample: RawSample) -> None:
    key = bucket_key(float(sample.labels["le"]))
    counters[key] = counters.get(key, 0.0) + sample.value
