"""Which watch events of the Deployments and pods the operator owns change what a reconcile reads.

`handlers.on_owned` asks `OwnedEvents.changed` before it queues the owning ModelDeployment. The
Deployment controller writes a Deployment's status several times per rollout, and most of those writes
touch only timestamps (a condition's `lastUpdateTime`, the message of `Progressing`); pods change their
`resourceVersion` and `managedFields` for nothing `observe` reads. Reconciling for each of them made
every new ModelDeployment run three or four reconciles during a burst, each with its server-side
applies. What counts here is exactly what `observe.deployment_state` and `observe.pod_state` read;
a DELETED event always counts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from modelops.vocabulary import DEPLOYMENT_DEADLINE_EXCEEDED, DEPLOYMENT_PROGRESSING

DELETED = "DELETED"
Key = tuple[str, str, str]  # (kind, namespace, name)


def deployment_reads(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What `observe.deployment_state` reads of a Deployment (and whether it is going away)."""
    meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
    template = ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}
    stalled = next(
        (
            (c.get("reason"), c.get("lastUpdateTime"))
            for c in status.get("conditions") or []
            if c.get("type") == DEPLOYMENT_PROGRESSING and c.get("reason") == DEPLOYMENT_DEADLINE_EXCEEDED
        ),
        None,
    )
    counters = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    return (
        meta.get("uid"),
        meta.get("generation"),
        bool(meta.get("deletionTimestamp")),
        spec.get("replicas"),
        json.dumps(template, sort_keys=True),
        tuple(status.get(k) for k in counters),
        stalled,
    )


def pod_reads(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What `observe.pod_state` reads of a pod: its labels, annotations, deletion and whole status."""
    meta = body.get("metadata") or {}
    return (
        meta.get("uid"),
        json.dumps(meta.get("labels") or {}, sort_keys=True),
        json.dumps(meta.get("annotations") or {}, sort_keys=True),
        bool(meta.get("deletionTimestamp")),
        json.dumps(body.get("status") or {}, sort_keys=True),
    )


_READS = {"Deployment": deployment_reads, "Pod": pod_reads}


class OwnedEvents:
    """The last seen reads of every owned Deployment and pod; safe across kopf's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[Key, tuple[Any, ...]] = {}

    def changed(self, kind: str, event_type: str | None, body: Mapping[str, Any]) -> bool:
        """True when this event of a `kind` ("Deployment" or "Pod") object changed what a reconcile
        reads: the first event of it, a DELETED one, or one whose reads differ from the last."""
        meta = body.get("metadata") or {}
        key = (kind, str(meta.get("namespace", "")), str(meta.get("name", "")))
        with self._lock:
            if event_type == DELETED:
                self._seen.pop(key, None)
                return True
            reads = _READS[kind](body)
            if self._seen.get(key) == reads:
                return False
            self._seen[key] = reads
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)
