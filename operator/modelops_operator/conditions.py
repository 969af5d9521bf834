"""Condition types, every reason the operator reports, and the helper that sets conditions correctly.

All reason strings live here so that the reconcile, the tests, the Argo CD health check and the docs
agree on them. `set_condition` keeps `lastTransitionTime` when the status does not change (kstatus and
Argo CD rely on it) and stamps `observedGeneration` on every condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Condition = dict[str, Any]

AVAILABLE = "Available"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
READY = "Ready"

# Available
REASON_SERVING = "Serving"
REASON_NO_PODS_READY = "NoPodsReady"
REASON_SCALED_TO_ZERO = "ScaledToZero"
# Progressing
REASON_ROLLING_OUT = "RollingOut"
REASON_ANALYZING = "Analyzing"
REASON_ROLLOUT_COMPLETE = "RolloutComplete"
REASON_ROLLOUT_STOPPED = "RolloutStopped"
# Degraded
REASON_HEALTHY = "AsExpected"
REASON_MODEL_VERSION_NOT_FOUND = "ModelVersionNotFound"
REASON_MODEL_VERSION_INVALID = "ModelVersionInvalid"
REASON_INVALID_SPEC = "InvalidSpec"
REASON_ROLLOUT_FAILED = "RolloutFailed"
REASON_ROLLED_BACK = "RolledBack"
REASON_FAILED_VERSION_REQUESTED = "FailedVersionRequested"
REASON_ROLLBACK_HELD = "RollbackHeld"
REASON_ANALYSIS_INCONCLUSIVE = "AnalysisInconclusive"
REASON_RECONCILE_ERROR = "ReconcileError"
REASON_PROMOTION_BLOCKED = "PromotionBlocked"
REASON_POLICY_VIOLATION = "PolicyViolation"
# Failure causes recorded in status.failedVersions[].cause
CAUSE_PROGRESS_DEADLINE = "ProgressDeadlineExceeded"
CAUSE_READINESS_TIMEOUT = "ReadinessTimeout"
CAUSE_CRASH_LOOP = "CrashLoop"
CAUSE_ANALYSIS_FAILED = "AnalysisFailed"
# Event reasons
EVENT_DEPLOYING = "Deploying"
EVENT_DEPLOYED = "Deployed"
EVENT_PROMOTED = "Promoted"
EVENT_ROLLOUT_FAILED = "RolloutFailed"
EVENT_ROLLED_BACK = "RolledBack"
EVENT_HELD = "RollbackHeld"
EVENT_FAILED_VERSION_REQUESTED = "FailedVersionRequested"
EVENT_RETRY_REQUESTED = "RetryRequested"
EVENT_MODEL_VERSION_MISSING = "ModelVersionNotFound"
EVENT_PROMOTION_BLOCKED = "PromotionBlocked"
EVENT_GATES_OPEN = "PromotionGatesOpen"
EVENT_GATES_OVERRIDDEN = "PromotionGatesOverridden"
# status.promotion.phase of a ModelDeployment
GATE_BLOCKED = "Blocked"
GATE_OPEN = "Open"
GATE_OVERRIDDEN = "Overridden"
# ModelVersion
REASON_REGISTERED = "Registered"
REASON_DEPLOYED = "Deployed"


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
