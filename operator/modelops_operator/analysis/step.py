"""One analysis step: resume from the status, scrape when due, fold the counters in, judge.

The operator's observe-then-plan split makes it two calls: `hooks.collect` (in observation) asks
`resume` and `is_due` whether a scrape is needed and scrapes; `hooks.judge` (in the pure plan), and
`canary` for a step's window, call `evaluate` with that snapshot (None: nothing new). It is
idempotent between intervals (the stored progress until `intervalSeconds` passed since the last
scrape) and after a final verdict, so calling it on every reconcile is safe. A status that
belongs to another version is ignored: a new candidate starts a new analysis. Before the candidate is
Available the phase is Pending and the scrapes only collect counters (so the stable version's pods,
which disappear when the rollout completes, can still give a baseline); the window starts at Available.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from .decision import Figures, Phase, Thresholds, Verdict, decide, figures_from_totals
from .progress import AnalysisProgress, AnalysisState
from .samples import Snapshot
from .window import WindowState, advance, totals


def evaluate(
    thresholds: Thresholds,
    status_analysis: Mapping[str, Any] | None,
    snapshot: Snapshot | None,
    now: datetime,
    *,
    version: str,
    stable_version: str | None,
    available: bool,
) -> AnalysisProgress:
    """Advance the analysis of `version` against `thresholds` (the parsed `spec.rollback.analysis`)
    with `snapshot`, scraped beforehand when `is_due` (None: nothing new to fold in); what to write to
    `status.analysis`."""
    progress = resume(thresholds, status_analysis, version=version, stable_version=stable_version)
    if snapshot is None or progress.finished:
        return progress
    return fold(progress, snapshot, now, available=available)


def is_due(progress: AnalysisProgress, now: datetime) -> bool:
    """True when a scrape is needed: the analysis is not final and intervalSeconds have passed."""
    return not progress.finished and progress.seconds_until_next_check(now) <= 0


def resume(
    thresholds: Thresholds,
    status_analysis: Mapping[str, Any] | None,
    *,
    version: str,
    stable_version: str | None,
) -> AnalysisProgress:
    """The stored progress for `version` with the current thresholds, or a fresh Pending one."""
    if status_analysis:
        stored = AnalysisProgress.from_status(status_analysis)
        if stored.version == version:
            return stored if stored.finished else replace(stored, thresholds=thresholds)
    state = AnalysisState(version=version, stable_version=stable_version)
    return AnalysisProgress(Phase.PENDING, thresholds, state, message=f"analysis of {version} pending")


def fold(
    progress: AnalysisProgress, snapshot: Snapshot, now: datetime, *, available: bool
) -> AnalysisProgress:
    """Add one scrape to the progress and judge the result."""
    state = replace(
        progress.state,
        last_scrape_at=now,
        candidate=advance(progress.state.candidate, snapshot.candidate),
        baseline=advance(progress.state.baseline, snapshot.baseline),
    )
    started_at = progress.started_at or (now if available else None)
    candidate, baseline = _figures(state.candidate), _baseline_figures(state.baseline)
    verdict = _verdict(replace(progress, state=state), candidate, baseline, started_at, now)
    message = verdict.message + _scrape_problems(snapshot)
    return AnalysisProgress(
        verdict.phase, progress.thresholds, state, candidate, baseline, message, started_at
    )


def _verdict(
    progress: AnalysisProgress,
    candidate: Figures,
    baseline: Figures | None,
    started_at: datetime | None,
    now: datetime,
) -> Verdict:
    if started_at is None:
        waiting = f"waiting for {progress.version} to become available; {candidate.describe()} so far"
        return Verdict(Phase.PENDING, waiting)
    stable = progress.state.stable_version
    return decide(
        progress.thresholds,
        candidate,
        baseline,
        (now - started_at).total_seconds(),
        baseline_expected=stable is not None and stable != progress.version,
    )


def _figures(window: WindowState) -> Figures:
    return figures_from_totals(totals(window))


def _baseline_figures(window: WindowState) -> Figures | None:
    return _figures(window) if window.pods else None


def _scrape_problems(snapshot: Snapshot) -> str:
    if not snapshot.errors:
        return ""
    shown = "; ".join(snapshot.errors[:3])
    more = f" (+{len(snapshot.errors) - 3} more)" if len(snapshot.errors) > 3 else ""
    return f" [metrics not read: {shown}{more}]"
