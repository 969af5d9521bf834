"""Shapes of the Deployment and Service the operator builds for a ModelDeployment."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from modelops.package.archive import ExtractLimits
from modelops_operator import builders
from modelops_operator.settings import Settings
from modelops_operator.storage import PACKAGE_SIZE_LIMIT, StorageError, resolve
from support.operator_objects import DIGEST, MODEL, model_deployment, model_version

SETTINGS = Settings()


def _container(dep: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = dep["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["server"]
    return containers[0]


def _env(dep: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in _container(dep)["env"]}


def test_deployment_identity_labels_and_owner() -> None:
    md = model_deployment("v1.2.0")
    dep = builders.build_deployment(md, model_version("v1.2.0"), SETTINGS)
    assert dep["metadata"]["name"] == "safety-classifier-production"
    assert dep["metadata"]["labels"] == {
        "app.kubernetes.io/name": "modelops-server",
        "app.kubernetes.io/instance": "safety-classifier-production",
        "app.kubernetes.io/managed-by": "modelops-operator",
        "app.kubernetes.io/part-of": "modelops",
        "modelops.io/model": "safety-classifier",
        "modelops.io/environment": "production",
        "modelops.io/version": "v1-2-0",
    }
    owner = dep["metadata"]["ownerReferences"][0]
    assert owner == {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "name": "safety-classifier-production",
        "uid": md["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert dep["spec"]["selector"]["matchLabels"] == builders.selector_labels("safety-classifier-production")
    assert dep["spec"]["template"]["metadata"]["labels"]["modelops.io/version"] == "v1-2-0"


def test_rollout_strategy_never_drops_serving_pods() -> None:
    dep = builders.build_deployment(model_deployment("v1.0.0"), model_version("v1.0.0"), SETTINGS)
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    assert dep["spec"]["progressDeadlineSeconds"] == 60
    assert dep["spec"]["replicas"] == 2


def test_probes_scrape_annotations_and_server_arguments() -> None:
    dep = builders.build_deployment(model_deployment("1.0.0"), model_version("1.0.0"), SETTINGS)
    container = _container(dep)
    assert container["readinessProbe"]["httpGet"] == {
        "path": f"/api/v1/ml-models/{MODEL}/health",
        "port": "http",
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= SETTINGS.default_startup_seconds
    assert container["command"] == [
        "modelops-server",
        "serve",
        "--models-dir",
        "/models",
        "--model-type",
        MODEL,
        "--version",
        "v1.0.0",
        "--port",
        "8080",
        "--grpc-port",
        "8081",
        "--shadow-config-file",
        "/var/run/modelops/shadow/target.json",
    ]
    assert [(p["name"], p["containerPort"]) for p in container["ports"]] == [("http", 8080), ("grpc", 8081)]
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8080"
    assert annotations["modelops.io/version"] == "v1.0.0"
    assert builders.template_version(dep) == "v1.0.0"
    assert _env(dep)["MODELOPS_SERVER_EXPECTED_DIGEST"] == DIGEST
    assert container["image"] == SETTINGS.default_server_image


def test_server_options_secrets_and_signature() -> None:
    server = {
        "image": "example/server:1",
        "threads": 2,
        "batching": {"maxBatchSize": 16},
        "authSecret": {"name": "api-token", "key": "token"},
        "startupSeconds": 30,
        "env": [
            {"name": "MODELOPS_SERVER_FAULT_ERROR_RATE", "value": "0.3"},
            {"name": "MODELOPS_SERVER_EXPECTED_DIGEST", "value": "ignored"},
        ],
        "resources": {"limits": {"cpu": "1"}},
    }
    mv = model_version(
        "v1.0.0", artifact={"uri": "/m", "sha256": DIGEST, "signature": {"publicKeySecret": "signing-key"}}
    )
    dep = builders.build_deployment(model_deployment("v1.0.0", server=server), mv, SETTINGS)
    env = _env(dep)
    assert env["MODELOPS_SERVER_THREADS"] == "2"
    assert env["MODELOPS_SERVER_MAX_BATCH_SIZE"] == "16"
    assert env["MODELOPS_SERVER_AUTH_TOKEN_FILE"] == "/var/run/modelops/auth/token"
    assert env["MODELOPS_SERVER_PUBLIC_KEY"] == "/var/run/modelops/signing/public.pem"
    assert env["MODELOPS_SERVER_FAULT_ERROR_RATE"] == "0.3"
    assert env["MODELOPS_SERVER_EXPECTED_DIGEST"] == DIGEST
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert volumes["auth-token"]["secret"] == {"secretName": "api-token"}
    assert volumes["signing-key"]["secret"] == {"secretName": "signing-key"}
    container = _container(dep)
    assert container["image"] == "example/server:1"
    assert container["resources"] == {"limits": {"cpu": "1"}}
    assert container["startupProbe"]["failureThreshold"] == 15


def test_hostpath_pvc_and_package_storage() -> None:
    host = builders.build_deployment(model_deployment("v1.0.0"), model_version("v1.0.0"), SETTINGS)
    pod = host["spec"]["template"]["spec"]
    assert {"name": "models", "hostPath": {"path": "/app/models", "type": "Directory"}} in pod["volumes"]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in _container(host)["volumeMounts"]
    assert "initContainers" not in pod

    pvc_md = model_deployment("v1.0.0", storage={"type": "pvc", "claimName": "models", "subPath": "seed"})
    pvc = builders.build_deployment(pvc_md, model_version("v1.0.0"), SETTINGS)["spec"]["template"]["spec"]
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "models", "readOnly": True}} in pvc[
        "volumes"
    ]

    url = "https://models.example/{model}-{version}.tar.gz"
    pkg_md = model_deployment("v1.0.0", storage={"type": "package", "url": url})
    pkg = builders.build_deployment(pkg_md, model_version("v1.0.0"), SETTINGS)["spec"]["template"]["spec"]
    assert pkg["initContainers"][0]["command"] == [
        "modelops-server",
        "fetch",
        f"https://models.example/{MODEL}-v1.0.0.tar.gz",
        f"/models/{MODEL}/v1.0.0",
    ]
    assert any("emptyDir" in v for v in pkg["volumes"] if v["name"] == "models")


def test_package_init_container_is_restricted_and_its_volume_fits_the_extractor() -> None:
    url = "https://models.example/{model}-{version}.tar.gz"
    pkg_md = model_deployment("v1.0.0", storage={"type": "package", "url": url})
    pod = builders.build_deployment(pkg_md, model_version("v1.0.0"), SETTINGS)["spec"]["template"]["spec"]
    (fetch,) = pod["initContainers"]
    assert fetch["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert fetch["resources"]["limits"]["memory"] and fetch["resources"]["requests"]["cpu"]
    assert {"name": "TMPDIR", "value": "/models"} in fetch["env"]  # writable: the emptyDir itself
    (volume,) = [v for v in pod["volumes"] if v["name"] == "models"]
    limits = ExtractLimits()
    size_mib = int(volume["emptyDir"]["sizeLimit"].removesuffix("Mi"))
    assert size_mib << 20 == limits.max_download_bytes + limits.max_total_bytes
    assert pod["automountServiceAccountToken"] is False
    context = pod["securityContext"]
    assert (context["runAsNonRoot"], context["runAsUser"], context["seccompProfile"]) == (
        True,
        10001,
        {"type": "RuntimeDefault"},
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (f"/srv/models/{MODEL}/v1.0.0", {"type": "hostPath", "path": "/srv/models"}),
        (f"file:///srv/models/{MODEL}/v1.0.0", {"type": "hostPath", "path": "/srv/models"}),
        ("/srv/flat", {"type": "hostPath", "path": "/srv/flat"}),
        (f"pvc://models/seed/{MODEL}/v1.0.0", {"type": "pvc", "claimName": "models", "subPath": "seed"}),
        ("https://x/p.tar.gz", {"type": "package", "url": "https://x/p.tar.gz"}),
        ("s3://bucket/models/v1/", {"type": "package", "url": "s3://bucket/models/v1/"}),
    ],
)
def test_storage_derived_from_artifact_uri(uri: str, expected: dict[str, str]) -> None:
    assert resolve(None, uri, MODEL, "v1.0.0") == expected


def test_underivable_storage_is_an_error() -> None:
    with pytest.raises(StorageError, match=r"artifact\.uri"):
        resolve(None, "gs://bucket/x", MODEL, "v1.0.0")


def test_service_shape() -> None:
    svc = builders.build_service(model_deployment("v1.0.0"), SETTINGS)
    assert svc["metadata"]["name"] == "safety-classifier-production"
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"},
        {"name": "grpc", "port": 8081, "targetPort": "grpc", "protocol": "TCP"},
    ]
    assert svc["spec"]["selector"] == builders.selector_labels("safety-classifier-production")
    assert svc["metadata"]["ownerReferences"][0]["kind"] == "ModelDeployment"


def test_grpc_off_leaves_only_http() -> None:
    settings = dataclasses.replace(SETTINGS, server_grpc_port=0)
    svc = builders.build_service(model_deployment("v1.0.0"), settings)
    dep = builders.build_deployment(model_deployment("v1.0.0"), model_version("v1.0.0"), settings)
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert [p["name"] for p in svc["spec"]["ports"]] == ["http"]
    assert [p["name"] for p in container["ports"]] == ["http"]
    assert "--grpc-port" not in container["command"]


def test_s3_storage_fetches_with_the_pinned_digest_and_secret_env_only() -> None:
    storage = {"type": "package", "url": "s3://models/{model}/{version}/", "s3": {"secretName": "s3-creds"}}
    md = model_deployment("v1.0.0", storage=storage)
    pod = builders.build_deployment(md, model_version("v1.0.0"), SETTINGS)["spec"]["template"]["spec"]
    init = pod["initContainers"][0]
    assert init["command"] == [
        "modelops-server", "fetch", f"s3://models/{MODEL}/v1.0.0/", f"/models/{MODEL}/v1.0.0",
        "--expected-digest", DIGEST,
    ]  # fmt: skip
    assert init["envFrom"] == [{"secretRef": {"name": "s3-creds"}}]
    literal = [e["name"] for e in init.get("env", []) if "value" in e]
    assert literal == ["TMPDIR"], "credentials must come from the Secret, never literal values"
    assert init["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_node_cache_mounts_the_digest_keyed_host_directory_into_the_fetch_only() -> None:
    storage = {"type": "package", "url": "s3://models/{model}/{version}/", "cache": True}
    md = model_deployment("v1.0.0", storage=storage)
    pod = builders.build_deployment(md, model_version("v1.0.0"), SETTINGS)["spec"]["template"]["spec"]
    init = pod["initContainers"][0]
    assert init["command"][-4:] == ["--expected-digest", DIGEST, "--cache-dir", "/cache"]
    assert {"name": "artifact-cache", "mountPath": "/cache"} in init["volumeMounts"]
    cache = {"path": "/var/cache/modelops/artifacts", "type": "DirectoryOrCreate"}
    assert {"name": "artifact-cache", "hostPath": cache} in pod["volumes"]
    assert all(m["name"] != "artifact-cache" for m in _container(builders.build_deployment(
        md, model_version("v1.0.0"), SETTINGS))["volumeMounts"])  # fmt: skip


def test_s3_artifact_without_storage_derives_a_fetch_without_secret() -> None:
    mv = model_version("v1.0.0")
    mv["spec"]["artifact"]["uri"] = "s3://models/p/m.tar.gz"
    md = model_deployment("v1.0.0")
    del md["spec"]["storage"]
    pod = builders.build_deployment(md, mv, SETTINGS)["spec"]["template"]["spec"]
    init = pod["initContainers"][0]
    assert init["command"][2] == "s3://models/p/m.tar.gz" and "envFrom" not in init
    platform = Settings(default_s3_secret="platform-s3")
    pod = builders.build_deployment(md, mv, platform)["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["envFrom"] == [{"secretRef": {"name": "platform-s3"}}]


def test_metrics_auth_mounts_the_platform_token_and_probes_a_path_that_reveals_nothing() -> None:
    settings = Settings(policy={"metricsAuthSecret": "modelops-metrics"})
    dep = builders.build_deployment(model_deployment("v1.0.0"), model_version("v1.0.0"), settings)
    container = _container(dep)
    assert _env(dep)["MODELOPS_SERVER_METRICS_TOKEN_FILE"] == "/var/run/modelops/metrics/token"
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert volumes["metrics-token"]["secret"] == {"secretName": "modelops-metrics"}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["metrics-token"] == {
        "name": "metrics-token",
        "mountPath": "/var/run/modelops/metrics",
        "readOnly": True,
    }
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    off = _container(builders.build_deployment(model_deployment("v1.0.0"), model_version("v1.0.0"), SETTINGS))
    assert off["readinessProbe"]["httpGet"]["path"] == f"/api/v1/ml-models/{MODEL}/health"
    assert "MODELOPS_SERVER_METRICS_TOKEN_FILE" not in {e["name"] for e in off["env"]}


def test_encrypted_package_key_only_in_the_fetch_and_model_volume_in_memory() -> None:
    storage = {
        "type": "package",
        "url": "s3://models/{model}/{version}.tar.gz.enc",
        "cache": True,
        "decryptionKeySecret": {"name": "model-key", "key": "aes"},
    }
    md = model_deployment("v1.0.0", storage=storage)
    pod = builders.build_deployment(md, model_version("v1.0.0"), SETTINGS)["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["command"][-4:] == [
        "--expected-digest", DIGEST, "--decryption-key-file", "/var/run/modelops/decryption/aes",
    ]  # fmt: skip
    assert "--cache-dir" not in init["command"], "the node cache holds clear files: never for encrypted"
    assert all(v["name"] != "artifact-cache" for v in pod["volumes"])
    key_volume = next(v for v in pod["volumes"] if v["name"] == "decryption-key")
    assert key_volume["secret"]["secretName"] == "model-key"
    assert {"name": "decryption-key", "mountPath": "/var/run/modelops/decryption", "readOnly": True} in (
        init["volumeMounts"]
    )
    assert all(m["name"] != "decryption-key" for c in pod["containers"] for m in c["volumeMounts"])
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    assert models["emptyDir"] == {"medium": "Memory", "sizeLimit": PACKAGE_SIZE_LIMIT}
    # The server loads a private copy of the model (snapshot.py) from its /tmp: memory-backed too.
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert tmp["emptyDir"] == {"medium": "Memory"}
    limit = int(init["resources"]["limits"]["memory"].removesuffix("Mi"))
    assert limit > int(PACKAGE_SIZE_LIMIT.removesuffix("Mi")), "tmpfs pages count against the fetch"
    assert init["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_clear_package_volume_stays_on_disk() -> None:
    md = model_deployment("v1.0.0", storage={"type": "package", "url": "https://m.example.com/m.tar.gz"})
    pod = builders.build_deployment(md, model_version("v1.0.0"), SETTINGS)["spec"]["template"]["spec"]
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    assert "medium" not in models["emptyDir"]
    assert "medium" not in next(v for v in pod["volumes"] if v["name"] == "tmp")["emptyDir"]
