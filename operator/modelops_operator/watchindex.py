"""Which objects a watch event concerns: ModelDeployments and ModelVersions indexed by model version.

`handlers` feeds it every ModelDeployment and ModelVersion event and queues what it returns. A
ModelDeployment's reconcile reads only the ModelVersions of its target and stable versions, and a
ModelVersion's status lists the ModelDeployments serving it, so an event concerns only the objects of
the same namespace, model and version — never every object of the model (with 100 environments of one
model, a new version would otherwise queue 100 reconciles).

It also tells whether an event changed what the object's own reconcile reads (controller-runtime's
generation predicate, plus annotations): the status writes of the operator itself come back as events,
and reconciling again for each of them would double the work for nothing.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from modelops.versions import InvalidVersionError, canonical
from modelops.vocabulary import MV_PHASE_INVALID
from modelops_operator.evidence import read_from

VersionKey = tuple[str, str, str]  # (namespace, model, canonical version)
DELETED = "DELETED"


def _canonical(version: Any) -> str | None:
    if not version:
        return None
    try:
        return canonical(str(version))
    except InvalidVersionError:
        return str(version)


def _intent(body: Mapping[str, Any]) -> tuple[tuple[Any, ...], str]:
    """What reconciles read: (uid, spec generation, annotations, validity) and a ModelVersion's promotion
    evidence (`status.environments`, which only the gates of other environments judge). The uid makes an
    object deleted and created again under its name (generation 1 again) a new one."""
    meta, status = body.get("metadata") or {}, body.get("status") or {}
    annotations = tuple(sorted((meta.get("annotations") or {}).items()))
    evidence = json.dumps(status.get("environments"), sort_keys=True)
    intent = (meta.get("uid"), meta.get("generation"), annotations, status.get("phase") == MV_PHASE_INVALID)
    return intent, evidence


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
        self._intents: dict[tuple[str, str, str], tuple[tuple[Any, ...], str]] = {}
        self._gated: set[tuple[str, str]] = set()  # ModelDeployments with spec.promotion
        self._md_reads: dict[tuple[str, str], tuple[Any, ...]] = {}  # what ModelVersions read of each

    def intent_changed(self, kind: str, event_type: str | None, body: Mapping[str, Any]) -> bool:
        """True for a new object or a change of its spec or annotations; False for a status write."""
        return any(self.changes(kind, event_type, body))

    def changes(self, kind: str, event_type: str | None, body: Mapping[str, Any]) -> tuple[bool, bool]:
        """(its spec, annotations or validity changed; its promotion evidence changed): both for a new
        or deleted object, neither for a status write that touches nothing a reconcile reads."""
        key = (kind, body["metadata"]["namespace"], body["metadata"]["name"])
        with self._lock:
            if event_type == DELETED:
                self._intents.pop(key, None)
                return True, True
            intent = _intent(body)
            previous = self._intents.get(key)
            self._intents[key] = intent
            if previous is None:
                return True, True
            return previous[0] != intent[0], previous[1] != intent[1]

    def gated(self, namespace: str, names: set[str]) -> set[str]:
        """Those of the ModelDeployments `names` (of `namespace`) that have promotion gates."""
        with self._lock:
            return {name for name in names if (namespace, name) in self._gated}

    def model_deployment_event(self, event_type: str | None, body: Mapping[str, Any]) -> set[str]:
        """Record a ModelDeployment; the ModelVersions concerned (of its versions before and now) when
        their status may change: it is new or gone, its versions changed, or what they read of it."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        model = str(body.get("spec", {}).get("model", ""))
        now = frozenset() if event_type == DELETED else deployment_versions(body)
        reads = None if event_type == DELETED else read_from(body)
        with self._lock:
            known = (namespace, name) in self._md_versions
            _, before = self._md_versions.pop((namespace, name), (model, frozenset()))
            previous = self._md_reads.pop((namespace, name), None)
            if reads is not None:
                self._md_reads[(namespace, name)] = reads
            for version in before:
                self._mds[(namespace, model, version)].discard(name)
            for version in now:
                self._mds[(namespace, model, version)].add(name)
            if now:
                self._md_versions[(namespace, name)] = (model, now)
            if event_type != DELETED and body.get("spec", {}).get("promotion") is not None:
                self._gated.add((namespace, name))
            else:
                self._gated.discard((namespace, name))
            if known and before == now and previous == reads:
                return set()  # a status write that no ModelVersion reads
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
