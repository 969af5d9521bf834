"""The pure promotion gates: environments, health windows, analysis and metric floors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelops import gates
from modelops.gates import Evidence, PromotionPolicy

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
STAGING_10M = {"requires": [{"environment": "staging", "healthyForSeconds": 600}]}


def _ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def _policy(spec: dict[str, object]) -> PromotionPolicy:
    policy = PromotionPolicy.from_spec(spec)
    assert policy is not None
    return policy


def _evaluate(spec: dict[str, object], *evidence: Evidence, metrics: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    return gates.evaluate(_policy(spec), "v1.2.0", metrics, {e.environment: e for e in evidence}, NOW)


def test_absent_promotion_means_no_gate() -> None:
    assert PromotionPolicy.from_spec(None) is None


def test_empty_policy_is_open() -> None:
    result = _evaluate({})
    assert result.open and result.message == "no promotion gates" and result.opens_at is None


def test_never_ran_in_staging_is_blocked_and_does_not_open_by_waiting() -> None:
    result = _evaluate(STAGING_10M)
    assert not result.open
    assert result.message == "v1.2.0 has not run in staging"
    assert result.opens_at is None


def test_healthy_for_part_of_the_window_says_how_long_and_when_it_opens() -> None:
    result = _evaluate(STAGING_10M, Evidence("staging", available_since=_ago(240)))
    assert not result.open
    assert result.message == "v1.2.0 has been healthy in staging for 4m of the required 10m"
    assert result.opens_at == NOW + timedelta(seconds=360)


def test_healthy_for_the_whole_window_is_open() -> None:
    result = _evaluate(STAGING_10M, Evidence("staging", available_since=_ago(600)))
    assert result.open
    assert result.message == "v1.2.0 passed every promotion gate"
    assert result.checks[0].message == "v1.2.0 has been healthy in staging for 10m"


def test_failure_after_becoming_available_blocks_with_the_reason() -> None:
    ev = Evidence("staging", available_since=_ago(900), failed_at=_ago(60), failure="CrashLoop: oom")
    result = _evaluate(STAGING_10M, ev)
    assert not result.open
    assert result.message == "v1.2.0 failed in staging at 2026-01-01T11:59:00Z: CrashLoop: oom"
    assert result.opens_at is None


def test_available_again_after_an_old_failure_counts_from_the_recovery() -> None:
    ev = Evidence("staging", available_since=_ago(120), failed_at=_ago(900))
    result = _evaluate(STAGING_10M, ev)
    assert "for 2m of the required 10m" in result.message


def test_no_longer_serving_is_blocked() -> None:
    result = _evaluate(STAGING_10M, Evidence("staging", served_until=_ago(30)))
    assert result.message == "v1.2.0 has not been serving in staging since 2026-01-01T11:59:30Z"


def test_zero_window_only_needs_to_be_available() -> None:
    spec = {"requires": [{"environment": "staging"}]}
    assert _evaluate(spec, Evidence("staging", available_since=NOW)).open


@pytest.mark.parametrize(
    ("passed", "message"),
    [
        (None, "v1.2.0 has no passed analysis in staging yet"),
        (False, "v1.2.0 failed its analysis in staging"),
    ],
)
def test_analysis_required(passed: bool | None, message: str) -> None:
    spec = {"requires": [{"environment": "staging", "healthyForSeconds": 60, "analysisPassed": True}]}
    result = _evaluate(spec, Evidence("staging", available_since=_ago(600), analysis_passed=passed))
    assert not result.open and result.message == message
    assert result.opens_at is None


def test_analysis_passed_and_healthy_is_open() -> None:
    spec = {"requires": [{"environment": "staging", "healthyForSeconds": 60, "analysisPassed": True}]}
    assert _evaluate(spec, Evidence("staging", available_since=_ago(60), analysis_passed=True)).open


def test_metric_below_the_floor_names_the_figure() -> None:
    result = _evaluate({"minMetrics": {"recall": 0.95}}, metrics={"recall": 0.91})
    assert not result.open
    assert result.message == "v1.2.0 recall 0.91 is below the minimum 0.95"
    assert result.opens_at is None


def test_missing_metric_is_blocked() -> None:
    result = _evaluate({"minMetrics": {"precision": 0.9}}, metrics={"recall": 0.99})
    assert result.message == "v1.2.0 has no precision metric (minimum 0.9)"


def test_metric_at_the_floor_passes() -> None:
    assert _evaluate(
        {"minMetrics": {"recall": 0.95, "precision": 0.9}}, metrics={"recall": 0.95, "precision": 1}
    ).open


def test_every_missing_item_is_listed_and_waiting_alone_does_not_open_it() -> None:
    spec = {**STAGING_10M, "minMetrics": {"recall": 0.95}}
    result = _evaluate(spec, Evidence("staging", available_since=_ago(60)), metrics={"recall": 0.5})
    assert result.message == (
        "v1.2.0 has been healthy in staging for 1m of the required 10m; "
        "v1.2.0 recall 0.5 is below the minimum 0.95"
    )
    assert result.opens_at is None


def test_two_windows_open_at_the_later_one() -> None:
    spec = {
        "requires": [
            {"environment": "staging", "healthyForSeconds": 600},
            {"environment": "canary", "healthyForSeconds": 300},
        ]
    }
    result = _evaluate(
        spec, Evidence("staging", available_since=_ago(500)), Evidence("canary", available_since=_ago(60))
    )
    assert result.opens_at == NOW + timedelta(seconds=240)


def test_evidence_is_read_from_model_version_status() -> None:
    status = {
        "environments": [
            {
                "environment": "staging",
                "deployment": "safety-classifier-staging",
                "availableSince": "2026-01-01T11:50:00Z",
                "analysisPassed": True,
            },
            {"environment": "production", "failedAt": "2026-01-01T11:00:00Z", "failure": "x"},
        ]
    }
    evidence = gates.evidence_from_status(status)
    assert evidence["staging"].available_since == _ago(600)
    assert evidence["staging"].analysis_passed is True
    assert evidence["production"].failed_at == _ago(3600) and evidence["production"].failure == "x"
    assert gates.evidence_from_status(None) == {}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (90, "1m30s"), (240, "4m"), (270, "4m"), (7200, "2h"), (3930, "1h5m")],
)
def test_durations(seconds: int, text: str) -> None:
    assert gates.format_duration(seconds) == text


def test_summary_is_json_friendly() -> None:
    result = _evaluate(STAGING_10M, Evidence("staging", available_since=_ago(240)))
    assert gates.summary(result.checks) == [
        {
            "gate": "healthy in staging for 10m",
            "passed": False,
            "message": "v1.2.0 has been healthy in staging for 4m of the required 10m",
            "opensAt": "2026-01-01T12:06:00Z",
        }
    ]
