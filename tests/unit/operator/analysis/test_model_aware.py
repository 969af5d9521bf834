"""Model-aware thresholds: Jensen-Shannon label shift and mean top-score delta against the stable version,
and what happens when they cannot be judged (Inconclusive, then the Promote / Hold / Rollback policy)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelops_operator.analysis import AnalysisProgress, Phase, Snapshot
from modelops_operator.analysis.decision import Figures, Thresholds, decide, figures_from_totals
from modelops_operator.analysis.model_aware import js_divergence
from modelops_operator.analysis.samples import parse_exposition
from support.recorded_metrics import RecordedPod, observe_then_judge

LABELS = Thresholds(window_seconds=60, max_label_shift=0.1, max_score_delta=0.15, min_requests=20)
STABLE = Figures(requests=100, predictions={"safe": 70, "risk": 30}, top_score_sum=100 * 0.9)
SAME = Figures(requests=100, predictions={"safe": 68, "risk": 32}, top_score_sum=100 * 0.88)
ALWAYS_RISK = Figures(requests=100, predictions={"risk": 100}, top_score_sum=100 * 0.99)


def test_js_divergence_bounds_and_a_known_value() -> None:
    assert js_divergence({"a": 3, "b": 1}, {"a": 30, "b": 10}) == pytest.approx(0.0)
    assert js_divergence({"a": 5}, {"b": 7}) == pytest.approx(1.0)
    # P = (0, 1), Q = (0.7, 0.3): M = (0.35, 0.65)
    expected = 0.5 * (math.log2(1 / 0.65)) + 0.5 * (0.7 * math.log2(2) + 0.3 * math.log2(0.3 / 0.65))
    assert js_divergence({"risk": 10}, {"safe": 7, "risk": 3}) == pytest.approx(expected)
    assert js_divergence({"risk": 10}, {"safe": 7, "risk": 3}) == pytest.approx(
        js_divergence({"safe": 7, "risk": 3}, {"risk": 10})
    )
    with pytest.raises(ValueError, match="at least one observation"):
        js_divergence({}, {"a": 1})


def test_a_candidate_that_always_answers_risk_fails_on_label_shift() -> None:
    verdict = decide(LABELS, ALWAYS_RISK, STABLE, elapsed_s=5, baseline_expected=True)
    assert verdict.phase is Phase.FAILED
    assert (
        "label shift 0.493 (Jensen-Shannon; candidate risk 100%, stable safe 70%, risk 30%)"
        in verdict.message
    )
    assert "exceeds maxLabelShift 0.1" in verdict.message


def test_the_same_distribution_passes_at_the_end_of_the_window() -> None:
    assert decide(LABELS, SAME, STABLE, elapsed_s=30, baseline_expected=True).phase is Phase.RUNNING
    assert decide(LABELS, SAME, STABLE, elapsed_s=60, baseline_expected=True).phase is Phase.PASSED


def test_a_drop_in_confidence_fails_on_score_delta() -> None:
    unsure = replace(SAME, top_score_sum=100 * 0.6)
    verdict = decide(
        replace(LABELS, max_label_shift=None), unsure, STABLE, elapsed_s=5, baseline_expected=True
    )
    assert verdict.phase is Phase.FAILED
    assert verdict.message == (
        "mean top score 0.600 differs from the stable version's 0.900 by 0.300, above maxScoreDelta 0.15"
    )


@pytest.mark.parametrize(
    "baseline",
    [None, Figures(requests=5, predictions={"safe": 5}, top_score_sum=4.5), Figures(requests=50)],
    ids=["no-baseline", "thin-baseline", "no-predictions"],
)
def test_without_a_usable_baseline_the_window_ends_inconclusive_never_passed(
    baseline: Figures | None,
) -> None:
    assert decide(LABELS, ALWAYS_RISK, baseline, elapsed_s=30, baseline_expected=True).phase is Phase.RUNNING
    verdict = decide(LABELS, ALWAYS_RISK, baseline, elapsed_s=60, baseline_expected=True)
    assert verdict.phase is Phase.INCONCLUSIVE, "never a silent pass"
    assert verdict.message.startswith(
        "maxLabelShift and maxScoreDelta could not be judged: the stable version"
    )
    assert "minRequests 20" in verdict.message


def test_a_candidate_with_requests_but_too_few_predictions_is_inconclusive() -> None:
    tensors_only = Figures(requests=100, predictions={"risk": 3}, top_score_sum=2.9)  # OIP tensor calls
    verdict = decide(LABELS, tensors_only, STABLE, elapsed_s=60, baseline_expected=True)
    assert verdict.phase is Phase.INCONCLUSIVE
    assert "the candidate predicted 3 texts" in verdict.message


def test_a_first_version_has_no_distribution_to_shift_from() -> None:
    assert decide(LABELS, ALWAYS_RISK, None, elapsed_s=60).phase is Phase.PASSED


@pytest.mark.parametrize(
    ("policy", "action"), [("Promote", "Promote"), ("Hold", "Hold"), ("Rollback", "Fail")]
)
def test_the_inconclusive_policy_decides(policy: str, action: str) -> None:
    thresholds = replace(LABELS, inconclusive=policy)
    verdict = decide(thresholds, ALWAYS_RISK, None, elapsed_s=60, baseline_expected=True)
    progress = AnalysisProgress(verdict.phase, thresholds, state=_state(), message=verdict.message)
    assert progress.phase is Phase.INCONCLUSIVE
    assert progress.action.value == action
    assert progress.should_rollback is (policy == "Rollback")


def _state() -> Any:
    from modelops_operator.analysis.progress import AnalysisState

    return AnalysisState(version="v1.1.0", stable_version="v1.0.0")


def test_spec_and_figures_round_trip_with_the_new_fields() -> None:
    spec = {"windowSeconds": 30, "intervalSeconds": 2, "maxLabelShift": 0.2, "maxScoreDelta": 0.1,
            "minRequests": 10, "inconclusive": "Rollback"}  # fmt: skip
    assert Thresholds.from_spec(spec).to_spec() == spec
    figures = Figures(
        requests=40, errors=0, p99_ms=12.5, predictions={"safe": 30, "risk": 10}, top_score_sum=36.0
    )
    rendered = figures.to_json()
    assert rendered["predictions"] == {"risk": 10, "safe": 30} and rendered["meanTopScore"] == 0.9
    assert Figures.from_json(rendered) == figures


def test_the_servers_metrics_become_label_counts_and_a_mean_top_score() -> None:
    pod = RecordedPod()
    pod.serve(10)
    pod.serve(4, code="401")  # unauthenticated callers: no prediction, not a request for minRequests
    pod.predict("safe", 7, score=0.8)
    pod.predict("risk", 3, score=0.6)
    figures = figures_from_totals(parse_exposition(pod.exposition()))
    assert figures.requests == 10
    assert figures.predictions == {"safe": 7, "risk": 3}
    assert figures.mean_top_score == pytest.approx((7 * 0.8 + 3 * 0.6) / 10)


T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
SPEC = {"windowSeconds": 20, "intervalSeconds": 2, "maxErrorRate": 0.05, "maxLabelShift": 0.1,
        "minRequests": 10, "inconclusive": "Hold"}  # fmt: skip


def test_a_label_shift_with_healthy_http_figures_is_rolled_back_end_to_end() -> None:
    """Recorded pods through run_step: the stable pod's labels during the rollout are the baseline."""
    stable, candidate = RecordedPod(), RecordedPod()
    pods: dict[str, dict[str, RecordedPod]] = {"candidate": {}, "stable": {"md-stable-a": stable}}

    def scrape() -> Snapshot:
        return Snapshot(
            candidate={n: parse_exposition(p.exposition()) for n, p in pods["candidate"].items()},
            baseline={n: parse_exposition(p.exposition()) for n, p in pods["stable"].items()},
        )

    def step(status: Any, seconds: float, available: bool) -> tuple[AnalysisProgress, Any]:
        now = T0 + timedelta(seconds=seconds)
        progress = observe_then_judge(
            Thresholds.from_spec(SPEC),
            status,
            scrape,
            now,
            version="v1.1.0",
            stable_version="v1.0.0",
            available=available,
        )
        return progress, json.loads(json.dumps(progress.to_status()))

    _, status = step(None, -10, False)
    stable.serve(30)
    stable.predict("safe", 24)
    stable.predict("risk", 6)
    pods["candidate"]["md-new-a"] = candidate
    _, status = step(status, -4, False)
    del pods["stable"]["md-stable-a"]  # the rollout completed
    _, status = step(status, 0, True)
    candidate.serve(20)  # every answer a 200, fast: nothing an HTTP-only analysis would catch
    candidate.predict("risk", 20, score=0.97)

    progress, status = step(status, 2, True)

    assert progress.phase is Phase.FAILED and progress.should_rollback, progress.message
    assert "exceeds maxLabelShift 0.1" in progress.message
    assert status["baseline"]["predictions"] == {"risk": 6, "safe": 24}
    assert status["candidate"]["predictions"] == {"risk": 20}
    assert progress.failure_figures()["candidate"]["meanTopScore"] == 0.97
