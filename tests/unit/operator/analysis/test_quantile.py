"""p99 from histogram buckets, as Prometheus' histogram_quantile() computes it."""

import math

from modelops_operator.analysis.decision import figures_from_totals
from modelops_operator.analysis.quantile import histogram_quantile
from modelops_operator.analysis.samples import parse_exposition
from support.recorded_metrics import RecordedPod

INF = float("inf")


def test_interpolates_linearly_inside_the_bucket_holding_the_rank() -> None:
    # 100 observations: 50 in (0, 0.1], 50 in (0.1, 0.2]; rank 99 is 49/50 of the way into the second.
    cumulative = {0.1: 50.0, 0.2: 100.0, INF: 100.0}

    assert math.isclose(histogram_quantile(0.99, cumulative) or 0.0, 0.1 + 0.1 * 49 / 50)
    assert math.isclose(histogram_quantile(0.5, cumulative) or 0.0, 0.1)


def test_rank_in_the_inf_bucket_answers_the_highest_finite_bound() -> None:
    assert histogram_quantile(0.99, {0.1: 90.0, 1.0: 95.0, INF: 100.0}) == 1.0


def test_no_observations_no_quantile() -> None:
    assert histogram_quantile(0.99, {0.1: 0.0, INF: 0.0}) is None
    assert histogram_quantile(0.99, {}) is None


def test_needs_the_inf_bucket_and_a_finite_one_like_prometheus() -> None:
    assert histogram_quantile(0.99, {0.1: 5.0, 0.2: 10.0}) is None
    assert histogram_quantile(0.99, {INF: 10.0}) is None


def test_counts_that_dip_are_made_monotonic() -> None:
    # Independently computed bucket increments can dip by a little; the quantile must stay sane.
    # The +Inf increase lagging 0.5 behind must not shrink the total: it is 10, rank 9.9.
    assert math.isclose(histogram_quantile(0.99, {0.1: 5.0, 0.2: 10.0, INF: 9.5}) or 0.0, 0.1 + 0.1 * 4.9 / 5)


def test_p99_of_recorded_requests() -> None:
    pod = RecordedPod()
    pod.serve(95, seconds=0.02)  # bucket (0.01, 0.025]
    pod.serve(5, seconds=0.7)  # bucket (0.5, 1.0]

    figures = figures_from_totals(parse_exposition(pod.exposition()))

    # rank 99 is the 4th of the 5 slow ones: 0.5 + 0.5 * 4/5 = 0.9 s
    assert figures.p99_ms is not None
    assert math.isclose(figures.p99_ms, 900.0)
    assert (figures.requests, figures.errors) == (100, 0)
