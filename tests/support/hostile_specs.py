"""The hostile-spec table: ModelDeployments and ModelVersions that a namespace user might write to make a
model pod mount the node, run a foreign image, trust their own key or make the operator call an address.

`tests/unit/operator/test_policy.py` runs each row through `policy.check`; the integration test
`tests/integration/test_policy_admission.py` applies each row to a real apiserver, where the chart's
ValidatingAdmissionPolicy must refuse it, and (policy removed) runs the operator's reconcile, which must
refuse it with nothing created. Every row breaks exactly one rule of `POLICY`, and names that field.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from support.operator_objects import DIGEST, MODEL

# The platform policy the table is judged against (the chart's `policy` values, camelCase).
POLICY: dict[str, Any] = {
    "hostPaths": ["/app/models"],
    "allowPVC": False,
    "packageSchemes": ["https"],
    "packageHosts": ["models.example.com"],
    "images": ["registry.example.com/modelops-server:"],
    "requireSignature": True,
    "trustedKeySecrets": ["platform-signing-key"],
    "prometheusURLs": ["http://prometheus.monitoring.svc:9090"],
    "decryptionKeySecrets": ["platform-model-key"],
}
TRUSTED_SIGNATURE = {"publicKeySecret": "platform-signing-key"}
ANALYSIS = {"windowSeconds": 30, "intervalSeconds": 5, "maxErrorRate": 0.1}


@dataclass(frozen=True)
class Hostile:
    """One row: which object is hostile ('md' or 'mv'), the spec fields it sets, the field to be named."""

    name: str
    kind: str
    spec: dict[str, Any]
    field: str
    artifact: dict[str, Any] = field(default_factory=dict)


def _md(name: str, field_name: str, **spec: Any) -> Hostile:
    return Hostile(name, "md", spec, field_name)


def _mv(name: str, field_name: str, **artifact: Any) -> Hostile:
    return Hostile(name, "mv", {}, field_name, artifact)


def _host(path: str) -> dict[str, Any]:
    return {"storage": {"type": "hostPath", "path": path}}


def _package(url: str) -> dict[str, Any]:
    return {"storage": {"type": "package", "url": url}}


def _env(name: str, value: str = "x") -> dict[str, Any]:
    return {"server": {"env": [{"name": name, "value": value}]}}


def _prometheus(url: str) -> dict[str, Any]:
    return {"rollback": {"analysis": {**ANALYSIS, "prometheusURL": url}}}


TABLE: list[Hostile] = [
    _md("hostPath /", "spec.storage.path", **_host("/")),
    _md("hostPath /var/lib/kubelet", "spec.storage.path", **_host("/var/lib/kubelet")),
    _md("hostPath /etc", "spec.storage.path", **_host("/etc")),
    _md("hostPath /root/.ssh", "spec.storage.path", **_host("/root/.ssh")),
    _md("hostPath traversal", "spec.storage.path", **_host("/app/models/../../var/lib/kubelet")),
    _md("hostPath sibling prefix", "spec.storage.path", **_host("/app/models-evil")),
    _md("pvc when PVCs are off", "spec.storage.type", storage={"type": "pvc", "claimName": "models"}),
    _md(
        "http package under https-only", "spec.storage.url", **_package("http://models.example.com/m.tar.gz")
    ),
    _md(
        "package host suffix trick",
        "spec.storage.url",
        **_package("https://models.example.com.evil.net/m.tar.gz"),
    ),
    _md("package path in the image", "spec.storage.url", **_package("/etc/passwd")),
    _md(
        "untrusted decryption key Secret",
        "spec.storage.decryptionKeySecret.name",
        storage={
            "type": "package",
            "url": "https://models.example.com/m.tar.gz.enc",
            "decryptionKeySecret": {"name": "db-password"},
        },
    ),
    _md("package from a foreign host", "spec.storage.url", **_package("https://evil.example.net/m.tar.gz")),
    _md(
        "package URL with credentials",
        "spec.storage.url",
        **_package("https://u:p@models.example.com/m.tar.gz"),
    ),
    _md("foreign image", "spec.server.image", server={"image": "evil.example.com/pwn:latest"}),
    _md(
        "image prefix trick",
        "spec.server.image",
        server={"image": "registry.example.com/modelops-server-evil:v1"},
    ),
    _md("docker hub busybox", "spec.server.image", server={"image": "docker.io/library/busybox:latest"}),
    _md("env LD_PRELOAD", "spec.server.env[", **_env("LD_PRELOAD", "/models/evil.so")),
    _md("env PYTHONPATH", "spec.server.env[", **_env("PYTHONPATH", "/models")),
    _md(
        "env weakens signature check",
        "spec.server.env[",
        **_env("MODELOPS_SERVER_REQUIRE_SIGNATURE", "false"),
    ),
    _md("env swaps the package", "spec.server.env[", **_env("MODELOPS_SERVER_PACKAGE", "http://evil/m.tgz")),
    _md("env swaps the models dir", "spec.server.env[", **_env("MODELOPS_SERVER_MODELS_DIR", "/tmp")),
    _md(
        "env swaps the pinned digest", "spec.server.env[", **_env("MODELOPS_SERVER_EXPECTED_DIGEST", "0" * 64)
    ),
    _md(
        "env swaps the metrics token",
        "spec.server.env[",
        **_env("MODELOPS_SERVER_METRICS_TOKEN_FILE", "/models/known-token"),
    ),
    _md(
        "prometheus at cloud metadata",
        "spec.rollback.analysis.prometheusURL",
        **_prometheus("http://169.254.169.254/latest/meta-data/"),
    ),
    _md(
        "prometheus at the apiserver",
        "spec.rollback.analysis.prometheusURL",
        **_prometheus("https://kubernetes.default.svc/api/v1/secrets"),
    ),
    _md(
        "prometheus URL prefix trick",
        "spec.rollback.analysis.prometheusURL",
        **_prometheus("http://prometheus.monitoring.svc:9090.evil.example"),
    ),
    _mv("artifact uri /", "spec.artifact.uri", uri="/"),
    _mv("artifact uri file:///etc", "spec.artifact.uri", uri="file:///etc"),
    _mv("artifact in kubelet pods dir", "spec.artifact.uri", uri=f"/var/lib/kubelet/pods/x/{MODEL}/v1.0.0"),
    _mv("http artifact under https-only", "spec.artifact.uri", uri="http://models.example.com/m.tar.gz"),
    _mv("artifact from a foreign host", "spec.artifact.uri", uri="https://evil.example.net/m.tar.gz"),
    _mv("pvc artifact when PVCs are off", "spec.artifact.uri", uri="pvc://models/seed"),
    _mv("unsigned model under requireSignature", "spec.artifact.signature", signature=None),
    _mv(
        "untrusted signing key",
        "spec.artifact.signature.publicKeySecret",
        signature={"publicKeySecret": "my-own-key"},
    ),
]


def row_version(index: int) -> str:
    """A distinct version per row, so that every row has its own ModelVersion."""
    return f"v1.{index}.0"


def model_version_for(row: Hostile, index: int, namespace: str) -> dict[str, Any]:
    """The row's ModelVersion: clean (signed, under the models dir) unless the row makes it hostile."""
    version = row_version(index)
    artifact: dict[str, Any] = {
        "uri": f"/app/models/{MODEL}/{version}",
        "format": "onnx",
        "sha256": DIGEST,
        "signature": dict(TRUSTED_SIGNATURE),
    }
    for key, value in row.artifact.items():
        if value is None:
            artifact.pop(key, None)
        else:
            artifact[key] = value
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {"name": f"{MODEL.replace('_', '-')}-v1-{index}-0", "namespace": namespace},
        "spec": {"model": MODEL, "version": version, "artifact": artifact},
    }


def model_deployment_for(row: Hostile, index: int, namespace: str) -> dict[str, Any]:
    """The row's ModelDeployment: no storage (derived from the artifact) unless the row sets one."""
    spec: dict[str, Any] = {"model": MODEL, "environment": f"env{index}", "version": row_version(index)}
    spec.update(copy.deepcopy(row.spec))
    return {
        "apiVersion": "modelops.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": f"hostile-{index}", "namespace": namespace},
        "spec": spec,
    }
