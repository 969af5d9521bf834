"""Checks the Helm chart without a cluster: lint, rendered shapes, values schema, CRD copies, kind config.

`helm template` output is parsed and asserted on, so a template change that drops a probe, widens the
RBAC or loses a default server setting fails here before the e2e install runs. The kind config cannot run
on this machine, so its structure and paths are checked instead (and the docker-compose example's, which
tests/e2e/test_compose.py also brings up with podman-compose).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.tools import CHART_DIR, CRDS_DIR, REPO_ROOT, helm_path, run_tool

KUBE_VERSION = "v1.34.4"


def render(*overrides: str, check: bool = True) -> Any:
    args: list[str | Path] = [helm_path(), "template", "mo", CHART_DIR, "--namespace", "modelops-system"]
    args += ["--kube-version", KUBE_VERSION]
    for override in overrides:
        args += ["--set", override]
    result = run_tool(args, check=check)
    if not check:
        return result
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = by_kind(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def test_helm_lint_strict_passes() -> None:
    result = run_tool([helm_path(), "lint", "--strict", CHART_DIR])
    assert "0 chart(s) failed" in result.stdout


def test_default_render_has_the_operator_objects() -> None:
    kinds = sorted(d["kind"] for d in render())
    expected = ["ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding"]
    admission = ["ValidatingAdmissionPolicy"] * 3 + ["ValidatingAdmissionPolicyBinding"] * 3  # + in-use
    assert kinds == [*expected, "Deployment", "Service", "ServiceAccount", *admission]


def test_operator_container_runs_the_operator_with_health_probes() -> None:
    container = operator_container(render())
    assert container["image"] == "localhost/modelops-operator:dev"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["command"] == ["modelops-operator"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}, probe
    assert container["args"][0] == f"--liveness=http://0.0.0.0:{ports['health']}/healthz"


def test_server_defaults_reach_the_operator_env() -> None:
    container = operator_container(
        render("serverDefaults.image.tag=v9", "serverDefaults.startupSeconds=300", "operator.healthPort=8181")
    )
    env = env_of(container)
    assert env["MODELOPS_OPERATOR_DEFAULT_SERVER_IMAGE"] == "localhost/modelops-server:v9"
    assert env["MODELOPS_OPERATOR_DEFAULT_STARTUP_SECONDS"] == "300"
    assert container["args"] == ["--liveness=http://0.0.0.0:8181/healthz"]
    assert all(name.startswith("MODELOPS_OPERATOR_") for name in env if name != "USER")


def test_operator_settings_parser_accepts_the_chart_env() -> None:
    """The operator refuses unknown or malformed MODELOPS_OPERATOR_* variables at start-up."""
    from modelops_operator.settings import from_env

    env = env_of(
        operator_container(render("operator.watchNamespaces={team-a}", "serverDefaults.image.tag=v9"))
    )
    assert env.pop("USER") == "modelops-operator"  # kopf's identity when the uid has no passwd entry
    settings = from_env(env)
    assert settings.default_server_image == "localhost/modelops-server:v9"
    assert settings.namespaces == ("team-a",)
    assert settings.resources == {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
    assert settings.server_grpc_port == 8081


def test_server_grpc_can_be_turned_off() -> None:
    env = env_of(operator_container(render("serverDefaults.grpc.enabled=false")))
    assert env["MODELOPS_OPERATOR_SERVER_GRPC_PORT"] == "0"


def operator_rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    roles = {r["metadata"]["name"]: r for r in by_kind(docs, "ClusterRole")}
    return list(roles["mo-modelops-operator"]["rules"]) + list(roles["mo-modelops-crd-reader"]["rules"])


def test_rbac_has_no_wildcards_secrets_or_crd_writes() -> None:
    rules = operator_rules(render())
    for rule in rules:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
        assert "secrets" not in rule["resources"], rule
    (crd_rule,) = [r for r in rules if "customresourcedefinitions" in r["resources"]]
    assert crd_rule["verbs"] == ["get", "list", "watch"]


def test_watch_namespaces_binds_per_namespace() -> None:
    docs = render("operator.watchNamespaces={team-a,team-b}")
    bindings = by_kind(docs, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    assert [b["metadata"]["name"] for b in by_kind(docs, "ClusterRoleBinding")] == ["mo-modelops-crd-reader"]
    assert env_of(operator_container(docs))["MODELOPS_OPERATOR_NAMESPACES"] == "team-a,team-b"


def test_service_monitor_is_optional_and_scrapes_the_metrics_service() -> None:
    assert not by_kind(render(), "ServiceMonitor")
    (monitor,) = by_kind(render("metrics.serviceMonitor.enabled=true"), "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    failed = render("metrics.serviceMonitor.enabled=true", "metrics.service.enabled=false", check=False)
    assert failed.returncode != 0
    assert "needs metrics.service.enabled=true" in failed.stderr


def test_service_account_can_be_brought_by_the_user() -> None:
    docs = render("serviceAccount.create=false", "serviceAccount.name=ops")
    assert not by_kind(docs, "ServiceAccount")
    assert by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["serviceAccountName"] == "ops"


BAD_VALUES = [
    ("replicaCount=3", "/replicaCount"),
    ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
    ("serverDefaults.image.pullPolicy=Sometimes", "/serverDefaults/image/pullPolicy"),
    ("serverDefaults.startupSeconds=1", "/serverDefaults/startupSeconds"),
    ("operator.logLevel=loud", "/operator/logLevel"),
    ("operator.healthPort=70000", "/operator/healthPort"),
    ("operator.watchNamespaces={Bad_NS}", "/operator/watchNamespaces/0"),
    ("metrics.serviceMonitor.interval=soon", "/metrics/serviceMonitor/interval"),
    ("resources.requests.cpu=lots", "/resources/requests/cpu"),
    ("imageTag=v1", "'imageTag' not allowed"),
]


@pytest.mark.parametrize(("override", "field"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_values_schema_rejects_bad_values_naming_the_field(override: str, field: str) -> None:
    result = render(override, check=False)
    assert result.returncode != 0, f"{override} was accepted"
    assert field in result.stderr, result.stderr


def test_chart_crds_are_byte_identical_to_the_top_level_crds() -> None:
    top = {p.name: p.read_bytes() for p in sorted(CRDS_DIR.glob("*.yaml"))}
    chart = {p.name: p.read_bytes() for p in sorted((CHART_DIR / "crds").glob("*.yaml"))}
    assert top, f"no CRDs in {CRDS_DIR}"
    assert chart.keys() == top.keys(), "run `make sync-crds`"
    stale = [name for name in top if chart[name] != top[name]]
    assert not stale, f"charts/modelops/crds differs from crds/ for {stale}: run `make sync-crds`"


def test_kind_config_mounts_the_models_dir_read_only() -> None:
    config = yaml.safe_load((REPO_ROOT / "kind-config.yaml").read_text())
    assert (config["kind"], config["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    (node,) = config["nodes"]
    assert node["role"] == "control-plane"
    (mount,) = node["extraMounts"]
    assert mount == {"hostPath": "./ml/models", "containerPath": "/app/models", "readOnly": True}
    assert (REPO_ROOT / mount["hostPath"]).resolve() == (REPO_ROOT / "ml" / "models").resolve()


def test_examples_use_the_kind_node_models_dir() -> None:
    mount = yaml.safe_load((REPO_ROOT / "kind-config.yaml").read_text())["nodes"][0]["extraMounts"][0]
    docs = [
        yaml.safe_load(p.read_text()) for p in sorted((REPO_ROOT / "examples" / "manifests").glob("*.yaml"))
    ]
    deployments = [d for d in docs if d["kind"] == "ModelDeployment"]
    assert len(deployments) == 5  # staging and production of two models, and the Shadow example
    for doc in deployments:
        assert doc["spec"]["storage"] == {"type": "hostPath", "path": mount["containerPath"]}
    for doc in (d for d in docs if d["kind"] == "ModelVersion"):
        spec = doc["spec"]
        assert spec["artifact"]["uri"] == f"{mount['containerPath']}/{spec['model']}/{spec['version']}"


def test_docker_compose_mounts_models_read_only_with_models_dir() -> None:
    """Structure and default paths; tests/e2e/test_compose.py runs the file with podman-compose."""
    compose_file = REPO_ROOT / "examples" / "docker-compose.yaml"
    defaults = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", compose_file.read_text())  # ${VAR:-default}
    services = yaml.safe_load(defaults)["services"]
    assert sorted(services) == ["api", "backend"]  # the Python server and the Node.js backend
    for service in services.values():
        (volume,) = service["volumes"]
        source, target, mode = volume.split(":")
        assert (compose_file.parent / source).resolve() == (REPO_ROOT / "ml" / "models").resolve()
        assert (target, mode) == ("/app/models", "ro")
        assert f"MODELS_DIR={target}" in service["environment"]
    backend = services["backend"]["build"]
    assert (compose_file.parent / backend["context"] / backend["dockerfile"]).is_file()
