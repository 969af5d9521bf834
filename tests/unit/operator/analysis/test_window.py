"""Per-pod increases over the window: pre-window traffic, counter resets, vanished and new pods."""

import json

from modelops_operator.analysis.samples import ERRORS, REQUESTS, PodCounters, bucket_key, parse_exposition
from modelops_operator.analysis.window import WindowState, advance, totals
from support.recorded_metrics import RecordedPod

INF_BUCKET = bucket_key(float("inf"))


def scrape(pods: dict[str, RecordedPod]) -> dict[str, PodCounters]:
    return {name: parse_exposition(pod.exposition()) for name, pod in pods.items()}


def test_traffic_before_the_window_is_not_counted() -> None:
    a, b = RecordedPod(), RecordedPod()
    a.serve(500, code="500")
    state = advance(WindowState(), scrape({"a": a, "b": b}))

    a.serve(10)
    b.serve(5, code="503")
    state = advance(state, scrape({"a": a, "b": b}))

    assert totals(state)[REQUESTS] == 15
    assert totals(state)[ERRORS] == 5
    assert totals(state)[INF_BUCKET] == 15


def test_a_container_restart_resets_counters_and_its_new_traffic_still_counts() -> None:
    pod = RecordedPod()
    pod.serve(100)
    state = advance(WindowState(), scrape({"a": pod}))
    pod.serve(20)
    state = advance(state, scrape({"a": pod}))

    pod.restart()
    pod.serve(7, code="500")
    state = advance(state, scrape({"a": pod}))
    pod.serve(3)
    state = advance(state, scrape({"a": pod}))

    assert totals(state)[REQUESTS] == 20 + 7 + 3
    assert totals(state)[ERRORS] == 7


def test_a_restart_that_already_served_more_than_before_is_caught_by_the_start_time() -> None:
    pod = RecordedPod(start_time=1000.0)
    state = advance(WindowState(), scrape({"a": pod}))
    pod.serve(5)
    state = advance(state, scrape({"a": pod}))

    pod.restart(start_time=2000.0)
    pod.serve(8, code="500")  # 8 > 5: without the start time this would look like 3 more requests
    state = advance(state, scrape({"a": pod}))

    assert totals(state)[REQUESTS] == 13
    assert totals(state)[ERRORS] == 8


def test_a_pod_missing_from_a_scrape_keeps_what_it_served() -> None:
    a, b = RecordedPod(), RecordedPod()
    state = advance(WindowState(), scrape({"a": a, "b": b}))
    a.serve(10, code="500")
    b.serve(10)
    state = advance(state, scrape({"a": a, "b": b}))

    b.serve(4)
    state = advance(state, scrape({"b": b}))  # a is gone (rollout finished) or its scrape failed

    assert totals(state)[REQUESTS] == 24
    assert totals(state)[ERRORS] == 10


def test_a_pod_that_comes_back_after_a_missed_scrape_is_not_counted_twice() -> None:
    a = RecordedPod()
    state = advance(WindowState(), scrape({"a": a}))
    a.serve(6)
    state = advance(state, scrape({}))
    state = advance(state, scrape({"a": a}))

    assert totals(state)[REQUESTS] == 6


def test_a_pod_first_seen_during_the_window_counts_from_zero() -> None:
    old, new = RecordedPod(), RecordedPod()
    state = advance(WindowState(), scrape({"old": old}))
    new.serve(9, code="500")  # served before its first scrape, but it only started during the window

    state = advance(state, scrape({"old": old, "new": new}))

    assert totals(state)[REQUESTS] == 9
    assert totals(state)[ERRORS] == 9


def test_an_empty_first_scrape_still_starts_the_window() -> None:
    state = advance(WindowState(), {})
    pod = RecordedPod()
    pod.serve(3)

    state = advance(state, scrape({"a": pod}))

    assert totals(state)[REQUESTS] == 3


def test_state_survives_a_json_round_trip_and_continues() -> None:
    pod = RecordedPod(start_time=5.0)
    state = advance(WindowState(), scrape({"a": pod}))
    pod.serve(4, seconds=0.3)
    state = advance(state, scrape({"a": pod}))

    restored = WindowState.from_json(json.loads(json.dumps(state.to_json())))
    pod.serve(2, code="500")

    assert restored == state
    assert totals(advance(restored, scrape({"a": pod}))) == totals(advance(state, scrape({"a": pod})))
    assert totals(advance(restored, scrape({"a": pod})))[REQUESTS] == 6
    assert WindowState.from_json(None) == WindowState()
