"""What happens when a ModelDeployment's target version fails: detecting it, recording it, then
reverting spec.version, holding the stable version or only reporting, and the retry annotation.

`reconcile.plan` calls `consume_retry`, `retry_pending_revert` and `guard` for every plan, and
`detect_failure` / `fail` while a rollout is tracked or judged; all pure, on the plan's `Draft`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelops.vocabulary import RETRY_ANNOTATION
from modelops_operator import conditions as c
from modelops_operator import failfast
from modelops_operator.draft import NORMAL, WARNING, Draft, parse_time, progress_since
from modelops_operator.state import DeploymentState


def failed_entry(draft: Draft, version: str) -> dict[str, Any] | None:
    return next((f for f in draft.status.get("failedVersions", []) if f.get("version") == version), None)


def consume_retry(draft: Draft) -> None:
    requested = (draft.md["metadata"].get("annotations") or {}).get(RETRY_ANNOTATION)
    if requested is None:
        return
    draft.plan.remove_annotations.append(RETRY_ANNOTATION)
    if requested.strip() != draft.target:
        return
    failed = failed_entry(draft, draft.target) is not None
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


def retry_pending_revert(draft: Draft) -> None:
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


def guard(draft: Draft) -> None:
    """spec.version names a version that failed here: keep the stable version, do not flap."""
    failed = failed_entry(draft, draft.target) or {}
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
    announce_once(draft, reason, WARNING, c.EVENT_FAILED_VERSION_REQUESTED, message)
    draft.degraded = (True, reason, message)
    draft.progressing = (False, c.REASON_ROLLOUT_STOPPED, f"{draft.target} is not rolled out again")


def announce_once(draft: Draft, reason: str, kind: str, event: str, message: str) -> None:
    # Events only on a transition, not on every resync.
    old = c.find(draft.md.get("status", {}).get("conditions", []), c.DEGRADED)
    if old is None or old.get("status") != "True" or old.get("reason") != reason:
        draft.event(kind, event, message)


def detect_failure(draft: Draft) -> tuple[str, str, str | None] | None:
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


def fail(
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
