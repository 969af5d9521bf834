"""Model-aware thresholds: did the candidate's predictions move away from the stable version's?

HTTP figures (error rate, p99) say nothing about a model that answers 200 quickly and wrongly. Two
thresholds compare what the candidate predicted in its window with what the stable version predicted
over the same kind of window (its pods' counters, read while they still serve):

- `maxLabelShift`: Jensen-Shannon divergence (base 2, so 0 = same distribution, 1 = disjoint) between
  the two predicted-label distributions. A candidate that always answers `risk` where the stable version
  mostly answers `safe` scores near 1.
- `maxScoreDelta`: the absolute difference of the mean top score (confidence) of the two versions.

Both need the stable version's figures: like `maxRegression` they are judged only when a stable version
exists, and need `minRequests` predictions on each side. When that is missing at the end of the window,
`unjudged` names them and the analysis is Inconclusive (never a silent pass); the `inconclusive` policy
decides. Called by `decision.decide`; pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .decision import Figures, Thresholds


def js_divergence(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two count or probability tables by label."""
    p_total, q_total = sum(p.values()), sum(q.values())
    if p_total <= 0 or q_total <= 0:
        raise ValueError("both distributions need at least one observation")
    divergence = 0.0
    for label in set(p) | set(q):
        a, b = p.get(label, 0.0) / p_total, q.get(label, 0.0) / q_total
        m = (a + b) / 2
        divergence += _kl_term(a, m) + _kl_term(b, m)
    return min(1.0, max(0.0, divergence / 2))


def _kl_term(x: float, m: float) -> float:
    return x * math.log2(x / m) if x > 0 else 0.0


def judgeable(thresholds: Thresholds, figures: Figures | None) -> bool:
    """True when a version predicted enough in the window to compare its predictions."""
    return figures is not None and figures.predicted >= max(1, thresholds.min_requests)


def breaches(thresholds: Thresholds, candidate: Figures, baseline: Figures | None) -> list[str]:
    """One sentence per model-aware threshold the candidate breaks (only those that can be judged)."""
    if baseline is None or not (judgeable(thresholds, candidate) and judgeable(thresholds, baseline)):
        return []
    found = []
    shift = label_shift(candidate, baseline)
    if thresholds.max_label_shift is not None and shift > thresholds.max_label_shift:
        found.append(
            f"label shift {shift:.3f} (Jensen-Shannon; candidate {_share(candidate)}, stable "
            f"{_share(baseline)}) exceeds maxLabelShift {thresholds.max_label_shift:g}"
        )
    delta = score_delta(candidate, baseline)
    if thresholds.max_score_delta is not None and delta is not None and delta > thresholds.max_score_delta:
        found.append(
            f"mean top score {candidate.mean_top_score:.3f} differs from the stable version's "
            f"{baseline.mean_top_score:.3f} by {delta:.3f}, "
            f"above maxScoreDelta {thresholds.max_score_delta:g}"
        )
    return found


def label_shift(candidate: Figures, baseline: Figures) -> float:
    """The Jensen-Shannon divergence of the two versions' predicted labels."""
    return js_divergence(
        {k: float(v) for k, v in candidate.predictions.items()},
        {k: float(v) for k, v in baseline.predictions.items()},
    )


def score_delta(candidate: Figures, baseline: Figures) -> float | None:
    """|candidate mean top score - stable mean top score|; None when either is unknown."""
    if candidate.mean_top_score is None or baseline.mean_top_score is None:
        return None
    return abs(candidate.mean_top_score - baseline.mean_top_score)


def unjudged(thresholds: Thresholds, candidate: Figures, baseline: Figures | None) -> str | None:
    """Why the model-aware thresholds set could not be judged, or None when they could (or none is set)."""
    names = [
        name
        for name, limit in (
            ("maxLabelShift", thresholds.max_label_shift),
            ("maxScoreDelta", thresholds.max_score_delta),
        )
        if limit is not None
    ]
    if not names:
        return None
    thin = [
        f"{who} predicted {0 if figures is None else figures.predicted}"
        for who, figures in (("the candidate", candidate), ("the stable version", baseline))
        if not judgeable(thresholds, figures)
    ]
    if not thin:
        return None
    return (
        f"{' and '.join(names)} could not be judged: {' and '.join(thin)} texts in the "
        f"{thresholds.window_seconds}s window (minRequests {thresholds.min_requests}); "
        f"inconclusive policy {thresholds.inconclusive}"
    )


def _share(figures: Figures) -> str:
    total = figures.predicted or 1
    top = sorted(figures.predictions.items(), key=lambda item: (-item[1], item[0]))[:3]
    return ", ".join(f"{label} {count / total:.0%}" for label, count in top)
