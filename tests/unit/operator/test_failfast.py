"""Fail-fast rollback: every new pod reporting a definitive failure fails the version at once, long
before the readiness deadline; anything less certain waits as before."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from modelops_operator import conditions as c
from modelops_operator import failfast, reconcile
from modelops_operator.settings import Settings
from modelops_operator.state import DeploymentState, PodState
from support.operator_objects import later, model_deployment
from support.reconcile_scenes import cond, observe, reasons, serving

SETTINGS = Settings()
MISMATCH = "sha256 mismatch for model.onnx: expected aa, got bb"
REPORTED = "2026-01-01T12:00:02.345Z"


def rejected(name: str = "new-1", version: str = "v1.2.0", **fields: Any) -> PodState:
    values: dict[str, Any] = {"health_reason": MISMATCH, "definitive": True, "failed_since": REPORTED}
    return PodState(name=name, version=version, ready=False, **{**values, **fields})


def loading(name: str = "new-2") -> PodState:
    return PodState(name=name, version="v1.2.0", ready=False, health_reason="model is loading", loading=True)


def transient(name: str = "new-2") -> PodState:
    reason = "model version directory /models/m/v1.2.0 does not exist"
    return PodState(name=name, version="v1.2.0", ready=False, health_reason=reason, failed_since=REPORTED)


OLD = (PodState("old-1", "v1.1.0", True), PodState("old-2", "v1.1.0", True))


def rolling(new: int = 1) -> DeploymentState:
    """v1.2.0 rolling out over two ready v1.1.0 pods, `new` new pods unready."""
    return DeploymentState(
        version="v1.2.0", replicas=2, status_replicas=2 + new, updated=new, ready=2, available=2
    )


def plan_with(*pods: PodState, seconds: float = 3, **spec: Any) -> reconcile.Plan:
    md = model_deployment("v1.2.0", status=serving("v1.1.0"), **spec)
    md["status"] = reconcile.plan(observe(md, deployment=rolling()), SETTINGS).status  # rollout starts
    new = sum(1 for p in pods if p.version == "v1.2.0")
    obs = observe(md, deployment=rolling(new), pods=(*OLD, *pods), now=later(seconds))
    return reconcile.plan(obs, SETTINGS)


def test_every_new_pod_definitive_rolls_back_at_once() -> None:
    plan = plan_with(rejected(), seconds=3)  # the readiness deadline is a minute away
    [failed] = plan.status["failedVersions"]
    assert (failed["cause"], failed["reason"]) == (c.CAUSE_VERIFICATION_FAILED, MISMATCH)
    assert failed["reportedAt"] == REPORTED
    assert plan.spec_patch == [
        {"op": "test", "path": "/spec/version", "value": "v1.2.0"},
        {"op": "replace", "path": "/spec/version", "value": "v1.1.0"},
    ]
    assert plan.rolled_back
    assert cond(plan, c.DEGRADED)["reason"] == c.REASON_ROLLED_BACK
    assert reasons(plan) == [c.EVENT_ROLLOUT_FAILED, c.EVENT_ROLLED_BACK]
    assert "VerificationFailed" in plan.events[0].message and MISMATCH in plan.events[1].message
    assert plan.deployment is not None
    assert plan.deployment["spec"]["template"]["metadata"]["annotations"]["modelops.io/version"] == "v1.1.0"


def test_two_new_pods_both_definitive_roll_back() -> None:
    plan = plan_with(rejected("new-1"), rejected("new-2", failed_since="2026-01-01T12:00:03.000Z"))
    [failed] = plan.status["failedVersions"]
    assert failed["cause"] == c.CAUSE_VERIFICATION_FAILED
    assert failed["reportedAt"] == "2026-01-01T12:00:03.000Z"  # when the last one reported


@pytest.mark.parametrize(
    "other",
    [loading(), transient(), PodState("new-2", "v1.2.0", ready=True), PodState("new-2", "v1.2.0", False)],
    ids=["still-loading", "transient", "ready", "not-yet-asked"],
)
def test_one_new_pod_not_definitive_waits(other: PodState) -> None:
    plan = plan_with(rejected(), other)
    assert "failedVersions" not in plan.status
    assert plan.spec_patch is None
    assert cond(plan, c.PROGRESSING)["reason"] == c.REASON_ROLLING_OUT


@pytest.mark.parametrize("pod", [transient("new-1"), loading("new-1")], ids=["transient", "loading"])
def test_only_transient_failures_wait_for_the_deadline(pod: PodState) -> None:
    assert "failedVersions" not in plan_with(pod).status
    late = plan_with(pod, seconds=121)
    assert late.status["failedVersions"][0]["cause"] == c.CAUSE_READINESS_TIMEOUT


def test_a_terminating_pod_does_not_decide() -> None:
    """A failed attempt's pod still shutting down must not fail a retry whose pods are not up yet."""
    old_attempt = rejected("gone", terminating=True)
    assert "failedVersions" not in plan_with(old_attempt, PodState("new-1", "v1.2.0", False)).status
    assert failfast.definitive_failure([old_attempt], "v1.2.0") is None


def test_old_version_pods_are_not_counted() -> None:
    stale = dataclasses.replace(rejected(), version="v1.0.0")
    assert failfast.definitive_failure([stale], "v1.2.0") is None
    assert "failedVersions" not in plan_with(stale).status


def test_hold_mode_fails_fast_without_writing_the_spec() -> None:
    plan = plan_with(rejected(), rollback={"automatic": True, "mode": "Hold", "progressDeadlineSeconds": 120})
    assert plan.status["failedVersions"][0]["cause"] == c.CAUSE_VERIFICATION_FAILED
    assert plan.spec_patch is None
    assert cond(plan, c.DEGRADED)["reason"] == c.REASON_ROLLBACK_HELD


def test_the_stable_version_is_never_failed_fast() -> None:
    md = model_deployment("v1.1.0", status=serving("v1.1.0"))
    pod = rejected(version="v1.1.0")
    plan = reconcile.plan(observe(md, deployment=rolling(), pods=(pod,), now=later(3)), SETTINGS)
    assert "failedVersions" not in plan.status or plan.status["failedVersions"] == []


def test_a_loading_pod_is_looked_at_again_shortly() -> None:
    plan = plan_with(loading("new-1"))
    assert plan.requeue_after == SETTINGS.loading_poll_seconds
    waiting = plan_with(PodState("new-1", "v1.2.0", False))  # not yet answering: its pod events will come
    assert waiting.requeue_after is not None and waiting.requeue_after > 10  # the readiness deadline
