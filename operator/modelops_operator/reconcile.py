"""The level-based reconcile of a ModelDeployment: observed state in, desired objects and status out.

`handlers` calls `plan` for every create/update/resume event and every timer tick; it is pure (no
cluster access, time passed in), so the same inputs always give the same plan and a restarted operator
converges to the same result: all state it needs (stable version, failed versions, rollout start) is
kept in the object's status. `kube` then applies the plan. What a failed target version leads to
(record, revert, hold, retry) lives in `failure`.
"""

from __future__ import annotations

from modelops import vocabulary as v
from modelops.vocabulary import RETRY_ANNOTATION
from modelops_operator import (
    builders,
    canary,
    failure,
    gating,
    policy,
    promotion,
    requeue,
    shadow,
    traffic_routing,
)
from modelops_operator import conditions as c
from modelops_operator.draft import NORMAL, WARNING, Draft, Event, Plan, timestamp
from modelops_operator.settings import Settings
from modelops_operator.spec import ModelVersionSpec
from modelops_operator.state import Observed

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
    failure.consume_retry(draft)
    failure.retry_pending_revert(draft)
    if failure.failed_entry(draft, draft.target) is not None:
        failure.guard(draft)
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
    failure.announce_once(
        draft, c.REASON_POLICY_VIOLATION, WARNING, c.REASON_POLICY_VIOLATION, violation.message
    )
    draft.degraded = (True, c.REASON_POLICY_VIOLATION, violation.message)
    draft.progressing = (False, c.REASON_ROLLOUT_STOPPED, "refused by the platform policy")


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
    failure.announce_once(draft, reason, WARNING, c.EVENT_MODEL_VERSION_MISSING, text)
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
    elif (
        target != draft.status.get("stableVersion")
        and (detected := failure.detect_failure(draft)) is not None
    ):
        # The stable version is never marked failed: that would leave nothing to serve.
        cause, reason, reported_at = detected
        failure.fail(draft, cause, reason, reported_at=reported_at)
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
        failed = shadow.advance(draft)
        if failed is not None:
            failure.fail(draft, failed.cause, failed.reason, failed.figures)
            shadow.reject(draft)
            return
        if shadow.applies(draft):
            return  # still judged (or held, or refused)
    _canary(draft) if canary.applies(draft) else _rollout(draft)


def _canary(draft: Draft) -> None:
    """spec.rollout.strategy Canary: the steps (`canary`), failures through the same rollback path."""
    _track_rollout(draft)
    _note_progress(draft)
    failed = canary.advance(draft)
    if failed is not None:
        failure.fail(draft, failed.cause, failed.reason, failed.figures, reported_at=failed.reported_at)
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
        failure.fail(draft, c.CAUSE_ANALYSIS_FAILED, decision.reason, decision.figures)


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
