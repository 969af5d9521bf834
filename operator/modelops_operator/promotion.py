"""When a newly Available version becomes the stable version: the promotion rule.

`reconcile.plan` calls `decide` once the candidate's rollout is complete. Without
`spec.rollback.analysis` the candidate is promoted at once. With it, the analysis package decides
(sample the pods' metrics for the window, then Promote, keep Waiting, Fail through the rollback path,
or Hold when inconclusive); `collect` is the observation hook that gathers those samples before the
pure decision runs. While the candidate is still rolling out, `rollout_analysis` folds the same samples
into a Pending analysis: the stable version's pods are still there, and usually gone by the time the
candidate is Available, so this is when the baseline for `maxRegression` is measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelops_operator.analysis import Action, Phase, Thresholds
from modelops_operator.analysis import hooks as analysis_hooks
from modelops_operator.analysis.stored import StoredAnalysis

PROMOTE, WAIT, FAIL, HOLD = Action.PROMOTE, Action.WAIT, Action.FAIL, Action.HOLD


@dataclass(frozen=True)
class PromotionInput:
    """The candidate (Available, not yet stable) and what is known about it."""

    stored: StoredAnalysis  # status.analysis as decided so far, `resumable` (a retry starts afresh)
    candidate: str
    stable: str | None
    now: datetime
    samples: Any = None
    analysis: Thresholds | None = None  # the parsed spec.rollback.analysis; None: promote at once


@dataclass(frozen=True)
class Decision:
    """Promote, Wait (analysis running), Fail (roll back) or Hold (keep serving, not stable)."""

    verdict: Action
    analysis: dict[str, Any] | None = None
    reason: str = ""
    figures: dict[str, Any] | None = None


def decide(inp: PromotionInput) -> Decision:
    """The promotion verdict for `inp.candidate` (pure)."""
    if inp.analysis is None:
        return Decision(PROMOTE, reason=f"{inp.candidate} is Available")
    progress = analysis_hooks.judge(
        inp.stored, inp.analysis, inp.candidate, inp.stable, inp.samples, now=inp.now
    )
    figures = progress.failure_figures() if progress.should_rollback else None
    return Decision(progress.action, analysis=progress.to_status(), reason=progress.message, figures=figures)


def rollout_analysis(inp: PromotionInput) -> dict[str, Any] | None:
    """`status.analysis` while the candidate rolls out (pure): the baseline so far, window not started.

    None (leave `status.analysis` as it is) without an analysis or a stable version to compare with,
    and once the window has started: the analysis then only moves on when the rollout completes.
    """
    if inp.analysis is None or not inp.stable or inp.stable == inp.candidate:
        return None
    judge = analysis_hooks.judge
    progress = judge(
        inp.stored, inp.analysis, inp.candidate, inp.stable, inp.samples, now=inp.now, available=False
    )
    return progress.to_status() if progress.phase is Phase.PENDING else None


def collect(
    kube: Any,
    md: Mapping[str, Any],
    analysis: Thresholds,
    candidate: str,
    pods: tuple[Any, ...],
    *,
    stored: StoredAnalysis,
    now: datetime,
    token: Any = None,
) -> Any:
    """Gather what `decide` needs for the analysis `analysis` (metric samples; None when none is due).

    `stored` is `md`'s decoded `status.analysis`; `token` the namespace's `metrics_auth.MetricsToken`
    (None: metricsAuth off)."""
    return analysis_hooks.collect(kube, md, analysis, candidate, pods, stored=stored, now=now, token=token)
