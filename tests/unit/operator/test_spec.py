"""The typed ModelDeployment and ModelVersion spec: defaults as the CRD's, every field read, a stored spec
that the CRD would refuse today named by its field, and parsed once per reconcile."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops_operator import reconcile
from modelops_operator.analysis import Thresholds
from modelops_operator.rollback_spec import RollbackSpec
from modelops_operator.rollout_strategy import RolloutSpec
from modelops_operator.settings import Settings
from modelops_operator.spec import ModelDeploymentSpec, ModelVersionSpec, SecretKey, ServerSpec
from modelops_operator.state import DeploymentState, Observed
from support.operator_objects import T0, model_deployment, model_version

CRD = Path(__file__).resolve().parents[3] / "crds" / "modeldeployments.yaml"
SETTINGS = Settings()


def minimal() -> dict[str, Any]:
    return {"spec": {"model": "safety_classifier", "environment": "staging", "version": "1.2.0"}}


def with_spec(**fields: Any) -> dict[str, Any]:
    md = minimal()
    md["spec"].update(fields)
    return md


def test_a_minimal_spec_reads_as_the_crd_defaults() -> None:
    spec = ModelDeploymentSpec.of(minimal())
    crd = yaml.safe_load(CRD.read_text())
    fields = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec.replicas == fields["replicas"]["default"]
    assert (spec.version, spec.version_text) == ("v1.2.0", "1.2.0")
    assert spec.server == ServerSpec() and spec.storage is None
    assert spec.rollout == RolloutSpec() and spec.rollback == RollbackSpec()
    assert spec.analysis is None and spec.promotion is None


def test_every_field_is_read() -> None:
    md = with_spec(
        replicas=3,
        server={
            "image": "registry.example/server:1",
            "imagePullPolicy": "Always",
            "threads": 4,
            "startupSeconds": 90,
            "batching": {"maxBatchSize": 8, "maxBatchDelayMs": 5},
            "authSecret": {"name": "api-token"},
            "resources": {"limits": {"cpu": "2"}},
            "env": [{"name": "MODELOPS_SERVER_X", "value": "1"}],
        },
        storage={"type": "hostPath", "path": "/models"},
        rollout={"strategy": "Canary", "steps": [{"weight": 50, "pauseSeconds": 30}]},
        rollback={"mode": "Hold", "analysis": {"maxErrorRate": 0.1, "inconclusive": "Hold"}},
        promotion={"requires": [{"environment": "staging", "healthyForSeconds": 60}]},
    )
    spec = ModelDeploymentSpec.of(md)
    server = spec.server
    assert (server.image, server.image_pull_policy, server.threads) == (
        "registry.example/server:1",
        "Always",
        4,
    )
    assert (server.startup_seconds, server.max_batch_size, server.max_batch_delay_ms) == (90, 8, 5)
    assert server.auth_secret == SecretKey("api-token", "token")
    assert server.resources == {"limits": {"cpu": "2"}} and server.env[0].name == "MODELOPS_SERVER_X"
    assert spec.storage == {"type": "hostPath", "path": "/models"} and spec.replicas == 3
    assert spec.rollout.canary and spec.rollback.hold
    assert spec.analysis == Thresholds(max_error_rate=0.1, inconclusive="Hold")
    assert spec.promotion is not None and spec.promotion.requires[0].healthy_for_seconds == 60


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"model": "safety__classifier"}, "spec.model"),
        ({"environment": "Prod"}, "spec.environment"),
        ({"version": "latest"}, "spec.version"),
        ({"version": None}, "spec.version is required"),
        ({"replicas": 101}, "spec.replicas must be 0..100"),
        ({"replicas": "2"}, "spec.replicas must be an integer"),
        ({"server": {"imagePullPolicy": "Sometimes"}}, "spec.server.imagePullPolicy"),
        ({"server": {"threads": 0}}, "spec.server.threads must be 1..64"),
        ({"server": {"batching": {"maxBatchDelayMs": 5000}}}, "spec.server.batching.maxBatchDelayMs"),
        ({"server": {"authSecret": {"key": "t"}}}, "spec.server.authSecret.name is required"),
        ({"server": {"env": [{"name": "1X"}]}}, "spec.server.env[0].name"),
        ({"server": "fast"}, "spec.server must be an object"),
        ({"rollout": {"strategy": "BlueGreen"}}, "spec.rollout.strategy"),
        ({"rollback": {"mode": "Revert"}}, "spec.rollback.mode"),
        ({"rollback": {"progressDeadlineSeconds": 5}}, "spec.rollback.progressDeadlineSeconds"),
        ({"rollback": {"analysis": {"inconclusive": "Abort"}}}, "spec.rollback.analysis.inconclusive"),
        ({"rollback": {"analysis": {"maxErrorRate": "high"}}}, "spec.rollback.analysis"),
        ({"promotion": {"requires": [{}]}}, "spec.promotion"),
    ],
)
def test_a_stored_spec_the_crd_refuses_is_named_by_its_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=r"^" + field.replace(".", r"\.").replace("[", r"\[")):
        ModelDeploymentSpec.of(with_spec(**fields))


def test_a_model_version_spec_is_typed_and_checked() -> None:
    mv = model_version("v1.1.0")
    spec = ModelVersionSpec.of(mv)
    assert (spec.model, spec.version) == (mv["spec"]["model"], "v1.1.0")
    assert spec.sha256 == mv["spec"]["artifact"]["sha256"] and spec.signature is None
    signed = copy.deepcopy(mv)
    signed["spec"]["artifact"]["signature"] = {"publicKeySecret": "keys"}
    assert ModelVersionSpec.of(signed).signature is not None
    assert ModelVersionSpec.of(signed).signature.public_key_key == "public.pem"  # type: ignore[union-attr]
    del signed["spec"]["artifact"]["sha256"]
    with pytest.raises(ValueError, match=r"^spec\.artifact\.sha256 is required"):
        ModelVersionSpec.of(signed)


def test_an_invalid_stored_spec_stops_the_reconcile_before_any_plan() -> None:
    """The work queue then reports it on the object (integration: test_reconcile_containment)."""
    md = model_deployment("v1.1.0", rollback={"mode": "Revert"})
    with pytest.raises(ValueError, match=r"^spec\.rollback\.mode must be RevertSpec or Hold, not 'Revert'"):
        Observed(md=md, now=T0, target_mv=model_version("v1.1.0"))


def test_the_spec_is_parsed_once_per_reconcile(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    original = ModelDeploymentSpec.of.__func__  # type: ignore[attr-defined]

    def counting(cls: type[ModelDeploymentSpec], md: dict[str, Any]) -> ModelDeploymentSpec:
        parsed.append(md["metadata"]["name"])
        return original(cls, md)  # type: ignore[no-any-return]

    monkeypatch.setattr(ModelDeploymentSpec, "of", classmethod(counting))
    md = model_deployment("v1.1.0", status={"stableVersion": "v1.0.0", "servingVersion": "v1.0.0"})
    dep = DeploymentState(version="v1.0.0", replicas=2, status_replicas=2, updated=2, ready=2, available=2)
    obs = Observed(
        md=md, now=T0, target_mv=model_version("v1.1.0"), stable_mv=model_version("v1.0.0"), deployment=dep
    )
    plan = reconcile.plan(obs, SETTINGS)
    assert plan.deployment is not None and plan.service is not None
    assert len(parsed) == 1, "Observed parses the spec; the plan, builders and policy read that view"
