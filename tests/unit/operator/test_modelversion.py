"""ModelVersion status: registered vs deployed per environment, in the seed's words."""

from __future__ import annotations

from modelops_operator import promotion
from modelops_operator.analysis.stored import StoredAnalysis
from modelops_operator.modelversion import plan_status
from support.operator_objects import T0, model_deployment, model_version


def test_registered_when_nothing_serves_it() -> None:
    status = plan_status(model_version("v1.0.0"), [model_deployment("v1.0.0")], T0)
    assert status["phase"] == "Registered"
    assert status["seedStatus"] == "registered"
    assert status["registeredAt"] == "2026-01-01T00:00:00Z"
    assert status["deployments"] == []


def test_deployed_in_production_wins_the_seed_status() -> None:
    staging = model_deployment(
        "1.0.0", environment="staging", status={"servingVersion": "v1.0.0", "stableVersion": "v1.0.0"}
    )
    production = model_deployment("v1.0.0", status={"servingVersion": "v1.0.0"})
    other = model_deployment("v1.1.0", environment="canary", status={"servingVersion": "v1.1.0"})
    status = plan_status(model_version("v1.0.0"), [staging, production, other], T0)
    assert status["phase"] == "Deployed"
    assert status["seedStatus"] == "deployed_production"
    assert status["deployments"] == [
        {"environment": "production", "deployment": "safety-classifier-production", "stable": False},
        {"environment": "staging", "deployment": "safety-classifier-staging", "stable": True},
    ]
    assert status["conditions"][0]["reason"] == "Deployed"


def test_promotion_is_immediate_without_analysis() -> None:
    inp = promotion.PromotionInput(stored=StoredAnalysis(), candidate="v1.1.0", stable="v1.0.0", now=T0)
    assert promotion.decide(inp).verdict == promotion.PROMOTE


def test_a_version_is_in_use_while_it_serves_or_is_stable_anywhere() -> None:
    from modelops_operator.modelversion import in_use

    mv = model_version("v1.0.0")
    serving = model_deployment("v1.0.0", status={"servingVersion": "v1.0.0", "stableVersion": "v1.0.0"})
    rolling = model_deployment("v1.1.0", status={"servingVersion": "1.1.0", "stableVersion": "v1.0.0"})
    elsewhere = model_deployment("v2.0.0", status={"servingVersion": "v2.0.0", "stableVersion": "v2.0.0"})
    other_model = model_deployment("v1.0.0", status={"servingVersion": "v1.0.0"})
    other_model["spec"]["model"] = "intent_classifier"
    assert in_use(mv, [serving]) and in_use(mv, [rolling])
    assert not in_use(mv, [elsewhere, other_model])
    assert not in_use(mv, [])
