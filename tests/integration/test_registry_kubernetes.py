"""The registry behaviour suite on the Kubernetes backend against a real kube-apiserver with the CRDs,
plus what only this backend does: the objects' shape and the serving version from status (cluster
truth). No operator runs in this tier; `mark_serving` writes the status the way the operator would.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

import modelops.registry.kubernetes as kube_module
from modelops.names import deployment_name, model_version_name
from modelops.package.manifest import write_manifest
from modelops.registry import Artifact, BackendError, ModelRegistry
from modelops.registry.kubernetes import DEPLOYMENTS, VERSIONS, KubernetesBackend
from modelops.vocabulary import GROUP, VERSION
from support.registry_behaviour import SEED_METADATA, TYPE, RegistryBehaviour, RegistryEnv, artifact


@pytest.fixture
def api(apiserver: Any, crds: list[str]) -> Iterator[client.CustomObjectsApi]:
    api_client = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    try:
        yield client.CustomObjectsApi(api_client)
    finally:
        api_client.close()


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def status_writer(api: client.CustomObjectsApi, namespace: str) -> Any:
    """Write servingVersion/stableVersion/history into a ModelDeployment's status, as the operator does."""

    def mark_serving(model_type: str, environment: str, version: str) -> None:
        name = deployment_name(model_type, environment)
        current = api.get_namespaced_custom_object(GROUP, VERSION, namespace, DEPLOYMENTS, name)
        history = list((current.get("status") or {}).get("history", []))
        history.append({"version": version, "event": "Available", "time": _now()})
        status = {"servingVersion": version, "stableVersion": version, "history": history}
        api.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, DEPLOYMENTS, name, {"status": status}
        )

    return mark_serving


@pytest.fixture
def backend(api: client.CustomObjectsApi, namespace: str, tmp_path: Path) -> KubernetesBackend:
    return KubernetesBackend(api, namespace, models_dir=tmp_path / "models")


@pytest.fixture
def env(backend: KubernetesBackend, api: client.CustomObjectsApi, namespace: str) -> RegistryEnv:
    return RegistryEnv(ModelRegistry(backend), status_writer(api, namespace))


class TestKubernetesRegistry(RegistryBehaviour):
    """Every behaviour test against ModelVersion/ModelDeployment objects."""


def test_register_creates_a_model_version(
    env: RegistryEnv, api: client.CustomObjectsApi, namespace: str
) -> None:
    metadata = {**SEED_METADATA, "labels": ["safe", "risk"]}
    env.registry.register_model(TYPE, "v1.2.0", metadata, artifact=artifact("v1.2.0"))
    obj = api.get_namespaced_custom_object(
        GROUP, VERSION, namespace, VERSIONS, model_version_name(TYPE, "v1.2.0")
    )
    assert obj["metadata"]["name"] == "safety-classifier-v1-2-0"
    assert obj["spec"]["artifact"] == {
        "uri": "/models/safety_classifier/v1.2.0",
        "format": "onnx",
        "sha256": hashlib.sha256(b"v1.2.0").hexdigest(),
    }
    assert obj["spec"]["metrics"] == {"accuracy": 0.98, "recall": 0.99, "precision": 0.95}
    assert obj["spec"]["training"] == {"dataSize": 1000, "date": "2024-01-01"}
    assert obj["spec"]["labels"] == ["safe", "risk"]


def test_register_without_artifact_pins_the_manifest_digest(
    backend: KubernetesBackend, api: client.CustomObjectsApi, namespace: str
) -> None:
    model_dir = backend.models_dir / TYPE / "v1.0.0"
    model_dir.mkdir(parents=True)
    (model_dir / "model.onnx").write_bytes(b"onnx bytes")
    digest = write_manifest(model_dir)
    ModelRegistry(backend).register_model(TYPE, "v1.0.0", SEED_METADATA)
    obj = api.get_namespaced_custom_object(GROUP, VERSION, namespace, VERSIONS, "safety-classifier-v1-0-0")
    assert obj["spec"]["artifact"]["sha256"] == digest
    assert obj["spec"]["artifact"]["uri"] == str(model_dir)


def test_deploy_creates_then_patches_the_model_deployment(
    env: RegistryEnv, backend: KubernetesBackend, api: client.CustomObjectsApi, namespace: str
) -> None:
    env.registry.register_model(TYPE, "v1.0.0", SEED_METADATA, artifact=artifact("v1.0.0"))
    env.registry.register_model(TYPE, "v1.1.0", SEED_METADATA, artifact=artifact("v1.1.0"))
    env.registry.deploy_model(TYPE, "v1.0.0", "production")
    name = deployment_name(TYPE, "production")
    first = api.get_namespaced_custom_object(GROUP, VERSION, namespace, DEPLOYMENTS, name)
    spec = first["spec"]
    assert (spec["model"], spec["environment"], spec["version"], spec["replicas"]) == (
        TYPE,
        "production",
        "v1.0.0",
        1,
    )
    assert spec["storage"] == {"type": "hostPath", "path": str(backend.models_dir)}
    env.registry.deploy_model(TYPE, "v1.1.0", "production")
    second = api.get_namespaced_custom_object(GROUP, VERSION, namespace, DEPLOYMENTS, name)
    assert second["spec"]["version"] == "v1.1.0"
    assert second["metadata"]["uid"] == first["metadata"]["uid"]


def test_deployed_version_is_what_serves_not_what_was_asked(env: RegistryEnv) -> None:
    env.registry.register_model(TYPE, "v1.0.0", SEED_METADATA, artifact=artifact("v1.0.0"))
    env.registry.register_model(TYPE, "v1.1.0", SEED_METADATA, artifact=artifact("v1.1.0"))
    env.registry.deploy_model(TYPE, "v1.0.0", "production")
    assert env.registry.get_deployed_version(TYPE, "production") is None
    env.mark_serving(TYPE, "production", "v1.0.0")
    env.registry.deploy_model(TYPE, "v1.1.0", "production")
    assert env.registry.get_deployed_version(TYPE, "production") == "v1.0.0"
    deployment = env.registry.get_deployment(TYPE, "production")
    assert deployment is not None and (deployment.version, deployment.stable_version) == ("v1.1.0", "v1.0.0")


def test_apiserver_validation_errors_are_backend_errors(env: RegistryEnv) -> None:
    with pytest.raises(BackendError, match="422"):
        bad = Artifact(uri="relative/path", sha256="not-a-digest")
        env.registry.register_model(TYPE, "v1.0.0", SEED_METADATA, artifact=bad)
    assert env.registry.list_model_types() == []


def test_missing_crds_are_reported(api: client.CustomObjectsApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube_module, "GROUP", "missing.modelops.io")
    with pytest.raises(BackendError, match="CRDs installed"):
        KubernetesBackend(api, "default").get_version(TYPE, "v1.0.0")


def test_modelctl_against_the_cluster(
    apiserver: Any, api: client.CustomObjectsApi, namespace: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from modelops.cli.main import cli

    models = tmp_path / "models"
    model_dir = models / TYPE / "v1.0.0"
    model_dir.mkdir(parents=True)
    (model_dir / "model.onnx").write_bytes(b"onnx bytes")
    digest = write_manifest(model_dir)
    base = ["--kubeconfig", str(apiserver.kubeconfig), "-n", namespace, "--models-dir", str(models)]

    def modelctl(*args: str) -> str:
        result = CliRunner().invoke(cli, [*base, *args])
        assert result.exit_code == 0, result.output
        return result.output

    modelctl(
        "register", TYPE, "v1.0.0", "--metric", "accuracy=0.9", "--signature-secret", "model-signing-key"
    )
    obj = api.get_namespaced_custom_object(GROUP, VERSION, namespace, VERSIONS, "safety-classifier-v1-0-0")
    assert obj["spec"]["artifact"]["sha256"] == digest
    assert obj["spec"]["artifact"]["signature"]["publicKeySecret"] == "model-signing-key"
    modelctl(
        "register", TYPE, "v1.0.0", "--metric", "accuracy=0.9", "--signature-secret", "model-signing-key"
    )
    modelctl("deploy", TYPE, "v1.0.0", "--env", "staging")
    status_writer(api, namespace)(TYPE, "staging", "v1.0.0")
    assert modelctl("deployed", TYPE, "--env", "staging").strip() == "v1.0.0"
    rows = json.loads(modelctl("status", "-o", "json"))
    assert [(r["environment"], r["desired"], r["serving"]) for r in rows] == [("staging", "v1.0.0", "v1.0.0")]
    assert json.loads(modelctl("versions", TYPE, "-o", "json"))[0]["sha256"] == digest
