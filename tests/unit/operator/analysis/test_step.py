"""run_step end to end on recorded pods: Pending → Running → verdict, idempotence, restart, status JSON."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from modelops_operator.analysis import AnalysisProgress, Phase, Snapshot, Thresholds
from modelops_operator.analysis.samples import parse_exposition
from support.recorded_metrics import RecordedPod, observe_then_judge

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
SPEC = {
    "windowSeconds": 20,
    "intervalSeconds": 2,
    "maxErrorRate": 0.05,
    "maxLatencyP99Ms": 500,
    "maxRegression": 1.5,
    "minRequests": 10,
}


class Serving:
    """The pods of one ModelDeployment during a rollout, read by a counting scraper."""

    def __init__(self) -> None:
        self.candidate: dict[str, RecordedPod] = {}
        self.stable: dict[str, RecordedPod] = {"md-stable-a": RecordedPod()}
        self.scrapes = 0
        self.errors: tuple[str, ...] = ()

    def scrape(self) -> Snapshot:
        self.scrapes += 1
        return Snapshot(
            candidate={name: parse_exposition(pod.exposition()) for name, pod in self.candidate.items()},
            baseline={name: parse_exposition(pod.exposition()) for name, pod in self.stable.items()},
            errors=self.errors,
        )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def step(
    serving: Serving,
    status: dict[str, Any] | None,
    seconds: float,
    *,
    available: bool = True,
    spec: dict[str, Any] | None = None,
    version: str = "v1.1.0",
) -> tuple[AnalysisProgress, dict[str, Any]]:
    """One reconcile: run_step, then the status as the apiserver stores it (JSON)."""
    progress = observe_then_judge(
        Thresholds.from_spec(spec if spec is not None else SPEC),
        status,
        serving.scrape,
        at(seconds),
        version=version,
        stable_version="v1.0.0",
        available=available,
    )
    return progress, json.loads(json.dumps(progress.to_status()))


def rolled_out(serving: Serving) -> dict[str, Any]:
    """The rollout: stable pod serves, candidate pod appears, becomes Available at t=0."""
    serving.stable["md-stable-a"].serve(200)
    _, status = step(serving, None, -10, available=False)
    serving.candidate["md-new-a"] = RecordedPod()
    serving.stable["md-stable-a"].serve(30, seconds=0.08)
    _, status = step(serving, status, -4, available=False)
    del serving.stable["md-stable-a"]  # the rollout completed: the stable pod is gone
    _, status = step(serving, status, 0)
    return status


def test_pending_until_available_then_the_window_starts() -> None:
    serving = Serving()
    progress, status = step(serving, None, -10, available=False)
    assert progress.phase is Phase.PENDING
    assert "waiting for v1.1.0 to become available" in progress.message
    assert "startedAt" not in status

    progress, status = step(serving, status, -8, available=True)

    assert progress.phase is Phase.RUNNING
    assert status["startedAt"] == "2026-01-01T11:59:52.000000Z"


def test_a_failing_candidate_is_failed_as_soon_as_it_served_enough() -> None:
    serving = Serving()
    status = rolled_out(serving)
    serving.candidate["md-new-a"].serve(14)
    serving.candidate["md-new-a"].serve(6, code="500")

    progress, status = step(serving, status, 2)

    assert progress.phase is Phase.FAILED
    assert progress.should_rollback and progress.finished
    assert not progress.should_promote
    assert "error rate 30.0% (6 of 20 requests answered 5xx or 429)" in progress.message
    assert status["candidate"] == {
        "version": "v1.1.0",
        "requests": 20,
        "errors": 6,
        "errorRate": 0.3,
        "p99Ms": 24.9,
    }
    assert (status["version"], status["updatedAt"]) == ("v1.1.0", "2026-01-01T12:00:02.000000Z")
    figures = progress.failure_figures()
    assert figures["candidate"]["errors"] == 6
    assert figures["thresholds"]["maxErrorRate"] == 0.05


def test_a_healthy_candidate_passes_at_the_end_of_the_window_with_its_baseline() -> None:
    serving = Serving()
    status = rolled_out(serving)
    for seconds in range(2, 20, 2):
        serving.candidate["md-new-a"].serve(5)
        progress, status = step(serving, status, seconds)
        assert progress.phase is Phase.RUNNING, progress.message

    progress, status = step(serving, status, 20)

    assert progress.phase is Phase.PASSED
    assert progress.should_promote and not progress.should_hold
    assert status["candidate"]["requests"] == 45
    assert status["baseline"] == {
        "version": "v1.0.0",
        "requests": 30,
        "errors": 0,
        "errorRate": 0.0,
        "p99Ms": 99.5,
    }
    assert status["thresholds"] == {**SPEC, "inconclusive": "Promote"}


def test_a_latency_regression_against_the_stable_pods_fails() -> None:
    serving = Serving()
    status = rolled_out(serving)  # stable p99 99.5 ms
    serving.candidate["md-new-a"].serve(20, seconds=0.2)  # p99 ~248 ms: below 500 ms, but 2.5x stable

    progress, _ = step(serving, status, 2)

    assert progress.phase is Phase.FAILED
    assert "above maxRegression 1.5" in progress.message


def test_too_little_traffic_is_inconclusive_and_follows_the_policy() -> None:
    for policy, promote in (("Promote", True), ("Hold", False)):
        serving = Serving()
        spec = {**SPEC, "inconclusive": policy}
        status = rolled_out(serving)
        serving.candidate["md-new-a"].serve(3, code="500")

        progress, _ = step(serving, status, 21, spec=spec)

        assert progress.phase is Phase.INCONCLUSIVE
        assert not progress.should_rollback
        assert (progress.should_promote, progress.should_hold) == (promote, not promote)


def test_no_scrape_before_the_interval_and_none_after_the_verdict() -> None:
    serving = Serving()
    status = rolled_out(serving)
    scrapes = serving.scrapes

    progress, _ = step(serving, status, 1.5)
    assert serving.scrapes == scrapes
    assert progress.seconds_until_next_check(at(1.5)) == 0.5

    serving.candidate["md-new-a"].serve(20, code="503")
    failed, status = step(serving, status, 2)
    again, _ = step(serving, status, 60)
    assert serving.scrapes == scrapes + 1
    assert again == failed


def test_a_new_candidate_version_starts_a_new_analysis() -> None:
    serving = Serving()
    status = rolled_out(serving)
    serving.candidate["md-new-a"].serve(20, code="503")
    _, status = step(serving, status, 2)

    progress, _ = step(serving, status, 3, version="v1.2.0", available=False)

    assert progress.phase is Phase.PENDING
    assert progress.version == "v1.2.0"
    assert progress.candidate.requests == 0


def test_an_operator_restart_continues_the_same_window_from_the_status() -> None:
    uninterrupted, restarted = Serving(), Serving()
    status_a, status_b = rolled_out(uninterrupted), rolled_out(restarted)
    for seconds in (2, 4, 6):
        for serving in (uninterrupted, restarted):
            serving.candidate["md-new-a"].serve(4)
        progress_a, status_a = step(uninterrupted, status_a, seconds)
        # the restarted operator only has the stored status: rebuild everything from it
        progress_b, status_b = step(restarted, json.loads(json.dumps(status_b)), seconds)

    assert progress_b == progress_a
    assert progress_a.candidate.requests == 12
    assert AnalysisProgress.from_status(status_a) == progress_a


def test_changed_thresholds_apply_to_a_running_analysis() -> None:
    serving = Serving()
    status = rolled_out(serving)
    serving.candidate["md-new-a"].serve(19)
    serving.candidate["md-new-a"].serve(1, code="500")
    progress, status = step(serving, status, 2)
    assert progress.phase is Phase.RUNNING

    progress, _ = step(serving, status, 4, spec={**SPEC, "maxErrorRate": 0.01})

    assert progress.phase is Phase.FAILED


def test_unreadable_pods_are_named_in_the_message() -> None:
    serving = Serving()
    status = rolled_out(serving)
    serving.errors = ("pod md-new-b: ApiException: Service Unavailable",)

    progress, _ = step(serving, status, 2)

    assert progress.phase is Phase.RUNNING
    assert progress.message.endswith("[metrics not read: pod md-new-b: ApiException: Service Unavailable]")
