"""`spec.rollout` parsed once: defaults, the rules the CRD states too, and weights as replica ratios."""

from __future__ import annotations

from typing import Any

import pytest

from modelops_operator.rollout_strategy import RolloutSpec, ShadowSpec, split


def spec(**rollout: Any) -> dict[str, Any]:
    return {"spec": {"rollout": rollout}}


def test_default_is_rolling_update() -> None:
    parsed = RolloutSpec.of({"spec": {}})
    assert parsed.strategy == "RollingUpdate" and not parsed.canary and parsed.weight_tolerance == 5


def test_canary_steps_are_typed() -> None:
    parsed = RolloutSpec.of(
        spec(strategy="Canary", steps=[{"weight": 25, "pauseSeconds": 60}, {"pause": True}])
    )
    assert parsed.canary
    assert parsed.steps[0].weight == 25 and parsed.steps[0].pause_seconds == 60
    assert parsed.steps[1].manual and parsed.weight_at(1) == 25


@pytest.mark.parametrize(
    ("rollout", "field"),
    [
        ({"strategy": "BlueGreen"}, "spec.rollout.strategy"),
        ({"strategy": "Canary"}, "spec.rollout.steps"),
        ({"strategy": "Canary", "steps": [{"weight": 50}, {"weight": 50}]}, "spec.rollout.steps[1].weight"),
        ({"strategy": "Canary", "steps": [{"weight": 0}]}, "spec.rollout.steps[0].weight"),
        ({"strategy": "Canary", "steps": [{"weight": 10, "pause": True}]}, "spec.rollout.steps[0]"),
        ({"strategy": "Canary", "steps": [{"pauseSeconds": 10}]}, "spec.rollout.steps[0]"),
    ],
)
def test_invalid_rollouts_name_the_field(rollout: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        RolloutSpec.of(spec(**rollout))


@pytest.mark.parametrize(
    ("weight", "replicas", "canary", "text"),
    [
        (25, 4, 1, "asked 25%, serving 1/4 = 25%"),
        (10, 4, 1, "asked 10%, serving 1/4 = 25%"),
        (50, 3, 2, "asked 50%, serving 2/3 = 66.6667%"),
        (100, 4, 4, "asked 100%, serving 4/4 = 100%"),
        (1, 10, 1, "asked 1%, serving 1/10 = 10%"),
    ],
)
def test_split_is_the_nearest_replica_ratio(weight: int, replicas: int, canary: int, text: str) -> None:
    served = split(weight, replicas)
    assert served.canary == canary and served.stable == replicas - canary
    assert served.describe() == text


def test_refusal_names_the_step_and_the_way_out() -> None:
    parsed = RolloutSpec.of(spec(strategy="Canary", steps=[{"weight": 25}, {"weight": 40}]))
    assert parsed.refusal(4) is not None and "spec.rollout.steps[1].weight" in (parsed.refusal(4) or "")
    assert parsed.refusal(20) is None
    coarse = RolloutSpec.of(spec(strategy="Canary", steps=[{"weight": 30}], allowCoarseWeights=True))
    assert coarse.refusal(4) is None


def test_shadow_defaults_are_in_one_place() -> None:
    parsed = RolloutSpec.of(spec(strategy="Shadow"))
    assert parsed.shadow == ShadowSpec() and parsed.shadow.then == "RollingUpdate" and not parsed.canary


def test_shadow_then_canary_needs_steps() -> None:
    with pytest.raises(ValueError, match=r"spec.rollout.steps"):
        RolloutSpec.of(spec(strategy="Shadow", shadow={"then": "Canary"}))
    parsed = RolloutSpec.of(spec(strategy="Shadow", shadow={"then": "Canary"}, steps=[{"weight": 50}]))
    assert parsed.canary


@pytest.mark.parametrize(
    ("field", "value"),
    [("sampleFraction", 0), ("sampleFraction", 1.5), ("durationSeconds", 0), ("minRequests", 0),
     ("queueSize", 0), ("then", "Shadow")],
)  # fmt: skip
def test_a_bad_shadow_field_is_named(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=rf"spec.rollout.shadow.{field}"):
        RolloutSpec.of(spec(strategy="Shadow", shadow={field: value}))
