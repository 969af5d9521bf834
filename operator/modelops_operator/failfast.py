"""Fail-fast: a new version whose every pod reports a definitive failure is failed at once.

The server says in its health JSON (`failure.definitive`) when it found the files and rejected them: a
digest or signature mismatch, metadata or graph that disagree, a golden answer it cannot give. No
restart can fix that, so waiting for `progressDeadlineSeconds` only delays the rollback. `observe`
reads the answer into each `PodState`; `failure.detect_failure` (RollingUpdate) and
`canary._pod_failure` (a Canary's pods) ask `definitive_failure`, and
`requeue` asks `still_loading` to look again shortly while a new pod is still verifying (no pod event
marks the end of a load that fails, since the pod stays unready either way).

Conservative on purpose: one new pod that is ready, still loading, unreachable or failed for a
transient reason (missing storage, an unexpected load error) means wait, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from modelops_operator.state import PodState


@dataclass(frozen=True)
class DefinitiveFailure:
    """Every new pod rejected the version: why, how many said so, and when the last one did."""

    reason: str
    pods: int
    reported_at: str | None


def _new_pods(pods: Iterable[PodState], version: str) -> list[PodState]:
    return [p for p in pods if p.version == version and not p.terminating]


def definitive_failure(pods: Iterable[PodState], version: str) -> DefinitiveFailure | None:
    """The failure to record when every (at least one) live pod of `version` failed definitively."""
    new = _new_pods(pods, version)
    if not new or any(p.ready or not p.definitive for p in new):
        return None
    reasons = sorted({p.health_reason or "rejected by the server" for p in new})
    reason = reasons[0] if len(reasons) == 1 else "; ".join(reasons)
    times = [p.failed_since for p in new if p.failed_since]
    return DefinitiveFailure(reason, len(new), max(times) if times else None)


def still_loading(pods: Iterable[PodState], version: str) -> bool:
    """True while a live, unready pod of `version` answers that it is still verifying its model."""
    return any(p.loading and not p.ready for p in _new_pods(pods, version))
