"""The Canary strategy's pure plan, transition by transition: start, step, pause, promote, abort, restart."""

from __future__ import annotations

import copy
from typing import Any

from modelops.vocabulary import ABORT_ANNOTATION
from modelops_operator import builders, reconcile
from modelops_operator import conditions as c
from modelops_operator.analysis import Snapshot
from modelops_operator.analysis.samples import ERRORS, REQUESTS
from modelops_operator.settings import Settings
from modelops_operator.state import Observed, PodState
from support.canary_scenes import (
    NAME,
    NEW,
    SLOT_B,
    STABLE,
    STEPS,
    annotated_while_paused,
    at_first_step,
    canary_md,
    paused,
    plan,
    replicas,
)
from support.operator_objects import T0, later, model_deployment, model_version
from support.reconcile_scenes import after, cond, done, pods, reasons

SETTINGS = Settings()


def test_start_creates_the_canary_deployment_beside_the_stable_one() -> None:
    result = plan(canary_md())
    canary = result.canary_deployment
    assert canary is not None and canary["metadata"]["name"] == SLOT_B
    assert replicas(canary) == 1
    assert builders.template_version(canary) == NEW
    assert replicas(result.deployment) == 4  # the stable keeps every pod until the canary's is ready
    assert builders.template_version(result.deployment) == STABLE
    service_selector = (result.service or {})["spec"]["selector"]
    pod_labels = canary["spec"]["template"]["metadata"]["labels"]
    assert service_selector.items() <= pod_labels.items(), "the Service must select the canary's pods"
    assert canary["spec"]["selector"]["matchLabels"][builders.SLOT_LABEL] == "b"
    state = result.status["canary"]
    assert state["step"] == 0 and state["weight"]["message"] == "asked 25%, serving 1/4 = 25%"
    assert cond(result, c.PROGRESSING)["status"] == "True"
    assert result.status["stableVersion"] == STABLE


def test_the_stable_deployment_shrinks_only_as_canary_pods_become_ready() -> None:
    md = canary_md()
    md = after(md, plan(md))
    result = plan(md, stable=4, canary=1, ready=pods(NEW, 1), now=later(5))
    assert replicas(result.deployment) == 3
    assert "stepStartedAt" not in result.status["canary"], "not reached while the stable has 4 pods"


def test_reaching_a_step_starts_its_pause_and_asks_to_look_again_when_it_ends() -> None:
    _, result = at_first_step()
    state = result.status["canary"]
    assert state["stepStartedAt"] == "2026-01-01T12:00:20Z"
    assert c.EVENT_CANARY_STEP in reasons(result)
    assert result.requeue_after is not None and 29 < result.requeue_after <= 31
    assert result.status["readyReplicas"] == 4


def test_the_step_advances_after_its_pause() -> None:
    md, result = at_first_step()
    md = after(md, result)
    nxt = plan(md, stable=3, canary=1, ready=pods(NEW, 1), now=later(51))
    assert nxt.status["canary"]["step"] == 1
    assert replicas(nxt.canary_deployment) == 2
    assert replicas(nxt.deployment) == 3  # down to 2 once the second canary pod is ready
    assert nxt.status["canary"]["completedSteps"][0]["weight"] == "asked 25%, serving 1/4 = 25%"


def test_before_its_pause_ends_the_step_holds() -> None:
    md, result = at_first_step()
    md = after(md, result)
    same = plan(md, stable=3, canary=1, ready=pods(NEW, 1), now=later(40))
    assert same.status["canary"]["step"] == 0
    assert same.events == []


def run_to_promotion() -> tuple[dict[str, Any], reconcile.Plan]:
    md, result = at_first_step()
    md = after(md, result)
    md = after(md, plan(md, stable=3, canary=1, ready=pods(NEW, 1), now=later(51)))
    md = after(md, plan(md, stable=2, canary=2, ready=pods(NEW, 2), now=later(60)))
    result = plan(md, stable=2, canary=2, ready=pods(NEW, 2), now=later(91))
    return md, result


def test_after_the_last_step_the_canary_is_scaled_to_full() -> None:
    _, result = run_to_promotion()
    assert result.status["canary"]["phase"] == "Promoting"
    assert replicas(result.canary_deployment) == 4
    assert replicas(result.deployment) == 2
    assert result.status["stableVersion"] == STABLE


def test_promotion_makes_the_canary_deployment_the_stable_one_without_a_new_template() -> None:
    md, result = run_to_promotion()
    canary_template = copy.deepcopy((result.canary_deployment or {})["spec"]["template"])
    md = after(md, result)
    flipped = plan(md, stable=0, canary=4, ready=pods(NEW, 4), now=later(100))
    assert flipped.status["stableVersion"] == NEW
    assert flipped.status["stableDeployment"] == SLOT_B
    assert flipped.status["deploymentName"] == SLOT_B
    assert flipped.deployment is not None and flipped.deployment["metadata"]["name"] == SLOT_B
    assert replicas(flipped.deployment) == 4
    assert flipped.deployment["spec"]["template"] == canary_template, "a new template restarts the pods"
    assert NAME in flipped.scale_to_zero
    assert c.EVENT_PROMOTED in reasons(flipped)
    assert cond(flipped, c.PROGRESSING)["reason"] == c.REASON_ROLLOUT_COMPLETE
    # The next reconcile reads the new stable slot: a fixed point that keeps the same template.
    md = after(md, flipped)
    steady = Observed(
        md=md,
        now=later(130),
        target_mv=model_version(NEW),
        stable_mv=model_version(NEW),
        deployment=done(NEW, 4),
        other_deployment=done(STABLE, 0),
        pods=pods(NEW, 4),
    )
    again = reconcile.plan(steady, SETTINGS)
    assert again.deployment is not None and again.deployment["spec"]["template"] == canary_template
    assert again.scale_to_zero == [] and again.canary_deployment is None
    assert again.status["phase"] == "Available"
    assert again.events == []


def test_the_next_canary_goes_to_the_other_slot() -> None:
    md, result = run_to_promotion()
    md = after(md, result)
    md = after(md, plan(md, stable=0, canary=4, ready=pods(NEW, 4), now=later(100)))
    md["spec"]["version"] = "v1.3.0"
    obs = Observed(
        md=md,
        now=later(200),
        target_mv=model_version("v1.3.0"),
        stable_mv=model_version(NEW),
        deployment=done(NEW, 4),
        other_deployment=done(STABLE, 0),
        pods=pods(NEW, 4),
    )
    nxt = reconcile.plan(obs, SETTINGS)
    assert nxt.canary_deployment is not None and nxt.canary_deployment["metadata"]["name"] == NAME
    assert nxt.deployment is not None and nxt.deployment["metadata"]["name"] == SLOT_B


def failing_samples(requests: float, errors: float) -> Snapshot:
    canary = {f"{NEW}-0": {REQUESTS: requests, ERRORS: errors}}
    stable = {f"{STABLE}-{i}": {REQUESTS: requests, ERRORS: 0.0} for i in range(3)}
    return Snapshot(candidate=canary, baseline=stable)


def test_a_failing_step_analysis_aborts_through_the_rollback_path() -> None:
    analysis = {"maxErrorRate": 0.05, "minRequests": 10, "intervalSeconds": 5}
    md = canary_md()
    md["spec"]["rollback"]["analysis"] = analysis
    md = after(md, plan(md))
    first = plan(md, stable=3, canary=1, ready=pods(NEW, 1), now=later(20), samples=failing_samples(5, 0))
    assert first.status["analysis"]["phase"] == "Running"
    md = after(md, first)
    failed = plan(md, stable=3, canary=1, ready=pods(NEW, 1), now=later(26), samples=failing_samples(45, 12))
    assert [f["cause"] for f in failed.status["failedVersions"]] == [c.CAUSE_ANALYSIS_FAILED]
    assert SLOT_B in failed.scale_to_zero and failed.canary_deployment is None
    assert replicas(failed.deployment) == 4 and builders.template_version(failed.deployment) == STABLE
    assert failed.spec_patch is not None and failed.spec_patch[-1]["value"] == STABLE
    assert c.EVENT_ROLLED_BACK in reasons(failed)
    assert failed.status["canary"]["phase"] == "Aborted"
    assert failed.status["phase"] == "RolledBack"
    baseline = failed.status["failedVersions"][0]["figures"]["baseline"]
    assert baseline["requests"] == 120, "the stable pods are measured over the same window"


def test_a_step_analysis_that_passes_lets_the_step_end() -> None:
    analysis = {"maxErrorRate": 0.05, "minRequests": 10, "intervalSeconds": 5}
    md = canary_md()
    md["spec"]["rollback"]["analysis"] = analysis
    md = after(md, plan(md))
    md = after(
        md, plan(md, stable=3, canary=1, ready=pods(NEW, 1), now=later(20), samples=failing_samples(5, 0))
    )
    nxt = plan(md, stable=3, canary=1, ready=pods(NEW, 1), now=later(51), samples=failing_samples(50, 0))
    assert nxt.status["canary"]["step"] == 1
    assert nxt.status["canary"]["completedSteps"][0]["analysis"]["phase"] == "Passed"
    assert "analysis" not in nxt.status, "the next step is measured afresh"


def test_a_crash_looping_canary_pod_aborts() -> None:
    md = canary_md()
    md = after(md, plan(md))
    result = plan(md, stable=4, canary=1, ready=pods(NEW, 1, ready=False, restarts=3), now=later(10))
    assert result.status["failedVersions"][0]["cause"] == c.CAUSE_CRASH_LOOP
    assert SLOT_B in result.scale_to_zero


def test_a_canary_pod_that_rejects_the_version_for_good_aborts_at_once() -> None:
    md = canary_md()
    md = after(md, plan(md))
    reason = "sha256 mismatch for model.onnx: expected aa, got bb"
    reported = "2026-01-01T12:00:02.345Z"
    bad = PodState(f"{NEW}-0", NEW, False, health_reason=reason, definitive=True, failed_since=reported)
    result = plan(md, canary=1, ready=(bad,), now=later(3))  # the readiness deadline is a minute away
    [failed] = result.status["failedVersions"]
    assert (failed["cause"], failed["reason"]) == (c.CAUSE_VERIFICATION_FAILED, reason)
    assert failed["reportedAt"] == reported
    assert SLOT_B in result.scale_to_zero and result.canary_deployment is None
    assert replicas(result.deployment) == 4 and builders.template_version(result.deployment) == STABLE
    assert result.status["canary"]["phase"] == "Aborted"
    assert c.EVENT_ROLLED_BACK in reasons(result)


def test_a_canary_pod_still_loading_or_failing_transiently_waits() -> None:
    md = canary_md()
    md = after(md, plan(md))
    loading = PodState(f"{NEW}-0", NEW, False, health_reason="model is loading", loading=True)
    missing = PodState(
        f"{NEW}-0", NEW, False, health_reason="no such file", failed_since="2026-01-01T12:00:02Z"
    )
    for pod in (loading, missing):
        assert "failedVersions" not in plan(md, canary=1, ready=(pod,), now=later(3)).status


def test_a_canary_pod_never_ready_fails_at_the_readiness_deadline() -> None:
    md = canary_md()
    md = after(md, plan(md))
    unready = pods(NEW, 1, ready=False)
    assert "failedVersions" not in plan(md, canary=1, ready=unready, now=later(59)).status
    result = plan(md, canary=1, ready=unready, now=later(61))
    assert result.status["failedVersions"][0]["cause"] == c.CAUSE_READINESS_TIMEOUT


def test_a_restarted_operator_continues_the_same_step() -> None:
    """Two operators reading the same status and cluster decide the same: nothing lives in memory."""
    md, result = at_first_step()
    md = after(md, result)
    first = plan(copy.deepcopy(md), stable=3, canary=1, ready=pods(NEW, 1), now=later(35))
    second = plan(copy.deepcopy(md), stable=3, canary=1, ready=pods(NEW, 1), now=later(35))
    assert first.status == second.status and first.canary_deployment == second.canary_deployment
    assert first.status["canary"]["stepStartedAt"] == "2026-01-01T12:00:20Z", "the pause is not restarted"
    assert first.events == []


def test_after_an_abort_the_idle_canary_slot_is_kept_at_zero() -> None:
    md, aborted = annotated_while_paused(ABORT_ANNOTATION, NEW)
    md = after(md, aborted)
    md["metadata"]["annotations"] = {}
    # The scale-down did not apply (operator stopped): the next reconcile scales the canary to 0 again.
    again = plan(md, stable=4, canary=1, ready=pods(NEW, 1), now=later(31))
    assert SLOT_B in again.scale_to_zero


def test_the_first_version_is_rolled_out_pod_by_pod() -> None:
    md = model_deployment(NEW, replicas=4, rollout={"strategy": "Canary", "steps": STEPS})
    result = reconcile.plan(Observed(md=md, now=T0, target_mv=model_version(NEW)), SETTINGS)
    assert result.canary_deployment is None and result.deployment is not None
    assert "canary" not in result.status


def test_a_paused_canary_is_not_polled() -> None:
    _, result = paused()
    assert result.requeue_after is None, "an approval arrives as a watch event on the annotation"


def test_scaled_to_zero_is_not_a_canary() -> None:
    md = canary_md()
    md["spec"]["replicas"] = 0
    result = plan(md, stable=0)
    assert result.canary_deployment is None and "canary" not in result.status


def test_a_refused_canary_goes_on_once_the_spec_is_fixed() -> None:
    md = canary_md()
    md = after(md, plan(md))
    md["spec"]["rollout"]["steps"] = [{"weight": 10, "pauseSeconds": 30}]
    refused = plan(md, canary=1, now=later(5))
    assert refused.status["canary"]["phase"] == "Refused" and SLOT_B in refused.scale_to_zero
    md = after(md, refused)
    md["spec"]["rollout"]["steps"] = STEPS
    fixed = plan(md, canary=0, now=later(10))
    assert fixed.status["canary"]["phase"] == "Progressing" and replicas(fixed.canary_deployment) == 1
    assert cond(fixed, c.DEGRADED)["status"] == "False"


def test_switching_back_to_rolling_update_stops_the_canary() -> None:
    md, result = at_first_step()
    md = after(md, result)
    md["spec"]["rollout"] = {"strategy": "RollingUpdate"}
    stopped = reconcile.plan(
        Observed(
            md=md,
            now=later(30),
            target_mv=model_version(NEW),
            stable_mv=model_version(STABLE),
            deployment=done(STABLE, 3),
            other_deployment=done(NEW, 1),
            pods=pods(STABLE, 3) + pods(NEW, 1),
        ),
        SETTINGS,
    )
    assert SLOT_B in stopped.scale_to_zero and stopped.canary_deployment is None
    assert builders.template_version(stopped.deployment) == NEW, "rolled out pod by pod instead"
    assert stopped.status["canary"]["phase"] == "Stopped"
