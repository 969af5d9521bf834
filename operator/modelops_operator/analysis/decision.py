"""Judge a candidate model version from the figures measured over its analysis window.

`decide` is the whole verdict rule of issue 8, pure so it can be tested on recorded samples:

- Failed as soon as the candidate has served at least `minRequests` and breaks a threshold
  (`maxErrorRate`, `maxLatencyP99Ms`, p99 above `maxRegression` times the stable version's p99, or
  the model-aware `maxLabelShift` / `maxScoreDelta` against the stable version, see `model_aware`);
- Running until `windowSeconds` have passed since the window started;
- then Inconclusive when fewer than `minRequests` were served, or a threshold set against the stable
  version could not be judged (too little baseline): never a silent pass. The `inconclusive` policy
  (Promote, Hold or Rollback) decides what the operator does; else Passed.

Error rate is 5xx (and 429: no capacity) answers over requests; latency is the request duration for
a classifier and the time to first token for a text-generation model (see `samples`). Called by
`step.evaluate`; `Thresholds` parses `spec.rollback.analysis` (for `spec.ModelDeploymentSpec`, its one
reader) and renders it back for `status.analysis.thresholds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from modelops import vocabulary as v

from . import model_aware
from .quantile import histogram_quantile
from .samples import ERRORS, REQUESTS, TOP_SCORE, PodCounters, bucket_bound, label_of

DEFAULT_WINDOW_SECONDS = 60
DEFAULT_INTERVAL_SECONDS = 10
DEFAULT_MIN_REQUESTS = 20
DEFAULT_MIN_AGREEMENT = 0.95  # a Shadow rollout's bar when spec.rollback.analysis sets no minAgreement


class Action(StrEnum):
    """What the operator does with a candidate: the one verdict vocabulary of promotion and analysis."""

    PROMOTE = v.VERDICT_PROMOTE
    WAIT = v.VERDICT_WAIT  # analysis Pending or Running
    FAIL = v.VERDICT_FAIL  # roll back, like failed probes
    HOLD = v.VERDICT_HOLD  # keep serving, not stable


ROLLBACK_POLICY = (
    v.INCONCLUSIVE_ROLLBACK
)  # `inconclusive: Rollback`: an unjudged candidate fails like a breach
DEFAULT_INCONCLUSIVE = Action.PROMOTE.value  # the CRD's default too (compatible with before Rollback)
INCONCLUSIVE_POLICIES = (Action.PROMOTE.value, Action.HOLD.value, ROLLBACK_POLICY)


class Phase(StrEnum):
    """`status.analysis.phase`."""

    PENDING = v.ANALYSIS_PENDING
    RUNNING = v.ANALYSIS_RUNNING
    PASSED = v.ANALYSIS_PASSED
    FAILED = v.ANALYSIS_FAILED
    INCONCLUSIVE = v.ANALYSIS_INCONCLUSIVE


FINAL_PHASES = frozenset({Phase.PASSED, Phase.FAILED, Phase.INCONCLUSIVE})


@dataclass(frozen=True)
class Thresholds:
    """`spec.rollback.analysis`, typed; a threshold left out (None) is not checked."""

    window_seconds: int = DEFAULT_WINDOW_SECONDS
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS
    max_error_rate: float | None = None
    max_latency_p99_ms: float | None = None
    max_regression: float | None = None
    max_label_shift: float | None = None
    max_score_delta: float | None = None
    min_agreement: float | None = None  # Shadow: share of mirrored texts whose top label agrees
    min_requests: int = DEFAULT_MIN_REQUESTS
    inconclusive: str = DEFAULT_INCONCLUSIVE
    prometheus_url: str | None = None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Thresholds:
        """Parse the camelCase spec; raises ValueError naming the field on a bad value."""
        inconclusive = str(spec.get("inconclusive", DEFAULT_INCONCLUSIVE))
        if inconclusive not in INCONCLUSIVE_POLICIES:
            raise ValueError(
                f"spec.rollback.analysis.inconclusive must be Promote, Hold or Rollback, not {inconclusive!r}"
            )
        return cls(
            window_seconds=_positive_int(spec, "windowSeconds", DEFAULT_WINDOW_SECONDS),
            interval_seconds=_positive_int(spec, "intervalSeconds", DEFAULT_INTERVAL_SECONDS),
            max_error_rate=_optional_float(spec, "maxErrorRate"),
            max_latency_p99_ms=_optional_float(spec, "maxLatencyP99Ms"),
            max_regression=_optional_float(spec, "maxRegression"),
            max_label_shift=_optional_float(spec, "maxLabelShift"),
            max_score_delta=_optional_float(spec, "maxScoreDelta"),
            min_agreement=_optional_float(spec, "minAgreement"),
            min_requests=int(spec.get("minRequests", DEFAULT_MIN_REQUESTS)),
            inconclusive=inconclusive,
            prometheus_url=spec.get("prometheusURL") or None,
        )

    def to_spec(self) -> dict[str, Any]:
        """The camelCase form, without the thresholds left out."""
        rendered = {
            "windowSeconds": self.window_seconds,
            "intervalSeconds": self.interval_seconds,
            "maxErrorRate": self.max_error_rate,
            "maxLatencyP99Ms": self.max_latency_p99_ms,
            "maxRegression": self.max_regression,
            "maxLabelShift": self.max_label_shift,
            "maxScoreDelta": self.max_score_delta,
            "minAgreement": self.min_agreement,
            "minRequests": self.min_requests,
            "inconclusive": self.inconclusive,
            "prometheusURL": self.prometheus_url,
        }
        return {key: value for key, value in rendered.items() if value is not None}


@dataclass(frozen=True)
class Figures:
    """What one version served in the window."""

    requests: int = 0
    errors: int = 0
    p99_ms: float | None = None
    predictions: Mapping[str, int] = field(default_factory=dict)  # predicted texts by label
    top_score_sum: float = 0.0  # the sum of those predictions' top scores

    @property
    def error_rate(self) -> float | None:
        """5xx answers over requests; None before any request."""
        return self.errors / self.requests if self.requests else None

    @property
    def predicted(self) -> int:
        """Texts predicted (a request may carry several)."""
        return sum(self.predictions.values())

    @property
    def mean_top_score(self) -> float | None:
        """Mean confidence of the predictions; None before any."""
        return self.top_score_sum / self.predicted if self.predicted else None

    def to_json(self) -> dict[str, Any]:
        """camelCase JSON for `status.analysis.candidate` / `.baseline` (unknown figures left out)."""
        rendered = {
            "requests": self.requests,
            "errors": self.errors,
            "errorRate": _rounded(self.error_rate, 4),
            "p99Ms": _rounded(self.p99_ms, 1),
            "predictions": dict(sorted(self.predictions.items())) or None,
            "meanTopScore": _rounded(self.mean_top_score, 4),
        }
        return {key: value for key, value in rendered.items() if value is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Figures:
        """Inverse of `to_json` (errorRate is derived, so it is not read back)."""
        data = data or {}
        p99 = data.get("p99Ms")
        predictions = {str(k): int(v) for k, v in dict(data.get("predictions") or {}).items()}
        mean = data.get("meanTopScore")
        return cls(
            int(data.get("requests", 0)),
            int(data.get("errors", 0)),
            None if p99 is None else float(p99),
            predictions,
            0.0 if mean is None else float(mean) * sum(predictions.values()),
        )

    def describe(self) -> str:
        """Short human summary, e.g. "40 requests, 12 errors (30.0%), p99 812.5 ms"."""
        rate = "n/a" if self.error_rate is None else f"{self.error_rate:.1%}"
        p99 = "n/a" if self.p99_ms is None else f"{self.p99_ms:.1f} ms"
        return f"{self.requests} requests, {self.errors} errors ({rate}), p99 {p99}"


@dataclass(frozen=True)
class Verdict:
    """A phase and the sentence that explains it to the user."""

    phase: Phase
    message: str


def figures_from_totals(totals: PodCounters) -> Figures:
    """Requests, errors and p99 from the counters' increases summed over a version's pods."""
    buckets = {bound: count for key, count in totals.items() if (bound := bucket_bound(key)) is not None}
    p99_seconds = histogram_quantile(0.99, buckets)
    predictions = {
        label: round(count) for key, count in totals.items() if (label := label_of(key)) is not None
    }
    return Figures(
        requests=round(totals.get(REQUESTS, 0.0)),
        errors=round(totals.get(ERRORS, 0.0)),
        p99_ms=None if p99_seconds is None else round(p99_seconds * 1000.0, 1),
        predictions={label: count for label, count in predictions.items() if count > 0},
        top_score_sum=totals.get(TOP_SCORE, 0.0),
    )


def decide(
    thresholds: Thresholds,
    candidate: Figures,
    baseline: Figures | None,
    elapsed_s: float,
    *,
    baseline_expected: bool = False,
) -> Verdict:
    """The verdict for the candidate after `elapsed_s` seconds of its window.

    `baseline_expected`: a stable version exists, so `maxRegression` must be judged against it; when
    its figures are too thin to judge, the window ends Inconclusive, never a silent pass.
    """
    enough = candidate.requests >= thresholds.min_requests
    breaches = threshold_breaches(thresholds, candidate, baseline) if enough else []
    if breaches:
        return Verdict(Phase.FAILED, "; ".join(breaches))
    if elapsed_s < thresholds.window_seconds:
        return Verdict(
            Phase.RUNNING, f"{candidate.describe()} after {elapsed_s:.0f}s of {_window(thresholds)}"
        )
    if not enough:
        return Verdict(Phase.INCONCLUSIVE, _inconclusive_message(thresholds, candidate))
    if baseline_expected and thresholds.max_regression is not None and not _usable(thresholds, baseline):
        return Verdict(Phase.INCONCLUSIVE, _no_baseline_message(thresholds, baseline))
    if baseline_expected and (unjudged := model_aware.unjudged(thresholds, candidate, baseline)):
        return Verdict(Phase.INCONCLUSIVE, unjudged)
    return Verdict(Phase.PASSED, f"{candidate.describe()} in {_window(thresholds)}: within thresholds")


def threshold_breaches(thresholds: Thresholds, candidate: Figures, baseline: Figures | None) -> list[str]:
    """One sentence per threshold the candidate breaks (empty when it breaks none)."""
    breaches = [_error_rate_breach(thresholds, candidate), _latency_breach(thresholds, candidate)]
    breaches.append(_regression_breach(thresholds, candidate, baseline))
    return [breach for breach in breaches if breach] + model_aware.breaches(thresholds, candidate, baseline)


def _error_rate_breach(thresholds: Thresholds, candidate: Figures) -> str | None:
    limit, rate = thresholds.max_error_rate, candidate.error_rate
    if limit is None or rate is None or rate <= limit:
        return None
    return (
        f"error rate {rate:.1%} ({candidate.errors} of {candidate.requests} requests answered 5xx or 429) "
        f"exceeds maxErrorRate {limit:.1%}"
    )


def _latency_breach(thresholds: Thresholds, candidate: Figures) -> str | None:
    limit, p99 = thresholds.max_latency_p99_ms, candidate.p99_ms
    if limit is None or p99 is None or p99 <= limit:
        return None
    return f"p99 latency {p99:.1f} ms exceeds maxLatencyP99Ms {limit:g} ({candidate.requests} requests)"


def _regression_breach(thresholds: Thresholds, candidate: Figures, baseline: Figures | None) -> str | None:
    limit = thresholds.max_regression
    if (
        limit is None
        or baseline is None
        or candidate.p99_ms is None
        or not _usable_baseline(thresholds, baseline)
    ):
        return None
    assert baseline.p99_ms is not None  # checked by _usable_baseline
    ratio = candidate.p99_ms / baseline.p99_ms
    if ratio <= limit:
        return None
    return (
        f"p99 latency {candidate.p99_ms:.1f} ms is {ratio:.2f}x the stable version's "
        f"{baseline.p99_ms:.1f} ms, above maxRegression {limit:g}"
    )


def _usable_baseline(thresholds: Thresholds, baseline: Figures) -> bool:
    return baseline.requests >= thresholds.min_requests and bool(baseline.p99_ms)


def _usable(thresholds: Thresholds, baseline: Figures | None) -> bool:
    return baseline is not None and _usable_baseline(thresholds, baseline)


def _no_baseline_message(thresholds: Thresholds, baseline: Figures | None) -> str:
    served = 0 if baseline is None else baseline.requests
    return (
        f"maxRegression {thresholds.max_regression:g} could not be judged: the stable version served "
        f"{served} requests with a latency figure in {_window(thresholds)} (minRequests "
        f"{thresholds.min_requests}); inconclusive policy {thresholds.inconclusive}"
    )


def _inconclusive_message(thresholds: Thresholds, candidate: Figures) -> str:
    action = {
        Action.PROMOTE.value: "promoting anyway",
        ROLLBACK_POLICY: "rolling back",
    }.get(thresholds.inconclusive, "holding: not marked stable")
    return (
        f"only {candidate.requests} requests in {_window(thresholds)}, fewer than minRequests "
        f"{thresholds.min_requests}; inconclusive policy {thresholds.inconclusive}: {action}"
    )


def _window(thresholds: Thresholds) -> str:
    return f"the {thresholds.window_seconds}s window"


def _positive_int(spec: Mapping[str, Any], name: str, default: int) -> int:
    value = int(spec.get(name, default))
    if value <= 0:
        raise ValueError(f"spec.rollback.analysis.{name} must be positive, not {value}")
    return value


def _optional_float(spec: Mapping[str, Any], name: str) -> float | None:
    value = spec.get(name)
    return None if value is None else float(value)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
