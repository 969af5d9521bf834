"""What the operator observed about one ModelDeployment, as plain immutable data.

`observe` fills these from the cluster; `reconcile.plan` and `promotion.decide` read them. Keeping the
observation separate from the decision makes the decision a pure function that unit tests can drive
with hand-written states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelops_operator.analysis.stored import StoredAnalysis
from modelops_operator.spec import ModelDeploymentSpec


@dataclass(frozen=True)
class PodState:
    """One server pod: which version it runs and, when unready, why."""

    name: str
    version: str | None
    ready: bool
    restarts: int = 0
    waiting_reason: str | None = None
    message: str = ""
    health_reason: str | None = None
    definitive: bool = False  # the server rejected the artifact itself: no restart can help
    loading: bool = False  # the server answered that it is still verifying and loading
    failed_since: str | None = None  # when the server's load failed (its own clock)
    terminating: bool = False

    def why_unready(self) -> str:
        """The most precise explanation available: the server's own reason first."""
        return self.health_reason or self.message or self.waiting_reason or "not ready"


@dataclass(frozen=True)
class DeploymentState:
    """The observed server Deployment (spec replicas and the controller's status counters)."""

    version: str | None
    uid: str = ""
    generation: int = 1
    observed_generation: int = 1
    replicas: int = 1
    status_replicas: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    progress_deadline_exceeded: bool = False
    progress_deadline_at: datetime | None = None

    @property
    def settled(self) -> bool:
        """True when the Deployment controller has seen the latest spec."""
        return self.observed_generation >= self.generation

    @property
    def complete(self) -> bool:
        """Every pod runs the template version, is ready and available, and no old pod is left."""
        return (
            self.settled
            and self.updated >= self.replicas
            and self.ready >= self.replicas
            and self.available >= self.replicas
            and self.status_replicas == self.replicas
        )


@dataclass(frozen=True)
class ObservedRoute:
    """The HTTPRoute named in spec.rollout.trafficRouting.httpRoute as read: the object (None when it
    does not exist), or why it could not be read."""

    name: str
    route: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class Observed:
    """Everything one reconcile needs: the object, its ModelVersions, the Deployment, pods and time.

    `spec` is the typed view of `md`'s spec, parsed once: by `observe` (passed as `parsed`), else here;
    `analysis` the same for its `status.analysis` (passed as `stored`).
    A stored spec the CRD would refuse today raises ValueError naming the field: the work queue
    reports it on the object (Degraded ReconcileError) and retries it alone, with backoff.
    """

    md: dict[str, Any]
    now: datetime
    target_mv: dict[str, Any] | None = None
    stable_mv: dict[str, Any] | None = None
    deployment: DeploymentState | None = None  # the stable slot's (status.stableDeployment)
    other_deployment: DeploymentState | None = None  # the other slot's: a canary, or scaled to 0
    pods: tuple[PodState, ...] = field(default_factory=tuple)
    analysis_samples: Any = None
    http_route: ObservedRoute | None = None  # only when the spec names one (traffic_routing)
    parsed: ModelDeploymentSpec | None = None
    stored: StoredAnalysis | None = None
    shadow: ShadowObserved | None = None  # a Shadow rollout's candidate, read only while one runs

    def __post_init__(self) -> None:
        if self.parsed is None:
            object.__setattr__(self, "parsed", ModelDeploymentSpec.of(self.md))
        if self.stored is None:
            object.__setattr__(self, "stored", StoredAnalysis.of(self.md.get("status")))

    @property
    def spec(self) -> ModelDeploymentSpec:
        """The typed spec of `md`."""
        assert self.parsed is not None  # set in __post_init__
        return self.parsed

    @property
    def analysis(self) -> StoredAnalysis:
        """The typed `status.analysis` of `md`, as read."""
        assert self.stored is not None  # set in __post_init__
        return self.stored


@dataclass(frozen=True)
class ShadowObserved:
    """A Shadow rollout's candidate objects and the stable pods' mirror counters (`shadow_objects`)."""

    deployment: DeploymentState | None = None
    pods: tuple[PodState, ...] = ()
    service_ip: str | None = None  # the candidate Service's ClusterIP
    samples: dict[str, dict[str, float]] = field(default_factory=dict)  # stable pod -> mirror counters
