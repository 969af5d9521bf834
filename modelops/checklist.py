"""The seed's deployment checklist for one model version, each item with its evidence from the cluster.

`modelctl checklist MODEL VERSION` calls `build` with the ModelVersion object and the model's
ModelDeployment objects (status included). Pure: the items are derived only from what the operator
and the registry recorded (metrics, digest, signature, per-environment evidence, conditions,
analysis, history), so the same objects always give the same checklist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelops import gates
from modelops.vocabulary import AVAILABLE, DEGRADED, EVENT_PROMOTED, REASON_PROMOTION_BLOCKED

STAGING, PRODUCTION = "staging", "production"


@dataclass(frozen=True)
class Item:
    """One checklist line: done or not, and the evidence (or what is missing)."""

    name: str
    done: bool
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.name, "done": self.done, "evidence": self.evidence}


def build(mv: Mapping[str, Any], deployments: list[Mapping[str, Any]], now: datetime) -> list[Item]:
    """The ten seed items for the version of `mv`, in the seed's order."""
    by_env = {str(md.get("spec", {}).get("environment")): md for md in deployments}
    evidence = gates.evidence_from_status(mv.get("status"))
    version = str(mv["spec"]["version"])
    production = by_env.get(PRODUCTION)
    return [
        _trained(mv),
        _exported(mv),
        _documented(mv),
        _registered(mv),
        _deployed_to(STAGING, evidence.get(STAGING)),
        _staging_passed(mv, version, production, evidence.get(STAGING), now),
        _deployed_to(PRODUCTION, evidence.get(PRODUCTION)),
        _healthy(version, production),
        _monitored(version, production, evidence.get(PRODUCTION)),
        _rollback_plan(version, production),
    ]


def _trained(mv: Mapping[str, Any]) -> Item:
    metrics = mv["spec"].get("metrics") or {}
    text = ", ".join(f"{k} {v:g}" for k, v in sorted(metrics.items())) or "no metrics recorded"
    return Item("trained and evaluated", bool(metrics), text)


def _exported(mv: Mapping[str, Any]) -> Item:
    artifact = mv["spec"].get("artifact") or {}
    fmt = artifact.get("format", "onnx")
    return Item(
        "exported", fmt == "onnx" and bool(artifact.get("uri")), f"{fmt} at {artifact.get('uri', '?')}"
    )


def _documented(mv: Mapping[str, Any]) -> Item:
    spec = mv["spec"]
    training = spec.get("training") or {}
    parts = []
    if spec.get("labels"):
        parts.append(f"labels {', '.join(spec['labels'])}")
    if training:
        parts.append(", ".join(f"{k} {v}" for k, v in sorted(training.items())))
    if spec.get("description"):
        parts.append(f"description {spec['description'][:60]!r}")
    return Item("metadata documented", bool(parts), "; ".join(parts) or "no labels, training or description")


def _registered(mv: Mapping[str, Any]) -> Item:
    artifact = mv["spec"].get("artifact") or {}
    signature = (artifact.get("signature") or {}).get("publicKeySecret")
    signed = f"signed (key in Secret {signature})" if signature else "not signed"
    registered = (mv.get("status") or {}).get("registeredAt") or mv.get("metadata", {}).get(
        "creationTimestamp"
    )
    digest = str(artifact.get("sha256", ""))[:12]
    return Item("registered", True, f"{mv['metadata']['name']} at {registered}, sha256 {digest}…, {signed}")


def _deployed_to(env: str, ev: gates.Evidence | None) -> Item:
    name = f"deployed to {env}"
    if ev is None:
        return Item(name, False, f"never served in {env}")
    if ev.available_since is not None:
        return Item(name, True, f"serving in {env} since {gates.format_time(ev.available_since)}")
    if ev.served_until is not None:
        return Item(name, True, f"served in {env} until {gates.format_time(ev.served_until)}")
    return Item(name, False, f"failed in {env}: {ev.failure}" if ev.failed_at else f"never served in {env}")


def _staging_passed(
    mv: Mapping[str, Any],
    version: str,
    production: Mapping[str, Any] | None,
    ev: gates.Evidence | None,
    now: datetime,
) -> Item:
    name = "staging tests passed"
    if production is not None and (production.get("spec") or {}).get("promotion") is not None:
        if not gates.needs_gate(production, version, mv):
            return Item(name, True, f"{version} is or was stable in production: its gates were passed")
        result = gates.check_objects(production, version, mv, now)
        if result.open:
            return Item(name, True, f"production's promotion gates: {result.message}")
        return Item(name, False, f"production's promotion gates: {result.message}")
    if ev is not None and ev.failed_last:
        return Item(name, False, f"failed in staging: {ev.failure}")
    if ev is None or (ev.available_since is None and ev.served_until is None):
        return Item(name, False, f"{version} has not run in staging")
    if ev.analysis_passed is False:
        return Item(name, False, "its analysis in staging failed")
    analysis = "analysis passed" if ev.analysis_passed else "no analysis configured"
    return Item(name, True, f"healthy in staging, no failure recorded, {analysis}")


def _healthy(version: str, production: Mapping[str, Any] | None) -> Item:
    name = "health checks passing"
    status = (production or {}).get("status") or {}
    if status.get("servingVersion") != version:
        return Item(name, False, f"{version} is not serving in production")
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    available = (conditions.get(AVAILABLE) or {}).get("status") == "True"
    degraded = conditions.get(DEGRADED) or {}
    # A blocked newer version (PromotionBlocked) does not make the serving one unhealthy.
    broken = degraded.get("status") == "True" and degraded.get("reason") != REASON_PROMOTION_BLOCKED
    if not available or broken:
        why = degraded.get("message") or (conditions.get(AVAILABLE) or {}).get("message", "")
        return Item(name, False, f"production is not healthy: {why}")
    return Item(
        name, True, f"{status.get('ready', '?')} pods ready in production (readiness = seed health check)"
    )


def _monitored(version: str, production: Mapping[str, Any] | None, ev: gates.Evidence | None) -> Item:
    name = "monitoring configured"
    analysis = ((production or {}).get("status") or {}).get("analysis") or {}
    if analysis.get("version") == version and analysis.get("updatedAt"):
        return Item(
            name, True, f"/metrics scraped at {analysis['updatedAt']} (analysis {analysis.get('phase')})"
        )
    if ev is not None and ev.analysis_passed is not None:
        return Item(name, True, "/metrics scraped by its analysis in production")
    return Item(name, False, "no metrics scraped in production (set spec.rollback.analysis)")


def _rollback_plan(version: str, production: Mapping[str, Any] | None) -> Item:
    name = "rollback plan ready"
    status = (production or {}).get("status") or {}
    failed = {f.get("version") for f in status.get("failedVersions") or []}
    stable_before = [
        h.get("version")
        for h in status.get("history") or []
        if h.get("event") == EVENT_PROMOTED and h.get("version") not in failed and h.get("version") != version
    ]
    if stable_before:
        previous = stable_before[-1]
        return Item(name, True, f"{previous} was stable in production; automatic rollback to it on failure")
    return Item(name, False, "no earlier stable version in production to roll back to")
