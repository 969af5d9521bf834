"""The analysis as it stands, and its `status.analysis` JSON form.

`AnalysisProgress` is what `step.evaluate` returns and what the operator writes to
`ModelDeployment.status.analysis`: phase, thresholds, the candidate's and the stable version's figures,
a message for `kubectl get md` / `modelctl status`, when the window started, and `state` — the per-pod
window counters and the versions compared — so an operator that restarts reads the status back with
`from_status` and continues the same window instead of starting over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .decision import FINAL_PHASES, ROLLBACK_POLICY, Action, Figures, Phase, Thresholds
from .window import WindowState


@dataclass(frozen=True)
class AnalysisState:
    """The counters behind the figures: which versions are compared and what each pod served."""

    version: str
    stable_version: str | None = None
    last_scrape_at: datetime | None = None
    candidate: WindowState = field(default_factory=WindowState)
    baseline: WindowState = field(default_factory=WindowState)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for `status.analysis.state`."""
        rendered = {
            "version": self.version,
            "stableVersion": self.stable_version,
            "lastScrapeAt": format_time(self.last_scrape_at),
            "candidate": self.candidate.to_json(),
            "baseline": self.baseline.to_json(),
        }
        return {key: value for key, value in rendered.items() if value is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnalysisState:
        """Inverse of `to_json`."""
        return cls(
            version=str(data.get("version", "")),
            stable_version=data.get("stableVersion"),
            last_scrape_at=parse_time(data.get("lastScrapeAt")),
            candidate=WindowState.from_json(data.get("candidate")),
            baseline=WindowState.from_json(data.get("baseline")),
        )


@dataclass(frozen=True)
class AnalysisProgress:
    """One analysis of one candidate version: where it stands and why."""

    phase: Phase
    thresholds: Thresholds
    state: AnalysisState
    candidate: Figures = field(default_factory=Figures)
    baseline: Figures | None = None
    message: str = ""
    started_at: datetime | None = None

    @property
    def version(self) -> str:
        """The candidate version analysed."""
        return self.state.version

    @property
    def finished(self) -> bool:
        """True once the verdict is final (Passed, Failed or Inconclusive)."""
        return self.phase in FINAL_PHASES

    @property
    def should_rollback(self) -> bool:
        """The candidate broke a threshold (or could not be judged under `inconclusive: Rollback`):
        take the same rollback path as failed probes."""
        rollback_inconclusive = (
            self.phase is Phase.INCONCLUSIVE and self.thresholds.inconclusive == ROLLBACK_POLICY
        )
        return self.phase is Phase.FAILED or rollback_inconclusive

    @property
    def should_promote(self) -> bool:
        """The candidate may become the stable version."""
        promote_inconclusive = (
            self.phase is Phase.INCONCLUSIVE and self.thresholds.inconclusive == Action.PROMOTE
        )
        return self.phase is Phase.PASSED or promote_inconclusive

    @property
    def should_hold(self) -> bool:
        """Too little traffic and policy Hold: keep serving the candidate, do not mark it stable."""
        return self.phase is Phase.INCONCLUSIVE and not self.should_promote and not self.should_rollback

    @property
    def action(self) -> Action:
        """What the operator does now: Promote, Fail (roll back), Hold, or Wait (Pending/Running)."""
        if self.should_promote:
            return Action.PROMOTE
        if self.should_rollback:
            return Action.FAIL
        return Action.HOLD if self.should_hold else Action.WAIT

    def seconds_until_next_check(self, now: datetime) -> float:
        """How long the operator may wait before evaluating again (0 when due)."""
        if self.finished or self.state.last_scrape_at is None:
            return 0.0
        due = self.state.last_scrape_at.timestamp() + self.thresholds.interval_seconds
        return max(0.0, due - now.timestamp())

    def to_status(self) -> dict[str, Any]:
        """The `status.analysis` object."""
        rendered: dict[str, Any] = {
            "phase": self.phase.value,
            "version": self.version,
            "thresholds": self.thresholds.to_spec(),
            "candidate": {"version": self.version, **self.candidate.to_json()},
            "message": self.message,
            "startedAt": format_time(self.started_at),
            "updatedAt": format_time(self.state.last_scrape_at),
            "state": self.state.to_json(),
        }
        if self.baseline is not None:
            rendered["baseline"] = {"version": self.state.stable_version, **self.baseline.to_json()}
        return {key: value for key, value in rendered.items() if value is not None}

    @classmethod
    def from_status(cls, data: Mapping[str, Any]) -> AnalysisProgress:
        """Read `status.analysis` back (after an operator restart, or on the next reconcile)."""
        baseline = data.get("baseline")
        return cls(
            phase=Phase(data.get("phase", Phase.PENDING.value)),
            thresholds=Thresholds.from_spec(data.get("thresholds") or {}),
            state=AnalysisState.from_json(data.get("state") or {}),
            candidate=Figures.from_json(data.get("candidate")),
            baseline=None if baseline is None else Figures.from_json(baseline),
            message=str(data.get("message", "")),
            started_at=parse_time(data.get("startedAt")),
        )

    def failure_figures(self) -> dict[str, Any]:
        """The measured figures to keep with a failed version (`failedVersions[].figures`)."""
        figures: dict[str, Any] = {
            "candidate": self.candidate.to_json(),
            "thresholds": self.thresholds.to_spec(),
        }
        if self.baseline is not None:
            figures["baseline"] = self.baseline.to_json()
        return figures


def format_time(moment: datetime | None) -> str | None:
    """RFC 3339 UTC with a Z, as Kubernetes writes timestamps."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: Any) -> datetime | None:
    """Inverse of `format_time`; also accepts timestamps without fractional seconds."""
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)
