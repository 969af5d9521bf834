"""The Shadow strategy's pure plan, transition by transition: start, mirror, reject, pass, hold, restart."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from modelops.vocabulary import ABORT_ANNOTATION
from modelops_operator import builders, reconcile
from modelops_operator import conditions as c
from modelops_operator.settings import Settings
from modelops_operator.state import Observed, PodState, ShadowObserved
from support.operator_objects import T0, later, model_deployment, model_version
from support.reconcile_scenes import after, done, stable_status

SETTINGS = Settings()
NAME = "safety-classifier-production"
SHADOW = f"{NAME}-shadow"
STABLE, NEW = "v1.1.0", "v1.2.0"
IP = "10.96.0.42"
SPEC = {"sampleFraction": 0.5, "durationSeconds": 60, "minRequests": 50}


def stable_pods(count: int = 2) -> tuple[PodState, ...]:
    return tuple(PodState(f"stable-{i}", STABLE, True) for i in range(count))


def shadow_md(analysis: dict[str, Any] | None = None, **shadow: Any) -> dict[str, Any]:
    rollout = {"strategy": "Shadow", "shadow": {**SPEC, **shadow}}
    md = model_deployment(NEW, status=stable_status(STABLE), rollout=rollout)
    if analysis is not None:
        md["spec"]["rollback"]["analysis"] = analysis
    return md


def counts(agree: int, disagree: int, error: int = 0, delta: float = 0.0) -> dict[str, float]:
    return {"agree": agree, "disagree": disagree, "error": error, "dropped": 0, "deltaSum": delta}


def plan(
    md: dict[str, Any],
    *,
    candidate: bool = False,
    samples: dict[str, dict[str, float]] | None = None,
    now: datetime = T0,
) -> reconcile.Plan:
    """One reconcile; `candidate`: its Deployment has a ready pod and its Service an IP."""
    status = md.get("status") or {}
    observed = ShadowObserved(
        deployment=done(NEW, 1) if candidate else None,
        pods=(PodState(f"{SHADOW}-0", NEW, candidate),),
        service_ip=IP if candidate else None,
        samples=samples or {},
    )
    deployed = status.get("stableVersion", STABLE)
    obs = Observed(
        md=md,
        now=now,
        target_mv=model_version(md["spec"]["version"]),
        stable_mv=model_version(STABLE),
        deployment=done(deployed if md["spec"]["version"] != deployed else NEW, 2),
        pods=stable_pods(),
        shadow=observed,
    )
    return reconcile.plan(obs, SETTINGS)


def kinds(result: reconcile.Plan) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in result.objects}


def mirroring(md: dict[str, Any]) -> dict[str, Any]:
    """Started, then the candidate ready: the stable pods mirror from T0+10s."""
    md = after(md, plan(md))
    return after(md, plan(md, candidate=True, now=later(10)))


def judged(md: dict[str, Any], agree: int, disagree: int, delta: float = 0.0) -> reconcile.Plan:
    samples = {"stable-0": counts(agree // 2, disagree // 2, delta=delta / 2)}
    samples["stable-1"] = counts(agree - agree // 2, disagree - disagree // 2, delta=delta / 2)
    return plan(md, candidate=True, samples=samples, now=later(71))


def test_start_runs_the_candidate_beside_the_stable_without_user_traffic() -> None:
    result = plan(shadow_md())
    objects = kinds(result)
    candidate = objects["Deployment"]
    assert candidate["metadata"]["name"] == SHADOW and builders.template_version(candidate) == NEW
    assert builders.template_version(result.deployment) == STABLE
    user_selector = (result.service or {})["spec"]["selector"]
    labels = candidate["spec"]["template"]["metadata"]["labels"]
    assert not user_selector.items() <= labels.items(), "the user-facing Service must not select it"
    assert objects["Service"]["spec"]["selector"].items() <= labels.items()
    command = candidate["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--shadow-config-file" not in command, "the candidate must not mirror to itself"
    assert "ConfigMap" not in objects, "no target before the candidate is ready"
    assert result.status["shadow"]["phase"] == "Starting"


def test_a_ready_candidate_gets_the_operator_computed_target_and_the_stable_pods_are_nudged() -> None:
    md = shadow_md()
    result = plan(after(md, plan(md)), candidate=True, now=later(10))
    target = json.loads(kinds(result)["ConfigMap"]["data"]["target.json"])
    assert target["url"] == f"http://{IP}:8080/api/v1/ml-models/safety_classifier/predict"
    assert target["version"] == NEW and target["sampleFraction"] == 0.5
    assert set(result.pod_annotations) == {"stable-0", "stable-1"}
    assert c.EVENT_SHADOW_STARTED in [e.reason for e in result.events]
    assert result.status["shadow"]["endsAt"] == "2026-01-01T12:01:10Z"
    assert result.requeue_at is not None and result.requeue_at <= later(15)
    assert result.spec_patch is None and builders.template_version(result.deployment) == STABLE


def test_a_candidate_that_disagrees_on_30_percent_is_rejected_through_the_rollback_path() -> None:
    md = mirroring(shadow_md())
    result = judged(md, agree=70, disagree=30)
    assert result.spec_patch is not None and result.spec_patch[-1]["value"] == STABLE
    assert builders.template_version(result.deployment) == STABLE, "the stable is left as it runs"
    failed = result.status["failedVersions"][-1]
    assert failed["version"] == NEW and "agreement 70.0%" in failed["reason"]
    assert failed["figures"]["disagree"] == 30
    reasons = [e.reason for e in result.events]
    assert c.EVENT_SHADOW_REJECTED in reasons and c.EVENT_ROLLED_BACK in reasons
    assert result.status["shadow"]["phase"] == "Rejected"
    assert result.scale_to_zero == [SHADOW]
    assert json.loads(kinds(result)["ConfigMap"]["data"]["target.json"]) == {}
    assert c.find(result.status["conditions"], c.DEGRADED)["reason"] == c.REASON_ROLLED_BACK  # type: ignore[index]


def test_an_equivalent_candidate_passes_and_is_rolled_out_with_then() -> None:
    md = mirroring(shadow_md())
    result = judged(md, agree=99, disagree=1, delta=0.5)
    assert result.status["shadow"]["phase"] == "Passed"
    assert builders.template_version(result.deployment) == NEW, "then: RollingUpdate replaces the pods"
    assert c.EVENT_SHADOW_PASSED in [e.reason for e in result.events]
    assert result.scale_to_zero == [SHADOW] and result.spec_patch is None
    again = plan(after(md, result), now=later(72))  # the next reconcile: no shadow work any more
    assert again.scale_to_zero == [] and again.objects == []


def test_then_canary_starts_the_canary_after_the_shadow() -> None:
    md = shadow_md(then="Canary")
    md["spec"]["rollout"]["steps"] = [{"weight": 50, "pauseSeconds": 10}]
    result = judged(mirroring(md), agree=100, disagree=0)
    assert result.canary_deployment is not None
    assert result.canary_deployment["metadata"]["name"] == f"{NAME}-b"


def test_before_the_duration_ends_nothing_is_decided() -> None:
    md = mirroring(shadow_md())
    samples = {"stable-0": counts(0, 100)}
    result = plan(md, candidate=True, samples=samples, now=later(40))
    assert result.status["shadow"]["phase"] == "Mirroring" and result.spec_patch is None
    assert result.status["shadow"]["figures"]["agreement"] == 0.0


@pytest.mark.parametrize(
    ("policy", "phase", "reverted"),
    [("Hold", "Held", False), ("Rollback", "Rejected", True), ("Promote", "Passed", False)],
)
def test_too_few_mirrored_texts_is_inconclusive_and_the_policy_decides(
    policy: str, phase: str, reverted: bool
) -> None:
    md = mirroring(shadow_md({"inconclusive": policy}))
    result = judged(md, agree=10, disagree=0)
    assert result.status["shadow"]["phase"] == phase
    assert (result.spec_patch is not None) == reverted
    assert "Inconclusive" in result.status["shadow"]["message"]


def test_max_score_delta_and_min_agreement_come_from_the_analysis() -> None:
    md = mirroring(shadow_md({"minAgreement": 0.5, "maxScoreDelta": 0.05}))
    result = judged(md, agree=60, disagree=40, delta=10.0)  # mean delta 0.1
    reason = result.status["failedVersions"][-1]["reason"]
    assert "maxScoreDelta 0.05" in reason and "minAgreement" not in reason


def test_an_operator_restart_mid_shadow_reaches_the_same_verdict() -> None:
    md = mirroring(shadow_md())
    mid = plan(
        md, candidate=True, samples={"stable-0": counts(35, 15), "stable-1": counts(35, 15)}, now=later(40)
    )
    restarted = after(md, mid)  # a new operator reads only this status; stable-1 is gone meanwhile
    result = plan(restarted, candidate=True, samples={"stable-0": counts(35, 15)}, now=later(71))
    assert result.status["shadow"]["figures"]["disagree"] == 30, "a gone pod's counters are kept"
    assert result.status["shadow"]["phase"] == "Rejected"
    replay = plan(restarted, candidate=True, samples={"stable-0": counts(35, 15)}, now=later(71))
    assert replay.status == result.status


def test_abort_annotation_rejects_the_shadow() -> None:
    md = mirroring(shadow_md())
    md["metadata"]["annotations"] = {ABORT_ANNOTATION: NEW}
    result = plan(md, candidate=True, now=later(20))
    assert result.status["failedVersions"][-1]["cause"] == c.CAUSE_ABORTED
    assert result.status["shadow"]["phase"] == "Rejected"


def test_a_crash_looping_candidate_is_rejected() -> None:
    md = after(shadow_md(), plan(shadow_md()))
    obs_pods = (PodState(f"{SHADOW}-0", NEW, False, restarts=SETTINGS.crashloop_restarts),)
    obs = Observed(
        md=md, now=later(5), target_mv=model_version(NEW), stable_mv=model_version(STABLE),
        deployment=done(STABLE, 2), pods=stable_pods(), shadow=ShadowObserved(pods=obs_pods),
    )  # fmt: skip
    result = reconcile.plan(obs, SETTINGS)
    assert result.status["failedVersions"][-1]["cause"] == c.CAUSE_CRASH_LOOP
    assert result.spec_patch is not None


def test_changing_the_strategy_mid_shadow_tears_it_down() -> None:
    md = mirroring(shadow_md())
    md["spec"]["rollout"] = {"strategy": "RollingUpdate"}
    result = plan(md, candidate=True, now=later(20))
    assert result.status["shadow"]["phase"] == "Stopped"
    assert result.scale_to_zero == [SHADOW]
    assert builders.template_version(result.deployment) == NEW


def test_a_retried_version_counts_only_what_was_mirrored_since_its_target_was_written() -> None:
    md = shadow_md()
    md = after(md, plan(md))
    earlier = {"stable-0": counts(0, 500), "stable-1": counts(0, 500)}  # left by a rejected attempt
    md = after(md, plan(md, candidate=True, samples=earlier, now=later(10)))
    grown = {"stable-0": counts(60, 500), "stable-1": counts(40, 500)}
    result = plan(md, candidate=True, samples=grown, now=later(71))
    assert (
        result.status["shadow"]["figures"]["disagree"] == 0 and result.status["shadow"]["phase"] == "Passed"
    )


def test_a_first_version_has_nothing_to_be_compared_with_and_rolls_out_pod_by_pod() -> None:
    md = model_deployment(STABLE, rollout={"strategy": "Shadow", "shadow": SPEC})
    result = reconcile.plan(Observed(md=md, now=T0, target_mv=model_version(STABLE)), SETTINGS)
    assert "shadow" not in result.status and result.objects == []
    assert builders.template_version(result.deployment) == STABLE


def test_every_server_pod_mounts_the_operator_s_target_and_a_user_env_cannot_move_it() -> None:
    env = [{"name": "MODELOPS_SERVER_SHADOW_CONFIG_FILE", "value": "/tmp/mine.json"}]
    md = model_deployment(STABLE, server={"env": env})
    pod = builders.build_deployment(md, model_version(STABLE), SETTINGS)["spec"]["template"]["spec"]
    command = pod["containers"][0]["command"]
    at = command.index("--shadow-config-file")  # a flag wins over the variable (click)
    assert command[at + 1] == f"{builders.SHADOW_DIR}/{builders.SHADOW_FILE}"
    volume = next(v for v in pod["volumes"] if v["name"] == builders.SHADOW_VOLUME)
    assert volume["configMap"] == {"name": SHADOW, "optional": True}
