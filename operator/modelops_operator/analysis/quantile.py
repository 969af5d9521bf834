"""Estimate a latency quantile from cumulative histogram bucket counts, as Prometheus does.

The server records request durations in a histogram; the analysis only has the bucket counts that grew
during its window. `histogram_quantile` below follows Prometheus' `histogram_quantile()`: find the
bucket holding the requested rank and interpolate linearly inside it; a rank in the `+Inf` bucket
answers the highest finite bound. Called by `decision.figures_from_totals`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def histogram_quantile(quantile: float, cumulative: Mapping[float, float]) -> float | None:
    """The `quantile` (0..1) of the observations, or None when there are none.

    `cumulative` maps each bucket's upper bound (`le`, may include +Inf) to the number of observations
    at or below it; like Prometheus, it needs the +Inf bucket and one finite bucket. Counts that dip
    (per-bucket increments are computed independently) are made monotonic.
    """
    buckets = _monotonic(sorted(cumulative.items()))
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]) or buckets[-1][1] <= 0:
        return None
    rank = quantile * buckets[-1][1]
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank and count > previous_count:
            return _interpolate(previous_bound, bound, previous_count, count, rank)
        previous_bound, previous_count = bound, count
    return previous_bound


def _monotonic(buckets: list[tuple[float, float]]) -> list[tuple[float, float]]:
    highest = 0.0
    result = []
    for bound, count in buckets:
        highest = max(highest, count)
        result.append((bound, highest))
    return result


def _interpolate(lower: float, upper: float, lower_count: float, upper_count: float, rank: float) -> float:
    if math.isinf(upper):
        return lower
    if upper <= 0 or lower >= upper:
        return upper
    return lower + (upper - lower) * (rank - lower_count) / (upper_count - lower_count)
