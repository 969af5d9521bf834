"""The seed's model registry API: `from modelops.registry import ModelRegistry`.

Re-exports the registry, its two backends' factory, the records and every documented exception.
"""

from __future__ import annotations

from modelops.names import InvalidNameError
from modelops.registry.errors import (
    BackendError,
    InvalidMetadataError,
    ModelNotFoundError,
    NoRollbackTargetError,
    PromotionBlockedError,
    RegistryError,
    VersionConflictError,
    VersionNotFoundError,
)
from modelops.registry.file import FileBackend
from modelops.registry.records import Artifact, DeploymentRecord, VersionRecord
from modelops.registry.registry import ModelRegistry
from modelops.versions import InvalidVersionError

__all__ = [
    "Artifact",
    "BackendError",
    "DeploymentRecord",
    "FileBackend",
    "InvalidMetadataError",
    "InvalidNameError",
    "InvalidVersionError",
    "ModelNotFoundError",
    "ModelRegistry",
    "NoRollbackTargetError",
    "PromotionBlockedError",
    "RegistryError",
    "VersionConflictError",
    "VersionNotFoundError",
    "VersionRecord",
]
