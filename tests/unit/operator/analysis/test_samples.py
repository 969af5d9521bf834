"""Parsing the server's /metrics text (recorded from a real prometheus_client registry) into counters."""

import pytest

from modelops_operator.analysis.decision import figures_from_totals
from modelops_operator.analysis.samples import (
    ERRORS,
    REQUESTS,
    START,
    MetricsParseError,
    bucket_bound,
    bucket_key,
    parse_exposition,
)
from support.recorded_metrics import RecordedPod


def test_prediction_endpoints_are_summed_and_5xx_counted_as_errors() -> None:
    pod = RecordedPod()
    pod.serve(7, code="200", endpoint="predict")
    pod.serve(2, code="500", endpoint="predict")
    pod.serve(3, code="503", endpoint="infer")
    pod.serve(4, code="422", endpoint="infer")

    counters = parse_exposition(pod.exposition())

    assert counters[REQUESTS] == 12  # the 4xx answers are not counted
    assert counters[ERRORS] == 5


def test_4xx_answers_do_not_count_toward_min_requests() -> None:
    pod = RecordedPod()
    pod.serve(50, code="401", endpoint="predict")  # unauthenticated callers
    pod.serve(20, code="400", endpoint="infer")
    pod.serve(1, code="200", endpoint="predict")

    counters = parse_exposition(pod.exposition())

    assert (counters[REQUESTS], counters[ERRORS]) == (1, 0)


def test_health_and_other_endpoints_are_ignored() -> None:
    pod = RecordedPod()
    pod.serve(50, code="503", endpoint="health", seconds=3.0)
    pod.serve(1, code="200", endpoint="predict", seconds=0.02)

    counters = parse_exposition(pod.exposition())

    assert (counters[REQUESTS], counters[ERRORS]) == (1, 0)
    assert counters[bucket_key(float("inf"))] == 1
    assert counters[bucket_key(2.5)] == 1


def test_buckets_are_cumulative_per_upper_bound() -> None:
    pod = RecordedPod()
    pod.serve(3, seconds=0.02)
    pod.serve(1, seconds=0.3, endpoint="infer")

    counters = parse_exposition(pod.exposition())

    assert counters[bucket_key(0.01)] == 0
    assert counters[bucket_key(0.025)] == 3
    assert counters[bucket_key(0.5)] == 4
    assert counters[bucket_key(float("inf"))] == 4


def test_a_pod_that_served_nothing_has_zero_requests_and_no_buckets() -> None:
    counters = parse_exposition(RecordedPod().exposition())

    assert counters == {REQUESTS: 0, ERRORS: 0}


def test_process_start_time_is_kept_to_spot_restarts() -> None:
    assert parse_exposition(RecordedPod(start_time=1234.5).exposition())[START] == 1234.5


def test_bucket_keys_round_trip() -> None:
    for bound in (0.005, 1.0, 10.0, float("inf")):
        assert bucket_bound(bucket_key(bound)) == bound
    assert bucket_bound(REQUESTS) is None


def test_malformed_text_is_a_parse_error() -> None:
    with pytest.raises(MetricsParseError, match="cannot parse Prometheus metrics"):
        parse_exposition('modelops_requests_total{endpoint="predict" 1\n')


def test_generation_endpoints_count_and_429_is_an_error() -> None:
    pod = RecordedPod()
    pod.serve(6, code="200", endpoint="generate")
    pod.serve(3, code="200", endpoint="chat_completions")
    pod.serve(2, code="429", endpoint="generate_oip")  # no generation slot: not served
    pod.serve(1, code="503", endpoint="chat_completions")
    pod.serve(5, code="400", endpoint="generate")  # a caller's mistake: not counted

    counters = parse_exposition(pod.exposition())

    assert (counters[REQUESTS], counters[ERRORS]) == (12, 3)


def test_text_generation_latency_is_the_time_to_first_token() -> None:
    pod = RecordedPod()
    pod.serve(20, code="200", seconds=4.0, endpoint="generate")  # whole generations: long answers
    pod.first_token(20, seconds=0.02)

    figures = figures_from_totals(parse_exposition(pod.exposition()))

    assert figures.p99_ms is not None and figures.p99_ms <= 25.0
