"""The promotion gate step of the reconcile: may `spec.version` be rolled out here yet?

`reconcile.plan` calls `hold_at_gate` before it starts a rollout. With `spec.promotion` set, the target
version must have proved itself elsewhere first (`modelops.gates.evaluate` over the evidence in its
ModelVersion status). A closed gate leaves the Deployment untouched (the stable version keeps
serving), reports Degraded=True PromotionBlocked, and asks for a requeue when the gate opens by
itself. The break-glass annotation `modelops.io/override-gates: <version>` with a reason in
`modelops.io/override-reason` lets the version through; that is recorded in status, in the history
and as a Warning Event.
"""

from __future__ import annotations

from typing import Any

from modelops import gates
from modelops_operator import conditions as c
from modelops_operator.draft import NORMAL, WARNING, Draft


def hold_at_gate(draft: Draft) -> bool:
    """True when the gate keeps `draft.target` from rolling out (status, events and requeue set)."""
    mv = draft.obs.target_mv
    if not _gated(draft, mv):
        return False
    result = gates.check_objects(draft.md, draft.target, mv, draft.obs.now)
    if result.open:
        _record_open(draft, result)
        return False
    override = gates.override_reason(draft.md, draft.target)
    if override:
        _record_override(draft, result, override)
        return False
    _block(draft, result, override is not None)
    return True


def _gated(draft: Draft, mv: dict[str, Any] | None) -> bool:
    """Only a version that would start a new rollout here; never one that was stable here before."""
    md = {**draft.md, "status": draft.status}
    if not gates.needs_gate(md, draft.target, mv):
        return False
    dep = draft.obs.deployment
    return dep is None or dep.version != draft.target  # rolling out already: it passed (or was overridden)


def _prior(draft: Draft) -> dict[str, Any]:
    return dict((draft.md.get("status") or {}).get("promotion") or {})


def _record_open(draft: Draft, result: gates.GateResult) -> None:
    prior = _prior(draft)
    if prior.get("version") == draft.target and prior.get("phase") == c.GATE_BLOCKED:
        draft.event(
            NORMAL, c.EVENT_GATES_OPEN, f"promotion gates of {draft.target} are open: {result.message}"
        )
        draft.history(draft.target, c.EVENT_GATES_OPEN, result.message)
    draft.status["promotion"] = {
        "version": draft.target,
        "phase": c.GATE_OPEN,
        "message": result.message,
        "checks": gates.summary(result.checks),
    }


def _record_override(draft: Draft, result: gates.GateResult, reason: str) -> None:
    prior = _prior(draft)
    if prior.get("version") == draft.target and prior.get("phase") == c.GATE_OVERRIDDEN:
        draft.status["promotion"] = prior
        return
    message = (
        f"promotion gates of {draft.target} overridden by {gates.OVERRIDE_ANNOTATION} "
        f"(reason: {reason}); not met: {result.message}"
    )
    draft.event(WARNING, c.EVENT_GATES_OVERRIDDEN, message)
    draft.history(draft.target, c.EVENT_GATES_OVERRIDDEN, message)
    draft.status["promotion"] = {
        "version": draft.target,
        "phase": c.GATE_OVERRIDDEN,
        "message": result.message,
        "checks": gates.summary(result.checks),
        "override": {"reason": reason, "time": draft.now},
    }


def _block(draft: Draft, result: gates.GateResult, reason_missing: bool) -> None:
    serving = draft.status.get("servingVersion")
    text = f"{result.message}; {serving} keeps serving" if serving else result.message
    if reason_missing:
        text += (
            f"; the override {gates.OVERRIDE_ANNOTATION}={draft.target} is ignored without a reason in "
            f"{gates.OVERRIDE_REASON_ANNOTATION}"
        )
    prior = _prior(draft)
    if prior.get("version") != draft.target or prior.get("phase") != c.GATE_BLOCKED:
        draft.event(WARNING, c.EVENT_PROMOTION_BLOCKED, text)
        draft.history(draft.target, c.EVENT_PROMOTION_BLOCKED, result.message)
    status: dict[str, Any] = {
        "version": draft.target,
        "phase": c.GATE_BLOCKED,
        "message": result.message,
        "checks": gates.summary(result.checks),
    }
    if result.opens_at is not None:
        status["opensAt"] = gates.format_time(result.opens_at)
    draft.status["promotion"] = status
    draft.degraded = (True, c.REASON_PROMOTION_BLOCKED, text)
    draft.progressing = (False, c.REASON_ROLLOUT_STOPPED, f"{draft.target} waits for its promotion gates")
    draft.plan.requeue_at = result.opens_at
