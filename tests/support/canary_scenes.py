"""A ModelDeployment going from STABLE to NEW with the Canary strategy, and one reconcile of it given how many
pods each slot has: the scenes of `tests/unit/operator/test_canary.py` and `test_canary_gates.py`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelops_operator import reconcile
from modelops_operator.analysis import Snapshot
from modelops_operator.settings import Settings
from modelops_operator.state import Observed, PodState
from support.operator_objects import T0, later, model_deployment, model_version
from support.reconcile_scenes import after, done, pods, stable_status

NAME = "safety-classifier-production"
SLOT_B = f"{NAME}-b"
STABLE, NEW = "v1.1.0", "v1.2.0"
STEPS = [{"weight": 25, "pauseSeconds": 30}, {"weight": 50, "pauseSeconds": 30}]


def canary_md(steps: list[dict[str, Any]] | None = None, **rollout: Any) -> dict[str, Any]:
    """NEW asked of a ModelDeployment whose STABLE serves on 4 pods, with a Canary rollout of `steps`."""
    spec = {"strategy": "Canary", "steps": steps or STEPS, **rollout}
    return model_deployment(NEW, status=stable_status(STABLE, 4), replicas=4, rollout=spec)


def plan(
    md: dict[str, Any],
    *,
    stable: int = 4,
    canary: int | None = None,
    ready: tuple[PodState, ...] = (),
    now: datetime = T0,
    samples: Snapshot | None = None,
) -> reconcile.Plan:
    """One reconcile: the stable slot at `stable` pods, the canary slot at `canary` (None: absent)."""
    status = md.get("status") or {}
    stable_version = status.get("stableVersion")
    slot = status.get("stableDeployment") or NAME
    stable_dep = done(stable_version if slot == NAME or stable_version != NEW else NEW, stable)
    obs = Observed(
        md=md,
        now=now,
        target_mv=model_version(md["spec"]["version"]),
        stable_mv=model_version(stable_version) if stable_version else None,
        deployment=stable_dep,
        other_deployment=None if canary is None else done(md["spec"]["version"], canary),
        pods=pods(STABLE, stable) + ready,
        analysis_samples=samples,
    )
    return reconcile.plan(obs, Settings())


def replicas(obj: dict[str, Any] | None) -> int:
    """The replica count of a Deployment the plan built (which must exist)."""
    assert obj is not None
    return int(obj["spec"]["replicas"])


def at_first_step() -> tuple[dict[str, Any], reconcile.Plan]:
    """The canary started, then its 1 pod ready and the stable Deployment down to 3: step 1 reached."""
    md = canary_md()
    md = after(md, plan(md))
    result = plan(md, stable=3, canary=1, ready=pods(NEW, 1), now=later(20))
    return md, result


def paused() -> tuple[dict[str, Any], reconcile.Plan]:
    """A canary whose first step (25 %, no pause) is reached and whose second step is a manual pause."""
    md = canary_md([{"weight": 25, "pauseSeconds": 0}, {"pause": True}])
    md = after(md, plan(md))
    return md, plan(md, stable=3, canary=1, ready=pods(NEW, 1), now=later(20))


def annotated_while_paused(annotation: str, value: str) -> tuple[dict[str, Any], reconcile.Plan]:
    """The paused canary once a user set `annotation=value` on it, and the reconcile that reads it."""
    md, result = paused()
    md = after(md, result)
    md["metadata"]["annotations"] = {annotation: value}
    return md, plan(md, stable=3, canary=1, ready=pods(NEW, 1), now=later(30))
