"""Condition types, every reason the operator reports, and the helper that sets conditions correctly.

The words themselves live in `modelops.vocabulary` (shared with `modelctl` and the registry) and are
re-exported here for the operator's modules. `set_condition` keeps `lastTransitionTime` when the
status does not change (kstatus and Argo CD rely on it) and stamps `observedGeneration` on every
condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelops.vocabulary import (  # the shared words; re-exported for the operator's modules
    AVAILABLE,
    CAUSE_ABORTED,
    CAUSE_ANALYSIS_FAILED,
    CAUSE_CRASH_LOOP,
    CAUSE_PROGRESS_DEADLINE,
    CAUSE_READINESS_TIMEOUT,
    CAUSE_VERIFICATION_FAILED,
    DEGRADED,
    EVENT_ABORT_REQUESTED,
    EVENT_CANARY_PAUSED,
    EVENT_CANARY_STEP,
    EVENT_DEPLOYED,
    EVENT_DEPLOYING,
    EVENT_FAILED_VERSION_REQUESTED,
    EVENT_GATES_OPEN,
    EVENT_GATES_OVERRIDDEN,
    EVENT_HELD,
    EVENT_MODEL_VERSION_MISSING,
    EVENT_PROMOTE_REQUESTED,
    EVENT_PROMOTED,
    EVENT_PROMOTION_BLOCKED,
    EVENT_RETRY_REQUESTED,
    EVENT_ROLLED_BACK,
    EVENT_ROLLOUT_FAILED,
    EVENT_SHADOW_PASSED,
    EVENT_SHADOW_REJECTED,
    EVENT_SHADOW_STARTED,
    GATE_BLOCKED,
    GATE_OPEN,
    GATE_OVERRIDDEN,
    PROGRESSING,
    READY,
    REASON_ANALYSIS_INCONCLUSIVE,
    REASON_ANALYZING,
    REASON_DEPLOYED,
    REASON_FAILED_VERSION_REQUESTED,
    REASON_HEALTHY,
    REASON_INVALID_SPEC,
    REASON_MODEL_VERSION_INVALID,
    REASON_MODEL_VERSION_NOT_FOUND,
    REASON_NO_PODS_READY,
    REASON_PAUSED,
    REASON_POLICY_VIOLATION,
    REASON_PROMOTION_BLOCKED,
    REASON_RECONCILE_ERROR,
    REASON_REGISTERED,
    REASON_ROLLBACK_HELD,
    REASON_ROLLED_BACK,
    REASON_ROLLING_OUT,
    REASON_ROLLOUT_COMPLETE,
    REASON_ROLLOUT_FAILED,
    REASON_ROLLOUT_STOPPED,
    REASON_SCALED_TO_ZERO,
    REASON_SERVING,
)

Condition = dict[str, Any]


def find(conditions: Sequence[Condition], kind: str) -> Condition | None:
    """The condition of type `kind`, or None."""
    return next((c for c in conditions if c.get("type") == kind), None)


def is_true(conditions: Sequence[Condition], kind: str) -> bool:
    """True when the condition `kind` exists with status True."""
    found = find(conditions, kind)
    return found is not None and found.get("status") == "True"


def make(kind: str, status: bool, reason: str, message: str, *, generation: int, now: str) -> Condition:
    """A condition dict as the CRD schema describes it."""
    return {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": now,
    }


def set_condition(conditions: Sequence[Condition], new: Condition) -> list[Condition]:
    """Return `conditions` with `new` replacing its type, keeping lastTransitionTime if status is same."""
    old = find(conditions, new["type"])
    if old is not None and old.get("status") == new["status"] and old.get("lastTransitionTime"):
        new = {**new, "lastTransitionTime": old["lastTransitionTime"]}
    others = [c for c in conditions if c.get("type") != new["type"]]
    return sorted([*others, new], key=lambda c: str(c.get("type")))


__all__ = [
    "AVAILABLE",
    "CAUSE_ABORTED",
    "CAUSE_ANALYSIS_FAILED",
    "CAUSE_CRASH_LOOP",
    "CAUSE_PROGRESS_DEADLINE",
    "CAUSE_READINESS_TIMEOUT",
    "CAUSE_VERIFICATION_FAILED",
    "DEGRADED",
    "EVENT_ABORT_REQUESTED",
    "EVENT_CANARY_PAUSED",
    "EVENT_CANARY_STEP",
    "EVENT_DEPLOYED",
    "EVENT_DEPLOYING",
    "EVENT_FAILED_VERSION_REQUESTED",
    "EVENT_GATES_OPEN",
    "EVENT_GATES_OVERRIDDEN",
    "EVENT_HELD",
    "EVENT_MODEL_VERSION_MISSING",
    "EVENT_PROMOTED",
    "EVENT_PROMOTE_REQUESTED",
    "EVENT_PROMOTION_BLOCKED",
    "EVENT_RETRY_REQUESTED",
    "EVENT_ROLLED_BACK",
    "EVENT_ROLLOUT_FAILED",
    "EVENT_SHADOW_PASSED",
    "EVENT_SHADOW_REJECTED",
    "EVENT_SHADOW_STARTED",
    "GATE_BLOCKED",
    "GATE_OPEN",
    "GATE_OVERRIDDEN",
    "PROGRESSING",
    "READY",
    "REASON_ANALYSIS_INCONCLUSIVE",
    "REASON_ANALYZING",
    "REASON_DEPLOYED",
    "REASON_FAILED_VERSION_REQUESTED",
    "REASON_HEALTHY",
    "REASON_INVALID_SPEC",
    "REASON_MODEL_VERSION_INVALID",
    "REASON_MODEL_VERSION_NOT_FOUND",
    "REASON_NO_PODS_READY",
    "REASON_PAUSED",
    "REASON_POLICY_VIOLATION",
    "REASON_PROMOTION_BLOCKED",
    "REASON_RECONCILE_ERROR",
    "REASON_REGISTERED",
    "REASON_ROLLBACK_HELD",
    "REASON_ROLLED_BACK",
    "REASON_ROLLING_OUT",
    "REASON_ROLLOUT_COMPLETE",
    "REASON_ROLLOUT_FAILED",
    "REASON_ROLLOUT_STOPPED",
    "REASON_SCALED_TO_ZERO",
    "REASON_SERVING",
    "Condition",
    "find",
    "is_true",
    "make",
    "set_condition",
]
