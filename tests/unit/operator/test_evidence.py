"""The per-environment evidence a ModelVersion status records for the promotion gates."""

from __future__ import annotations

from typing import Any

from modelops_operator.evidence import plan_environments
from modelops_operator.modelversion import plan_status
from support.operator_objects import later, model_deployment, model_version

AVAILABLE = [{"type": "Available", "status": "True", "reason": "Serving"}]


def _staging(**status: Any) -> dict[str, Any]:
    return model_deployment("v1.1.0", environment="staging", status=status)


def _with(mv: dict[str, Any], environments: list[dict[str, Any]]) -> dict[str, Any]:
    return {**mv, "status": {"environments": environments}}


def test_nothing_recorded_for_an_environment_it_never_touched() -> None:
    staging = _staging(servingVersion="v1.0.0", conditions=AVAILABLE)
    assert plan_environments(model_version("v1.1.0"), [staging], later(0)) == []
    assert "environments" not in plan_status(model_version("v1.1.0"), [staging], later(0))


def test_available_since_comes_from_serving_since() -> None:
    staging = _staging(servingVersion="v1.1.0", servingSince="2026-01-01T11:59:00Z", conditions=AVAILABLE)
    records = plan_environments(model_version("v1.1.0"), [staging], later(0))
    assert records == [
        {
            "environment": "staging",
            "deployment": "safety-classifier-staging",
            "availableSince": "2026-01-01T11:59:00Z",
        }
    ]


def test_available_since_is_kept_across_reconciles() -> None:
    mv = _with(
        model_version("v1.1.0"), [{"environment": "staging", "availableSince": "2026-01-01T11:00:00Z"}]
    )
    staging = _staging(servingVersion="v1.1.0", servingSince="2026-01-01T11:59:00Z", conditions=AVAILABLE)
    (record,) = plan_environments(mv, [staging], later(0))
    assert record["availableSince"] == "2026-01-01T11:00:00Z"


def test_not_available_without_ready_pods() -> None:
    staging = _staging(servingVersion="v1.1.0", conditions=[{"type": "Available", "status": "False"}])
    assert plan_environments(model_version("v1.1.0"), [staging], later(0)) == []


def test_stopping_to_serve_records_until_when() -> None:
    mv = _with(
        model_version("v1.1.0"), [{"environment": "staging", "availableSince": "2026-01-01T11:00:00Z"}]
    )
    staging = _staging(servingVersion="v1.2.0", conditions=AVAILABLE)
    (record,) = plan_environments(mv, [staging], later(30))
    assert "availableSince" not in record
    assert record["servedUntil"] == "2026-01-01T12:00:30Z"


def test_deleted_deployment_ends_the_stint() -> None:
    mv = _with(
        model_version("v1.1.0"), [{"environment": "staging", "availableSince": "2026-01-01T11:00:00Z"}]
    )
    (record,) = plan_environments(mv, [], later(0))
    assert record["servedUntil"] == "2026-01-01T12:00:00Z"


def test_failure_is_recorded_with_its_cause() -> None:
    failed = {"version": "v1.1.0", "cause": "CrashLoop", "reason": "oom", "time": "2026-01-01T11:58:00Z"}
    staging = _staging(servingVersion="v1.0.0", conditions=AVAILABLE, failedVersions=[failed])
    (record,) = plan_environments(model_version("v1.1.0"), [staging], later(0))
    assert record["failedAt"] == "2026-01-01T11:58:00Z"
    assert record["failure"] == "CrashLoop: oom"


def test_analysis_result_and_promotion_are_recorded() -> None:
    staging = _staging(
        servingVersion="v1.1.0",
        servingSince="2026-01-01T11:50:00Z",
        stableVersion="v1.1.0",
        conditions=AVAILABLE,
        analysis={"version": "v1.1.0", "phase": "Passed"},
    )
    (record,) = plan_environments(model_version("v1.1.0"), [staging], later(0))
    assert record["analysisPassed"] is True
    assert record["promotedAt"] == "2026-01-01T12:00:00Z"


def test_other_models_are_ignored() -> None:
    other = _staging(servingVersion="v1.1.0", conditions=AVAILABLE)
    other["spec"]["model"] = "other_model"
    assert plan_environments(model_version("v1.1.0"), [other], later(0)) == []
