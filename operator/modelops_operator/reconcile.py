"""The level-based reconcile of a ModelDeployment: observed state in, desired objects and status out.

`handlers` calls `plan` for every create/update/resume event and every timer tick; it is pure (no
cluster access, time passed in), so the same inputs always give the same plan and a restarted operator
converges to the same result: all state it needs (stable version, failed versions, rollout start) is
kept in the object's status. `kube` then applies the plan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelops import vocabulary as v
from modelops.vocabulary import RETRY_ANNOTATION
from modelops_operator import (
    builders,
    canary,
    failfast,
    gating,
    policy,
    promotion,
    requeue,
    shadow,
    traffic_routing,
)
from modelops_operator import conditions as c
from modelops_operator.draft import NORMAL, WARNING, Draft, Event, Plan, parse_time, progress_since, timestamp
from modelops_operator.settings import Settings
from modelops_operator.spec import ModelVersionSpec
from modelops_operator.state import DeploymentState, Observed

__all__ = ["RETRY_ANNOTATION", "Event", "Plan", "plan", "timestamp"]


def plan(obs: Observed, settings: Settings) -> Plan:
    """Decide everything for one ModelDeployment from what was observed (pure)."""
    prior = dict(obs.md.get("status") or {})
    status = {k: prior[k] for k in _CARRIED if k in prior}
    draft = Draft(obs, settings, Plan(status=status), "", timestamp(obs.now), analysis=obs.analysis)
    draft.target = obs.spec.version
    violation = policy.check(
        obs.md, obs.target_mv, settings.platform_policy, settings.default_server_image, spec=obs.spec
    )
    if violation is not None:
        _refuse(draft, violation)
        return _finish(draft)
    draft.plan.service = builders.build_service(obs.md, settings, spec=obs.spec)
    _observe_deployment(draft)
    _consume_retry(draft)
    _retry_pending_revert(draft)
    if _failed_entry(draft, draft.target) is not None:
        _guard(draft)
    elif (problem := _model_version_problem(draft)) is not None:
        _hold_for_model_version(draft, *problem)
    elif not gating.hold_at_gate(draft):
        _deliver(draft)
    canary.settle(draft)
    traffic_routing.plan(draft)
    shadow.settle(draft)
    return _finish(draft)


_CARRIED = (
    "stableDeployment",
    "canary",
    "shadow",
    "servingVersion",
    "servingSince",
    "stableVersion",
    "failedVersions",
    "history",
    "rollout",
    "lastRollback",
    "pendingRevert",
    "analysis",
    "promotion",
    "conditions",
)


def _observe_deployment(draft: Draft) -> None:
    dep, spec = draft.obs.deployment, draft.spec
    meta = draft.md["metadata"]
    draft.status["deploymentName"] = draft.stable_slot
    draft.status["endpoint"] = (
        f"http://{meta['name']}.{meta['namespace']}.svc:{draft.settings.server_port}"
        f"/api/v1/ml-models/{spec.model}"
    )
    ready = dep.ready if dep else 0
    draft.status.update(
        readyReplicas=ready,
        replicas=dep.status_replicas if dep else 0,
        updatedReplicas=dep.updated if dep else 0,
        ready=f"{ready}/{spec.replicas}",
    )
    if dep and dep.version and dep.complete:
        if draft.status.get("servingVersion") != dep.version or "servingSince" not in draft.status:
            draft.status["servingSince"] = draft.now
        draft.status["servingVersion"] = dep.version
    serving = draft.status.get("servingVersion", "nothing")
    if dep and dep.replicas == 0:
        draft.available = (True, c.REASON_SCALED_TO_ZERO, "scaled to 0 replicas")
    elif ready > 0:
        draft.available = (True, c.REASON_SERVING, f"serving {serving} ({ready} pods ready)")
    else:
        draft.available = (False, c.REASON_NO_PODS_READY, "no server pod is ready")


def _refuse(draft: Draft, violation: policy.Violation) -> None:
    """The platform policy forbids the spec: create and change nothing, say which field and why."""
    _observe_deployment(draft)
    _announce_once(draft, c.REASON_POLICY_VIOLATION, WARNING, c.REASON_POLICY_VIOLATION, violation.message)
    draft.degraded = (True, c.REASON_POLICY_VIOLATION, violation.message)
    draft.progressing = (False, c.REASON_ROLLOUT_STOPPED, "refused by the platform policy")


def _failed_entry(draft: Draft, version: str) -> dict[str, Any] | None:
    return next((f for f in draft.status.get("failedVersions", []) if f.get("version") == version), None)


def _consume_retry(draft: Draft) -> None:
    requested = (draft.md["metadata"].get("annotations") or {}).get(RETRY_ANNOTATION)
    if requested is None:
        return
    draft.plan.remove_annotations.append(RETRY_ANNOTATION)
    if requested.strip() != draft.target:
        return
    failed = _failed_entry(draft, draft.target) is not None
    if draft.analysis.held_of(draft.target) and not failed:
        draft.set_analysis(None)  # measured again from a fresh window
        message = f"analysis of {draft.target} requested again"
        draft.event(NORMAL, c.EVENT_RETRY_REQUESTED, message)
        draft.history(draft.target, c.EVENT_RETRY_REQUESTED, message)
        return
    if not failed:
        return
    draft.status["failedVersions"] = [
        f for f in draft.status["failedVersions"] if f.get("version") != draft.target
    ]
    if draft.analysis.of_version(draft.target):
        draft.set_analysis(None)  # e.g. Inconclusive under `inconclusive: Rollback`: judged afresh
    draft.status.pop("rollout", None)  # the retry gets a whole new deadline
    draft.status.pop("pendingRevert", None)
    message = f"retry of failed version {draft.target} requested"
    draft.event(NORMAL, c.EVENT_RETRY_REQUESTED, message)
    draft.history(draft.target, c.EVENT_RETRY_REQUESTED, message)


def _retry_pending_revert(draft: Draft) -> None:
    """A revert decided earlier but not applied (patch failed, operator stopped): patch again."""
    pending = draft.status.get("pendingRevert")
    if not pending:
        return
    if int(draft.md["metadata"].get("generation", 1)) != pending.get("generation"):
        draft.status.pop("pendingRevert")  # the spec changed since: the revert applied, or a user acted
        return
    draft.plan.spec_patch = _revert_ops(draft, str(pending.get("to")))


def _revert_ops(draft: Draft, stable: str) -> list[dict[str, Any]]:
    return [
        {"op": "test", "path": "/spec/version", "value": draft.spec.version_text},
        {"op": "replace", "path": "/spec/version", "value": stable},
    ]


def _retry_hint(draft: Draft) -> str:
    return (
        f"to retry it: kubectl annotate modeldeployment {draft.md['metadata']['name']} "
        f"{RETRY_ANNOTATION}={draft.target} --overwrite"
    )


def _guard(draft: Draft) -> None:
    """spec.version names a version that failed here: keep the stable version, do not flap."""
    failed = _failed_entry(draft, draft.target) or {}
    stable = draft.status.get("stableVersion")
    automatic = draft.rollback.automatic
    if automatic and stable and stable != draft.target:
        draft.plan.deployment = draft.build(draft.obs.stable_mv)
    if draft.plan.spec_patch:
        message = (
            f"{draft.target} failed; reverting spec.version to {stable} (the last attempt did not apply)"
        )
        draft.degraded = (True, c.REASON_ROLLED_BACK, message)
        draft.progressing = (False, c.REASON_ROLLOUT_STOPPED, f"{draft.target} is not rolled out again")
        return
    keeping = f"keeping {stable} serving" if stable else "no stable version to serve"
    message = (
        f"spec.version {draft.target} failed at {failed.get('time', '?')}: "
        f"{failed.get('reason', 'unknown')}; {keeping}; {_retry_hint(draft)}"
    )
    hold = draft.rollback.hold
    reason = c.REASON_ROLLBACK_HELD if hold else c.REASON_FAILED_VERSION_REQUESTED
    _announce_once(draft, reason, WARNING, c.EVENT_FAILED_VERSION_REQUESTED, message)
    draft.degraded = (True, reason, message)
    draft.progressing = (False, c.REASON_ROLLOUT_STOPPED, f"{draft.target} is not rolled out again")


def _announce_once(draft: Draft, reason: str, kind: str, event: str, message: str) -> None:
    # Events only on a transition, not on every resync.
    old = c.find(draft.md.get("status", {}).get("conditions", []), c.DEGRADED)
    if old is None or old.get("status") != "True" or old.get("reason") != reason:
        draft.event(kind, event, message)


def _model_version_problem(draft: Draft) -> tuple[str, str] | None:
    mv, model = draft.obs.target_mv, draft.spec.model
    if mv is None:
        return c.REASON_MODEL_VERSION_NOT_FOUND, (
            f"no ModelVersion {model} {draft.target} in this namespace; register it first"
        )
    try:
        found = ModelVersionSpec.of(mv).model
    except ValueError as error:
        return c.REASON_MODEL_VERSION_INVALID, f"ModelVersion {mv['metadata']['name']}: {error}"
    if found != model:
        return c.REASON_MODEL_VERSION_INVALID, (
            f"ModelVersion {mv['metadata']['name']} is for model {found!r}, not {model!r}"
        )
    if mv.get("status", {}).get("phase") == v.MV_PHASE_INVALID:
        return c.REASON_MODEL_VERSION_INVALID, f"ModelVersion {mv['metadata']['name']} is Invalid"
    return None


def _hold_for_model_version(draft: Draft, reason: str, message: str) -> None:
    """The requested version cannot be deployed: leave what is serving untouched."""
    serving = draft.status.get("servingVersion")
    text = f"{message}; {serving} keeps serving" if serving else message
    _announce_once(draft, reason, WARNING, c.EVENT_MODEL_VERSION_MISSING, text)
    draft.degraded = (True, reason, text)
    draft.progressing = (False, c.REASON_ROLLOUT_STOPPED, f"waiting for a valid ModelVersion {draft.target}")


def _rollout(draft: Draft) -> None:
    target, dep = draft.target, draft.obs.deployment
    draft.plan.deployment = draft.build(draft.obs.target_mv)
    _track_rollout(draft)
    _note_progress(draft)
    if dep is None or dep.version != target:
        _analyse_rollout(draft)
        draft.progressing = (True, c.REASON_ROLLING_OUT, f"updating the Deployment to {target}")
    elif dep.complete and dep.replicas == 0:
        draft.progressing = (
            False,
            c.REASON_SCALED_TO_ZERO,
            f"{target} is scaled to 0; it is judged (and can become stable) once a pod has served",
        )
    elif dep.complete:
        _complete(draft)
    elif target != draft.status.get("stableVersion") and (failure := _detect_failure(draft)) is not None:
        # The stable version is never marked failed: that would leave nothing to serve.
        cause, reason, reported_at = failure
        _fail(draft, cause, reason, reported_at=reported_at)
    else:
        _analyse_rollout(draft)
        ready_new = sum(1 for p in draft.obs.pods if p.version == target and p.ready)
        draft.progressing = (True, c.REASON_ROLLING_OUT, f"{ready_new}/{dep.replicas} pods of {target} ready")
    rolled = draft.status.get("lastRollback")
    if rolled and rolled.get("to") == target and not draft.degraded[0]:
        draft.degraded = (
            True,
            c.REASON_ROLLED_BACK,
            f"{rolled.get('from')} failed ({rolled.get('reason')}); rolled back to {target}",
        )


def _deliver(draft: Draft) -> None:
    """Roll the target out by its strategy; a Shadow judges it first, then its `then` strategy runs."""
    _track_rollout(draft)
    if shadow.applies(draft):
        failure = shadow.advance(draft)
        if failure is not None:
            _fail(draft, failure.cause, failure.reason, failure.figures)
            shadow.reject(draft)
            return
        if shadow.applies(draft):
            return  # still judged (or held, or refused)
    _canary(draft) if canary.applies(draft) else _rollout(draft)


def _canary(draft: Draft) -> None:
    """spec.rollout.strategy Canary: the steps (`canary`), failures through the same rollback path."""
    _track_rollout(draft)
    _note_progress(draft)
    failure = canary.advance(draft)
    if failure is not None:
        _fail(draft, failure.cause, failure.reason, failure.figures, reported_at=failure.reported_at)
        canary.abort(draft)


def _track_rollout(draft: Draft) -> None:
    target = draft.target
    if (draft.status.get("rollout") or {}).get("version") == target:
        return
    draft.status["rollout"] = {"version": target, "startedAt": draft.now}
    rolled = draft.status.get("lastRollback")
    if rolled and rolled.get("to") != target:
        draft.status.pop("lastRollback")
    if draft.status.get("servingVersion") != target:
        message = f"rolling out {target} (serving {draft.status.get('servingVersion') or 'nothing'})"
        draft.event(NORMAL, c.EVENT_DEPLOYING, message)
        draft.history(target, c.EVENT_DEPLOYING, message)


def _note_progress(draft: Draft) -> None:
    """One more pod of the target ready: the readiness deadline starts again (a slow, healthy rollout
    of many replicas is not a failure)."""
    rollout = dict(draft.status["rollout"])
    ready_new = sum(1 for p in draft.obs.pods if p.version == draft.target and p.ready)
    if ready_new > int(rollout.get("readyPods", 0)):
        draft.status["rollout"] = {**rollout, "readyPods": ready_new, "progressAt": draft.now}


def _complete(draft: Draft) -> None:
    target = draft.target
    if (draft.md.get("status") or {}).get("servingVersion") != target:
        draft.event(NORMAL, c.EVENT_DEPLOYED, f"{target} is serving on every pod")
    if draft.status.get("stableVersion") == target:
        draft.progressing = (False, c.REASON_ROLLOUT_COMPLETE, f"{target} is stable")
        return
    decision = promotion.decide(_promotion_input(draft))
    if decision.analysis is not None:
        draft.set_analysis(decision.analysis)
    _apply_decision(draft, decision)


def _promotion_input(draft: Draft) -> promotion.PromotionInput:
    stable, thresholds = draft.status.get("stableVersion"), draft.spec.analysis
    samples = draft.obs.analysis_samples
    resumed = draft.resumable_analysis  # as decided so far: a retry drops a Failed verdict
    return promotion.PromotionInput(resumed, draft.target, stable, draft.obs.now, samples, thresholds)


def _analyse_rollout(draft: Draft) -> None:
    """Still rolling out: measure the stable pods' baseline now, they are gone once it completes."""
    analysis = promotion.rollout_analysis(_promotion_input(draft))
    if analysis is not None:
        draft.set_analysis(analysis)


def _apply_decision(draft: Draft, decision: promotion.Decision) -> None:
    target = draft.target
    if decision.verdict == promotion.PROMOTE:
        draft.status["stableVersion"] = target
        draft.event(NORMAL, c.EVENT_PROMOTED, f"{target} promoted to stable: {decision.reason}")
        draft.history(target, c.EVENT_PROMOTED, decision.reason)
        draft.progressing = (False, c.REASON_ROLLOUT_COMPLETE, f"{target} is stable")
    elif decision.verdict == promotion.WAIT:
        draft.progressing = (True, c.REASON_ANALYZING, decision.reason or f"analysing {target}")
    elif decision.verdict == promotion.HOLD:
        draft.degraded = (True, c.REASON_ANALYSIS_INCONCLUSIVE, decision.reason)
        draft.progressing = (False, c.REASON_ROLLOUT_STOPPED, decision.reason)
    else:
        _fail(draft, c.CAUSE_ANALYSIS_FAILED, decision.reason, decision.figures)


def _detect_failure(draft: Draft) -> tuple[str, str, str | None] | None:
    """(cause, reason, when the pods reported it) once the target has failed, else None."""
    target, dep = draft.target, draft.obs.deployment
    new_pods = [p for p in draft.obs.pods if p.version == target]
    unready = [p for p in new_pods if not p.ready]
    crashing = [p for p in unready if p.restarts >= draft.settings.crashloop_restarts]
    if crashing:
        return (
            c.CAUSE_CRASH_LOOP,
            f"pod {crashing[0].name} restarted {crashing[0].restarts} times: {crashing[0].why_unready()}",
            None,
        )
    rejected = failfast.definitive_failure(draft.obs.pods, target)
    if rejected is not None:  # no restart can fix it: do not wait for the deadline
        return c.CAUSE_VERIFICATION_FAILED, rejected.reason, rejected.reported_at
    deadline = draft.rollback.progress_deadline_seconds
    rollout = draft.status.get("rollout") or {}
    started = parse_time(rollout.get("startedAt"))
    since = progress_since(rollout)
    overdue = since is not None and (draft.obs.now - since).total_seconds() > deadline
    stalled = _stalled_since(dep, started)
    if not (overdue or stalled):
        return None
    cause = c.CAUSE_PROGRESS_DEADLINE if stalled else c.CAUSE_READINESS_TIMEOUT
    why = unready[0].why_unready() if unready else f"pods of {target} not ready after {deadline}s"
    return cause, why, None


def _stalled_since(dep: DeploymentState | None, started: datetime | None) -> bool:
    """ProgressDeadlineExceeded that concerns this rollout, not one the Deployment was rolled away from."""
    if dep is None or not dep.settled or not dep.progress_deadline_exceeded or started is None:
        return False
    return dep.progress_deadline_at is None or dep.progress_deadline_at > started


def _fail(
    draft: Draft,
    cause: str,
    reason: str,
    figures: dict[str, Any] | None = None,
    *,
    reported_at: str | None = None,
) -> None:
    """The target version failed: record it, then revert, hold or just report."""
    target, stable = draft.target, draft.status.get("stableVersion")
    entry: dict[str, Any] = {"version": target, "cause": cause, "reason": reason, "time": draft.now}
    if figures:
        entry["figures"] = figures
    if reported_at:
        entry["reportedAt"] = reported_at
    others = [f for f in draft.status.get("failedVersions", []) if f.get("version") != target]
    draft.status["failedVersions"] = [*others, entry]
    if draft.analysis.unfinished_of(target):
        draft.set_analysis(None)
    draft.event(WARNING, c.EVENT_ROLLOUT_FAILED, f"{target} failed ({cause}): {reason}")
    draft.history(target, c.EVENT_ROLLOUT_FAILED, f"{cause}: {reason}")
    draft.progressing = (False, c.REASON_ROLLOUT_STOPPED, f"{target} failed ({cause})")
    if not stable or stable == target:
        draft.plan.deployment = None
        draft.degraded = (
            True,
            c.REASON_ROLLOUT_FAILED,
            f"{target} failed: {reason}; no stable version to roll back to",
        )
    elif not draft.rollback.automatic:
        draft.plan.deployment = None
        draft.degraded = (
            True,
            c.REASON_ROLLOUT_FAILED,
            f"{target} failed: {reason}; automatic rollback is off",
        )
    elif draft.obs.stable_mv is None:
        draft.plan.deployment = None  # nothing to build the stable version from: leave what runs
        draft.degraded = (
            True,
            c.REASON_ROLLOUT_FAILED,
            f"{target} failed: {reason}; cannot roll back: the ModelVersion of stable {stable} is gone; "
            f"the running pods are left as they are; register {stable} again or deploy another version",
        )
    elif draft.rollback.hold:
        _hold(draft, stable, reason)
    else:
        _revert(draft, stable, reason)


def _hold(draft: Draft, stable: str, reason: str) -> None:
    draft.plan.deployment = draft.build(draft.obs.stable_mv)
    message = (
        f"{draft.target} failed: {reason}; serving stable {stable}; spec.version left at "
        f"{draft.target} (rollback mode Hold); {_retry_hint(draft)}"
    )
    draft.event(WARNING, c.EVENT_HELD, message)
    draft.degraded = (True, c.REASON_ROLLBACK_HELD, message)


def _revert(draft: Draft, stable: str, reason: str) -> None:
    target = draft.target
    draft.plan.deployment = draft.build(draft.obs.stable_mv)
    draft.plan.spec_patch = _revert_ops(draft, stable)
    generation = int(draft.md["metadata"].get("generation", 1))
    draft.status["pendingRevert"] = {"from": target, "to": stable, "generation": generation}
    draft.plan.rolled_back = True
    draft.status["lastRollback"] = {"from": target, "to": stable, "reason": reason, "time": draft.now}
    message = f"spec.version reverted from {target} to {stable}: {reason}"
    draft.event(WARNING, c.EVENT_ROLLED_BACK, message)
    draft.history(stable, c.EVENT_ROLLED_BACK, message)
    draft.degraded = (True, c.REASON_ROLLED_BACK, f"{target} failed ({reason}); rolled back to {stable}")


def _finish(draft: Draft) -> Plan:
    generation = int(draft.md["metadata"].get("generation", 1))
    conds = list(draft.status.get("conditions", []))
    for kind, (ok, reason, message) in (
        (c.AVAILABLE, draft.available),
        (c.PROGRESSING, draft.progressing),
        (c.DEGRADED, draft.degraded),
    ):
        conds = c.set_condition(
            conds, c.make(kind, ok, reason, message, generation=generation, now=draft.now)
        )
    draft.status["conditions"] = conds
    draft.status["observedGeneration"] = generation
    draft.status["phase"] = _phase(draft)
    draft.plan.requeue_after = requeue.requeue_after(draft)
    return draft.plan


def _phase(draft: Draft) -> str:
    degraded, d_reason, _ = draft.degraded
    if degraded:
        return v.PHASE_ROLLED_BACK if d_reason == c.REASON_ROLLED_BACK else v.PHASE_DEGRADED
    if draft.progressing[0]:
        return v.PHASE_ANALYZING if draft.progressing[1] == c.REASON_ANALYZING else v.PHASE_PROGRESSING
    return v.PHASE_AVAILABLE if draft.available[0] else v.PHASE_PENDING
