"""Pure builders of the objects a ModelDeployment owns: the server Deployment and its Service.

`reconcile.plan` calls `build_deployment` / `build_service` with the ModelDeployment, its typed spec
(parsed once per reconcile; parsed here when a caller such as a test leaves it out), the ModelVersion
being served and the operator settings; `kube` applies the result with server-side apply. Nothing here
talks to the cluster, so the shapes are unit-tested and dry-run against a real apiserver.
"""

from __future__ import annotations

import math
from typing import Any

from modelops.names import type_to_dns, version_to_dns
from modelops.vocabulary import API_VERSION, ENVIRONMENT_LABEL, GROUP, MODEL_LABEL, VERSION_LABEL
from modelops_operator import storage as storage_mod
from modelops_operator.settings import Settings
from modelops_operator.spec import ModelDeploymentSpec, ModelVersionSpec, ServerSpec

MANAGER = "modelops-operator"
VERSION_ANNOTATION = f"{GROUP}/version"
DIGEST_ANNOTATION = f"{GROUP}/artifact-sha256"
AUTH_DIR = "/var/run/modelops/auth"
KEY_DIR = "/var/run/modelops/signing"
METRICS_TOKEN_DIR = "/var/run/modelops/metrics"
# Shadow rollouts: every server pod mounts the (optional) ConfigMap `<name>-shadow` the operator owns and
# re-reads its mirror target file, so mirroring starts and stops without a restart (shadow_objects).
SHADOW_DIR = "/var/run/modelops/shadow"
SHADOW_FILE = "target.json"
SHADOW_VOLUME = "shadow-target"
SHADOW_SUFFIX = "shadow"
# The readiness probe under metricsAuth: open, and it answers a bare boolean (the seed health JSON,
# with its version and reason, then needs the metrics token).
READY_PATH = "/v2/health/ready"
PROBE_PERIOD_SECONDS = 2
INSTANCE_LABEL = "app.kubernetes.io/instance"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# The second Deployment slot of a ModelDeployment (canary strategy): `<name>-b`, its pods labelled
# slot=b. The first slot is `<name>` with the selector every existing Deployment already has.
SLOT_LABEL = f"{GROUP}/slot"
SECOND_SLOT = "b"
SERVER_UID = 10001  # the server image's USER (server/Dockerfile)
# Pod Security Standards "restricted": non-root with a fixed uid, RuntimeDefault seccomp.
POD_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": SERVER_UID,
    "runAsGroup": SERVER_UID,
    "fsGroup": SERVER_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def health_path(model: str) -> str:
    """The seed's health check path of a model type."""
    return f"/api/v1/ml-models/{model}/health"


def selector_labels(name: str) -> dict[str, str]:
    """Labels that select a ModelDeployment's pods (stable across versions: selectors are immutable)."""
    return {"app.kubernetes.io/name": "modelops-server", INSTANCE_LABEL: name}


def common_labels(md: dict[str, Any], spec: ModelDeploymentSpec) -> dict[str, str]:
    """Labels on every object a ModelDeployment owns."""
    return {
        **selector_labels(md["metadata"]["name"]),
        MANAGED_BY_LABEL: MANAGER,
        "app.kubernetes.io/part-of": "modelops",
        MODEL_LABEL: type_to_dns(spec.model),
        ENVIRONMENT_LABEL: spec.environment,
    }


def owner_reference(md: dict[str, Any]) -> dict[str, Any]:
    """Controller owner reference so that deleting the ModelDeployment deletes what it owns."""
    meta = md["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": "ModelDeployment",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(
    md: dict[str, Any], spec: ModelDeploymentSpec, extra_labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "name": md["metadata"]["name"],
        "namespace": md["metadata"]["namespace"],
        "labels": {**common_labels(md, spec), **(extra_labels or {})},
        "ownerReferences": [owner_reference(md)],
    }


def build_service(
    md: dict[str, Any], settings: Settings, *, spec: ModelDeploymentSpec | None = None
) -> dict[str, Any]:
    """ClusterIP Service `http` (8080) and `grpc` (8081, unless off) in front of every ready server pod."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(md, spec or ModelDeploymentSpec.of(md)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(md["metadata"]["name"]),
            "ports": [
                {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}
                for name, port in _ports(settings)
            ],
        },
    }


def slot_names(name: str) -> tuple[str, str]:
    """The two Deployment names a ModelDeployment `name` may use: `<name>` and `<name>-b`."""
    return name, f"{name}-{SECOND_SLOT}"


def other_slot(name: str, slot: str) -> str:
    """The Deployment name of the slot that is not `slot`."""
    first, second = slot_names(name)
    return second if slot == first else first


def _slot_labels(md: dict[str, Any], slot: str | None) -> dict[str, str]:
    name = md["metadata"]["name"]
    return {SLOT_LABEL: SECOND_SLOT} if slot not in (None, name) else {}


def build_deployment(
    md: dict[str, Any],
    mv: dict[str, Any],
    settings: Settings,
    *,
    slot: str | None = None,
    spec: ModelDeploymentSpec | None = None,
) -> dict[str, Any]:
    """The server Deployment serving ModelVersion `mv` for ModelDeployment `md`.

    `slot`: the Deployment's name (`slot_names`); the ModelDeployment's own name when None. `spec`:
    `md`'s parsed spec (parsed here when None). ValueError naming the field for an invalid `mv`.
    """
    spec = spec or ModelDeploymentSpec.of(md)
    artifact = ModelVersionSpec.of(mv)
    slot_labels = _slot_labels(md, slot)
    metadata = _metadata(md, spec, {VERSION_LABEL: version_to_dns(artifact.version), **slot_labels})
    metadata["name"] = slot or md["metadata"]["name"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": {**selector_labels(md["metadata"]["name"]), **slot_labels}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "progressDeadlineSeconds": spec.rollback.progress_deadline_seconds,
            "revisionHistoryLimit": 5,
            "minReadySeconds": 0,
            "template": _pod_template(md, spec, artifact, settings, slot_labels),
        },
    }


def shadow_name(name: str) -> str:
    """The candidate Deployment, its Service and the mirror-target ConfigMap of ModelDeployment `name`."""
    return f"{name}-{SHADOW_SUFFIX}"


def _shadow_volume(md: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    mount = {"name": SHADOW_VOLUME, "mountPath": SHADOW_DIR, "readOnly": True}
    config_map = {"name": shadow_name(md["metadata"]["name"]), "optional": True}
    return mount, {"name": SHADOW_VOLUME, "configMap": config_map}


def _tmp_volume(store: dict[str, Any]) -> dict[str, Any]:
    """The server's /tmp. The server verifies and loads a private copy of the model from it (snapshot.py),
    so for an encrypted package it is memory-backed too: clear bytes never reach the node's disk."""
    if store.get("decryptionKeySecret"):
        return {"name": "tmp", "emptyDir": {"medium": "Memory"}}
    return {"name": "tmp", "emptyDir": {}}


def _pod_template(
    md: dict[str, Any],
    spec: ModelDeploymentSpec,
    mv: ModelVersionSpec,
    settings: Settings,
    slot_labels: dict[str, str],
) -> dict[str, Any]:
    server, model, version = spec.server, spec.model, mv.version
    image = server.image or settings.default_server_image
    pull = server.image_pull_policy or settings.default_image_pull_policy
    storage = dict(spec.storage) if spec.storage else None
    store = storage_mod.resolve(storage, mv.uri, model, version)
    pieces = storage_mod.pod_storage(
        store, model, version, image, pull, digest=mv.sha256, s3_secret=settings.default_s3_secret
    )
    secrets = _secret_volumes(server, mv, settings.platform_policy.metrics_auth_secret)
    container = _server_container(spec, mv, settings, image=image, pull=pull)
    container["volumeMounts"] = pieces.mounts + [m for m, _ in secrets]
    container["volumeMounts"].append({"name": "tmp", "mountPath": "/tmp"})
    shadow_mount, shadow_volume = _shadow_volume(md)
    container["volumeMounts"].append(shadow_mount)
    pod_spec: dict[str, Any] = {
        "containers": [container],
        "volumes": [*pieces.volumes, *(v for _, v in secrets), _tmp_volume(store), shadow_volume],
        "terminationGracePeriodSeconds": 15,
        "enableServiceLinks": False,
        "securityContext": POD_SECURITY_CONTEXT,
        "automountServiceAccountToken": False,
    }
    if pieces.init_containers:
        pod_spec["initContainers"] = pieces.init_containers
    labels = {**common_labels(md, spec), VERSION_LABEL: version_to_dns(version), **slot_labels}
    annotations = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(settings.server_port),
        "prometheus.io/path": "/metrics",
        VERSION_ANNOTATION: version,
        DIGEST_ANNOTATION: mv.sha256,
    }
    return {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod_spec}


def _server_container(
    spec: ModelDeploymentSpec, mv: ModelVersionSpec, settings: Settings, *, image: str, pull: str
) -> dict[str, Any]:
    model, version, server = spec.model, mv.version, spec.server
    startup = server.startup_seconds or settings.default_startup_seconds
    metrics_secret = settings.platform_policy.metrics_auth_secret
    return {
        "name": "server",
        "image": image,
        "imagePullPolicy": pull,
        "command": [
            "modelops-server",
            "serve",
            "--models-dir",
            storage_mod.MODELS_MOUNT,
            "--model-type",
            model,
            "--version",
            version,
            "--port",
            str(settings.server_port),
            *(["--grpc-port", str(settings.server_grpc_port)] if settings.server_grpc_port else []),
            "--shadow-config-file",
            f"{SHADOW_DIR}/{SHADOW_FILE}",
        ],
        "env": _server_env(server, mv, settings.platform_policy.trusted_key_fingerprints, metrics_secret),
        "ports": [
            {"name": name, "containerPort": port, "protocol": "TCP"} for name, port in _ports(settings)
        ],
        "resources": dict(server.resources) if server.resources else settings.resources,
        "readinessProbe": _probe(
            READY_PATH if metrics_secret else health_path(model), PROBE_PERIOD_SECONDS, 1
        ),
        "livenessProbe": _probe("/v2/health/live", 10, 3),
        "startupProbe": _probe(
            "/v2/health/live", PROBE_PERIOD_SECONDS, max(1, math.ceil(startup / PROBE_PERIOD_SECONDS))
        ),
        "securityContext": storage_mod.CONTAINER_SECURITY_CONTEXT,
    }


def _ports(settings: Settings) -> list[tuple[str, int]]:
    """`http`, and `grpc` (OIP v2) unless the operator's server_grpc_port is 0."""
    ports = [("http", settings.server_port)]
    return [*ports, ("grpc", settings.server_grpc_port)] if settings.server_grpc_port else ports


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
        "successThreshold": 1,
    }


def _server_env(
    server: ServerSpec, mv: ModelVersionSpec, trusted: tuple[str, ...], metrics_secret: str
) -> list[dict[str, str]]:
    env = [{"name": "MODELOPS_SERVER_EXPECTED_DIGEST", "value": mv.sha256}]
    if metrics_secret:
        env.append({"name": "MODELOPS_SERVER_METRICS_TOKEN_FILE", "value": f"{METRICS_TOKEN_DIR}/token"})
    optional = {
        "MODELOPS_SERVER_THREADS": server.threads,
        "MODELOPS_SERVER_MAX_BATCH_SIZE": server.max_batch_size,
        "MODELOPS_SERVER_MAX_BATCH_DELAY_MS": server.max_batch_delay_ms,
    }
    env += [{"name": k, "value": str(v)} for k, v in optional.items() if v is not None]
    if server.auth_secret:
        env.append(
            {"name": "MODELOPS_SERVER_AUTH_TOKEN_FILE", "value": f"{AUTH_DIR}/{server.auth_secret.key}"}
        )
    if mv.signature:
        key = mv.signature.public_key_key
        env.append({"name": "MODELOPS_SERVER_PUBLIC_KEY", "value": f"{KEY_DIR}/{key}"})
        env.append({"name": "MODELOPS_SERVER_REQUIRE_SIGNATURE", "value": "true"})
        if trusted:
            env.append({"name": "MODELOPS_SERVER_TRUSTED_KEYS", "value": ",".join(trusted)})
    defined = {e["name"] for e in env}
    env += [{"name": e.name, "value": e.value} for e in server.env if e.name not in defined]
    return env


def _secret_volumes(
    server: ServerSpec, mv: ModelVersionSpec, metrics_secret: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    pairs = []
    if metrics_secret:
        pairs.append(_secret_volume("metrics-token", metrics_secret, METRICS_TOKEN_DIR))
    if server.auth_secret:
        pairs.append(_secret_volume("auth-token", server.auth_secret.name, AUTH_DIR))
    if mv.signature:
        pairs.append(_secret_volume("signing-key", mv.signature.public_key_secret, KEY_DIR))
    return pairs


def _secret_volume(volume: str, secret: str, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    mount = {"name": volume, "mountPath": path, "readOnly": True}
    return mount, {"name": volume, "secret": {"secretName": secret}}


def template_version(deployment: dict[str, Any] | None) -> str | None:
    """The model version a (built or observed) Deployment's pod template serves."""
    if not deployment:
        return None
    annotations = deployment.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations")
    return (annotations or {}).get(VERSION_ANNOTATION)
