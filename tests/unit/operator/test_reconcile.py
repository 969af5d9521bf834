"""Decisions of the pure reconcile: rollout, promotion, failure, revert, GitOps guard, retry, Hold."""

from __future__ import annotations

import dataclasses
from typing import Any

from modelops_operator import conditions as c
from modelops_operator import reconcile
from modelops_operator.settings import Settings
from modelops_operator.state import DeploymentState, Observed, PodState
from support.operator_objects import T0, later, model_deployment, model_version
from support.reconcile_scenes import cond, done, observe, reasons, serving

SETTINGS = Settings()
MISMATCH = "sha256 mismatch for model.onnx: expected aa, got bb"


def stuck(version: str, *, stalled: bool = False) -> DeploymentState:
    """A rollout of `version` whose new pod never becomes ready; the old pods still serve."""
    return DeploymentState(
        version=version,
        replicas=2,
        status_replicas=3,
        updated=1,
        ready=2,
        available=2,
        progress_deadline_exceeded=stalled,
    )


def failed_rollout(new: str = "v1.2.0", stable: str = "v1.1.0", **spec: Any) -> reconcile.Plan:
    md = model_deployment(new, status=serving(stable), **spec)
    started = reconcile.plan(observe(md, deployment=done(stable)), SETTINGS)
    md["status"] = started.status
    pod = PodState(name="p-new", version=new, ready=False, health_reason=MISMATCH)
    return reconcile.plan(observe(md, deployment=stuck(new), pods=(pod,), now=later(61)), SETTINGS)


def test_new_deployment_is_built_and_progressing() -> None:
    plan = reconcile.plan(observe(model_deployment("v1.0.0")), SETTINGS)
    assert plan.deployment is not None and plan.service is not None
    assert plan.deployment["spec"]["template"]["metadata"]["annotations"]["modelops.io/version"] == "v1.0.0"
    assert plan.status["rollout"] == {"version": "v1.0.0", "startedAt": "2026-01-01T12:00:00Z"}
    assert cond(plan, c.PROGRESSING)["status"] == "True"
    assert plan.status["phase"] == "Progressing"
    assert reasons(plan) == [c.EVENT_DEPLOYING]
    assert plan.spec_patch is None


def test_complete_rollout_serves_and_promotes() -> None:
    md = model_deployment("v1.0.0")
    md["status"] = reconcile.plan(observe(md), SETTINGS).status
    plan = reconcile.plan(observe(md, deployment=done("v1.0.0"), now=later(5)), SETTINGS)
    assert plan.status["servingVersion"] == "v1.0.0"
    assert plan.status["stableVersion"] == "v1.0.0"
    assert plan.status["ready"] == "2/2"
    assert cond(plan, c.AVAILABLE)["status"] == "True"
    assert cond(plan, c.PROGRESSING)["status"] == "False"
    assert cond(plan, c.DEGRADED)["status"] == "False"
    assert plan.status["phase"] == "Available"
    assert reasons(plan) == [c.EVENT_DEPLOYED, c.EVENT_PROMOTED]
    assert plan.status["observedGeneration"] == 1


def test_steady_state_is_a_fixed_point() -> None:
    md = model_deployment("v1.0.0", status=serving("v1.0.0"))
    plan = reconcile.plan(observe(md, deployment=done("v1.0.0"), now=later(300)), SETTINGS)
    assert plan.status == md["status"]
    assert plan.events == []


def test_missing_model_version_leaves_serving_untouched() -> None:
    md = model_deployment("v9.0.0", status=serving("v1.0.0"))
    plan = reconcile.plan(observe(md, deployment=done("v1.0.0"), mv=False), SETTINGS)
    assert plan.deployment is None
    degraded = cond(plan, c.DEGRADED)
    assert (degraded["status"], degraded["reason"]) == ("True", c.REASON_MODEL_VERSION_NOT_FOUND)
    assert "v1.0.0 keeps serving" in degraded["message"]
    assert plan.status["servingVersion"] == "v1.0.0"
    assert reasons(plan) == [c.EVENT_MODEL_VERSION_MISSING]


def test_model_version_of_another_model_is_invalid() -> None:
    md = model_deployment("v1.0.0")
    obs = Observed(md=md, now=T0, target_mv=model_version("v1.0.0", model="intent_classifier"))
    plan = reconcile.plan(obs, SETTINGS)
    assert cond(plan, c.DEGRADED)["reason"] == c.REASON_MODEL_VERSION_INVALID
    assert plan.deployment is None


def test_rollout_within_deadline_keeps_progressing() -> None:
    md = model_deployment("v1.2.0", status=serving("v1.1.0"))
    md["status"] = reconcile.plan(observe(md, deployment=done("v1.1.0")), SETTINGS).status
    pod = PodState(name="p", version="v1.2.0", ready=False, health_reason=MISMATCH)
    plan = reconcile.plan(observe(md, deployment=stuck("v1.2.0"), pods=(pod,), now=later(59)), SETTINGS)
    assert plan.spec_patch is None
    assert plan.status["servingVersion"] == "v1.1.0"
    assert cond(plan, c.PROGRESSING)["reason"] == c.REASON_ROLLING_OUT
    assert "failedVersions" not in plan.status


def test_failed_rollout_reverts_spec_to_stable_with_pod_reason() -> None:
    plan = failed_rollout()
    assert plan.spec_patch == [
        {"op": "test", "path": "/spec/version", "value": "v1.2.0"},
        {"op": "replace", "path": "/spec/version", "value": "v1.1.0"},
    ]
    assert plan.rolled_back
    [failed] = plan.status["failedVersions"]
    assert failed["version"] == "v1.2.0" and failed["reason"] == MISMATCH
    assert failed["cause"] == c.CAUSE_READINESS_TIMEOUT
    assert plan.deployment is not None
    assert plan.deployment["spec"]["template"]["metadata"]["annotations"]["modelops.io/version"] == "v1.1.0"
    assert cond(plan, c.DEGRADED)["reason"] == c.REASON_ROLLED_BACK
    assert reasons(plan) == [c.EVENT_ROLLOUT_FAILED, c.EVENT_ROLLED_BACK]
    assert any(MISMATCH in e.message for e in plan.events)
    assert plan.status["lastRollback"]["to"] == "v1.1.0"


def test_after_revert_degraded_stays_rolled_back_until_a_new_version() -> None:
    reverted = failed_rollout()
    md = model_deployment("v1.1.0", status=reverted.status)
    md["metadata"]["generation"] = 2  # the revert patch changed the spec
    plan = reconcile.plan(observe(md, deployment=done("v1.1.0"), now=later(70)), SETTINGS)
    assert plan.spec_patch is None
    assert (cond(plan, c.DEGRADED)["status"], cond(plan, c.DEGRADED)["reason"]) == ("True", "RolledBack")
    assert plan.status["phase"] == "RolledBack"
    assert cond(plan, c.AVAILABLE)["status"] == "True"
    newer = model_deployment("v1.3.0", status=plan.status)
    moved_on = reconcile.plan(observe(newer, deployment=done("v1.1.0"), now=later(80)), SETTINGS)
    assert cond(moved_on, c.DEGRADED)["status"] == "False"
    assert "lastRollback" not in moved_on.status


def test_stalled_deployment_fails_before_own_deadline() -> None:
    md = model_deployment("v1.2.0", status=serving("v1.1.0"))
    md["status"] = reconcile.plan(observe(md, deployment=done("v1.1.0")), SETTINGS).status
    plan = reconcile.plan(observe(md, deployment=stuck("v1.2.0", stalled=True), now=later(10)), SETTINGS)
    assert plan.status["failedVersions"][0]["cause"] == c.CAUSE_PROGRESS_DEADLINE


def test_stale_deployment_status_is_not_trusted() -> None:
    md = model_deployment("v1.2.0", status=serving("v1.1.0"))
    md["status"] = reconcile.plan(observe(md, deployment=done("v1.1.0")), SETTINGS).status
    stale = DeploymentState(
        version="v1.2.0",
        generation=3,
        observed_generation=2,
        replicas=2,
        status_replicas=2,
        ready=2,
        available=2,
        progress_deadline_exceeded=True,
    )
    plan = reconcile.plan(observe(md, deployment=stale, now=later(10)), SETTINGS)
    assert "failedVersions" not in plan.status


def test_crash_loop_fails_early() -> None:
    md = model_deployment("v1.2.0", status=serving("v1.1.0"))
    md["status"] = reconcile.plan(observe(md, deployment=done("v1.1.0")), SETTINGS).status
    pod = PodState(
        name="p",
        version="v1.2.0",
        ready=False,
        restarts=3,
        waiting_reason="CrashLoopBackOff",
        message="back-off restarting failed container",
    )
    plan = reconcile.plan(observe(md, deployment=stuck("v1.2.0"), pods=(pod,), now=later(5)), SETTINGS)
    assert plan.status["failedVersions"][0]["cause"] == c.CAUSE_CRASH_LOOP
    assert plan.spec_patch is not None


def test_reapplied_failed_version_does_not_flap() -> None:
    reverted = failed_rollout()
    md = model_deployment("v1.2.0", status=reverted.status)
    md["metadata"]["generation"] = 3  # reverted (2), then v1.2.0 applied again (3)
    plan = reconcile.plan(observe(md, deployment=done("v1.1.0"), now=later(90)), SETTINGS)
    assert plan.spec_patch is None
    assert plan.deployment is not None
    assert plan.deployment["spec"]["template"]["metadata"]["annotations"]["modelops.io/version"] == "v1.1.0"
    degraded = cond(plan, c.DEGRADED)
    assert degraded["reason"] == c.REASON_FAILED_VERSION_REQUESTED
    assert "modelops.io/retry=v1.2.0" in degraded["message"] and MISMATCH in degraded["message"]
    assert reasons(plan) == [c.EVENT_FAILED_VERSION_REQUESTED]
    md["status"] = plan.status
    again = reconcile.plan(observe(md, deployment=done("v1.1.0"), now=later(95)), SETTINGS)
    assert again.events == [] and again.spec_patch is None
    assert again.status == plan.status


def test_retry_annotation_rolls_the_failed_version_out_again() -> None:
    reverted = failed_rollout()
    md = model_deployment("v1.2.0", status=reverted.status)
    md["metadata"]["annotations"] = {"modelops.io/retry": "v1.2.0"}
    plan = reconcile.plan(observe(md, deployment=done("v1.1.0"), now=later(100)), SETTINGS)
    assert plan.remove_annotations == ["modelops.io/retry"]
    assert plan.status["failedVersions"] == []
    assert plan.deployment is not None
    assert plan.deployment["spec"]["template"]["metadata"]["annotations"]["modelops.io/version"] == "v1.2.0"
    assert c.EVENT_RETRY_REQUESTED in reasons(plan)
    assert plan.status["rollout"]["startedAt"] == "2026-01-01T12:01:40Z"


def test_hold_mode_never_writes_spec() -> None:
    plan = failed_rollout(rollback={"automatic": True, "mode": "Hold", "progressDeadlineSeconds": 60})
    assert plan.spec_patch is None and not plan.rolled_back
    assert plan.deployment is not None
    assert plan.deployment["spec"]["template"]["metadata"]["annotations"]["modelops.io/version"] == "v1.1.0"
    assert cond(plan, c.DEGRADED)["reason"] == c.REASON_ROLLBACK_HELD
    md = model_deployment(
        "v1.2.0",
        status=plan.status,
        rollback={"automatic": True, "mode": "Hold", "progressDeadlineSeconds": 60},
    )
    held = reconcile.plan(observe(md, deployment=done("v1.1.0"), now=later(70)), SETTINGS)
    assert held.spec_patch is None
    assert cond(held, c.DEGRADED)["reason"] == c.REASON_ROLLBACK_HELD
    assert held.events == []


def test_automatic_off_only_reports() -> None:
    plan = failed_rollout(rollback={"automatic": False, "progressDeadlineSeconds": 60})
    assert plan.spec_patch is None and plan.deployment is None
    assert cond(plan, c.DEGRADED)["reason"] == c.REASON_ROLLOUT_FAILED
    assert "automatic rollback is off" in cond(plan, c.DEGRADED)["message"]


def test_first_version_failing_has_nothing_to_revert_to() -> None:
    md = model_deployment("v1.0.0")
    md["status"] = reconcile.plan(observe(md), SETTINGS).status
    pod = PodState(name="p", version="v1.0.0", ready=False, health_reason=MISMATCH)
    never_ready = DeploymentState(version="v1.0.0", replicas=2, status_replicas=2)
    plan = reconcile.plan(observe(md, deployment=never_ready, pods=(pod,), now=later(61)), SETTINGS)
    assert plan.spec_patch is None
    assert cond(plan, c.DEGRADED)["reason"] == c.REASON_ROLLOUT_FAILED
    assert cond(plan, c.AVAILABLE)["status"] == "False"


def test_history_is_bounded() -> None:
    settings = Settings(history_limit=3)
    md = model_deployment("v1.0.0")
    for step, version in enumerate(["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"]):
        md["spec"]["version"] = version
        md["status"] = reconcile.plan(observe(md, deployment=done(version), now=later(step)), settings).status
    assert len(md["status"]["history"]) == 3
    assert md["status"]["history"][-1]["version"] == "v1.3.0"


def test_stable_version_is_never_marked_failed_while_the_failed_pods_go_away() -> None:
    reverted = failed_rollout()
    md = model_deployment("v1.1.0", status=reverted.status)
    md["metadata"]["generation"] = 2  # the revert patch changed the spec
    leftover = dataclasses.replace(stuck("v1.1.0", stalled=True), updated=2, progress_deadline_at=later(60))
    plan = reconcile.plan(observe(md, deployment=leftover, now=later(200)), SETTINGS)
    assert [f["version"] for f in plan.status["failedVersions"]] == ["v1.2.0"]
    assert cond(plan, c.DEGRADED)["reason"] == c.REASON_ROLLED_BACK
    assert plan.spec_patch is None and plan.events == []


def test_deadline_exceeded_before_this_rollout_started_is_ignored() -> None:
    md = model_deployment("v1.3.0", status=serving("v1.1.0"))
    md["status"] = reconcile.plan(observe(md, deployment=done("v1.1.0"), now=later(100)), SETTINGS).status
    old = dataclasses.replace(stuck("v1.3.0", stalled=True), progress_deadline_at=later(50))
    plan = reconcile.plan(observe(md, deployment=old, now=later(110)), SETTINGS)
    assert "failedVersions" not in plan.status
    fresh = dataclasses.replace(stuck("v1.3.0", stalled=True), progress_deadline_at=later(105))
    failed = reconcile.plan(observe(md, deployment=fresh, now=later(110)), SETTINGS)
    assert failed.status["failedVersions"][0]["cause"] == c.CAUSE_PROGRESS_DEADLINE


def test_storage_that_cannot_be_derived_is_a_permanent_spec_error() -> None:
    md = model_deployment("v1.0.0")
    del md["spec"]["storage"]
    odd = model_version("v1.0.0", artifact={"uri": "gs://bucket/model", "sha256": "ab" * 32})
    plan = reconcile.plan(Observed(md=md, now=T0, target_mv=odd), SETTINGS)
    assert plan.deployment is None
    assert cond(plan, c.DEGRADED)["reason"] == c.REASON_INVALID_SPEC
    assert "gs://bucket/model" in cond(plan, c.DEGRADED)["message"]


def test_a_rollout_in_flight_is_looked_at_again_exactly_at_its_readiness_deadline() -> None:
    plan = reconcile.plan(observe(model_deployment("v1.0.0")), SETTINGS)
    assert plan.requeue_after == 60 + 0.5, "progressDeadlineSeconds 60 from the start, no polling before"
    md = model_deployment("v1.2.0", status=serving("v1.1.0"))
    md["status"] = reconcile.plan(observe(md, deployment=done("v1.1.0")), SETTINGS).status
    plan = reconcile.plan(observe(md, deployment=stuck("v1.2.0"), now=later(30)), SETTINGS)
    assert plan.requeue_after == 30 + 0.5, "the rest of the deadline"
    dep, pods = _rolling(1, replicas=2)
    plan = reconcile.plan(observe(md, deployment=dep, pods=pods, now=later(40)), SETTINGS)
    assert plan.requeue_after == 60 + 0.5, "a pod became ready at 40 s: the deadline starts again"


def test_a_settled_object_needs_no_requeue_only_events() -> None:
    md = model_deployment("v1.0.0", status=serving("v1.0.0"))
    assert (
        reconcile.plan(observe(md, deployment=done("v1.0.0"), now=later(300)), SETTINGS).requeue_after is None
    )
    assert failed_rollout().requeue_after is None, "a finished rollback waits for the next change"


def test_a_revert_that_did_not_apply_is_patched_again_without_new_events() -> None:
    reverted = failed_rollout()
    assert reverted.status["pendingRevert"] == {"from": "v1.2.0", "to": "v1.1.0", "generation": 1}
    md = model_deployment("v1.2.0", status=reverted.status)  # generation unchanged: the patch failed
    plan = reconcile.plan(observe(md, deployment=done("v1.1.0"), now=later(70)), SETTINGS)
    assert plan.spec_patch == [
        {"op": "test", "path": "/spec/version", "value": "v1.2.0"},
        {"op": "replace", "path": "/spec/version", "value": "v1.1.0"},
    ]
    assert plan.deployment is not None
    assert plan.deployment["spec"]["template"]["metadata"]["annotations"]["modelops.io/version"] == "v1.1.0"
    assert cond(plan, c.DEGRADED)["reason"] == c.REASON_ROLLED_BACK
    assert plan.events == []


def test_a_revert_seen_applied_is_no_longer_pending() -> None:
    md = model_deployment("v1.1.0", status=failed_rollout().status)
    md["metadata"]["generation"] = 2
    plan = reconcile.plan(observe(md, deployment=done("v1.1.0"), now=later(70)), SETTINGS)
    assert "pendingRevert" not in plan.status and plan.spec_patch is None


def _rolling(ready_new: int, replicas: int = 10) -> tuple[DeploymentState, tuple[PodState, ...]]:
    dep = DeploymentState(
        version="v1.2.0",
        replicas=replicas,
        status_replicas=replicas + 1,
        updated=ready_new + 1,
        ready=replicas,
        available=replicas,
    )
    pods = tuple(PodState(f"new-{i}", "v1.2.0", ready=i < ready_new) for i in range(ready_new + 1))
    return dep, pods


def test_a_slow_healthy_rollout_is_not_failed_by_the_deadline() -> None:
    md = model_deployment("v1.2.0", status=serving("v1.1.0"), replicas=10)
    md["status"] = reconcile.plan(observe(md, deployment=done("v1.1.0", 10)), SETTINGS).status
    for ready_new in range(10):  # one more pod ready every 50 s: 450 s in all, deadline 60 s
        dep, pods = _rolling(ready_new)
        plan = reconcile.plan(observe(md, deployment=dep, pods=pods, now=later(50 * ready_new + 1)), SETTINGS)
        assert "failedVersions" not in plan.status, f"failed after {ready_new} pods became ready"
        md["status"] = plan.status
    dep, pods = _rolling(9)
    stalled = reconcile.plan(observe(md, deployment=dep, pods=pods, now=later(50 * 9 + 1 + 61)), SETTINGS)
    assert [f["cause"] for f in stalled.status["failedVersions"]] == [c.CAUSE_READINESS_TIMEOUT]


def test_a_version_scaled_to_zero_is_not_promoted_until_it_has_served() -> None:
    md = model_deployment("v1.0.0", replicas=0)
    md["status"] = reconcile.plan(observe(md), SETTINGS).status
    zero = DeploymentState(version="v1.0.0", replicas=0, status_replicas=0, updated=0, ready=0, available=0)
    plan = reconcile.plan(observe(md, deployment=zero, now=later(5)), SETTINGS)
    assert "stableVersion" not in plan.status
    assert c.EVENT_PROMOTED not in reasons(plan)
    md["status"], md["spec"]["replicas"] = plan.status, 2
    plan = reconcile.plan(observe(md, deployment=done("v1.0.0"), now=later(10)), SETTINGS)
    assert plan.status["stableVersion"] == "v1.0.0"


def test_a_deleted_stable_model_version_is_reported_not_rolled_back_to() -> None:
    md = model_deployment("v1.2.0", status=serving("v1.1.0"))
    started = reconcile.plan(observe(md, deployment=done("v1.1.0")), SETTINGS)
    md["status"] = started.status
    pod = PodState(name="p-new", version="v1.2.0", ready=False, health_reason=MISMATCH)
    obs = observe(md, deployment=stuck("v1.2.0"), pods=(pod,), now=later(61))
    gone = dataclasses.replace(obs, stable_mv=None)
    plan = reconcile.plan(gone, SETTINGS)
    assert plan.spec_patch is None and not plan.rolled_back and plan.deployment is None
    degraded = cond(plan, c.DEGRADED)
    assert degraded["reason"] == c.REASON_ROLLOUT_FAILED, "never RolledBack while the failed pods run"
    assert "the ModelVersion of stable v1.1.0 is gone" in degraded["message"]
    assert "lastRollback" not in plan.status
