"""Promotion gates in the pure reconcile: blocked (stable keeps serving), open, override, exemptions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from modelops import gates
from modelops_operator import conditions as c
from modelops_operator import reconcile
from modelops_operator.settings import Settings
from modelops_operator.state import DeploymentState, Observed
from support.operator_objects import T0, later, model_deployment, model_version

SETTINGS = Settings()
PROMOTION = {
    "requires": [{"environment": "staging", "healthyForSeconds": 600}],
    "minMetrics": {"recall": 0.9},
}


def _done(version: str) -> DeploymentState:
    return DeploymentState(version=version, replicas=2, status_replicas=2, updated=2, ready=2, available=2)


def _target(version: str, recall: float = 0.95, **status: Any) -> dict[str, Any]:
    mv = model_version(version, metrics={"recall": recall})
    if status:
        mv["status"] = status
    return mv


def _staging(since: str) -> dict[str, Any]:
    return {"environments": [{"environment": "staging", "availableSince": since}]}


def _stable_production(annotations: dict[str, str] | None = None, **status: Any) -> dict[str, Any]:
    md = model_deployment(
        "v1.1.0",
        status={"servingVersion": "v1.0.0", "stableVersion": "v1.0.0", **status},
        promotion=PROMOTION,
    )
    if annotations:
        md["metadata"]["annotations"] = annotations
    return md


def _plan(md: dict[str, Any], target_mv: dict[str, Any], *, seconds: float = 0, deployment: str = "v1.0.0"):  # type: ignore[no-untyped-def]
    obs = Observed(
        md=md,
        now=later(seconds),
        target_mv=target_mv,
        stable_mv=model_version("v1.0.0"),
        deployment=_done(deployment),
    )
    return reconcile.plan(obs, SETTINGS)


def _degraded(plan: reconcile.Plan) -> dict[str, Any]:
    found = c.find(plan.status["conditions"], c.DEGRADED)
    assert found is not None
    return found


def test_version_that_never_ran_in_staging_is_blocked_and_stable_keeps_serving() -> None:
    plan = _plan(_stable_production(), _target("v1.1.0"))
    assert plan.deployment is None, "a blocked version must not touch the serving Deployment"
    degraded = _degraded(plan)
    assert degraded["status"] == "True" and degraded["reason"] == c.REASON_PROMOTION_BLOCKED
    assert degraded["message"] == "v1.1.0 has not run in staging; v1.0.0 keeps serving"
    assert plan.status["promotion"]["phase"] == c.GATE_BLOCKED
    assert plan.status["phase"] == "Degraded"
    assert [e.reason for e in plan.events] == [c.EVENT_PROMOTION_BLOCKED]
    assert plan.requeue_at is None
    assert "rollout" not in plan.status


def test_partial_window_says_how_long_and_requeues_when_it_opens() -> None:
    plan = _plan(_stable_production(), _target("v1.1.0", **_staging("2026-01-01T11:56:00Z")))
    assert _degraded(plan)["message"].startswith(
        "v1.1.0 has been healthy in staging for 4m of the required 10m"
    )
    assert plan.requeue_at == T0 + timedelta(minutes=6)
    assert plan.requeue_after == 6 * 60 + 0.5, "the queue looks again when the gate opens, not before"
    assert plan.status["promotion"]["opensAt"] == "2026-01-01T12:06:00Z"


def test_blocked_event_is_posted_once() -> None:
    mv = _target("v1.1.0", **_staging("2026-01-01T11:56:00Z"))
    first = _plan(_stable_production(), mv)
    again = _plan(_stable_production(**{k: v for k, v in first.status.items() if k != "servingVersion"}), mv)
    assert again.events == []


def test_gate_opens_by_itself_and_the_rollout_starts() -> None:
    mv = _target("v1.1.0", **_staging("2026-01-01T11:56:00Z"))
    blocked = _plan(_stable_production(), mv)
    md = _stable_production(promotion=blocked.status["promotion"], conditions=blocked.status["conditions"])
    plan = _plan(md, mv, seconds=360)
    assert plan.deployment is not None
    assert plan.status["promotion"]["phase"] == c.GATE_OPEN
    assert plan.status["rollout"]["version"] == "v1.1.0"
    assert _degraded(plan)["status"] == "False"
    assert [e.reason for e in plan.events] == [c.EVENT_GATES_OPEN, c.EVENT_DEPLOYING]


def test_metric_below_the_floor_is_blocked_with_the_figure() -> None:
    mv = _target("v1.1.0", recall=0.8, **_staging("2026-01-01T10:00:00Z"))
    plan = _plan(_stable_production(), mv)
    assert "v1.1.0 recall 0.8 is below the minimum 0.9" in _degraded(plan)["message"]
    assert plan.requeue_at is None


def test_override_with_a_reason_lets_it_through_with_a_warning() -> None:
    annotations = {gates.OVERRIDE_ANNOTATION: "v1.1.0", gates.OVERRIDE_REASON_ANNOTATION: "hotfix INC-42"}
    plan = _plan(_stable_production(annotations), _target("v1.1.0", recall=0.8))
    assert plan.deployment is not None
    assert plan.status["promotion"]["phase"] == c.GATE_OVERRIDDEN
    assert plan.status["promotion"]["override"] == {"reason": "hotfix INC-42", "time": "2026-01-01T12:00:00Z"}
    overridden = [e for e in plan.events if e.reason == c.EVENT_GATES_OVERRIDDEN]
    assert overridden and overridden[0].type == "Warning"
    assert "recall 0.8 is below the minimum 0.9" in overridden[0].message
    assert plan.status["history"][0]["event"] == c.EVENT_GATES_OVERRIDDEN


def test_override_without_a_reason_is_ignored_and_says_so() -> None:
    plan = _plan(_stable_production({gates.OVERRIDE_ANNOTATION: "v1.1.0"}), _target("v1.1.0"))
    assert plan.deployment is None
    assert "ignored without a reason in modelops.io/override-reason" in _degraded(plan)["message"]


def test_override_of_another_version_does_not_apply() -> None:
    annotations = {gates.OVERRIDE_ANNOTATION: "v9.9.9", gates.OVERRIDE_REASON_ANNOTATION: "x"}
    plan = _plan(_stable_production(annotations), _target("v1.1.0"))
    assert _degraded(plan)["reason"] == c.REASON_PROMOTION_BLOCKED


def test_a_rollout_under_way_is_not_stopped_by_the_gate() -> None:
    plan = _plan(_stable_production(), _target("v1.1.0"), deployment="v1.1.0")
    assert _degraded(plan)["reason"] != c.REASON_PROMOTION_BLOCKED
    assert plan.deployment is not None


def test_rollback_to_a_version_that_was_stable_here_is_not_gated() -> None:
    md = model_deployment(
        "v1.0.0",
        status={"servingVersion": "v1.1.0", "stableVersion": "v1.1.0"},
        promotion=PROMOTION,
    )
    old = _target(
        "v1.0.0", environments=[{"environment": "production", "promotedAt": "2025-12-01T00:00:00Z"}]
    )
    plan = _plan(md, old, deployment="v1.1.0")
    assert plan.deployment is not None
    assert _degraded(plan)["reason"] != c.REASON_PROMOTION_BLOCKED


def test_without_spec_promotion_nothing_is_gated() -> None:
    md = model_deployment("v1.1.0", status={"servingVersion": "v1.0.0", "stableVersion": "v1.0.0"})
    plan = _plan(md, _target("v1.1.0", recall=0.1))
    assert plan.deployment is not None
    assert "promotion" not in plan.status


def test_first_deployment_with_nothing_serving_is_blocked_too() -> None:
    md = model_deployment("v1.1.0", promotion=PROMOTION)
    obs = Observed(md=md, now=T0, target_mv=_target("v1.1.0"))
    plan = reconcile.plan(obs, SETTINGS)
    assert plan.deployment is None
    assert _degraded(plan)["message"] == "v1.1.0 has not run in staging"
