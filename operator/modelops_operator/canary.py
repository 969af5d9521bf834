"""The Canary strategy of the reconcile: stable and canary as two Deployments behind the one Service.

`reconcile.plan` asks `applies` before a rollout, then calls `advance` instead of the pod-by-pod
rollout; `settle` runs at the end of every plan. Everything is pure and every fact that must survive
an operator restart lives in `status.canary` (the step, when its weight was set and reached, a manual
approval) and `status.stableDeployment` (which of the two Deployments, `<name>` or `<name>-b`, serves
the stable version), so a restarted operator converges to the same result.

Weights are replica ratios (`rollout_strategy.split`): the Service selects the pods of both Deployments
(built by `canary_objects`). A step is reached when its split is ready; then its pause runs and, with
`spec.rollback.analysis`, the canary's and the stable pods' counters are scraped in the same rounds
(`analysis.hooks.collect` in observe) and judged by `analysis.hooks.judge` over the step's window (its
`pauseSeconds`, else `windowSeconds`). A failure (analysis, crash loop, every canary pod rejecting the
version for good (`failfast`: at once, not at the deadline), readiness deadline, or the
`modelops.io/abort` annotation) is returned to `reconcile`, which takes the existing rollback path;
`abort` then scales the canary to 0 at once and the stable Deployment back to full. After the last step
the canary Deployment is scaled to full, the old one to 0, and the canary's Deployment becomes the
stable one: its pods are not restarted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from modelops import vocabulary as v
from modelops.vocabulary import ABORT_ANNOTATION, PROMOTE_ANNOTATION
from modelops_operator import builders, canary_objects, failfast, traffic_routing
from modelops_operator import conditions as c
from modelops_operator.analysis import Action
from modelops_operator.analysis import hooks as analysis_hooks
from modelops_operator.draft import NORMAL, WARNING, Draft, parse_time, progress_since
from modelops_operator.rollout_strategy import RolloutSpec, Split, split

ACTIVE, PAUSED, PROMOTING = v.CANARY_PROGRESSING, v.CANARY_PAUSED, v.CANARY_PROMOTING
PROMOTED, ABORTED, REFUSED = v.CANARY_PROMOTED, v.CANARY_ABORTED, v.CANARY_REFUSED


@dataclass(frozen=True)
class Failure:
    """The canary failed: `reconcile` records it and takes the rollback path, then calls `abort`."""

    cause: str
    reason: str
    figures: dict[str, Any] | None = None
    reported_at: str | None = None


@dataclass
class _Step:
    """The step being decided in this reconcile."""

    spec: RolloutSpec
    state: dict[str, Any]
    replicas: int


def applies(draft: Draft) -> bool:
    """True when `draft.target` is rolled out as a canary (Canary, or Shadow then Canary) beside a stable."""
    return draft.spec.rollout.canary and draft.new_version_beside_stable


def advance(draft: Draft) -> Failure | None:
    """Move the canary of `draft.target` on as far as the observation allows (status, objects, events)."""
    spec, replicas = draft.spec.rollout, draft.spec.replicas
    routed = traffic_routing.route_name(draft.md) is not None  # exact weights: any replica count does
    refusal = traffic_routing.problem(draft.md, draft.obs.http_route) if routed else spec.refusal(replicas)
    if refusal is not None:
        _refuse(draft, refusal)
        return None
    step = _Step(spec, _state(draft), replicas)
    failure = _requested_abort(draft, step) or _pod_failure(draft, step)
    if failure is None:
        _requested_promote(draft, step)
        failure = _run_steps(draft, step)
    draft.status["canary"] = step.state
    canary_objects.report_ready(draft)
    return failure


def abort(draft: Draft) -> None:
    """After the rollback path recorded the failure: canary to 0 at once, the stable version to full."""
    state = dict(draft.status.get("canary") or {})
    state["phase"] = ABORTED
    state.pop("approvedStep", None)
    draft.status["canary"] = state
    if draft.plan.deployment is None:  # the rollback path left the objects alone: keep the stable
        draft.plan.deployment = draft.build(draft.obs.stable_mv)
    draft.plan.canary_deployment = None
    other = builders.other_slot(draft.md["metadata"]["name"], draft.stable_slot)
    if other not in draft.plan.scale_to_zero:
        draft.plan.scale_to_zero.append(other)


def settle(draft: Draft) -> None:
    """No canary running: the Deployment that is not the stable one serves nothing (scaled to 0)."""
    if draft.plan.canary_deployment is not None:
        return
    prior_slot = (draft.md.get("status") or {}).get("stableDeployment") or draft.md["metadata"]["name"]
    other = draft.obs.other_deployment
    if prior_slot != draft.stable_slot or other is None or other.replicas == 0:
        return
    name = builders.other_slot(draft.md["metadata"]["name"], draft.stable_slot)
    if name not in draft.plan.scale_to_zero:
        draft.plan.scale_to_zero.append(name)
    state = draft.status.get("canary") or {}
    if state.get("phase") in (ACTIVE, PAUSED, PROMOTING):  # the strategy changed, or the target did
        draft.status["canary"] = {**state, "phase": "Stopped", "message": "the canary was stopped"}


def _state(draft: Draft) -> dict[str, Any]:
    """`status.canary` of this rollout (a retry or another version starts a new one)."""
    started = (draft.status.get("rollout") or {}).get("startedAt")
    prior = dict(draft.status.get("canary") or {})
    if prior.get("version") == draft.target and prior.get("rolloutStartedAt") == started:
        return prior
    if draft.analysis.of_version(draft.target):
        draft.set_analysis(None)  # measured afresh, step by step
    stable = draft.stable_slot
    return {
        "version": draft.target,
        "rolloutStartedAt": started,
        "stableDeployment": stable,
        "canaryDeployment": builders.other_slot(draft.md["metadata"]["name"], stable),
        "step": 0,
        "phase": ACTIVE,
        "completedSteps": [],
    }


def _requested(draft: Draft, key: str) -> str | None:
    value = (draft.md["metadata"].get("annotations") or {}).get(key)
    if value is None:
        return None
    draft.plan.remove_annotations.append(key)
    if value.strip() != draft.target:
        draft.event(WARNING, c.EVENT_CANARY_STEP, f"{key}={value} ignored: the canary is {draft.target}")
        return None
    return str(value)


def _requested_abort(draft: Draft, step: _Step) -> Failure | None:
    if _requested(draft, ABORT_ANNOTATION) is None:
        return None
    message = f"canary {draft.target} aborted by {ABORT_ANNOTATION} at step {step.state['step'] + 1}"
    draft.event(WARNING, c.EVENT_ABORT_REQUESTED, message)
    return Failure(c.CAUSE_ABORTED, message)


def _requested_promote(draft: Draft, step: _Step) -> None:
    if _requested(draft, PROMOTE_ANNOTATION) is None:
        return
    index = int(step.state["step"])
    step.state["approvedStep"] = index
    message = f"step {index + 1} of canary {draft.target} approved by {PROMOTE_ANNOTATION}"
    draft.event(NORMAL, c.EVENT_PROMOTE_REQUESTED, message)
    draft.history(draft.target, c.EVENT_PROMOTE_REQUESTED, message)


def _pod_failure(draft: Draft, step: _Step) -> Failure | None:
    """A canary pod crash-loops, every canary pod rejected the version for good (fail-fast, as in a
    RollingUpdate), or the step's canary pods are not ready within the deadline."""
    canary_pods = [p for p in draft.obs.pods if p.version == draft.target]
    crashing = [p for p in canary_pods if not p.ready and p.restarts >= draft.settings.crashloop_restarts]
    if crashing:
        pod = crashing[0]
        return Failure(
            c.CAUSE_CRASH_LOOP, f"pod {pod.name} restarted {pod.restarts} times: {pod.why_unready()}"
        )
    rejected = failfast.definitive_failure(draft.obs.pods, draft.target)
    if rejected is not None:  # no restart can fix it: abort now, not at the deadline
        return Failure(c.CAUSE_VERIFICATION_FAILED, rejected.reason, reported_at=rejected.reported_at)
    if step.state.get("stepStartedAt"):
        return None  # the weight is reached: no readiness deadline runs
    since = progress_since(draft.status.get("rollout") or {})
    deadline = draft.rollback.progress_deadline_seconds
    if since is None or (draft.obs.now - since).total_seconds() <= deadline:
        return None
    unready = [p for p in canary_pods if not p.ready]
    why = (
        unready[0].why_unready() if unready else f"canary pods of {draft.target} not ready after {deadline}s"
    )
    return Failure(c.CAUSE_READINESS_TIMEOUT, why)


def _run_steps(draft: Draft, step: _Step) -> Failure | None:
    """Advance through every step whose conditions hold now; build the objects of the step reached."""
    count = len(step.spec.steps)
    while int(step.state["step"]) < count:
        index = int(step.state["step"])
        target = split(step.spec.weight_at(index), step.replicas)
        _set_step(draft, step, index, target)
        if not canary_objects.reached(draft, target):
            return None
        step.state["routeWeight"] = target.asked  # with an HTTPRoute: its exact weight, from now on
        outcome = _step_outcome(draft, step, index, target)
        if isinstance(outcome, Failure) or outcome is False:
            return outcome if isinstance(outcome, Failure) else None
        _finish_step(draft, step, index, target)
    _promote(draft, step)
    return None


def _set_step(draft: Draft, step: _Step, index: int, target: Split) -> None:
    state = step.state
    if state.get("weight", {}).get("canaryReplicas") != target.canary or "stepSetAt" not in state:
        _restart_deadline(draft, state)
    state.update(weight=target.to_status(), steps=len(step.spec.steps), phase=ACTIVE)
    canary_objects.build(draft, target, promoting=False)
    where = f"step {index + 1}/{len(step.spec.steps)}"
    draft.progressing = (True, c.REASON_ROLLING_OUT, f"canary {draft.target} {where}: {target.describe()}")
    state["message"] = draft.progressing[2] + " (waiting for the pods)"
    draft.watch_deadline = True


def _restart_deadline(draft: Draft, state: dict[str, Any]) -> None:
    """A new split asked for more pods: their readiness deadline counts from now."""
    state["stepSetAt"] = draft.now
    draft.status["rollout"] = {**(draft.status.get("rollout") or {}), "progressAt": draft.now}


def _step_outcome(draft: Draft, step: _Step, index: int, target: Split) -> Failure | bool:
    """A Failure, True when the step is done, False while it runs (progressing and requeue set)."""
    state, spec_step = step.state, step.spec.steps[index]
    draft.watch_deadline = False
    if "stepStartedAt" not in state:
        state["stepStartedAt"] = draft.now
        _announce_step(draft, step, index, target)
    verdict = _analyse(draft, state, spec_step.pause_seconds, target)
    if isinstance(verdict, Failure):
        return verdict
    approved = state.get("approvedStep") == index
    where = f"canary {draft.target} step {index + 1}/{len(step.spec.steps)} ({target.describe()})"
    if verdict == Action.HOLD and not approved:
        message = f"{where}: {(draft.status.get('analysis') or {}).get('message', 'inconclusive')}"
        draft.degraded = (True, c.REASON_ANALYSIS_INCONCLUSIVE, message)
        draft.progressing = (False, c.REASON_ROLLOUT_STOPPED, message)
        state.update(phase=ACTIVE, message=message)
        return False
    if approved:
        return True
    if spec_step.manual:
        message = (
            f"{where}: paused; to go on: kubectl annotate modeldeployment {draft.md['metadata']['name']} "
            f"{PROMOTE_ANNOTATION}={draft.target} (or {ABORT_ANNOTATION}={draft.target})"
        )
        draft.progressing = (True, c.REASON_PAUSED, message)
        state.update(phase=PAUSED, message=message)
        return False
    ends = (parse_time(state["stepStartedAt"]) or draft.obs.now) + timedelta(seconds=spec_step.pause_seconds)
    if draft.obs.now < ends or verdict == Action.WAIT:
        reason = c.REASON_ANALYZING if verdict == Action.WAIT else c.REASON_ROLLING_OUT
        message = f"{where}: pause until {ends.strftime('%H:%M:%SZ')}"
        if verdict == Action.WAIT:
            message += f"; analysis: {(draft.status.get('analysis') or {}).get('message', '')}"
        draft.progressing = (True, reason, message)
        state.update(phase=ACTIVE, message=message)
        if draft.obs.now < ends:
            draft.plan.requeue_at = ends
        return False
    return True


def _announce_step(draft: Draft, step: _Step, index: int, target: Split) -> None:
    spec_step = step.spec.steps[index]
    where = f"canary {draft.target} step {index + 1}/{len(step.spec.steps)}"
    if spec_step.manual:
        message = f"{where} paused at {target.describe()}; waiting for {PROMOTE_ANNOTATION}={draft.target}"
        draft.event(NORMAL, c.EVENT_CANARY_PAUSED, message)
    else:
        message = f"{where}: {target.describe()} for {spec_step.pause_seconds}s"
        draft.event(NORMAL, c.EVENT_CANARY_STEP, message)
    draft.history(draft.target, c.EVENT_CANARY_STEP, message)


def _analyse(draft: Draft, state: dict[str, Any], pause: int, target: Split) -> Failure | Action | None:
    """The step's analysis (None without one): canary and stable pods over the same window."""
    spec = draft.spec.analysis
    if spec is None or target.canary == 0:
        return None
    window = dataclasses.replace(spec, window_seconds=pause) if pause > 0 else spec
    stable = draft.status.get("stableVersion")
    samples = draft.obs.analysis_samples
    judge = analysis_hooks.judge
    progress = judge(draft.resumable_analysis, window, draft.target, stable, samples, now=draft.obs.now)
    draft.set_analysis(progress.to_status())
    if progress.action == Action.FAIL:  # a broken threshold, or an inconclusive policy that rolls back
        return Failure(c.CAUSE_ANALYSIS_FAILED, progress.message, progress.failure_figures())
    return progress.action


def _finish_step(draft: Draft, step: _Step, index: int, target: Split) -> None:
    state = step.state
    analysis = draft.analysis if draft.analysis.of_version(draft.target) else None
    done: dict[str, Any] = {"step": index + 1, "weight": target.describe(), "endedAt": draft.now}
    if analysis is not None:
        draft.set_analysis(None)
        done["analysis"] = {"phase": analysis.phase, "message": analysis.message}
    state["completedSteps"] = [*state.get("completedSteps", []), done]
    for key in ("stepStartedAt", "stepSetAt", "approvedStep"):
        state.pop(key, None)
    state.update(step=index + 1, phase=ACTIVE)


def _promote(draft: Draft, step: _Step) -> None:
    """Every step passed: the canary Deployment to full; once it is, it becomes the stable one."""
    state = step.state
    whole = Split(100, step.replicas, step.replicas)
    state.update(phase=PROMOTING, weight=whole.to_status())
    if "stepSetAt" not in state:
        _restart_deadline(draft, state)
    canary_objects.build(draft, whole, promoting=True)
    draft.watch_deadline = True
    if not canary_objects.reached(draft, whole):
        message = f"canary {draft.target} passed every step; scaling it to {step.replicas} pods"
        draft.progressing = (True, c.REASON_ROLLING_OUT, message)
        state["message"] = message
        return
    _flip(draft, state)


def _flip(draft: Draft, state: dict[str, Any]) -> None:
    target, old_slot, new_slot = draft.target, draft.stable_slot, str(state["canaryDeployment"])
    draft.status["stableDeployment"] = draft.status["deploymentName"] = new_slot
    draft.status["stableVersion"] = target
    draft.status["servingVersion"] = target
    draft.status["servingSince"] = draft.now
    draft.plan.deployment = canary_objects.with_track(draft.build(draft.obs.target_mv), "stable", None)
    draft.plan.canary_deployment = None
    draft.plan.scale_to_zero.append(old_slot)
    message = f"{target} promoted to stable after {len(state.get('completedSteps', []))} canary steps"
    state.update(phase=PROMOTED, message=f"{message}; Deployment {new_slot} now serves the stable version")
    state.pop("stepSetAt", None)
    draft.event(NORMAL, c.EVENT_PROMOTED, message)
    draft.history(target, c.EVENT_PROMOTED, message)
    draft.progressing = (False, c.REASON_ROLLOUT_COMPLETE, f"{target} is stable")
    draft.watch_deadline = False


def _refuse(draft: Draft, message: str) -> None:
    """The steps cannot be served as asked: the stable version keeps (or goes back to) every pod."""
    draft.plan.deployment = draft.build(draft.obs.stable_mv)
    other = draft.obs.other_deployment
    if other is not None and other.replicas > 0:
        draft.plan.scale_to_zero.append(builders.other_slot(draft.md["metadata"]["name"], draft.stable_slot))
    state = draft.status.get("canary") or {}
    if state.get("version") == draft.target:
        draft.status["canary"] = {**state, "phase": REFUSED, "message": message}
    old = c.find((draft.md.get("status") or {}).get("conditions", []), c.DEGRADED)
    if old is None or old.get("reason") != c.REASON_INVALID_SPEC or old.get("message") != message:
        draft.event(WARNING, c.REASON_INVALID_SPEC, message)
    draft.degraded = (True, c.REASON_INVALID_SPEC, message)
    draft.progressing = (False, c.REASON_ROLLOUT_STOPPED, f"canary of {draft.target} refused: {message}")
