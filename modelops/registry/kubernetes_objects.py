"""ModelVersion and ModelDeployment objects to and from the registry's records (pure, no API calls).

`modelops.registry.kubernetes.KubernetesBackend` writes what `version_object` builds and reads back
through `record_from_version` / `record_from_deployment`; the records are what `ModelRegistry` and
`modelctl` show, so this is where a ModelDeployment's status becomes one word and a rollback history.
"""

from __future__ import annotations

import json
from typing import Any

from modelops.names import model_version_name, type_to_dns, version_to_dns
from modelops.registry.records import Artifact, DeploymentRecord, VersionRecord
from modelops.vocabulary import (
    API_VERSION,
    AVAILABLE,
    DEGRADED,
    EVENT_DEPLOYING,
    EVENT_RETRY_REQUESTED,
    EVENT_ROLLOUT_FAILED,
    GROUP,
    MODEL_LABEL,
    PROGRESSING,
    VERSION_LABEL,
)

METADATA_ANNOTATION = f"{GROUP}/metadata"
DEPLOYED_AT_ANNOTATION = f"{GROUP}/deployed-at"
_TRAINING_KEYS = {"training_data_size": "dataSize", "training_date": "date"}


def _is_score(value: Any) -> bool:
    # spec.metrics holds scores in [0, 1] (CRD schema); other numbers (epochs, sizes) stay in the annotation.
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def version_spec(record: VersionRecord) -> dict[str, Any]:
    """ModelVersion spec: model, version, artifact, metrics, training, labels (class names)."""
    metadata = record.metadata
    metrics = {
        key: value for key, value in metadata.items() if _is_score(value) and key not in _TRAINING_KEYS
    }
    training = {field: metadata[key] for key, field in _TRAINING_KEYS.items() if key in metadata}
    if "dataSize" in training:
        training["dataSize"] = int(training["dataSize"])
    if "date" in training:
        training["date"] = str(training["date"])
    assert record.artifact is not None
    spec: dict[str, Any] = {
        "model": record.model_type,
        "version": record.version,
        "artifact": record.artifact.to_dict(),
        "metrics": metrics,
        "training": training,
    }
    labels = metadata.get("labels")
    if isinstance(labels, list) and all(isinstance(label, str) for label in labels):
        spec["labels"] = labels
    return spec


def version_object(record: VersionRecord) -> dict[str, Any]:
    """The whole ModelVersion object for a record (its artifact must be known)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ModelVersion",
        "metadata": {
            "name": model_version_name(record.model_type, record.version),
            "labels": {
                MODEL_LABEL: type_to_dns(record.model_type),
                VERSION_LABEL: version_to_dns(record.version),
            },
            "annotations": {METADATA_ANNOTATION: json.dumps(record.metadata, sort_keys=True)},
        },
        "spec": version_spec(record),
    }


def record_from_version(obj: dict[str, Any]) -> VersionRecord:
    """Rebuild a VersionRecord from a ModelVersion (metadata from its annotation when present)."""
    meta, spec = obj.get("metadata", {}), obj.get("spec", {})
    annotation = (meta.get("annotations") or {}).get(METADATA_ANNOTATION)
    if annotation:
        metadata = dict(json.loads(annotation))
    else:
        training = spec.get("training") or {}
        metadata = dict(spec.get("metrics") or {})
        metadata.update({key: training[field] for key, field in _TRAINING_KEYS.items() if field in training})
    status = obj.get("status") or {}
    return VersionRecord(
        model_type=str(spec["model"]),
        version=str(spec["version"]),
        metadata=metadata,
        registered_at=str(status.get("registeredAt") or meta.get("creationTimestamp") or ""),
        artifact=Artifact.from_dict(spec["artifact"]) if spec.get("artifact") else None,
    )


def _status_word(status: dict[str, Any], generation: int) -> str:
    """pending (never reconciled), progressing (a new spec not seen yet, or a rollout running),
    degraded, or available (serving, nothing in progress)."""
    if not status:
        return "pending"
    if int(status.get("observedGeneration") or 0) < generation:
        return "progressing"  # the conditions still describe the previous spec
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if conditions.get(DEGRADED) == "True":
        return "degraded"
    if conditions.get(PROGRESSING) == "True" or conditions.get(AVAILABLE) != "True":
        return "progressing"
    return "available"


# History events the operator writes for versions that never served as good (rollback targets).
_NOT_GOOD_EVENTS = frozenset({EVENT_DEPLOYING, EVENT_ROLLOUT_FAILED, EVENT_RETRY_REQUESTED})


def _versions_of(entries: Any, skip_events: frozenset[str] = frozenset()) -> tuple[str, ...]:
    found = []
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("event") in skip_events:
            continue
        version = entry.get("version") if isinstance(entry, dict) else entry
        if isinstance(version, str):
            found.append(version)
    return tuple(found)


def record_from_deployment(obj: dict[str, Any]) -> DeploymentRecord:
    """DeploymentRecord of a ModelDeployment: desired from spec, serving/stable/failed from status."""
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    annotations = meta.get("annotations") or {}
    return DeploymentRecord(
        model_type=str(spec["model"]),
        environment=str(spec["environment"]),
        version=str(spec["version"]),
        serving_version=status.get("servingVersion") or None,
        deployed_at=str(annotations.get(DEPLOYED_AT_ANNOTATION) or meta.get("creationTimestamp") or ""),
        status=_status_word(status, int(meta.get("generation") or 0)),
        stable_version=status.get("stableVersion") or None,
        failed_versions=_versions_of(status.get("failedVersions")),
        # Only versions that became good (Promoted, or the target of a RolledBack): a version that was
        # merely Deploying when the next one was asked for is no "previous good version".
        history=_versions_of(status.get("history"), _NOT_GOOD_EVENTS),
    )
