"""The verdict of a Shadow rollout: the stable pods' mirror counters, summed, judged against thresholds.

During a Shadow rollout every stable pod mirrors a share of its predictions to the candidate and counts,
per mirrored text, whether the candidate's top label agreed (`modelops_shadow_requests_total{version,
result}`) and the absolute top-score difference (`modelops_shadow_score_delta`). `parse` reads those
series of one candidate version from one pod's /metrics text (observe scrapes them); `fold` keeps the
highest value seen per pod in `status.shadow.pods`, minus the value at the start (`baseline`: a retried
version starts from zero again), so the figures survive an operator restart and a stable pod that has
gone; `judge` turns the figures into an `Action`:

- `minAgreement` (spec.rollback.analysis, default `DEFAULT_MIN_AGREEMENT`): agreeing / answered texts.
- `maxScoreDelta`: the mean absolute top-score difference over the answered texts.
- `maxErrorRate`: the share of mirrored texts the candidate failed to answer (error, timeout).
- Fewer than `shadow.minRequests` answered texts when `durationSeconds` are over: Inconclusive, and
  `inconclusive` (Promote, Hold, Rollback) decides; never a silent pass.

Called by `shadow` (the strategy); pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from .decision import DEFAULT_MIN_AGREEMENT, ROLLBACK_POLICY, Action, Thresholds

REQUESTS_METRIC = "modelops_shadow_requests_total"
DELTA_SUM, DELTA_COUNT = "modelops_shadow_score_delta_sum", "modelops_shadow_score_delta_count"
KEYS = ("agree", "disagree", "error", "dropped", "deltaSum")
Counts = dict[str, float]


def parse(text: str, version: str) -> Counts:
    """One pod's mirror counters for candidate `version` (zeros when it mirrored nothing to it)."""
    counts = dict.fromkeys(KEYS, 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("version") != version:
                continue
            result = sample.labels.get("result")
            if sample.name == REQUESTS_METRIC and result in counts:
                counts[result] = float(sample.value)
            elif sample.name == DELTA_SUM:
                counts["deltaSum"] = float(sample.value)
    return counts


def fold(seen: Mapping[str, Counts], scraped: Mapping[str, Counts]) -> dict[str, Counts]:
    """Per pod, the highest counters seen so far (a counter only grows; a pod gone keeps its last)."""
    merged = {pod: dict(counts) for pod, counts in seen.items()}
    for pod, counts in scraped.items():
        before = merged.get(pod, {})
        merged[pod] = {key: max(float(counts.get(key, 0.0)), float(before.get(key, 0.0))) for key in KEYS}
    return merged


@dataclass(frozen=True)
class ShadowFigures:
    """What the stable pods mirrored to the candidate since the shadow started, all pods summed."""

    agree: int = 0
    disagree: int = 0
    error: int = 0
    dropped: int = 0
    delta_sum: float = 0.0

    @classmethod
    def of(cls, seen: Mapping[str, Counts], baseline: Mapping[str, Counts]) -> ShadowFigures:
        """`seen` minus `baseline`, summed over the pods."""
        total = dict.fromkeys(KEYS, 0.0)
        for pod, counts in seen.items():
            start = baseline.get(pod, {})
            for key in KEYS:
                total[key] += max(0.0, float(counts.get(key, 0.0)) - float(start.get(key, 0.0)))
        return cls(
            int(total["agree"]), int(total["disagree"]), int(total["error"]), int(total["dropped"]),
            total["deltaSum"],
        )  # fmt: skip

    @property
    def answered(self) -> int:
        """Mirrored texts the candidate answered (agreeing or not)."""
        return self.agree + self.disagree

    @property
    def agreement(self) -> float | None:
        return self.agree / self.answered if self.answered else None

    @property
    def mean_delta(self) -> float | None:
        return self.delta_sum / self.answered if self.answered else None

    @property
    def error_rate(self) -> float | None:
        sent = self.answered + self.error
        return self.error / sent if sent else None

    def to_status(self) -> dict[str, Any]:
        """`status.shadow.figures`."""
        figures: dict[str, Any] = {
            "agree": self.agree, "disagree": self.disagree, "error": self.error, "dropped": self.dropped,
        }  # fmt: skip
        for key, value in (
            ("agreement", self.agreement),
            ("meanScoreDelta", self.mean_delta),
            ("errorRate", self.error_rate),
        ):
            if value is not None:
                figures[key] = round(value, 4)
        return figures

    def describe(self) -> str:
        agreement = "n/a" if self.agreement is None else f"{self.agreement:.1%}"
        return (
            f"{self.answered} mirrored texts answered, agreement {agreement}, "
            f"{self.error} errors, {self.dropped} dropped"
        )


@dataclass(frozen=True)
class Verdict:
    """`action`: Wait while the duration runs, then Promote, Fail or Hold; `message` says why."""

    action: Action
    message: str
    inconclusive: bool = False


def judge(figures: ShadowFigures, thresholds: Thresholds, min_requests: int, over: bool) -> Verdict:
    """The verdict on `figures`; `over`: the shadow's durationSeconds have passed."""
    if not over:
        return Verdict(Action.WAIT, f"mirroring: {figures.describe()}")
    if figures.answered < min_requests:
        policy = thresholds.inconclusive
        message = (
            f"Inconclusive: {figures.answered} mirrored texts answered, fewer than "
            f"spec.rollout.shadow.minRequests {min_requests}; inconclusive policy {policy}"
        )
        action = Action.FAIL if policy == ROLLBACK_POLICY else Action(policy)
        return Verdict(action, message, inconclusive=True)
    breaches = _breaches(figures, thresholds)
    if breaches:
        return Verdict(Action.FAIL, "; ".join(breaches))
    return Verdict(Action.PROMOTE, f"shadow passed: {figures.describe()}")


def _breaches(figures: ShadowFigures, thresholds: Thresholds) -> list[str]:
    found = []
    bar = DEFAULT_MIN_AGREEMENT if thresholds.min_agreement is None else thresholds.min_agreement
    if figures.agreement is not None and figures.agreement < bar:
        found.append(
            f"agreement {figures.agreement:.1%} of {figures.answered} mirrored texts is below "
            f"minAgreement {bar:g}"
        )
    limit, delta = thresholds.max_score_delta, figures.mean_delta
    if limit is not None and delta is not None and delta > limit:
        found.append(f"mean top-score difference {delta:.3f} is above maxScoreDelta {limit:g}")
    limit, rate = thresholds.max_error_rate, figures.error_rate
    if limit is not None and rate is not None and rate > limit:
        found.append(f"the candidate failed {rate:.1%} of mirrored texts, above maxErrorRate {limit:g}")
    return found
