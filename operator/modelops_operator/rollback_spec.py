"""The typed view of `spec.rollback` (minus its analysis), read once per use, defaults in one place.

`spec.ModelDeploymentSpec` holds it (parsed once per reconcile) for the reconcile's rules and for the
Deployment's progress deadline (`builders`); before, each spelled the keys and defaults (120 s,
automatic) itself.
The CRD carries the same defaults, so objects written before a default changed still read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REVERT_SPEC, HOLD = "RevertSpec", "Hold"
MODES = (REVERT_SPEC, HOLD)
DEFAULT_PROGRESS_DEADLINE_SECONDS = 120
PROGRESS_DEADLINE_RANGE = (10, 3600)  # the CRD's minimum and maximum
FIELD = "spec.rollback"


@dataclass(frozen=True)
class RollbackSpec:
    """What to do when a version fails, and how long its pods have to become ready."""

    automatic: bool = True
    mode: str = REVERT_SPEC
    progress_deadline_seconds: int = DEFAULT_PROGRESS_DEADLINE_SECONDS

    @property
    def hold(self) -> bool:
        """True when the spec is never written back (mode Hold)."""
        return self.mode == HOLD

    @classmethod
    def of(cls, md: Mapping[str, Any]) -> RollbackSpec:
        """The rollback policy of ModelDeployment `md` (defaults for what it leaves out); ValueError
        naming the field for a value the CRD refuses (an object stored before the rule)."""
        raw = (md.get("spec") or {}).get("rollback") or {}
        mode = str(raw.get("mode", REVERT_SPEC))
        if mode not in MODES:
            raise ValueError(f"{FIELD}.mode must be RevertSpec or Hold, not {mode!r}")
        deadline = int(raw.get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_SECONDS))
        low, high = PROGRESS_DEADLINE_RANGE
        if not low <= deadline <= high:
            raise ValueError(f"{FIELD}.progressDeadlineSeconds must be {low}..{high}, not {deadline}")
        return cls(automatic=bool(raw.get("automatic", True)), mode=mode, progress_deadline_seconds=deadline)
