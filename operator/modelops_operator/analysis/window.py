"""Per-pod counter increases over the analysis window, robust to restarts and to pods coming and going.

Prometheus counters only grow while a process lives; a restarted container starts again from zero, a
replaced pod has a new name, and a pod that finished its rollout disappears. The analysis wants "how
many requests (errors, bucket observations) did this version serve since the window started", so
`advance` keeps, per pod, the last values seen and the increase accumulated so far:

- pods present at the first scrape of the window contribute only what they serve afterwards;
- pods first seen later are new (started during the window) and count from zero;
- a pod whose counters went down, or whose process start time changed, restarted: its new values are
  all increase;
- a pod missing from a scrape (gone, or its scrape failed) keeps what it contributed.

The state is plain data with `to_json`/`from_json` so it lives in `status.analysis.state` and an
operator restart continues the same window. Called by `step.evaluate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .samples import START, PodCounters


@dataclass(frozen=True)
class PodWindow:
    """What one pod showed last and how much its counters grew inside the window."""

    last: PodCounters
    increase: PodCounters


@dataclass(frozen=True)
class WindowState:
    """All pods of one version seen during the window, and how many scrapes were folded in."""

    pods: Mapping[str, PodWindow] = field(default_factory=dict)
    scrapes: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the status subresource."""
        pods = {name: {"last": pod.last, "increase": pod.increase} for name, pod in self.pods.items()}
        return {"scrapes": self.scrapes, "pods": pods}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> WindowState:
        """Inverse of `to_json`; an absent or empty value is a window not yet started."""
        if not data:
            return cls()
        pods = {
            str(name): PodWindow(_counters(pod.get("last")), _counters(pod.get("increase")))
            for name, pod in dict(data.get("pods") or {}).items()
        }
        return cls(pods=pods, scrapes=int(data.get("scrapes", 0)))


def advance(state: WindowState, scrape: Mapping[str, PodCounters]) -> WindowState:
    """Fold one scrape (pod name → counters) into the window; pods absent from it are kept as they are."""
    pods = dict(state.pods)
    for name, counters in scrape.items():
        known = pods.get(name)
        if known is None:
            pods[name] = _first_sight(counters, window_started=state.scrapes > 0)
        else:
            pods[name] = PodWindow(last=dict(counters), increase=_grow(known, counters))
    return WindowState(pods=pods, scrapes=state.scrapes + 1)


def totals(state: WindowState) -> PodCounters:
    """The increase of every counter summed over all pods seen in the window (no `start` key)."""
    summed: PodCounters = {}
    for pod in state.pods.values():
        for key, value in pod.increase.items():
            summed[key] = summed.get(key, 0.0) + value
    return summed


def _first_sight(counters: PodCounters, window_started: bool) -> PodWindow:
    counted = _without_start(counters) if window_started else dict.fromkeys(_without_start(counters), 0.0)
    return PodWindow(last=dict(counters), increase=counted)


def _grow(known: PodWindow, counters: PodCounters) -> PodCounters:
    restarted = _restarted(known.last, counters)
    increase = dict(known.increase)
    for key, value in _without_start(counters).items():
        delta = value if restarted else value - known.last.get(key, 0.0)
        increase[key] = increase.get(key, 0.0) + delta
    return increase


def _restarted(last: PodCounters, current: PodCounters) -> bool:
    if START in last and START in current and last[START] != current[START]:
        return True
    return any(value < last.get(key, 0.0) for key, value in _without_start(current).items()) or any(
        key not in current for key in _without_start(last)
    )


def _without_start(counters: PodCounters) -> PodCounters:
    return {key: value for key, value in counters.items() if key != START}


def _counters(data: Any) -> PodCounters:
    return {str(key): float(value) for key, value in dict(data or {}).items()}
