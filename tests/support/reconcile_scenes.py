"""Observations of one ModelDeployment and what the pure `reconcile.plan` made of them, for the unit tests
of the reconcile (rollout, failure and revert, fail-fast, canary, shadow, traffic routing).

Each of those files once had its own copy of these; one copy keeps the observations they build alike.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from modelops_operator import conditions as c
from modelops_operator import reconcile
from modelops_operator.settings import Settings
from modelops_operator.state import DeploymentState, Observed, PodState
from support.operator_objects import T0, model_deployment, model_version


def observe(
    md: dict[str, Any],
    *,
    deployment: DeploymentState | None = None,
    pods: tuple[PodState, ...] = (),
    now: datetime = T0,
    mv: bool = True,
) -> Observed:
    """An observation where every ModelVersion named by spec and stableVersion exists (the target's only
    when `mv`)."""
    stable = (md.get("status") or {}).get("stableVersion")
    return Observed(
        md=md,
        now=now,
        target_mv=model_version(md["spec"]["version"]) if mv else None,
        stable_mv=model_version(stable) if stable else None,
        deployment=deployment,
        pods=pods,
    )


def done(version: str, replicas: int = 2) -> DeploymentState:
    """A Deployment of `version` whose rollout is complete: every replica updated, ready, available."""
    counts = dict.fromkeys(("replicas", "status_replicas", "updated", "ready", "available"), replicas)
    return DeploymentState(version, **counts)


def serving(version: str) -> dict[str, Any]:
    """Status of a ModelDeployment whose `version` serves (2 pods) and is stable."""
    md = model_deployment(version)
    return reconcile.plan(observe(md, deployment=done(version)), Settings()).status


def stable_status(version: str, replicas: int = 2) -> dict[str, Any]:
    """Status of a ModelDeployment whose first version rolled out in full and became stable: what the
    plan of its creation wrote, then the plan that saw its Deployment complete."""
    md, settings = model_deployment(version, replicas=replicas), Settings()
    md["status"] = reconcile.plan(Observed(md=md, now=T0, target_mv=model_version(version)), settings).status
    obs = Observed(md=md, now=T0, target_mv=model_version(version), deployment=done(version, replicas))
    return reconcile.plan(obs, settings).status


def pods(version: str, count: int, *, ready: bool = True, restarts: int = 0) -> tuple[PodState, ...]:
    """`count` pods of `version`, named `<version>-<i>`."""
    return tuple(PodState(f"{version}-{i}", version, ready, restarts) for i in range(count))


def after(md: dict[str, Any], plan: reconcile.Plan) -> dict[str, Any]:
    """`md` with the status the plan wrote (what the next reconcile reads)."""
    md = copy.deepcopy(md)
    md["status"] = copy.deepcopy(plan.status)
    return md


def cond(plan: reconcile.Plan, kind: str) -> dict[str, Any]:
    """The plan's status condition of type `kind`; fails the test when there is none."""
    found = c.find(plan.status["conditions"], kind)
    assert found is not None, f"no {kind} condition in {plan.status['conditions']}"
    return found


def reasons(plan: reconcile.Plan) -> list[str]:
    """The reasons of the Events the plan emits, in order."""
    return [e.reason for e in plan.events]
