"""`registry.json` backend: the seed's file registry (`models` and `deployments`), safe for concurrent use.

Used by `ModelRegistry` when no cluster is configured, and by `modelctl --registry file`. Every
change happens under an exclusive file lock (`registry.json.lock`) as read → modify → write to a
temporary file in the same directory → fsync → `os.replace`, so readers see either the old or the
new file, never a partial one, and two writers never lose each other's entries.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout

from modelops.registry.errors import BackendError, VersionConflictError
from modelops.registry.records import Artifact, DeploymentRecord, VersionRecord, utc_now

RESERVED_KEYS = frozenset({"version", "registered_at", "status", "artifact"})
LOCK_TIMEOUT_S = 30.0
T = TypeVar("T")
Document = dict[str, Any]


def _empty() -> Document:
    return {"models": {}, "deployments": {}}


class FileBackend:
    """Registry stored in one JSON file with the seed's structure."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT_S)

    def read(self) -> Document:
        """The current document (empty structure when the file does not exist yet)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return _empty()
        except (OSError, ValueError) as error:
            raise BackendError(f"cannot read registry {self.path}: {error}") from error
        data.setdefault("models", {})
        data.setdefault("deployments", {})
        return dict(data)

    def _write(self, data: Document) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".registry-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._lock:
                yield
        except Timeout as error:
            raise BackendError(
                f"registry {self.path} is locked by another writer (waited {LOCK_TIMEOUT_S} s)"
            ) from error

    def _update(self, change: Callable[[Document], T]) -> T:
        with self._locked():
            data = self.read()
            result = change(data)
            self._write(data)
            return result

    def create_version(self, record: VersionRecord) -> VersionRecord:
        """Add the version unless it exists; same content → the stored record, else conflict."""

        def change(data: Document) -> VersionRecord:
            versions = data["models"].setdefault(record.model_type, {})
            if record.version in versions:
                stored = _version_from_entry(record.model_type, versions[record.version])
                if not stored.same_content(record):
                    raise VersionConflictError(
                        f"{record.model_type} {record.version} is already registered with different "
                        "metadata or artifact; register a new version instead"
                    )
                return stored
            versions[record.version] = _version_entry(record)
            return record

        return self._update(change)

    def get_version(self, model_type: str, version: str) -> VersionRecord | None:
        """The stored version or None."""
        entry = self.read()["models"].get(model_type, {}).get(version)
        return None if entry is None else _version_from_entry(model_type, entry)

    def list_versions(self, model_type: str) -> list[VersionRecord]:
        """Every stored version of the type."""
        entries = self.read()["models"].get(model_type, {})
        return [_version_from_entry(model_type, entry) for entry in entries.values()]

    def list_model_types(self) -> list[str]:
        """Types with versions or deployments, sorted."""
        data = self.read()
        return sorted(set(data["models"]) | set(data["deployments"]))

    def set_deployment(self, model_type: str, environment: str, version: str) -> DeploymentRecord:
        """Point the environment at `version` and record the previous one in its history."""

        def change(data: Document) -> DeploymentRecord:
            envs = data["deployments"].setdefault(model_type, {})
            previous = envs.get(environment, {})
            history = list(previous.get("history", []))
            if previous.get("version") and previous["version"] != version:
                history.append(previous["version"])
            envs[environment] = {
                "version": version,
                "deployed_at": utc_now(),
                "status": "active",
                "history": history,
            }
            _refresh_statuses(data, model_type)
            return _deployment_from_entry(model_type, environment, envs[environment])

        return self._update(change)

    def get_deployment(self, model_type: str, environment: str) -> DeploymentRecord | None:
        """The environment's deployment or None."""
        entry = self.read()["deployments"].get(model_type, {}).get(environment)
        return None if entry is None else _deployment_from_entry(model_type, environment, entry)

    def list_deployments(self, model_type: str | None = None) -> list[DeploymentRecord]:
        """Deployments of one type or all, sorted by type then environment."""
        deployments = self.read()["deployments"]
        types = [model_type] if model_type is not None else sorted(deployments)
        return [
            _deployment_from_entry(name, env, entry)
            for name in types
            for env, entry in sorted(deployments.get(name, {}).items())
        ]


def _version_entry(record: VersionRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "version": record.version,
        "registered_at": record.registered_at,
        "status": "registered",
    }
    entry.update(record.metadata)
    if record.artifact is not None:
        entry["artifact"] = record.artifact.to_dict()
    return entry


def _version_from_entry(model_type: str, entry: dict[str, Any]) -> VersionRecord:
    artifact = entry.get("artifact")
    return VersionRecord(
        model_type=model_type,
        version=str(entry["version"]),
        metadata={k: v for k, v in entry.items() if k not in RESERVED_KEYS},
        registered_at=str(entry.get("registered_at", "")),
        artifact=Artifact.from_dict(artifact) if isinstance(artifact, dict) else None,
    )


def _deployment_from_entry(model_type: str, environment: str, entry: dict[str, Any]) -> DeploymentRecord:
    version = str(entry["version"])
    return DeploymentRecord(
        model_type=model_type,
        environment=environment,
        version=version,
        serving_version=version,
        deployed_at=str(entry.get("deployed_at", "")),
        status=str(entry.get("status", "active")),
        history=tuple(str(v) for v in entry.get("history", [])),
    )


def _refresh_statuses(data: Document, model_type: str) -> None:
    # The seed marks each version `deployed_<env>` where it serves; others go back to `registered`.
    where = {entry["version"]: env for env, entry in sorted(data["deployments"].get(model_type, {}).items())}
    for version, entry in data["models"].get(model_type, {}).items():
        entry["status"] = f"deployed_{where[version]}" if version in where else "registered"
