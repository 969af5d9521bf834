"""What the registry stores: registered versions and per-environment deployments, backend-neutral.

`ModelRegistry` validates and builds these; `FileBackend` and `KubernetesBackend` map them to
`registry.json` entries and to ModelVersion / ModelDeployment objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_now() -> str:
    """Timestamps in the seed's style, always UTC: `2024-01-01T00:00:00+00:00`."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Artifact:
    """Where a version's files are and the digest (sha256 of manifest.json) that pins them."""

    uri: str
    sha256: str
    format: str = "onnx"
    # Name of the Secret holding the public key that must have signed the model (model.sig).
    signature_secret: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (the ModelVersion `spec.artifact` shape)."""
        data: dict[str, Any] = {"uri": self.uri, "format": self.format, "sha256": self.sha256}
        if self.signature_secret:
            data["signature"] = {"publicKeySecret": self.signature_secret}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Artifact:
        """Inverse of to_dict (defaults the API server adds to `signature` are ignored)."""
        signature = data.get("signature") or {}
        return cls(
            uri=str(data["uri"]),
            sha256=str(data["sha256"]),
            format=str(data.get("format", "onnx")),
            signature_secret=signature.get("publicKeySecret") or None,
        )


@dataclass(frozen=True)
class VersionRecord:
    """One registered version: seed metadata (accuracy, recall, ...) plus its artifact when known."""

    model_type: str
    version: str
    metadata: dict[str, Any]
    registered_at: str = field(default_factory=utc_now, compare=False)
    artifact: Artifact | None = None

    def same_content(self, other: VersionRecord) -> bool:
        """True when registering `other` again would change nothing (registration time aside)."""
        return (
            canonical_json(self.metadata) == canonical_json(other.metadata)
            and self.artifact == other.artifact
        )


@dataclass(frozen=True)
class DeploymentRecord:
    """An environment's deployment: the version asked for and the one actually serving."""

    model_type: str
    environment: str
    version: str
    serving_version: str | None
    deployed_at: str
    status: str
    stable_version: str | None = None
    failed_versions: tuple[str, ...] = ()
    history: tuple[str, ...] = ()


def canonical_json(value: Any) -> str:
    """Stable JSON text of a value, used to compare metadata regardless of key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
