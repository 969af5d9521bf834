"""Exceptions raised by `ModelRegistry` and its backends (the documented error types of the registry API).

Every one subclasses `RegistryError`, so callers (the CLI, scripts) can catch one type; the message is
one line that says what was wrong. Invalid versions raise `modelops.versions.InvalidVersionError` and
invalid model types or environments `modelops.names.InvalidNameError` (both ValueErrors), re-exported
from `modelops.registry`.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base class of every registry failure."""


class ModelNotFoundError(RegistryError, LookupError):
    """No version of this model type is registered."""


class VersionNotFoundError(RegistryError, LookupError):
    """The version is not registered (also raised when deploying an unregistered version)."""


class VersionConflictError(RegistryError):
    """The version is already registered with different metadata or artifact; versions are immutable."""


class InvalidMetadataError(RegistryError, ValueError):
    """Metadata that cannot be stored (not JSON-serialisable, or uses a reserved key)."""


class NoRollbackTargetError(RegistryError):
    """A rollback was asked for but there is no earlier good version to go back to."""


class BackendError(RegistryError):
    """The storage behind the registry failed (file lock timeout, API server error, missing CRDs)."""


class PromotionBlockedError(RegistryError):
    """The environment's promotion gates (`spec.promotion`) do not let this version in yet.

    The message says what is missing, in the operator's words ("v1.2.0 has been healthy in staging
    for 4m of the required 10m"); `opens_at` is when it opens by waiting alone, if it does.
    """

    def __init__(self, message: str, opens_at: object = None) -> None:
        super().__init__(message)
        self.opens_at = opens_at
