"""The verdict rule: each threshold, regression against the stable version, minRequests, window end."""

from dataclasses import replace

import pytest

from modelops_operator.analysis.decision import Figures, Phase, Thresholds, decide

STRICT = Thresholds(
    window_seconds=60, max_error_rate=0.05, max_latency_p99_ms=500, max_regression=1.5, min_requests=20
)
HEALTHY = Figures(requests=100, errors=1, p99_ms=120.0)
STABLE = Figures(requests=100, errors=0, p99_ms=100.0)


def test_healthy_candidate_runs_until_the_window_ends_then_passes() -> None:
    assert decide(STRICT, HEALTHY, STABLE, elapsed_s=30).phase is Phase.RUNNING
    verdict = decide(STRICT, HEALTHY, STABLE, elapsed_s=60)
    assert verdict.phase is Phase.PASSED
    assert "100 requests, 1 errors (1.0%), p99 120.0 ms" in verdict.message


def test_error_rate_above_the_limit_fails_before_the_window_ends() -> None:
    verdict = decide(STRICT, Figures(requests=40, errors=12, p99_ms=50.0), STABLE, elapsed_s=4)

    assert verdict.phase is Phase.FAILED
    assert verdict.message == (
        "error rate 30.0% (12 of 40 requests answered 5xx or 429) exceeds maxErrorRate 5.0%"
    )


def test_error_rate_at_the_limit_passes() -> None:
    assert decide(STRICT, Figures(100, 5, 50.0), None, elapsed_s=60).phase is Phase.PASSED


def test_p99_above_the_limit_fails() -> None:
    verdict = decide(STRICT, Figures(requests=50, errors=0, p99_ms=812.5), None, elapsed_s=10)

    assert verdict.phase is Phase.FAILED
    assert verdict.message == "p99 latency 812.5 ms exceeds maxLatencyP99Ms 500 (50 requests)"


def test_p99_regression_against_the_stable_version_fails() -> None:
    verdict = decide(STRICT, Figures(requests=50, errors=0, p99_ms=300.0), STABLE, elapsed_s=10)

    assert verdict.phase is Phase.FAILED
    assert "3.00x the stable version's 100.0 ms, above maxRegression 1.5" in verdict.message


def test_a_first_version_has_no_baseline_to_regress_against() -> None:
    slow = Figures(requests=50, errors=0, p99_ms=300.0)

    assert decide(STRICT, slow, None, elapsed_s=60).phase is Phase.PASSED


@pytest.mark.parametrize(
    "baseline", [None, Figures(requests=3, p99_ms=10.0), Figures(requests=50, p99_ms=None)], ids=str
)
def test_a_stable_version_too_thin_to_judge_makes_the_window_inconclusive(baseline: Figures | None) -> None:
    slow = Figures(requests=50, errors=0, p99_ms=300.0)

    assert decide(STRICT, slow, baseline, elapsed_s=30, baseline_expected=True).phase is Phase.RUNNING
    verdict = decide(STRICT, slow, baseline, elapsed_s=60, baseline_expected=True)
    assert verdict.phase is Phase.INCONCLUSIVE, "never a silent pass"
    assert "maxRegression 1.5 could not be judged" in verdict.message
    assert "minRequests 20" in verdict.message


def test_several_breaches_are_all_named() -> None:
    verdict = decide(STRICT, Figures(requests=50, errors=25, p99_ms=900.0), STABLE, elapsed_s=10)

    assert verdict.phase is Phase.FAILED
    assert verdict.message.count(";") == 2


def test_too_few_requests_never_fail_and_end_inconclusive() -> None:
    all_failing = Figures(requests=19, errors=19, p99_ms=9000.0)
    holding = replace(STRICT, inconclusive="Hold")

    assert decide(holding, all_failing, STABLE, elapsed_s=10).phase is Phase.RUNNING
    verdict = decide(holding, all_failing, STABLE, elapsed_s=61)
    assert verdict.phase is Phase.INCONCLUSIVE
    assert "only 19 requests in the 60s window, fewer than minRequests 20" in verdict.message
    assert "policy Hold: holding" in verdict.message


def test_thresholds_left_out_are_not_checked() -> None:
    lenient = Thresholds(window_seconds=5, min_requests=1)

    assert decide(lenient, Figures(10, 10, 9000.0), STABLE, elapsed_s=5).phase is Phase.PASSED


def test_spec_is_parsed_and_rendered_back_with_the_same_names() -> None:
    spec = {
        "windowSeconds": 20,
        "intervalSeconds": 2,
        "maxErrorRate": 0.05,
        "maxLatencyP99Ms": 500,
        "maxRegression": 1.5,
        "minRequests": 10,
        "inconclusive": "Promote",
        "prometheusURL": "http://prometheus:9090",
    }

    assert Thresholds.from_spec(spec).to_spec() == spec
    assert Thresholds.from_spec({}).to_spec() == {
        "windowSeconds": 60,
        "intervalSeconds": 10,
        "minRequests": 20,
        "inconclusive": "Promote",
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"inconclusive": "Abort"}, "inconclusive must be Promote, Hold or Rollback, not 'Abort'"),
        ({"windowSeconds": 0}, "windowSeconds must be positive, not 0"),
        ({"intervalSeconds": -1}, "intervalSeconds must be positive, not -1"),
    ],
)
def test_invalid_spec_names_the_field(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Thresholds.from_spec(spec)


def test_figures_json_round_trip() -> None:
    figures = Figures(requests=40, errors=12, p99_ms=812.5)

    assert figures.to_json() == {"requests": 40, "errors": 12, "errorRate": 0.3, "p99Ms": 812.5}
    assert Figures.from_json(figures.to_json()) == figures
    assert Figures().to_json() == {"requests": 0, "errors": 0}
