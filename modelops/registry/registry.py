"""`ModelRegistry`: the seed's Python API (`register_model`, `deploy_model`, `get_latest_version`,
`get_deployed_version`, `list_versions`) over a File or Kubernetes backend, plus `rollback`.

Validation (semver, model type and environment names, JSON-able metadata, registered before deployed)
and ordering (semver, not time) live here so both backends behave the same. Used by `modelctl` and by
users' scripts exactly as in the seed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelops.names import validate_environment, validate_model_type
from modelops.registry.backend import RegistryBackend
from modelops.registry.errors import (
    InvalidMetadataError,
    ModelNotFoundError,
    NoRollbackTargetError,
    VersionNotFoundError,
)
from modelops.registry.file import RESERVED_KEYS
from modelops.registry.records import Artifact, DeploymentRecord, VersionRecord
from modelops.versions import canonical, latest, parse_version


def _checked_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    data = dict(metadata or {})
    reserved = sorted(RESERVED_KEYS & set(data))
    if reserved:
        raise InvalidMetadataError(f"metadata keys {reserved} are reserved by the registry")
    try:
        return dict(json.loads(json.dumps(data)))
    except (TypeError, ValueError) as error:
        raise InvalidMetadataError(f"metadata must be JSON-serialisable: {error}") from error


class ModelRegistry:
    """Register model versions and say which version each environment serves."""

    def __init__(
        self, backend: RegistryBackend | None = None, *, models_dir: Path | str | None = None
    ) -> None:
        from modelops.registry.factory import DEFAULT_MODELS_DIR, default_backend

        if backend is None:
            backend = default_backend(models_dir)
            models_dir = models_dir or DEFAULT_MODELS_DIR
        self.backend = backend
        self.models_dir = Path(models_dir) if models_dir is not None else None

    def _artifact_from_models_dir(self, model_type: str, version: str) -> Artifact | None:
        # A seed-style call without an artifact pins the exported files when they are in the models dir.
        model_dir = None if self.models_dir is None else self.models_dir / model_type / version
        if model_dir is None or not (model_dir / "manifest.json").is_file():
            return None
        from modelops.package.manifest import manifest_digest

        return Artifact(uri=str(model_dir.resolve()), sha256=manifest_digest(model_dir))

    def register_model(
        self,
        model_type: str,
        version: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        artifact: Artifact | None = None,
    ) -> VersionRecord:
        """Register a version (idempotent for identical content; VersionConflictError otherwise).
        Without `artifact`, a `<models_dir>/<type>/<version>/manifest.json` supplies it."""
        model_type, version = validate_model_type(model_type), canonical(version)
        record = VersionRecord(
            model_type=model_type,
            version=version,
            metadata=_checked_metadata(metadata),
            artifact=artifact or self._artifact_from_models_dir(model_type, version),
        )
        return self.backend.create_version(record)

    def get_version(self, model_type: str, version: str) -> VersionRecord:
        """The registered record; VersionNotFoundError when it is not registered."""
        version = canonical(version)
        record = self.backend.get_version(validate_model_type(model_type), version)
        if record is None:
            raise VersionNotFoundError(f"{model_type} {version} is not registered")
        return record

    def deploy_model(self, model_type: str, version: str, environment: str) -> DeploymentRecord:
        """Ask `environment` to serve `version` (which must be registered)."""
        record = self.get_version(model_type, version)
        return self.backend.set_deployment(
            record.model_type, validate_environment(environment), record.version
        )

    def list_versions(self, model_type: str) -> list[str]:
        """Registered versions, lowest to highest semver; ModelNotFoundError when there are none."""
        records = self.backend.list_versions(validate_model_type(model_type))
        if not records:
            raise ModelNotFoundError(f"no version of {model_type} is registered")
        return sorted((r.version for r in records), key=parse_version)

    def get_latest_version(self, model_type: str) -> str:
        """Highest registered semver (not the most recently registered)."""
        return latest(self.list_versions(model_type))

    def get_deployment(self, model_type: str, environment: str) -> DeploymentRecord | None:
        """The environment's deployment record, or None when nothing was deployed there."""
        return self.backend.get_deployment(validate_model_type(model_type), validate_environment(environment))

    def get_deployed_version(self, model_type: str, environment: str) -> str | None:
        """The version actually serving in `environment` (cluster truth on Kubernetes), or None."""
        deployment = self.get_deployment(model_type, environment)
        return None if deployment is None else deployment.serving_version

    def list_deployments(self, model_type: str | None = None) -> list[DeploymentRecord]:
        """Every deployment, optionally of one type."""
        return self.backend.list_deployments(None if model_type is None else validate_model_type(model_type))

    def list_model_types(self) -> list[str]:
        """Every known model type."""
        return self.backend.list_model_types()

    def rollback(self, model_type: str, environment: str, to: str | None = None) -> DeploymentRecord:
        """Deploy `to`, or by default the previous good version of the environment."""
        target = to if to is not None else self.previous_good_version(model_type, environment)
        return self.deploy_model(model_type, target, environment)

    def previous_good_version(self, model_type: str, environment: str) -> str:
        """The stable version if it differs from the current one, else the latest earlier version in the
        environment's history that did not fail."""
        deployment = self.get_deployment(model_type, environment)
        if deployment is None:
            raise NoRollbackTargetError(f"{model_type} was never deployed to {environment}")
        current, failed = deployment.version, set(deployment.failed_versions)
        if deployment.stable_version and deployment.stable_version != current:
            return deployment.stable_version
        for version in reversed(deployment.history):
            if version != current and version not in failed:
                return version
        raise NoRollbackTargetError(
            f"{model_type} in {environment} has no earlier good version than {current}"
        )
