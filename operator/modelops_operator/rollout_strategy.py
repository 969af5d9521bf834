"""The typed view of `spec.rollout` (strategy, canary steps, shadow), parsed once, defaults in one place.

`canary` reads it on every reconcile of a ModelDeployment whose strategy is `Canary`; `builders` and
`reconcile` never spell these keys. The CRD carries the same defaults and validates the same rules (so
`kubectl apply` refuses a bad spec); `RolloutSpec.of` checks them again for objects stored before, and
raises `ValueError` naming the field. `split` turns a step's weight into replica counts: weights are
replica ratios, so with 4 replicas the canary can serve 25, 50, 75 or 100 %, and a weight that cannot be
approached within `weightTolerance` percentage points is refused unless `allowCoarseWeights`.
`ShadowSpec` is `spec.rollout.shadow` of the `Shadow` strategy (read by `shadow`): how much live traffic
the stable pods mirror to the candidate, for how long, how many mirrored texts a verdict needs, and
which strategy (`then`) rolls the candidate out once it passed.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelops.vocabulary import STRATEGY_CANARY, STRATEGY_ROLLING_UPDATE, STRATEGY_SHADOW

ROLLING_UPDATE, CANARY, SHADOW = STRATEGY_ROLLING_UPDATE, STRATEGY_CANARY, STRATEGY_SHADOW
STRATEGIES = (ROLLING_UPDATE, CANARY, SHADOW)
THEN_STRATEGIES = (ROLLING_UPDATE, CANARY)
DEFAULT_WEIGHT_TOLERANCE = 5  # percentage points
FIELD = "spec.rollout"
SHADOW_FIELD = f"{FIELD}.shadow"


@dataclass(frozen=True)
class ShadowSpec:
    """`spec.rollout.shadow`: the defaults here are the CRD's defaults too."""

    sample_fraction: float = 0.1  # share of live predict requests each stable pod mirrors
    duration_seconds: int = 300  # how long the candidate is judged, from when mirroring starts
    min_requests: int = 100  # mirrored texts the candidate must answer for a verdict, else Inconclusive
    replicas: int = 1  # candidate pods (they serve only mirrored requests)
    queue_size: int = 64  # mirrors waiting per stable pod; more are dropped and counted
    timeout_seconds: float = 2.0  # a mirrored request's own timeout (never the user's)
    then: str = ROLLING_UPDATE  # how a candidate that passed is rolled out

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> ShadowSpec:
        """Parse and check; ValueError naming the field."""
        defaults = cls()
        spec = cls(
            sample_fraction=float(raw.get("sampleFraction", defaults.sample_fraction)),
            duration_seconds=int(raw.get("durationSeconds", defaults.duration_seconds)),
            min_requests=int(raw.get("minRequests", defaults.min_requests)),
            replicas=int(raw.get("replicas", defaults.replicas)),
            queue_size=int(raw.get("queueSize", defaults.queue_size)),
            timeout_seconds=float(raw.get("timeoutSeconds", defaults.timeout_seconds)),
            then=str(raw.get("then", defaults.then)),
        )
        for name, ok in (
            ("sampleFraction must be in (0, 1]", 0 < spec.sample_fraction <= 1),
            ("durationSeconds must be >= 1", spec.duration_seconds >= 1),
            ("minRequests must be >= 1", spec.min_requests >= 1),
            ("replicas must be >= 1", spec.replicas >= 1),
            ("queueSize must be >= 1", spec.queue_size >= 1),
            ("timeoutSeconds must be > 0", spec.timeout_seconds > 0),
            ("then must be RollingUpdate or Canary", spec.then in THEN_STRATEGIES),
        ):
            if not ok:
                raise ValueError(f"{SHADOW_FIELD}.{name}, not {raw}")
        return spec


@dataclass(frozen=True)
class Step:
    """One canary step: a weight held for pauseSeconds, or a manual pause (weight None)."""

    weight: int | None = None
    pause_seconds: int = 0
    manual: bool = False


@dataclass(frozen=True)
class Split:
    """How a weight is served with `replicas` pods: `canary` of them run the new version."""

    asked: int
    canary: int
    replicas: int

    @property
    def stable(self) -> int:
        """Pods of the stable version."""
        return self.replicas - self.canary

    @property
    def serving_percent(self) -> float:
        """The share of pods (so of requests) the canary serves."""
        return 100.0 * self.canary / self.replicas if self.replicas else 0.0

    def describe(self) -> str:
        """E.g. "asked 10%, serving 1/4 = 25%"."""
        return f"asked {self.asked}%, serving {self.canary}/{self.replicas} = {self.serving_percent:g}%"

    def to_status(self) -> dict[str, Any]:
        """`status.canary.weight`."""
        return {
            "asked": self.asked,
            "canaryReplicas": self.canary,
            "replicas": self.replicas,
            "servingPercent": round(self.serving_percent, 2),
            "message": self.describe(),
        }


@dataclass(frozen=True)
class RolloutSpec:
    """`spec.rollout`: RollingUpdate (today's pod-by-pod replacement) or Canary with steps."""

    strategy: str = ROLLING_UPDATE
    steps: tuple[Step, ...] = ()
    allow_coarse_weights: bool = False
    weight_tolerance: int = DEFAULT_WEIGHT_TOLERANCE
    shadow: ShadowSpec | None = None  # set for the Shadow strategy

    @property
    def canary(self) -> bool:
        """True when the candidate is rolled out as a canary (Canary, or Shadow then Canary)."""
        return self.strategy == CANARY or (self.shadow is not None and self.shadow.then == CANARY)

    @classmethod
    def of(cls, md: Mapping[str, Any]) -> RolloutSpec:
        """The rollout strategy of ModelDeployment `md`; ValueError naming the field when invalid."""
        raw = (md.get("spec") or {}).get("rollout") or {}
        strategy = str(raw.get("strategy", ROLLING_UPDATE))
        if strategy not in STRATEGIES:
            raise ValueError(f"{FIELD}.strategy must be RollingUpdate, Canary or Shadow, not {strategy!r}")
        steps = tuple(_step(raw_step, i) for i, raw_step in enumerate(raw.get("steps") or []))
        spec = cls(
            strategy=strategy,
            steps=steps,
            allow_coarse_weights=bool(raw.get("allowCoarseWeights", False)),
            weight_tolerance=int(raw.get("weightTolerance", DEFAULT_WEIGHT_TOLERANCE)),
            shadow=ShadowSpec.of(raw.get("shadow") or {}) if strategy == SHADOW else None,
        )
        spec.check()
        return spec

    def check(self) -> None:
        """The rules the CRD states too (for objects stored before it did)."""
        if self.canary and not self.steps:
            raise ValueError(f"{FIELD}.steps: a Canary (or a Shadow then Canary) needs at least one step")
        weights = [(i, s.weight) for i, s in enumerate(self.steps) if s.weight is not None]
        for (_, before), (i, weight) in itertools.pairwise(weights):
            if weight <= before:
                raise ValueError(
                    f"{FIELD}.steps[{i}].weight: weights must increase from step to step "
                    f"({before} then {weight})"
                )
        if not 0 <= self.weight_tolerance <= 100:
            raise ValueError(f"{FIELD}.weightTolerance must be 0..100, not {self.weight_tolerance}")

    def weight_at(self, index: int) -> int:
        """The weight in force at step `index`: a manual pause keeps the previous step's (0 before any)."""
        for step in reversed(self.steps[: index + 1]):
            if step.weight is not None:
                return step.weight
        return 0

    def refusal(self, replicas: int) -> str | None:
        """Why these steps cannot be served with `replicas` pods (the field named), or None."""
        if self.allow_coarse_weights:
            return None
        for i, step in enumerate(self.steps):
            if step.weight is None:
                continue
            served = split(step.weight, replicas)
            if abs(served.serving_percent - step.weight) > self.weight_tolerance:
                return (
                    f"{FIELD}.steps[{i}].weight: {served.describe()} with {replicas} replicas, more than "
                    f"{FIELD}.weightTolerance {self.weight_tolerance} points off; use more replicas, "
                    f"another weight, or set {FIELD}.allowCoarseWeights: true"
                )
        return None


def strategy_of(md: Mapping[str, Any]) -> str:
    """`spec.rollout.strategy` as written (no validation: `RolloutSpec.of` names a bad field)."""
    return str(((md.get("spec") or {}).get("rollout") or {}).get("strategy") or ROLLING_UPDATE)


def split(weight: int, replicas: int) -> Split:
    """The nearest replica split for `weight` %: at least one canary pod for a weight above 0."""
    if replicas <= 0 or weight <= 0:
        return Split(weight, 0, max(replicas, 0))
    canary = min(replicas, max(1, round(replicas * weight / 100)))
    return Split(weight, canary, replicas)


def _step(raw: Any, index: int) -> Step:
    where = f"{FIELD}.steps[{index}]"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be an object")
    manual = bool(raw.get("pause", False))
    weight = raw.get("weight")
    if manual == (weight is not None):
        raise ValueError(f"{where}: set either weight (with pauseSeconds) or pause: true")
    pause_seconds = int(raw.get("pauseSeconds", 0))
    if pause_seconds < 0:
        raise ValueError(f"{where}.pauseSeconds must not be negative, not {pause_seconds}")
    if weight is not None and not 1 <= int(weight) <= 100:
        raise ValueError(f"{where}.weight must be 1..100, not {weight}")
    return Step(weight=None if weight is None else int(weight), pause_seconds=pause_seconds, manual=manual)
