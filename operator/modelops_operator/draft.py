"""The data one reconcile works on: the Plan it produces and the Draft it fills while deciding.

`reconcile` builds a `Draft` per call and returns its `Plan`; `controller` applies the Plan. Kept apart
from the decision rules so that both stay small.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelops_operator import builders
from modelops_operator import conditions as c
from modelops_operator.analysis.stored import StoredAnalysis
from modelops_operator.rollback_spec import RollbackSpec
from modelops_operator.settings import Settings
from modelops_operator.spec import ModelDeploymentSpec
from modelops_operator.state import Observed

NORMAL = "Normal"
WARNING = "Warning"


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the ModelDeployment."""

    type: str
    reason: str
    message: str


@dataclass
class Plan:
    """What the operator should make true: objects to apply, status to write, spec revert, events."""

    status: dict[str, Any]
    service: dict[str, Any] | None = None
    deployment: dict[str, Any] | None = None
    canary_deployment: dict[str, Any] | None = None  # the second Deployment of a Canary rollout
    scale_to_zero: list[str] = field(default_factory=list)  # Deployment names to scale to 0 first
    objects: list[dict[str, Any]] = field(default_factory=list)  # more to apply (a Shadow's objects)
    pod_annotations: dict[str, dict[str, str]] = field(default_factory=dict)  # pod name -> annotations
    spec_patch: list[dict[str, Any]] | None = None
    remove_annotations: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    rolled_back: bool = False
    route_services: list[dict[str, Any]] = field(default_factory=list)  # <name>-stable, <name>-canary
    route_patch: list[dict[str, Any]] | None = None  # the HTTPRoute's backendRefs weights (JSON patch)
    requeue_after: float | None = None  # seconds until this object must be looked at again
    requeue_at: datetime | None = None  # a moment the plan must be looked at again (a gate opens)


@dataclass
class Draft:
    """A plan being decided: the observation, the status so far, and the three conditions."""

    obs: Observed
    settings: Settings
    plan: Plan
    target: str
    now: str
    available: tuple[bool, str, str] = (False, c.REASON_NO_PODS_READY, "")
    progressing: tuple[bool, str, str] = (False, c.REASON_ROLLOUT_COMPLETE, "")
    degraded: tuple[bool, str, str] = (False, c.REASON_HEALTHY, "")
    watch_deadline: bool = True  # False while no pod must become ready (a canary step's pause)
    analysis: StoredAnalysis = field(default_factory=StoredAnalysis)  # status.analysis, kept in step

    @property
    def md(self) -> dict[str, Any]:
        return self.obs.md

    @property
    def status(self) -> dict[str, Any]:
        return self.plan.status

    @property
    def spec(self) -> ModelDeploymentSpec:
        """The typed spec, parsed once per reconcile (`Observed.spec`)."""
        return self.obs.spec

    @property
    def rollback(self) -> RollbackSpec:
        return self.spec.rollback

    @property
    def stable_slot(self) -> str:
        """The name of the Deployment that serves the stable version (`status.stableDeployment`)."""
        return str(self.status.get("stableDeployment") or self.md["metadata"]["name"])

    @property
    def new_version_beside_stable(self) -> bool:
        """True when `target` is a new version while a stable one, whose ModelVersion exists, serves every
        pod: the moment a Canary or a Shadow starts beside it instead of replacing it pod by pod."""
        stable = self.status.get("stableVersion")
        return (
            self.spec.replicas > 0
            and bool(stable)
            and stable != self.target
            and self.obs.stable_mv is not None
            and self.obs.deployment is not None
            and self.obs.deployment.version == stable
        )

    def set_analysis(self, raw: Mapping[str, Any] | None) -> None:
        """Make `raw` the `status.analysis` (None: drop it); the typed view `analysis` stays in step."""
        self.analysis = StoredAnalysis() if raw is None else StoredAnalysis.from_json(raw)
        written = self.analysis.to_status()
        if written is None:
            self.status.pop("analysis", None)
        else:
            self.status["analysis"] = written

    @property
    def resumable_analysis(self) -> StoredAnalysis:
        """`analysis` to resume from, given the failed versions decided so far (a retry starts afresh)."""
        return self.analysis.resumable(self.status.get("failedVersions") or [])

    def event(self, kind: str, reason: str, message: str) -> None:
        self.plan.events.append(Event(kind, reason, message))

    def history(self, version: str, event: str, message: str) -> None:
        entries = [
            *self.status.get("history", []),
            {"version": version, "event": event, "time": self.now, "message": message},
        ]
        self.status["history"] = entries[-self.settings.history_limit :]

    def build(self, mv: dict[str, Any] | None) -> dict[str, Any] | None:
        """The Deployment serving `mv`; None (and Degraded InvalidSpec) when it cannot be built."""
        if not mv:
            return None
        try:
            return builders.build_deployment(
                self.md, mv, self.settings, slot=self.stable_slot, spec=self.spec
            )
        except ValueError as error:  # storage or ModelVersion spec: permanent, reported, not retried hot
            self.degraded = (True, c.REASON_INVALID_SPEC, str(error))
            return None


def timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with second precision, as Kubernetes writes times."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    """The inverse of `timestamp` (any RFC 3339 time Kubernetes writes); None for none."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def progress_since(rollout: dict[str, Any]) -> datetime | None:
    """Where the readiness deadline of `status.rollout` counts from: the last ready pod, else the start."""
    return parse_time(rollout.get("progressAt")) or parse_time(rollout.get("startedAt"))
