"""The Shadow strategy of the reconcile: the candidate answers mirrored traffic only, then is judged.

`reconcile` asks `applies` before a rollout and calls `advance` instead of rolling out; once the
candidate passed (`status.shadow.phase: Passed`), `applies` is False and the `then` strategy
(RollingUpdate or Canary) rolls it out. `settle` runs at the end of every plan and tears the shadow
down once no shadow runs. Pure: every fact that must survive an operator restart is in `status.shadow`
(the rollout it belongs to, when mirroring started and ends, the stable pods' highest mirror counters
and their values at the start), so a restarted operator reaches the same verdict.

The sequence: the candidate's Deployment and Service (`shadow_objects`) are applied; once a candidate
pod is ready and the Service has its ClusterIP, the mirror target is written into the ConfigMap every
server pod mounts, and each stable pod gets an annotation with the target's fingerprint, which makes
its kubelet refresh the mounted file now rather than at its next periodic sync (the pod is not
restarted). From then for `durationSeconds` the stable pods mirror and count; `analysis.shadow.judge`
decides. A failure (figures, crash loop, definitive load failure, readiness deadline, or the
`modelops.io/abort` annotation) goes back to `reconcile`, which takes the existing rollback path and
then calls `reject`: mirroring off, the candidate's Deployment scaled to 0 (it and its Service, empty,
stay for the next shadow; the operator has no delete right), the stable Deployment untouched.
`modelops.io/promote=<version>` passes a running or held shadow at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from modelops import vocabulary as v
from modelops.vocabulary import ABORT_ANNOTATION, PROMOTE_ANNOTATION
from modelops_operator import builders, failfast, shadow_objects
from modelops_operator import conditions as c
from modelops_operator.analysis import Action, Thresholds
from modelops_operator.analysis import shadow as judgement
from modelops_operator.canary import Failure
from modelops_operator.draft import NORMAL, WARNING, Draft, parse_time, timestamp
from modelops_operator.rollout_strategy import SHADOW, ShadowSpec

STARTING, MIRRORING, HELD = v.SHADOW_STARTING, v.SHADOW_MIRRORING, v.SHADOW_HELD
PASSED, REJECTED, STOPPED = v.SHADOW_PASSED, v.SHADOW_REJECTED, v.SHADOW_STOPPED
RUNNING = (STARTING, MIRRORING, HELD)
SAMPLE_SECONDS = 5  # how often the stable pods' counters are read while mirroring (status progress)


def applies(draft: Draft) -> bool:
    """True while `draft.target` is judged in shadow: strategy Shadow, a stable version, not passed yet."""
    return (
        draft.spec.rollout.strategy == SHADOW
        and draft.new_version_beside_stable
        and _current(draft).get("phase") != PASSED
    )


def scraping(md: dict[str, Any]) -> str | None:
    """The candidate version whose mirror counters observe must read now, or None (for `observe`)."""
    state = (md.get("status") or {}).get("shadow") or {}
    return str(state["version"]) if state.get("phase") in RUNNING and state.get("version") else None


def advance(draft: Draft) -> Failure | None:
    """Run the shadow of `draft.target` as far as the observation allows; a Failure when it is rejected."""
    spec = draft.spec.rollout.shadow or ShadowSpec()
    thresholds = draft.spec.analysis or Thresholds()
    state = _state(draft)
    draft.status["shadow"] = state
    failure = _requested_abort(draft) or _candidate_failure(draft, state)
    if failure is not None:
        return failure
    _build(draft)
    observed = draft.obs.shadow
    ready = observed is not None and observed.deployment is not None and observed.deployment.ready > 0
    # before the target is written the counters are what earlier mirrors left (a retried version)
    _fold(draft, state, "pods" if "mirroringSince" in state else "baseline")
    if not ready or observed is None or not observed.service_ip:
        message = f"shadow of {draft.target}: starting the candidate (no user traffic)"
        state.update(phase=STARTING, message=message)
        draft.progressing = (True, c.REASON_ROLLING_OUT, message)
        return None
    document = shadow_objects.target_document(
        draft.md, draft.settings, spec, observed.service_ip, draft.target
    )
    _mirror(draft, state, document, spec)
    return _judge(draft, state, spec, thresholds)


def reject(draft: Draft) -> None:
    """After the rollback path recorded the failure: mirroring off, the candidate's pods removed."""
    state = dict(draft.status.get("shadow") or {})
    state["phase"] = REJECTED
    draft.status["shadow"] = state
    if draft.plan.deployment is None and draft.obs.stable_mv is not None:
        draft.plan.deployment = draft.build(draft.obs.stable_mv)  # keep the stable as it runs
    _tear_down(draft)


def settle(draft: Draft) -> None:
    """No shadow running in this plan: turn mirroring off and remove the candidate once (idempotent)."""
    state = draft.status.get("shadow")
    if not state or state.get("tornDown") or _built(draft):
        return
    if state.get("phase") in RUNNING:
        draft.status["shadow"] = {**state, "phase": STOPPED, "message": "the shadow was stopped"}
    _tear_down(draft)


def _current(draft: Draft) -> dict[str, Any]:
    state = draft.status.get("shadow") or {}
    started = (draft.status.get("rollout") or {}).get("startedAt")
    mine = state.get("version") == draft.target and state.get("rolloutStartedAt") == started
    return dict(state) if mine else {}


def _state(draft: Draft) -> dict[str, Any]:
    """`status.shadow` of this rollout (a retry or another version starts a new one)."""
    return _current(draft) or {
        "version": draft.target,
        "rolloutStartedAt": (draft.status.get("rollout") or {}).get("startedAt"),
        "startedAt": draft.now,
        "candidateDeployment": builders.shadow_name(draft.md["metadata"]["name"]),
        "phase": STARTING,
        "baseline": {},
        "pods": {},
    }


def _built(draft: Draft) -> bool:
    name = builders.shadow_name(draft.md["metadata"]["name"])
    return any(
        obj.get("kind") == "Deployment" and obj["metadata"]["name"] == name for obj in draft.plan.objects
    )


def _build(draft: Draft) -> None:
    """The stable Deployment as it is, the candidate's Deployment and Service (mirroring off until ready)."""
    draft.plan.deployment = draft.build(draft.obs.stable_mv)
    if draft.obs.target_mv is None:
        return
    draft.plan.objects += [
        shadow_objects.service(draft.md, draft.settings, draft.spec),
        shadow_objects.deployment(draft.md, draft.obs.target_mv, draft.settings, draft.spec),
    ]


def _mirror(draft: Draft, state: dict[str, Any], document: str, spec: ShadowSpec) -> None:
    """The target on; the stable pods told to refresh their file; the duration starts once."""
    draft.plan.objects.append(shadow_objects.config_map(draft.md, draft.spec, document))
    _nudge(draft, state, document)
    if "mirroringSince" in state:
        return
    ends = draft.obs.now + timedelta(seconds=spec.duration_seconds)
    state.update(mirroringSince=draft.now, endsAt=timestamp(ends), sampleFraction=spec.sample_fraction)
    message = (
        f"shadow of {draft.target}: the stable pods mirror {spec.sample_fraction:.0%} of predictions to it "
        f"for {spec.duration_seconds}s; it answers no user"
    )
    draft.event(NORMAL, c.EVENT_SHADOW_STARTED, message)
    draft.history(draft.target, c.EVENT_SHADOW_STARTED, message)


def _nudge(draft: Draft, state: dict[str, Any], document: str) -> None:
    fingerprint = shadow_objects.fingerprint(document)
    if state.get("nudged") == fingerprint:
        return
    for pod in draft.obs.pods:
        if not pod.terminating:
            draft.plan.pod_annotations[pod.name] = {shadow_objects.TARGET_ANNOTATION: fingerprint}
    state["nudged"] = fingerprint


def _fold(draft: Draft, state: dict[str, Any], key: str) -> None:
    observed = draft.obs.shadow
    if observed is not None and observed.samples:
        state[key] = judgement.fold(state.get(key) or {}, observed.samples)


def _judge(draft: Draft, state: dict[str, Any], spec: ShadowSpec, thresholds: Thresholds) -> Failure | None:
    figures = judgement.ShadowFigures.of(state.get("pods") or {}, state.get("baseline") or {})
    state["figures"] = figures.to_status()
    ends = parse_time(state.get("endsAt")) or draft.obs.now
    verdict = judgement.judge(figures, thresholds, spec.min_requests, draft.obs.now >= ends)
    if _requested(draft, PROMOTE_ANNOTATION):
        verdict = judgement.Verdict(Action.PROMOTE, f"promoted by {PROMOTE_ANNOTATION}: {figures.describe()}")
    state["message"] = verdict.message
    if verdict.action == Action.WAIT:
        state["phase"] = MIRRORING
        draft.progressing = (True, c.REASON_ANALYZING, f"shadow of {draft.target}: {verdict.message}")
        draft.plan.requeue_at = min(ends, draft.obs.now + timedelta(seconds=SAMPLE_SECONDS))
        draft.watch_deadline = False
        return None
    if verdict.action == Action.HOLD:
        state["phase"] = HELD
        hint = f"{PROMOTE_ANNOTATION}={draft.target} or {ABORT_ANNOTATION}={draft.target}"
        message = f"shadow of {draft.target} held: {verdict.message}; annotate {hint}"
        draft.degraded = (True, c.REASON_ANALYSIS_INCONCLUSIVE, message)
        draft.progressing = (False, c.REASON_ROLLOUT_STOPPED, message)
        return None
    if verdict.action == Action.FAIL:
        draft.event(WARNING, c.EVENT_SHADOW_REJECTED, f"shadow of {draft.target}: {verdict.message}")
        return Failure(c.CAUSE_ANALYSIS_FAILED, f"shadow: {verdict.message}", state["figures"])
    state.update(phase=PASSED, passedAt=draft.now)
    # the `then` rollout's readiness deadline counts from now, not from before the shadow
    draft.status["rollout"] = {**(draft.status.get("rollout") or {}), "progressAt": draft.now}
    _tear_down(draft)
    message = f"shadow of {draft.target} passed ({verdict.message}); rolling it out"
    draft.event(NORMAL, c.EVENT_SHADOW_PASSED, message)
    draft.history(draft.target, c.EVENT_SHADOW_PASSED, message)
    return None


def _tear_down(draft: Draft) -> None:
    """Mirroring off (the stable pods told), the candidate scaled to 0 (its Service then selects no pod)."""
    name = builders.shadow_name(draft.md["metadata"]["name"])
    kept = [o for o in draft.plan.objects if o["metadata"]["name"] != name]
    draft.plan.objects = [*kept, shadow_objects.config_map(draft.md, draft.spec, shadow_objects.OFF)]
    observed = draft.obs.shadow
    running = observed is not None and observed.deployment is not None and observed.deployment.replicas > 0
    if running and name not in draft.plan.scale_to_zero:  # kept at 0 (no delete right), reused next time
        draft.plan.scale_to_zero.append(name)
    state = draft.status.get("shadow")
    if state is not None:
        _nudge(draft, state, shadow_objects.OFF)
        state["tornDown"] = True


def _requested(draft: Draft, key: str) -> bool:
    value = (draft.md["metadata"].get("annotations") or {}).get(key)
    if value is None:
        return False
    if key not in draft.plan.remove_annotations:
        draft.plan.remove_annotations.append(key)
    return str(value).strip() == draft.target


def _requested_abort(draft: Draft) -> Failure | None:
    if not _requested(draft, ABORT_ANNOTATION):
        return None
    message = f"shadow of {draft.target} aborted by {ABORT_ANNOTATION}"
    draft.event(WARNING, c.EVENT_ABORT_REQUESTED, message)
    return Failure(c.CAUSE_ABORTED, message)


def _candidate_failure(draft: Draft, state: dict[str, Any]) -> Failure | None:
    """A candidate pod crash-loops or rejected its artifact, or none is ready within the deadline."""
    pods = draft.obs.shadow.pods if draft.obs.shadow else ()
    crashing = [p for p in pods if not p.ready and p.restarts >= draft.settings.crashloop_restarts]
    if crashing:
        pod = crashing[0]
        return Failure(
            c.CAUSE_CRASH_LOOP, f"shadow pod {pod.name} restarted {pod.restarts} times: {pod.why_unready()}"
        )
    rejected = failfast.definitive_failure(list(pods), draft.target)
    if rejected is not None:
        return Failure(c.CAUSE_VERIFICATION_FAILED, rejected.reason)
    if "mirroringSince" in state:
        return None
    started = parse_time(state.get("startedAt")) or draft.obs.now
    deadline = draft.rollback.progress_deadline_seconds
    if (draft.obs.now - started).total_seconds() <= deadline:
        return None
    why = next((p.why_unready() for p in pods if not p.ready), f"no shadow pod of {draft.target} ready")
    return Failure(c.CAUSE_READINESS_TIMEOUT, f"{why} after {deadline}s")
