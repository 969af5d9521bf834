"""When the operator must look at a ModelDeployment again without any watch event: "look again at T".

`reconcile` asks it at the end of every plan. Watch events (the object, its ModelVersions, its
Deployment and pods) bring every change of state; only time itself has to be scheduled: the readiness
deadline of a rollout (counted from the last pod that became ready), the next analysis sample, the
moment a promotion gate opens, the end of a canary step's pause (`canary` sets `plan.requeue_at`; a
canary paused for an approval waits for the annotation's watch event), and the end of a new pod's model
load (a load that fails leaves the pod unready, so no pod event announces it; see `failfast`: polled only
while a server says it is loading). Polling every in-flight object every few seconds instead saturates
the queue when many roll out at once (1,000 rollouts polled every 2 s is 500 reconciles a second).
"""

from __future__ import annotations

from datetime import datetime

from modelops_operator import conditions as c
from modelops_operator import failfast
from modelops_operator.analysis.stored import StoredAnalysis
from modelops_operator.draft import Draft, progress_since

SLACK_SECONDS = 0.5  # after the moment, not before it: the comparison must already say "due"


def requeue_after(draft: Draft) -> float | None:
    """Seconds until this object must be reconciled again, or None when only events matter."""
    times = [_until(draft.plan.requeue_at, draft.obs.now)]
    if draft.progressing[0] and draft.progressing[1] != c.REASON_PAUSED:  # paused: an annotation wakes it
        deadline = _until_deadline(draft) if draft.watch_deadline else None
        times += [deadline, _until_sample(draft.analysis)]
        if failfast.still_loading(draft.obs.pods, draft.target):
            times.append(draft.settings.loading_poll_seconds)  # its verdict changes no pod: look
        if all(t is None for t in times):
            times.append(draft.settings.requeue_seconds)  # in flight but no known moment: poll
    return min((t for t in times if t is not None), default=None)


def _until(moment: datetime | None, now: datetime) -> float | None:
    if moment is None:
        return None
    return max(SLACK_SECONDS, (moment - now).total_seconds() + SLACK_SECONDS)


def _until_deadline(draft: Draft) -> float | None:
    rollout = draft.status.get("rollout") or {}
    since = progress_since(rollout)
    if since is None or rollout.get("version") != draft.target:
        return None
    elapsed = (draft.obs.now - since).total_seconds()
    return max(SLACK_SECONDS, draft.rollback.progress_deadline_seconds - elapsed + SLACK_SECONDS)


def _until_sample(analysis: StoredAnalysis) -> float | None:
    return analysis.interval_seconds if analysis.unfinished else None
