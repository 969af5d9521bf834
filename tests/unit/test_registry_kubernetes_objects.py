"""How the Kubernetes backend maps records to ModelVersion/ModelDeployment objects and back (pure
mapping; the apiserver behaviour is in tests/integration/test_registry_kubernetes.py)."""

from __future__ import annotations

from modelops.registry.kubernetes_objects import record_from_deployment, record_from_version, version_object
from modelops.registry.records import Artifact, VersionRecord

ARTIFACT = Artifact(uri="/models/safety_classifier/v1.0.0", sha256="a" * 64, signature_secret="keys")


def test_version_object_follows_the_crd() -> None:
    metadata = {
        "accuracy": 0.98,
        "training_data_size": 1000,
        "training_date": "2024-01-01",
        "epochs": 30,
        "labels": ["safe", "risk"],
        "notes": "first",
    }
    obj = version_object(VersionRecord("safety_classifier", "v1.0.0", metadata, artifact=ARTIFACT))
    assert obj["metadata"]["name"] == "safety-classifier-v1-0-0"
    assert obj["spec"] == {
        "model": "safety_classifier",
        "version": "v1.0.0",
        "artifact": {
            "uri": ARTIFACT.uri,
            "format": "onnx",
            "sha256": "a" * 64,
            "signature": {"publicKeySecret": "keys"},
        },
        "metrics": {"accuracy": 0.98},  # the CRD allows 0..1 only; other numbers stay in the annotation
        "training": {"dataSize": 1000, "date": "2024-01-01"},
        "labels": ["safe", "risk"],
    }
    assert record_from_version(obj).metadata == metadata
    assert record_from_version(obj).artifact == ARTIFACT


def test_deployment_record_reads_cluster_truth_from_status() -> None:
    obj = {
        "metadata": {"name": "safety-classifier-production", "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"model": "safety_classifier", "environment": "production", "version": "v1.2.0"},
        "status": {
            "servingVersion": "v1.1.0",
            "stableVersion": "v1.1.0",
            "failedVersions": [{"version": "v1.2.0", "reason": "sha256 mismatch for model.onnx"}],
            "history": [
                {"version": "v1.0.0", "event": "Available"},
                {"version": "v1.1.0", "event": "Available"},
            ],
            "conditions": [{"type": "Available", "status": "True"}, {"type": "Degraded", "status": "True"}],
        },
    }
    record = record_from_deployment(obj)
    assert (record.version, record.serving_version, record.stable_version) == ("v1.2.0", "v1.1.0", "v1.1.0")
    assert record.failed_versions == ("v1.2.0",) and record.history == ("v1.0.0", "v1.1.0")
    assert record.status == "degraded" and record.deployed_at == "2024-01-01T00:00:00Z"
    fresh = record_from_deployment({**obj, "status": {}})
    assert (fresh.serving_version, fresh.status) == (None, "pending")


def test_history_leaves_out_versions_that_never_became_good() -> None:
    obj = {
        "metadata": {"name": "safety-classifier-production"},
        "spec": {"model": "safety_classifier", "environment": "production", "version": "v1.2.0"},
        "status": {
            "servingVersion": "v1.2.0",
            "stableVersion": "v1.2.0",
            "history": [
                {"version": "v1.0.0", "event": "Promoted"},
                {"version": "v1.1.0", "event": "Deploying"},
                {"version": "v1.2.0", "event": "Deploying"},
                {"version": "v1.2.0", "event": "Promoted"},
            ],
        },
    }
    assert record_from_deployment(obj).history == ("v1.0.0", "v1.2.0")
