"""The two Deployments of a Canary rollout: what to apply for a replica split, and whether it is served.

`canary` decides the steps; this module turns a `Split` into the stable and canary Deployments
(`builders.build_deployment` on the two slots, labelled with their track, replicas set), tells whether
the observed Deployments serve the split, and reports the ready pods of both. Pure, like `canary`.
"""

from __future__ import annotations

from typing import Any

from modelops.vocabulary import GROUP
from modelops_operator import builders
from modelops_operator.draft import Draft
from modelops_operator.rollout_strategy import Split

TRACK_LABEL = f"{GROUP}/track"  # on the Deployments: stable or canary (metadata only: no pod restart)


def reached(draft: Draft, target: Split) -> bool:
    """The split is served: the canary's pods ready, the stable Deployment down to its share."""
    stable, canary = draft.obs.deployment, draft.obs.other_deployment
    if stable is None or not stable.settled or stable.replicas != target.stable:
        return False
    if stable.status_replicas != target.stable or stable.ready < target.stable:
        return False
    if target.canary == 0:
        return canary is None or canary.replicas == 0 or canary.status_replicas == 0
    return (
        canary is not None
        and canary.version == draft.target
        and canary.settled
        and canary.replicas == target.canary
        and canary.ready >= target.canary
    )


def build(draft: Draft, target: Split, *, promoting: bool) -> None:
    """The two Deployments for `target`; the stable one keeps pods until the canary's are ready."""
    canary_ready = sum(1 for p in draft.obs.pods if p.version == draft.target and p.ready)
    stable_replicas = max(target.stable, target.replicas - canary_ready)
    if promoting:
        stable_replicas = max(0, target.replicas - canary_ready)
    stable = draft.build(draft.obs.stable_mv)
    draft.plan.deployment = with_track(stable, "stable", stable_replicas)
    slot = builders.other_slot(draft.md["metadata"]["name"], draft.stable_slot)
    canary = None
    if draft.obs.target_mv:
        canary = builders.build_deployment(
            draft.md, draft.obs.target_mv, draft.settings, slot=slot, spec=draft.spec
        )
    draft.plan.canary_deployment = with_track(canary, "canary", target.canary)


def with_track(deployment: dict[str, Any] | None, track: str, replicas: int | None) -> dict[str, Any] | None:
    """`deployment` labelled stable or canary (metadata only), with `replicas` when given."""
    if deployment is None:
        return None
    deployment["metadata"]["labels"][TRACK_LABEL] = track
    if replicas is not None:
        deployment["spec"]["replicas"] = replicas
    return deployment


def report_ready(draft: Draft) -> None:
    """Ready pods of both Deployments (the Service sends traffic to both)."""
    stable, canary = draft.obs.deployment, draft.obs.other_deployment
    ready = (stable.ready if stable else 0) + (canary.ready if canary else 0)
    draft.status.update(readyReplicas=ready, ready=f"{ready}/{draft.spec.replicas}")
