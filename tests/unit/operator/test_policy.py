"""The platform policy: parsing, each rule, the hostile-spec table, and a refused spec creating nothing."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from modelops_operator import builders, observe, policy, reconcile
from modelops_operator import conditions as c
from modelops_operator.analysis.stored import StoredAnalysis
from modelops_operator.policy import Policy, PolicyError
from modelops_operator.settings import Settings, SettingsError, from_env
from modelops_operator.spec import ModelDeploymentSpec
from modelops_operator.state import Observed
from support.hostile_specs import POLICY, TABLE, Hostile, model_deployment_for, model_version_for
from support.operator_objects import T0
from support.tools import CHART_DIR, helm_path, run_tool

STRICT = Policy.from_mapping(POLICY)
DEFAULT_IMAGE = "localhost/modelops-server:dev"


@pytest.mark.parametrize("row", TABLE, ids=[r.name for r in TABLE])
def test_every_hostile_spec_is_refused_naming_its_field(row: Hostile) -> None:
    index = TABLE.index(row)
    md, mv = model_deployment_for(row, index, "team-a"), model_version_for(row, index, "team-a")
    found = policy.check(md, mv, STRICT, DEFAULT_IMAGE)
    assert found is not None, row
    assert row.field in found.field, found
    assert "allowed" in found.message and row.field in found.message


def test_the_table_has_at_least_25_rows_and_the_clean_objects_pass() -> None:
    assert len(TABLE) >= 25
    clean = Hostile("clean", "md", {}, "")
    md, mv = model_deployment_for(clean, 0, "team-a"), model_version_for(clean, 0, "team-a")
    assert policy.check(md, mv, STRICT, DEFAULT_IMAGE) is None


def test_defaults_allow_only_the_models_dir_https_and_the_default_image() -> None:
    default = Policy()
    assert policy.host_path_allowed("/app/models", default.host_paths)
    assert policy.host_path_allowed("/app/models/safety_classifier", default.host_paths)
    assert not policy.host_path_allowed("/app/models2", default.host_paths)
    assert not policy.host_path_allowed("relative/models", default.host_paths)
    store = {"type": "package", "url": "http://x/m.tar.gz"}
    assert policy.storage_violation(store, default, "spec.storage") is not None
    assert policy.storage_violation({**store, "url": "https://x/m.tar.gz"}, default, "spec.storage") is None
    assert policy.storage_violation({"type": "pvc", "claimName": "m"}, default, "spec.storage") is None
    md = model_deployment_for(Hostile("img", "md", {"server": {"image": "other:1"}}, ""), 1, "ns")
    found = policy.check(md, None, default, DEFAULT_IMAGE)
    assert found is not None and found.allowed == DEFAULT_IMAGE


@pytest.mark.parametrize(
    ("image", "allowed"),
    [
        ("registry.example.com/modelops-server:v2", True),
        ("registry.example.com/modelops-server@sha256:" + "a" * 64, False),
        ("registry.example.com/modelops-server", False),
    ],
)
def test_image_prefixes_end_in_a_separator(image: str, allowed: bool) -> None:
    assert policy.image_allowed(image, STRICT.images) is allowed


def test_signature_can_be_required_per_namespace() -> None:
    only_b = Policy(require_signature_namespaces=("team-b",))
    unsigned = Hostile("u", "mv", {}, "", {"signature": None})
    for namespace, refused in (("team-a", False), ("team-b", True)):
        md = model_deployment_for(unsigned, 1, namespace)
        found = policy.check(md, model_version_for(unsigned, 1, namespace), only_b, DEFAULT_IMAGE)
        assert (found is not None) is refused


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"hostPath": ["/x"]}, "unknown policy keys"),
        ({"hostPaths": "/x"}, "policy.hostPaths"),
        ({"hostPaths": ["x"]}, "absolute"),
        ({"hostPaths": ["/a/../b"]}, "absolute"),
        ({"allowPVC": "yes"}, "policy.allowPVC"),
        ({"metricsAuthSecret": ["m"]}, "policy.metricsAuthSecret"),
        ({"metricsAuthSecret": "Bad_Name"}, "policy.metricsAuthSecret"),
    ],
)
def test_bad_policy_settings_are_refused_at_start_up(raw: dict[str, object], words: str) -> None:
    with pytest.raises(PolicyError, match=words.replace(".", r"\.")):
        Policy.from_mapping(raw)
    with pytest.raises(SettingsError, match="MODELOPS_OPERATOR_POLICY"):
        from_env({"MODELOPS_OPERATOR_POLICY": json.dumps(raw)})


def test_policy_round_trips_through_the_environment() -> None:
    settings = from_env({"MODELOPS_OPERATOR_POLICY": json.dumps(POLICY)})
    assert settings.platform_policy == STRICT
    assert STRICT.as_mapping() == {**Policy().as_mapping(), **POLICY}


def test_a_refused_spec_plans_nothing_and_reports_policy_violation() -> None:
    row = next(r for r in TABLE if r.name == "hostPath /var/lib/kubelet")
    md, mv = model_deployment_for(row, 1, "team-a"), model_version_for(row, 1, "team-a")
    md["metadata"].update(uid="u-1", generation=1)
    settings = Settings(policy=POLICY)
    plan = reconcile.plan(Observed(md=md, now=T0, target_mv=mv, stable_mv=None, deployment=None), settings)
    assert (plan.deployment, plan.service, plan.spec_patch) == (None, None, None)
    degraded = c.find(plan.status["conditions"], c.DEGRADED)
    assert degraded is not None and (degraded["status"], degraded["reason"]) == ("True", "PolicyViolation")
    assert (
        "spec.storage.path: '/var/lib/kubelet'" in degraded["message"]
        and "/app/models" in degraded["message"]
    )
    assert [e.reason for e in plan.events] == ["PolicyViolation"]
    assert plan.status["phase"] == "Degraded"


def _render_chart(*sets: str) -> list[dict[str, Any]]:
    args: list[Any] = [helm_path(), "template", "mo", CHART_DIR]
    for item in sets:
        args += ["--set", item]
    return [d for d in yaml.safe_load_all(run_tool(args).stdout) if d]


def test_chart_default_policy_is_the_operator_default_with_the_chart_image() -> None:
    docs = _render_chart()
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    settings = from_env({k: v for k, v in env.items() if k.startswith("MODELOPS_OPERATOR_")})
    assert settings.platform_policy == Policy()
    policies = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"]
    (md_policy,) = [d for d in policies if d["metadata"]["name"] == "mo-modelops-modeldeployments"]
    variables = {v["name"]: v["expression"] for v in md_policy["spec"]["variables"]}
    assert json.loads(variables["images"]) == [settings.default_server_image]
    protected = set(re.findall(r"'(MODELOPS_SERVER_\w+)'", variables["protectedEnv"]))
    assert protected == policy.PROTECTED_ENV


def test_admission_binds_to_the_watched_namespaces() -> None:
    docs = _render_chart("operator.watchNamespaces={team-a,team-b}")
    bindings = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert len(bindings) == 3, "two for the platform policy, one for in-use ModelVersions"
    for binding in bindings:
        (expression,) = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
        assert expression["values"] == ["team-a", "team-b"]
    off = _render_chart("admissionPolicy.enabled=false", "admissionPolicy.protectInUseVersions=false")
    assert not [d for d in off if "Admission" in d["kind"]]


def test_trusted_fingerprints_reach_the_server_of_signed_models_only() -> None:
    fingerprint = "ab" * 32
    settings = Settings(policy={"trustedKeyFingerprints": [fingerprint]})
    clean = Hostile("clean", "md", {}, "")
    md, mv = model_deployment_for(clean, 1, "team-a"), model_version_for(clean, 1, "team-a")
    md["metadata"].update(uid="u-1")
    env = builders.build_deployment(md, mv, settings)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "MODELOPS_SERVER_TRUSTED_KEYS", "value": fingerprint} in env
    del mv["spec"]["artifact"]["signature"]
    env = builders.build_deployment(md, mv, settings)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "MODELOPS_SERVER_TRUSTED_KEYS" not in {e["name"] for e in env}
    with pytest.raises(PolicyError, match="sha256"):
        Policy.from_mapping({"trustedKeyFingerprints": ["ABC"]})


def test_the_operator_never_queries_a_prometheus_url_outside_the_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queried: list[str] = []

    def collect(kube: Any, md: dict[str, Any], *_: Any, **__: Any) -> str:
        queried.append(md["spec"]["version"])
        return "samples"

    monkeypatch.setattr(observe.promotion, "collect", collect)
    row = next(r for r in TABLE if r.name == "prometheus at cloud metadata")
    md = model_deployment_for(row, 3, "team-a")
    spec = ModelDeploymentSpec.of(md)
    assert (
        observe._samples(None, md, spec, Settings(policy=POLICY), (), stored=StoredAnalysis(), now=T0) is None
    )  # type: ignore[arg-type]
    assert queried == []
    allowed = {**POLICY, "prometheusURLs": ["http://169.254.169.254/"]}
    assert (
        observe._samples(None, md, spec, Settings(policy=allowed), (), stored=StoredAnalysis(), now=T0)
        == "samples"
    )  # type: ignore[arg-type]
    assert queried == ["v1.3.0"]


def test_decryption_key_secrets_are_off_by_default_and_named_when_refused() -> None:
    storage = {
        "type": "package",
        "url": "https://models.example.com/m.tar.gz.enc",
        "decryptionKeySecret": {"name": "model-key"},
    }
    found = policy.storage_violation(storage, Policy(), "spec.storage")
    assert found is not None and found.field == "spec.storage.decryptionKeySecret.name"
    assert found.allowed == "none"
    allowed = Policy(decryption_key_secrets=("model-key",))
    assert policy.storage_violation(storage, allowed, "spec.storage") is None


def test_an_unlisted_decryption_key_plans_nothing_and_reports_policy_violation() -> None:
    row = next(r for r in TABLE if r.name == "untrusted decryption key Secret")
    md, mv = model_deployment_for(row, 1, "team-a"), model_version_for(row, 1, "team-a")
    md["metadata"].update(uid="u-1", generation=1)
    plan = reconcile.plan(
        Observed(md=md, now=T0, target_mv=mv, stable_mv=None, deployment=None), Settings(policy=POLICY)
    )
    assert (plan.deployment, plan.service, plan.spec_patch) == (None, None, None)
    degraded = c.find(plan.status["conditions"], c.DEGRADED)
    assert degraded is not None and (degraded["status"], degraded["reason"]) == ("True", "PolicyViolation")
    assert "spec.storage.decryptionKeySecret.name: 'db-password'" in degraded["message"]
    assert "platform-model-key" in degraded["message"]
