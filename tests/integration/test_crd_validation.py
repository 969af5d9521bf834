"""The CRDs on a real apiserver: invalid objects are rejected naming the field, immutability holds,
defaults apply, printer columns, categories and `kubectl explain` work."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelops_operator.kube import Kube, KubeError, custom_path
from support.operator_objects import create, model_deployment, model_version

Mutation = Callable[[dict[str, Any]], object]


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    for key in ("uid", "generation", "creationTimestamp"):
        result["metadata"].pop(key, None)
    return result


def _spec(path: str, value: Any) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = obj["spec"]
        for part in parents:
            node = node.setdefault(part, {})
        if value is _DELETE:
            del node[leaf]
        else:
            node[leaf] = value

    return mutate


_DELETE = object()

INVALID_MODEL_VERSIONS = [
    ("version-two-parts", _spec("version", "1.2"), "spec.version"),
    ("version-leading-zero", _spec("version", "v01.2.3"), "spec.version"),
    ("version-word", _spec("version", "latest"), "spec.version"),
    ("sha-uppercase", _spec("artifact.sha256", "AB" * 32), "spec.artifact.sha256"),
    ("sha-short", _spec("artifact.sha256", "a" * 63), "spec.artifact.sha256"),
    ("model-missing", _spec("model", _DELETE), "spec.model"),
    ("model-dashes", _spec("model", "Safety-Classifier"), "spec.model"),
    ("artifact-missing", _spec("artifact", _DELETE), "spec.artifact"),
    ("artifact-uri-missing", _spec("artifact.uri", _DELETE), "spec.artifact.uri"),
    ("artifact-uri-s3-bucket-only", _spec("artifact.uri", "s3://bucket"), "spec.artifact.uri"),
    ("artifact-uri-s3-bad-bucket", _spec("artifact.uri", "s3://Bucket_1/model/"), "spec.artifact.uri"),
    ("format-pickle", _spec("artifact.format", "pickle"), "spec.artifact.format"),
    ("accuracy-above-one", _spec("metrics.accuracy", 1.5), "spec.metrics.accuracy"),
    ("negative-data-size", _spec("training.dataSize", -1), "spec.training.dataSize"),
]

INVALID_MODEL_DEPLOYMENTS = [
    ("environment-pattern", _spec("environment", "Prod_1"), "spec.environment"),
    ("environment-too-long", _spec("environment", "e" * 40), "spec.environment"),
    ("negative-replicas", _spec("replicas", -1), "spec.replicas"),
    ("too-many-replicas", _spec("replicas", 101), "spec.replicas"),
    ("model-missing", _spec("model", _DELETE), "spec.model"),
    ("version-missing", _spec("version", _DELETE), "spec.version"),
    ("version-bad", _spec("version", "v1"), "spec.version"),
    ("storage-type", _spec("storage", {"type": "s3"}), "spec.storage.type"),
    ("hostpath-without-path", _spec("storage", {"type": "hostPath"}), "spec.storage.path is required"),
    ("pvc-without-claim", _spec("storage", {"type": "pvc"}), "spec.storage.claimName is required"),
    ("package-without-url", _spec("storage", {"type": "package"}), "spec.storage.url is required"),
    ("package-ftp", _spec("storage", {"type": "package", "url": "ftp://x"}), "spec.storage.url"),
    (
        "decryption-key-on-hostpath",
        _spec("storage", {"type": "hostPath", "path": "/m", "decryptionKeySecret": {"name": "k"}}),
        "spec.storage.decryptionKeySecret needs spec.storage.type package",
    ),
    (
        "decryption-key-bad-name",
        _spec(
            "storage",
            {"type": "package", "url": "s3://m/a.tar.gz.enc", "decryptionKeySecret": {"name": "K_"}},
        ),
        "spec.storage.decryptionKeySecret.name",
    ),
    ("relative-hostpath", _spec("storage", {"type": "hostPath", "path": "models"}), "spec.storage.path"),
    ("rollback-mode", _spec("rollback.mode", "Revert"), "spec.rollback.mode"),
    (
        "deadline-too-short",
        _spec("rollback.progressDeadlineSeconds", 5),
        "spec.rollback.progressDeadlineSeconds",
    ),
    (
        "error-rate-above-one",
        _spec("rollback.analysis", {"maxErrorRate": 2}),
        "spec.rollback.analysis.maxErrorRate",
    ),
    (
        "inconclusive-abort",
        _spec("rollback.analysis", {"inconclusive": "Abort"}),
        "spec.rollback.analysis.inconclusive",
    ),
    (
        "label-shift-above-one",
        _spec("rollback.analysis", {"maxLabelShift": 1.5}),
        "spec.rollback.analysis.maxLabelShift",
    ),
    (
        "score-delta-negative",
        _spec("rollback.analysis", {"maxScoreDelta": -0.1}),
        "spec.rollback.analysis.maxScoreDelta",
    ),
    (
        "regression-below-one",
        _spec("rollback.analysis", {"maxRegression": 0.5}),
        "spec.rollback.analysis.maxRegression",
    ),
    ("threads-zero", _spec("server", {"threads": 0}), "spec.server.threads"),
    ("pull-policy", _spec("server", {"imagePullPolicy": "Sometimes"}), "spec.server.imagePullPolicy"),
    (
        "cpu-words",
        _spec("server", {"resources": {"requests": {"cpu": "lots"}}}),
        "spec.server.resources.requests.cpu",
    ),
    ("env-name", _spec("server", {"env": [{"name": "1BAD", "value": "x"}]}), "spec.server.env[0].name"),
    (
        "batch-size-zero",
        _spec("server", {"batching": {"maxBatchSize": 0}}),
        "spec.server.batching.maxBatchSize",
    ),
]


@pytest.mark.parametrize(
    ("case", "mutate", "field"), INVALID_MODEL_VERSIONS, ids=[c[0] for c in INVALID_MODEL_VERSIONS]
)
def test_invalid_model_version_is_rejected(
    kube: Kube, namespace: str, case: str, mutate: Mutation, field: str
) -> None:
    obj = _clean(model_version("v1.0.0", namespace=namespace))
    mutate(obj)
    with pytest.raises(KubeError) as rejected:
        create(kube, obj)
    assert rejected.value.status == 422, f"{case}: {rejected.value}"
    assert field in str(rejected.value), f"{case}: message does not name {field}: {rejected.value}"


@pytest.mark.parametrize(
    ("case", "mutate", "field"), INVALID_MODEL_DEPLOYMENTS, ids=[c[0] for c in INVALID_MODEL_DEPLOYMENTS]
)
def test_invalid_model_deployment_is_rejected(
    kube: Kube, namespace: str, case: str, mutate: Mutation, field: str
) -> None:
    obj = _clean(model_deployment("v1.0.0", namespace=namespace))
    mutate(obj)
    with pytest.raises(KubeError) as rejected:
        create(kube, obj)
    assert rejected.value.status == 422, f"{case}: {rejected.value}"
    assert field in str(rejected.value), f"{case}: message does not name {field}: {rejected.value}"


def test_valid_objects_are_accepted_and_defaulted(kube: Kube, namespace: str) -> None:
    mv = create(kube, _clean(model_version("v1.0.0", namespace=namespace)))
    assert mv["spec"]["artifact"]["format"] == "onnx"
    md = _clean(model_deployment("v1.0.0", namespace=namespace))
    del md["spec"]["rollback"], md["spec"]["replicas"]
    md["spec"]["server"] = {
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": 2}}
    }
    created = create(kube, md)
    assert created["spec"]["replicas"] == 1
    assert created["spec"]["rollback"] == {
        "automatic": True,
        "mode": "RevertSpec",
        "progressDeadlineSeconds": 120,
    }
    analysed = _clean(model_deployment("v1.0.0", environment="canary", namespace=namespace))
    analysed["spec"]["rollback"]["analysis"] = {"maxErrorRate": 0.05}
    spec = create(kube, analysed)["spec"]["rollback"]["analysis"]
    assert spec == {
        "maxErrorRate": 0.05,
        "windowSeconds": 60,
        "intervalSeconds": 10,
        "minRequests": 20,
        "inconclusive": "Promote",
    }
    model_aware = _clean(model_deployment("v1.0.0", environment="shadow", namespace=namespace))
    model_aware["spec"]["rollback"]["analysis"] = {
        "maxLabelShift": 0.2,
        "maxScoreDelta": 0.1,
        "inconclusive": "Rollback",
    }
    kept = create(kube, model_aware)["spec"]["rollback"]["analysis"]
    assert (kept["maxLabelShift"], kept["maxScoreDelta"], kept["inconclusive"]) == (0.2, 0.1, "Rollback")


def test_s3_artifacts_and_storage_are_accepted(kube: Kube, namespace: str) -> None:
    for version, uri in (("v1.0.0", "s3://models/safety/v1.0.0/"), ("v1.1.0", "s3://models.x/p/m.tar.gz")):
        mv = _clean(model_version(version, namespace=namespace))
        mv["spec"]["artifact"]["uri"] = uri
        assert create(kube, mv)["spec"]["artifact"]["uri"] == uri
    md = _clean(model_deployment("v1.0.0", namespace=namespace))
    storage = {"type": "package", "url": "s3://models/{model}/{version}/", "s3": {"secretName": "s3-creds"},
               "cache": True}  # fmt: skip
    md["spec"]["storage"] = storage
    assert create(kube, md)["spec"]["storage"] == storage


def test_encrypted_package_storage_is_accepted_with_the_key_defaulted(kube: Kube, namespace: str) -> None:
    md = _clean(model_deployment("v1.0.0", namespace=namespace))
    md["spec"]["storage"] = {"type": "package", "url": "s3://models/{model}/{version}.tar.gz.enc",
                             "decryptionKeySecret": {"name": "model-key"}}  # fmt: skip
    created = create(kube, md)["spec"]["storage"]
    assert created["decryptionKeySecret"] == {"name": "model-key", "key": "key"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("version", "v2.0.0", "spec.version is immutable"),
        ("artifact", {"uri": "/other", "sha256": "cd" * 32, "format": "onnx"}, "spec.artifact is immutable"),
        ("model", "intent_classifier", "spec.model is immutable"),
    ],
)
def test_model_version_identity_is_immutable(
    kube: Kube, namespace: str, field: str, value: Any, message: str
) -> None:
    created = create(kube, _clean(model_version("v1.0.0", namespace=namespace)))
    path = custom_path(namespace, "modelversions", created["metadata"]["name"])
    with pytest.raises(KubeError) as rejected:
        kube.json_patch(path, [{"op": "replace", "path": f"/spec/{field}", "value": value}])
    assert message in str(rejected.value)
    kube.json_patch(path, [{"op": "replace", "path": "/spec/description", "value": "editable"}])


def test_model_deployment_version_changes_but_environment_is_fixed(kube: Kube, namespace: str) -> None:
    created = create(kube, _clean(model_deployment("v1.0.0", namespace=namespace)))
    path = custom_path(namespace, "modeldeployments", created["metadata"]["name"])
    changed = kube.json_patch(path, [{"op": "replace", "path": "/spec/version", "value": "v0.9.0"}])
    assert changed["spec"]["version"] == "v0.9.0"
    with pytest.raises(KubeError, match=r"spec\.environment is immutable"):
        kube.json_patch(path, [{"op": "replace", "path": "/spec/environment", "value": "staging"}])


def test_status_subresource_printer_columns_and_category(
    apiserver: Any, kube: Kube, namespace: str, tmp_path: Path
) -> None:
    created = create(kube, _clean(model_deployment("v1.0.0", namespace=namespace)))
    name = created["metadata"]["name"]
    path = custom_path(namespace, "modeldeployments", name)
    kube.write_status(
        path,
        {"servingVersion": "v1.0.0", "ready": "2/2", "phase": "Available", "analysis": {"phase": "Passed"}},
    )
    try:
        # A fresh discovery cache: the crds fixture's kubectl cached discovery before the CRDs existed.
        table = apiserver.client.run("get", "modelops", "-n", namespace, f"--cache-dir={tmp_path}")
    except subprocess.CalledProcessError as error:
        raise AssertionError(error.stderr) from error
    header, row = table.splitlines()[0].split(), table.splitlines()[1].split()
    assert header == ["NAME", "MODEL", "ENV", "DESIRED", "SERVING", "READY", "STATUS", "ANALYSIS", "AGE"]
    assert row[:8] == [
        f"modeldeployment.modelops.io/{name}",
        "safety_classifier",
        "production",
        "v1.0.0",
        "v1.0.0",
        "2/2",
        "Available",
        "Passed",
    ]
    short = apiserver.client.run("get", "md", name, "-n", namespace, "-o", "name")
    assert short.strip() == f"modeldeployment.modelops.io/{name}"


@pytest.mark.parametrize(
    "field",
    [
        "modeldeployment.spec.rollback.mode",
        "modeldeployment.status.failedVersions",
        "modelversion.spec.artifact.sha256",
        "modelversion.status.deployments",
    ],
)
def test_kubectl_explain_documents_fields(apiserver: Any, crds: list[str], field: str) -> None:
    def explain() -> str:
        return str(apiserver.client.run("explain", field))

    try:
        text = explain()
    except subprocess.CalledProcessError:  # OpenAPI of a fresh CRD is published asynchronously
        from support.cluster import Poller

        text = Poller(30, what=f"kubectl explain {field}").until(explain)
    assert "DESCRIPTION:" in text or "FIELD:" in text
    assert "<empty>" not in text.split("FIELDS:")[0]


def test_fail_fast_failure_keeps_its_report_time(kube: Kube, namespace: str) -> None:
    """status.failedVersions[].reportedAt (fail-fast) is in the schema: the apiserver does not prune it."""
    created = create(kube, _clean(model_deployment("v1.2.0", namespace=namespace)))
    path = custom_path(namespace, "modeldeployments", created["metadata"]["name"])
    failed = {
        "version": "v1.2.0",
        "cause": "VerificationFailed",
        "reason": "sha256 mismatch for model.onnx: expected aa, got bb",
        "time": "2026-01-01T12:00:03Z",
        "reportedAt": "2026-01-01T12:00:02.345Z",
    }
    kube.write_status(path, {"failedVersions": [failed]})
    stored = kube.get(path)
    assert stored is not None
    assert stored["status"]["failedVersions"] == [failed]
