"""The storage interface `ModelRegistry` uses; implemented by `FileBackend` and `KubernetesBackend`.

Backends store and read records; `ModelRegistry` does validation and ordering. `create_version` and
`set_deployment` must be atomic: a concurrent writer never loses or half-writes an entry.
"""

from __future__ import annotations

from typing import Protocol

from modelops.registry.records import DeploymentRecord, VersionRecord


class RegistryBackend(Protocol):
    """Where registered versions and deployments live."""

    def create_version(self, record: VersionRecord) -> VersionRecord:
        """Store `record`; if the version exists return the stored one when its content is the same,
        else raise VersionConflictError."""
        ...

    def get_version(self, model_type: str, version: str) -> VersionRecord | None:
        """The stored record, or None."""
        ...

    def list_versions(self, model_type: str) -> list[VersionRecord]:
        """Every registered version of a type, in no particular order."""
        ...

    def list_model_types(self) -> list[str]:
        """Every model type with at least one version or deployment."""
        ...

    def set_deployment(self, model_type: str, environment: str, version: str) -> DeploymentRecord:
        """Ask for `version` to serve in `environment` (create or update)."""
        ...

    def get_deployment(self, model_type: str, environment: str) -> DeploymentRecord | None:
        """The environment's deployment, or None."""
        ...

    def list_deployments(self, model_type: str | None = None) -> list[DeploymentRecord]:
        """Deployments of one type, or of all types."""
        ...
