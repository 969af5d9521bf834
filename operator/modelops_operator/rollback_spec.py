"""The typed view of `spec.rollback` (minus its analysis), read once per use, defaults in one place.

`draft` builds it for the reconcile's rules (`reconcile`), and `builders` reads the progress deadline
from it for the Deployment; before, each spelled the keys and the defaults (120 s, automatic) itself.
The CRD carries the same defaults, so objects written before a default changed still read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REVERT_SPEC, HOLD = "RevertSpec", "Hold"
DEFAULT_PROGRESS_DEADLINE_SECONDS = 120


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
        """The rollback policy of ModelDeployment `md` (defaults for what it leaves out)."""
        raw = (md.get("spec") or {}).get("rollback") or {}
        return cls(
            automatic=bool(raw.get("automatic", True)),
            mode=str(raw.get("mode", REVERT_SPEC)),
            progress_deadline_seconds=int(
                raw.get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_SECONDS)
            ),
        )
