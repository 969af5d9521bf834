"""Status of a ModelVersion: registered when, and where it is deployed (the seed's deployed_<env>).

`handlers` calls `reconcile_model_version` on events and on a timer; `plan_status` is the pure part:
it derives the status from the ModelDeployments of the same namespace that serve this version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from modelops.versions import InvalidVersionError, canonical
from modelops.vocabulary import (
    IN_USE_LABEL,
    MODEL_DEPLOYMENTS,
    MODEL_VERSIONS,
    MV_PHASE_DEPLOYED,
    MV_PHASE_REGISTERED,
)
from modelops_operator import conditions as c
from modelops_operator.draft import timestamp
from modelops_operator.evidence import plan_environments
from modelops_operator.kube import Kube, custom_path
from modelops_operator.spec import ModelVersionSpec, environment_of, model_of

ENVIRONMENT_PRIORITY = ("production", "staging")
# Kept "true" on a ModelVersion that serves or is the stable version of a ModelDeployment; the chart's
# ValidatingAdmissionPolicy refuses to delete it (a rollback must find its target).


def in_use(mv: dict[str, Any], deployments: list[dict[str, Any]]) -> bool:
    """True when a ModelDeployment of the same model serves this version or keeps it as stable (pure)."""
    spec = ModelVersionSpec.of(mv)
    for md in deployments:
        status = md.get("status") or {}
        if model_of(md) != spec.model:
            continue
        if any(_same_version(status.get(k), spec.version) for k in ("servingVersion", "stableVersion")):
            return True
    return False


def _same_version(a: Any, b: Any) -> bool:
    try:
        return canonical(str(a)) == canonical(str(b))
    except InvalidVersionError:
        return False


def plan_status(mv: dict[str, Any], deployments: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """The ModelVersion's status from the ModelDeployments that may serve it (pure)."""
    spec, meta = ModelVersionSpec.of(mv), mv["metadata"]
    serving = [
        md
        for md in deployments
        if model_of(md) == spec.model
        and _same_version((md.get("status") or {}).get("servingVersion"), spec.version)
    ]
    entries = sorted(
        (
            {
                "environment": environment_of(md),
                "deployment": md["metadata"]["name"],
                "stable": _same_version(md.get("status", {}).get("stableVersion"), spec.version),
            }
            for md in serving
        ),
        key=lambda e: (str(e["environment"]), str(e["deployment"])),
    )
    environments = [str(e["environment"]) for e in entries]
    phase = MV_PHASE_DEPLOYED if entries else MV_PHASE_REGISTERED
    generation = int(meta.get("generation", 1))
    message = f"serving in {', '.join(environments)}" if entries else "registered, not serving anywhere"
    old = (mv.get("status") or {}).get("conditions", [])
    ready = c.make(
        c.READY,
        True,
        c.REASON_DEPLOYED if entries else c.REASON_REGISTERED,
        message,
        generation=generation,
        now=timestamp(now),
    )
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "phase": phase,
        "seedStatus": _seed_status(environments),
        "registeredAt": meta.get("creationTimestamp") or timestamp(now),
        "message": message,
        "deployments": entries,
        "conditions": c.set_condition(old, ready),
    }
    if environments_evidence := plan_environments(mv, deployments, now):
        status["environments"] = environments_evidence
    return status


def _seed_status(environments: list[str]) -> str:
    for preferred in ENVIRONMENT_PRIORITY:
        if preferred in environments:
            return f"deployed_{preferred}"
    return f"deployed_{environments[0]}" if environments else "registered"


def reconcile_model_version(kube: Kube, namespace: str, name: str) -> None:
    """Read the ModelVersion and its model's ModelDeployments; write the status if it changed."""
    path = custom_path(namespace, MODEL_VERSIONS, name)
    mv = kube.get(path)
    if mv is None or mv["metadata"].get("deletionTimestamp"):
        return
    model_only = f"spec.model={ModelVersionSpec.of(mv).model}"
    deployments = kube.list_items(custom_path(namespace, MODEL_DEPLOYMENTS), field_selector=model_only)
    status = plan_status(mv, deployments, datetime.now(UTC))
    if status != (mv.get("status") or {}):
        kube.write_status(path, status)
    wanted = "true" if in_use(mv, deployments) else None
    if (mv["metadata"].get("labels") or {}).get(IN_USE_LABEL) != wanted:
        kube.set_label(path, IN_USE_LABEL, wanted)
