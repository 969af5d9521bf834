"""Reading counters from pods (injected /metrics text) and from a recorded Prometheus query answer."""

from typing import Any

from modelops_operator.analysis.samples import ERRORS, REQUESTS, Snapshot, parse_exposition
from modelops_operator.analysis.scrape import (
    Targets,
    prometheus_instant_query,
    prometheus_selector,
    scrape_pods,
    scrape_prometheus,
)
from modelops_operator.kube import KubeError
from support.recorded_metrics import RecordedPod, prometheus_answer

TARGETS = Targets(
    namespace="ns",
    pods={"new-a": "v1.1.0", "new-b": "v1.1.0", "old-a": "v1.0.0", "other": None},
    version="v1.1.0",
    stable_version="v1.0.0",
)


def recorded_pods() -> dict[str, RecordedPod]:
    pods = {"new-a": RecordedPod(), "new-b": RecordedPod(), "old-a": RecordedPod()}
    pods["new-a"].serve(8)
    pods["new-b"].serve(2, code="500")
    pods["old-a"].serve(5, seconds=0.3)
    return pods


def test_candidate_and_stable_pods_are_read_by_the_version_they_serve() -> None:
    pods = recorded_pods()
    fetched: list[str] = []

    def fetch(pod: str) -> str:
        fetched.append(pod)
        return pods[pod].exposition()

    snapshot = scrape_pods(TARGETS, fetch)

    assert sorted(snapshot.candidate) == ["new-a", "new-b"]
    assert snapshot.candidate["new-b"][ERRORS] == 2
    assert snapshot.baseline == {"old-a": parse_exposition(pods["old-a"].exposition())}
    assert snapshot.errors == ()
    assert sorted(fetched) == ["new-a", "new-b", "old-a"]


def test_an_unreadable_pod_is_reported_and_the_others_are_still_read() -> None:
    pods = recorded_pods()

    def fetch(pod: str) -> str:
        if pod == "new-b":
            raise KubeError(503, "Service Unavailable")
        if pod == "old-a":
            return "not { prometheus"
        return pods[pod].exposition()

    snapshot = scrape_pods(TARGETS, fetch)

    assert list(snapshot.candidate) == ["new-a"]
    assert snapshot.baseline == {}
    assert snapshot.errors[0] == "pod new-b: KubeError: HTTP 503: Service Unavailable"
    assert snapshot.errors[1].startswith("pod old-a: MetricsParseError")


def test_without_another_stable_version_only_the_candidate_is_read() -> None:
    pods = recorded_pods()
    for stable in (None, "v1.1.0"):
        targets = Targets("ns", TARGETS.pods, version="v1.1.0", stable_version=stable)

        snapshot = scrape_pods(targets, lambda pod: pods[pod].exposition())

        assert sorted(snapshot.candidate) == ["new-a", "new-b"] and snapshot.baseline == {}


def test_a_prometheus_answer_gives_the_same_counters_as_the_pods_themselves() -> None:
    pods = recorded_pods()
    asked: list[str] = []

    def query(promql: str) -> dict[str, Any]:
        asked.append(promql)
        return prometheus_answer("ns", pods)

    snapshot = scrape_prometheus(TARGETS, query)

    assert asked == [prometheus_instant_query("ns", ["new-a", "new-b", "old-a"])]
    for name, pod in pods.items():
        group = snapshot.baseline if name == "old-a" else snapshot.candidate
        assert group[name] == parse_exposition(pod.exposition())
    assert snapshot.candidate["new-a"][REQUESTS] == 8


def test_pods_prometheus_does_not_know_yet_are_left_out() -> None:
    pods = recorded_pods()
    targets = Targets("ns", {"new-a": "v1.1.0", "new-c": "v1.1.0"}, version="v1.1.0")

    snapshot = scrape_prometheus(targets, lambda promql: prometheus_answer("ns", pods))

    assert list(snapshot.candidate) == ["new-a"]


def test_no_pods_no_query() -> None:
    def query(promql: str) -> dict[str, Any]:
        raise AssertionError("Prometheus asked about no pods")

    assert scrape_prometheus(Targets("ns", {}, version="v1.1.0"), query) == Snapshot()


def test_a_prometheus_error_is_reported() -> None:
    def query(promql: str) -> dict[str, Any]:
        return {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}

    snapshot = scrape_prometheus(TARGETS, query)

    assert snapshot.candidate == {}
    assert snapshot.errors == (
        "Prometheus query: ValueError: Prometheus answered error: parse error at char 3",
    )


def test_prometheus_selector() -> None:
    assert prometheus_selector("ns", ["b", "a"]) == (
        '{__name__=~"modelops_requests_total|modelops_request_duration_seconds_bucket|'
        "modelops_generation_time_to_first_token_seconds_bucket|"
        'process_start_time_seconds|modelops_predictions_total|modelops_prediction_top_score_total"'
        ',namespace="ns",pod=~"a|b"}'
    )


def test_the_instant_query_counts_a_pod_once_whichever_jobs_scrape_it() -> None:
    query = prometheus_instant_query("ns", ["web-0.shard"])
    assert query.startswith("max by (__name__,namespace,pod,endpoint,code,le,label) ({")
    assert 'pod=~"web-0\\\\.shard"' in query, "a dot in a pod name is matched literally"
