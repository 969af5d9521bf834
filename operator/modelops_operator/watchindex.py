"""Which objects a watch event concerns: ModelDeployments and ModelVersions indexed by model version.

`handlers` feeds it every ModelDeployment and ModelVersion event and queues what it returns. A
ModelDeployment's reconcile reads only the ModelVersions of its target and stable versions, and a
ModelVersion's status lists the ModelDeployments serving it, so an event concerns only the objects of
the same namespace, model and version — never every object of the model (with 100 environments of one
model, a new version would otherwise queue 100 reconciles).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from modelops.versions import InvalidVersionError, canonical

VersionKey = tuple[str, str, str]  # (namespace, model, canonical version)
DELETED = "DELETED"


def _canonical(version: Any) -> str | None:
    if not version:
        return None
    try:
        return canonical(str(version))
    except InvalidVersionError:
        return str(version)


def deployment_versions(body: Mapping[str, Any]) -> frozenset[str]:
    """The versions a ModelDeployment reads or serves: spec.version, stable and serving."""
    status = body.get("status") or {}
    found = (body.get("spec", {}).get("version"), status.get("stableVersion"), status.get("servingVersion"))
    return frozenset(v for v in map(_canonical, found) if v)


class WatchIndex:
    """Names by (namespace, model, version), kept from watch events; safe across kopf's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._md_versions: dict[tuple[str, str], tuple[str, frozenset[str]]] = {}
        self._mds: defaultdict[VersionKey, set[str]] = defaultdict(set)
        self._mvs: defaultdict[VersionKey, set[str]] = defaultdict(set)
        self._mv_version: dict[tuple[str, str], VersionKey] = {}

    def model_deployment_event(self, event_type: str | None, body: Mapping[str, Any]) -> set[str]:
        """Record a ModelDeployment; the ModelVersions concerned (of its versions before and now)."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        model = str(body.get("spec", {}).get("model", ""))
        now = frozenset() if event_type == DELETED else deployment_versions(body)
        with self._lock:
            _, before = self._md_versions.pop((namespace, name), (model, frozenset()))
            for version in before:
                self._mds[(namespace, model, version)].discard(name)
            for version in now:
                self._mds[(namespace, model, version)].add(name)
            if now:
                self._md_versions[(namespace, name)] = (model, now)
            return {mv for v in before | now for mv in self._mvs.get((namespace, model, v), ())}

    def model_version_event(self, event_type: str | None, body: Mapping[str, Any]) -> set[str]:
        """Record a ModelVersion; the ModelDeployments that read or serve its version."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        spec = body.get("spec", {})
        key = (namespace, str(spec.get("model", "")), _canonical(spec.get("version")) or "")
        with self._lock:
            old = self._mv_version.pop((namespace, name), None)
            if old is not None:
                self._mvs[old].discard(name)
            if event_type != DELETED:
                self._mvs[key].add(name)
                self._mv_version[(namespace, name)] = key
            return set(self._mds.get(key, ()))
