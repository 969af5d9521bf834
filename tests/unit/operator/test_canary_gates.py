"""The Canary strategy's gates in the pure plan: weights the replicas can serve (or refuse, naming the
field), manual pauses, and the promote/abort annotations."""

from __future__ import annotations

from modelops.vocabulary import ABORT_ANNOTATION, PROMOTE_ANNOTATION
from modelops_operator import builders
from modelops_operator import conditions as c
from support.canary_scenes import (
    NEW,
    SLOT_B,
    STABLE,
    annotated_while_paused,
    canary_md,
    paused,
    plan,
    replicas,
)
from support.operator_objects import later
from support.reconcile_scenes import after, cond, pods, reasons


def test_a_weight_the_replicas_cannot_approach_is_refused_naming_the_field() -> None:
    md = canary_md([{"weight": 10, "pauseSeconds": 30}])
    result = plan(md)
    degraded = cond(result, c.DEGRADED)
    assert degraded["reason"] == c.REASON_INVALID_SPEC
    assert "spec.rollout.steps[0].weight: asked 10%, serving 1/4 = 25%" in degraded["message"]
    assert result.canary_deployment is None
    assert builders.template_version(result.deployment) == STABLE and replicas(result.deployment) == 4


def test_allow_coarse_weights_serves_the_nearest_split() -> None:
    md = canary_md([{"weight": 10, "pauseSeconds": 30}], allowCoarseWeights=True)
    result = plan(md)
    assert replicas(result.canary_deployment) == 1
    assert result.status["canary"]["weight"]["servingPercent"] == 25


def test_the_tolerance_is_configurable() -> None:
    md = canary_md([{"weight": 20, "pauseSeconds": 30}], weightTolerance=5)
    assert plan(md).canary_deployment is not None  # 25 % is 5 points off
    md = canary_md([{"weight": 20, "pauseSeconds": 30}], weightTolerance=4)
    assert plan(md).canary_deployment is None


def test_a_manual_pause_waits_for_the_promote_annotation() -> None:
    md, result = paused()
    assert result.status["canary"]["phase"] == "Paused"
    assert result.status["canary"]["step"] == 1
    progressing = cond(result, c.PROGRESSING)
    assert progressing["reason"] == c.REASON_PAUSED
    assert f"{PROMOTE_ANNOTATION}={NEW}" in progressing["message"]
    assert c.EVENT_CANARY_PAUSED in reasons(result)
    md = after(md, result)
    still = plan(md, stable=3, canary=1, ready=pods(NEW, 1), now=later(3600))
    assert still.status["canary"]["phase"] == "Paused" and still.events == []


def test_the_promote_annotation_ends_the_pause() -> None:
    _, approved = annotated_while_paused(PROMOTE_ANNOTATION, NEW)
    assert PROMOTE_ANNOTATION in approved.remove_annotations
    assert c.EVENT_PROMOTE_REQUESTED in reasons(approved)
    assert approved.status["canary"]["phase"] == "Promoting"
    assert replicas(approved.canary_deployment) == 4


def test_the_abort_annotation_aborts_through_the_rollback_path() -> None:
    _, aborted = annotated_while_paused(ABORT_ANNOTATION, NEW)
    assert ABORT_ANNOTATION in aborted.remove_annotations
    assert aborted.status["failedVersions"][0]["cause"] == c.CAUSE_ABORTED
    assert SLOT_B in aborted.scale_to_zero and replicas(aborted.deployment) == 4
    assert c.EVENT_ABORT_REQUESTED in reasons(aborted) and c.EVENT_ROLLED_BACK in reasons(aborted)


def test_an_annotation_for_another_version_is_removed_and_ignored() -> None:
    _, ignored = annotated_while_paused(ABORT_ANNOTATION, "v9.9.9")
    assert ABORT_ANNOTATION in ignored.remove_annotations
    assert "failedVersions" not in ignored.status and ignored.status["canary"]["phase"] == "Paused"
