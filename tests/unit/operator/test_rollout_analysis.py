"""The analysis while a new version rolls out: the stable pods' baseline is measured before they go.

The stable version's pods usually terminate before the candidate is Available (one Deployment, rolling
update), so the pure reconcile folds the samples observed during the rollout into a Pending
`status.analysis`; the window then judges `maxRegression` against that baseline. Each step goes through
JSON, as the status does through the apiserver, so an operator restart would read the same state.
"""

from __future__ import annotations

import json
from typing import Any

from modelops_operator import conditions as c
from modelops_operator import promotion, reconcile
from modelops_operator.analysis import Snapshot
from modelops_operator.analysis.samples import parse_exposition
from modelops_operator.analysis.stored import StoredAnalysis
from modelops_operator.settings import Settings
from modelops_operator.state import DeploymentState, Observed, PodState
from support.operator_objects import later, model_deployment, model_version
from support.recorded_metrics import RecordedPod

SETTINGS = Settings()
STABLE, CANDIDATE = "v1.0.0", "v1.1.0"
ANALYSIS = {"windowSeconds": 30, "intervalSeconds": 2, "maxRegression": 1.5, "minRequests": 10}
ROLLBACK = {"automatic": True, "mode": "RevertSpec", "progressDeadlineSeconds": 60, "analysis": ANALYSIS}


class Pods:
    """The server pods of the rollout with their recorded metrics, and what the operator sees of them."""

    def __init__(self) -> None:
        self.stable: dict[str, RecordedPod] = {"md-old": RecordedPod()}
        self.candidate: dict[str, RecordedPod] = {}

    def snapshot(self) -> Snapshot:
        return Snapshot(
            candidate={name: parse_exposition(pod.exposition()) for name, pod in self.candidate.items()},
            baseline={name: parse_exposition(pod.exposition()) for name, pod in self.stable.items()},
        )

    def states(self) -> tuple[PodState, ...]:
        old = [PodState(name, STABLE, ready=True) for name in self.stable]
        return (*old, *(PodState(name, CANDIDATE, ready=True) for name in self.candidate))


def deployment(version: str, *, complete: bool) -> DeploymentState:
    """One replica; while incomplete the old pod is still counted next to the new one."""
    replicas = 1 if complete else 2
    return DeploymentState(
        version=version,
        replicas=1,
        status_replicas=replicas,
        updated=1,
        ready=replicas,
        available=replicas,
    )


def stable_status() -> dict[str, Any]:
    md = model_deployment(STABLE, replicas=1)
    obs = Observed(
        md=md, now=later(-60), target_mv=model_version(STABLE), deployment=deployment(STABLE, complete=True)
    )
    return reconcile.plan(obs, SETTINGS).status


def step(md: dict[str, Any], pods: Pods, seconds: float, dep: DeploymentState) -> reconcile.Plan:
    """One reconcile; the status it writes is read back through JSON into `md`."""
    obs = Observed(
        md=md,
        now=later(seconds),
        target_mv=model_version(md["spec"]["version"]),
        stable_mv=model_version(STABLE),
        deployment=dep,
        pods=pods.states(),
        analysis_samples=pods.snapshot(),
    )
    plan = reconcile.plan(obs, SETTINGS)
    md["status"] = json.loads(json.dumps(plan.status))
    return plan


def roll_out(pods: Pods) -> dict[str, Any]:
    """spec.version moves to the candidate; the stable pod serves 30 fast requests during the rollout."""
    md = model_deployment(CANDIDATE, replicas=1, status=stable_status(), rollback=ROLLBACK)
    pods.stable["md-old"].serve(200)
    step(md, pods, 0, deployment(STABLE, complete=True))  # the Deployment is updated now
    pods.candidate["md-new"] = RecordedPod()
    pods.stable["md-old"].serve(30, seconds=0.02)
    step(md, pods, 2, deployment(CANDIDATE, complete=False))
    return md


def test_the_stable_pods_baseline_is_stored_while_the_rollout_runs() -> None:
    pods = Pods()
    md = roll_out(pods)

    analysis = md["status"]["analysis"]
    assert (analysis["phase"], analysis["version"]) == ("Pending", CANDIDATE), analysis
    assert "startedAt" not in analysis, "the window must not start before the candidate is Available"
    baseline = {"version": STABLE, "requests": 30, "errors": 0, "errorRate": 0.0, "p99Ms": 24.9}
    assert analysis["baseline"] == baseline, analysis
    assert md["status"]["phase"] == "Progressing"


def test_a_latency_regression_against_the_captured_baseline_rolls_back() -> None:
    pods = Pods()
    md = roll_out(pods)
    del pods.stable["md-old"]  # the rolling update completed: the stable pod is gone
    step(md, pods, 4, deployment(CANDIDATE, complete=True))
    assert md["status"]["analysis"]["phase"] == "Running", md["status"]["analysis"]
    pods.candidate["md-new"].serve(20, seconds=0.2)  # p99 ~248 ms: 10x the stable 24.9 ms

    plan = step(md, pods, 6, deployment(CANDIDATE, complete=True))

    [failed] = plan.status["failedVersions"]
    assert (failed["version"], failed["cause"]) == (CANDIDATE, c.CAUSE_ANALYSIS_FAILED), failed
    assert "above maxRegression 1.5" in failed["reason"], failed
    assert failed["figures"]["baseline"]["p99Ms"] == 24.9, failed
    assert failed["figures"]["candidate"]["p99Ms"] > 1.5 * 24.9, failed
    assert plan.spec_patch is not None and plan.spec_patch[-1]["value"] == STABLE
    assert plan.status["analysis"]["phase"] == "Failed"


def test_without_a_stable_version_nothing_is_measured_during_the_rollout() -> None:
    md = model_deployment(STABLE, replicas=1, rollback=ROLLBACK)
    inp = promotion.PromotionInput(
        StoredAnalysis.of(md.get("status")), STABLE, None, later(0), Pods().snapshot()
    )
    assert promotion.rollout_analysis(inp) is None
    plan = reconcile.plan(Observed(md=md, now=later(0), target_mv=model_version(STABLE)), SETTINGS)
    assert "analysis" not in plan.status


def test_a_window_already_running_is_left_as_stored_while_pods_are_replaced() -> None:
    pods = Pods()
    md = roll_out(pods)
    del pods.stable["md-old"]
    step(md, pods, 4, deployment(CANDIDATE, complete=True))
    running = md["status"]["analysis"]
    pods.candidate["md-new"].serve(20, seconds=0.2)

    plan = step(md, pods, 6, deployment(CANDIDATE, complete=False))  # a pod is being replaced

    assert plan.status["analysis"] == running
    assert "failedVersions" not in plan.status


def test_a_rollout_failing_its_probes_drops_its_unfinished_analysis() -> None:
    pods = Pods()
    md = roll_out(pods)
    assert md["status"]["analysis"]["phase"] == "Pending"

    # past progressDeadlineSeconds, counted from the candidate pod's readiness at 2 s
    plan = step(md, pods, 63, deployment(CANDIDATE, complete=False))

    [failed] = plan.status["failedVersions"]
    assert failed["cause"] == c.CAUSE_READINESS_TIMEOUT, failed
    assert "analysis" not in plan.status, "a failed version must not show a Pending analysis"


def test_retry_annotation_runs_a_held_inconclusive_analysis_again() -> None:
    pods = Pods()
    md = roll_out(pods)
    md["spec"]["rollback"] = {**ROLLBACK, "analysis": {**ANALYSIS, "inconclusive": "Hold"}}
    del pods.stable["md-old"]
    step(md, pods, 4, deployment(CANDIDATE, complete=True))
    pods.candidate["md-new"].serve(3, seconds=0.01)  # far below minRequests 10
    held = step(md, pods, 40, deployment(CANDIDATE, complete=True))
    assert md["status"]["analysis"]["phase"] == "Inconclusive", md["status"]["analysis"]
    assert [x["reason"] for x in held.status["conditions"] if x["type"] == c.DEGRADED] == [
        c.REASON_ANALYSIS_INCONCLUSIVE
    ]
    step(md, pods, 50, deployment(CANDIDATE, complete=True))
    assert md["status"]["analysis"]["phase"] == "Inconclusive", "held until someone acts"

    md["metadata"]["annotations"] = {"modelops.io/retry": CANDIDATE}
    plan = step(md, pods, 60, deployment(CANDIDATE, complete=True))

    assert plan.remove_annotations == ["modelops.io/retry"]
    assert c.EVENT_RETRY_REQUESTED in [e.reason for e in plan.events]
    analysis = md["status"]["analysis"]
    assert analysis["phase"] == "Running" and analysis["startedAt"].startswith("2026-01-01T12:01:00"), (
        analysis
    )


def test_a_running_analysis_is_looked_at_again_at_its_sampling_interval() -> None:
    pods = Pods()
    md = roll_out(pods)
    del pods.stable["md-old"]
    plan = step(md, pods, 4, deployment(CANDIDATE, complete=True))
    assert md["status"]["analysis"]["phase"] == "Running"
    assert plan.requeue_after == ANALYSIS["intervalSeconds"]


def test_a_label_shift_rolls_back_through_the_reconcile() -> None:
    """Every answer a fast 200, but the candidate always predicts `risk`: maxLabelShift catches it."""
    pods = Pods()
    md = roll_out(pods)
    md["spec"]["rollback"] = {**ROLLBACK, "analysis": {**ANALYSIS, "maxLabelShift": 0.2}}
    pods.stable["md-old"].predict("safe", 25)
    pods.stable["md-old"].predict("risk", 5)
    step(md, pods, 3, deployment(CANDIDATE, complete=False))  # the baseline's labels, before it goes
    del pods.stable["md-old"]
    step(md, pods, 4, deployment(CANDIDATE, complete=True))
    pods.candidate["md-new"].serve(20, seconds=0.02)
    pods.candidate["md-new"].predict("risk", 20, score=0.99)

    plan = step(md, pods, 6, deployment(CANDIDATE, complete=True))

    [failed] = plan.status["failedVersions"]
    assert failed["cause"] == c.CAUSE_ANALYSIS_FAILED and "exceeds maxLabelShift 0.2" in failed["reason"]
    assert failed["figures"]["baseline"]["predictions"] == {"risk": 5, "safe": 25}, failed
    assert plan.spec_patch is not None and plan.spec_patch[-1]["value"] == STABLE


def test_inconclusive_rollback_fails_the_version_and_a_retry_judges_it_afresh() -> None:
    pods = Pods()
    md = roll_out(pods)  # the stable pod served requests but predicted nothing: no label baseline
    md["spec"]["rollback"] = {
        **ROLLBACK,
        "analysis": {**ANALYSIS, "maxLabelShift": 0.2, "inconclusive": "Rollback"},
    }
    del pods.stable["md-old"]
    step(md, pods, 4, deployment(CANDIDATE, complete=True))
    pods.candidate["md-new"].serve(20, seconds=0.02)
    pods.candidate["md-new"].predict("safe", 20)

    plan = step(md, pods, 40, deployment(CANDIDATE, complete=True))

    assert md["status"]["analysis"]["phase"] == "Inconclusive"
    [failed] = plan.status["failedVersions"]
    assert "maxLabelShift could not be judged" in failed["reason"] and "policy Rollback" in failed["reason"]
    assert plan.spec_patch is not None

    md["metadata"]["annotations"] = {"modelops.io/retry": CANDIDATE}
    md["metadata"]["generation"] = 3  # the revert applied (2), then the candidate applied again (3)
    md["status"].pop("pendingRevert", None)
    again = step(md, pods, 60, deployment(CANDIDATE, complete=True))
    assert again.status["failedVersions"] == []
    assert md["status"].get("analysis", {}).get("phase") in {"Pending", "Running"}, md["status"].get(
        "analysis"
    )
