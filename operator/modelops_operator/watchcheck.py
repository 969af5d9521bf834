"""Whether kopf's watch streams still deliver: the operator's liveness, beyond "the process runs".

kopf's liveness endpoint answers as long as its event loop runs, even when a watch delivers nothing: a
stream hung on a dead connection, or a resource kopf left unresolved because the apiserver's discovery
did not list the modelops.io group yet when kopf scanned it after a restart (kopf scans again only on
a CRD change). Such an operator reconciles only at its slow safety resync, until someone deletes its pod.

`handlers` tells `WatchCheck.delivered` the resourceVersion of every event the watches deliver
(ModelDeployments, ModelVersions, and the Deployments and pods the operator owns: each its own stream),
and a thread (`check_forever`) lists the same objects, metadata only, every `watch_check_seconds`. An
object listed with the same resourceVersion at two checks in a row that no watch event carried proves
its watch is not delivering (a live watch carries every version within moments): `problem` names it,
the `kopf.on.probe` handler fails, /healthz answers 500 and the kubelet restarts the pod. A list that
fails gives no verdict: an apiserver outage is no reason to restart.

`main` first waits (`await_discovery`, bounded) until discovery lists the modelops.io resources, so a
start beside a restarting apiserver does not leave them unresolved in the first place.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelops.vocabulary import GROUP, GROUP_PATH, VERSION

log = logging.getLogger(__name__)

DELETED = "DELETED"
SHOWN = 3  # stale objects named in the probe's message
DISCOVERY_WAIT_S = 60.0  # below the chart's startup probe budget (120 s): kopf serves /healthz after it
DISCOVERY_POLL_S = 1.0


@dataclass(frozen=True)
class Listed:
    """One object as a list returned it."""

    uid: str
    resource_version: str
    label: str  # "<plural> <namespace>/<name>", for the message


@dataclass
class WatchCheck:
    """The watches' deliveries against what the lists show; thread-safe."""

    _delivered: dict[str, str] = field(default_factory=dict)  # uid -> last delivered resourceVersion
    _pending: dict[str, str] = field(default_factory=dict)  # uid -> listed, undelivered resourceVersion
    _stale: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """A watch event (or kopf's initial listing, type None) carried `body`."""
        meta = body.get("metadata") or {}
        uid, version = meta.get("uid"), meta.get("resourceVersion")
        if not uid:
            return
        with self._lock:
            if event_type == DELETED:
                self._delivered.pop(uid, None)
            elif version:
                self._delivered[uid] = str(version)

    def listed(self, objects: Iterable[Listed]) -> None:
        """A complete list of the watched objects: what no watch event carried since the last list."""
        listed = list(objects)
        with self._lock:
            undelivered = {o.uid: o for o in listed if self._delivered.get(o.uid) != o.resource_version}
            self._stale = sorted(
                o.label for o in undelivered.values() if self._pending.get(o.uid) == o.resource_version
            )
            self._pending = {uid: o.resource_version for uid, o in undelivered.items()}
            present = {o.uid for o in listed}
            self._delivered = {uid: v for uid, v in self._delivered.items() if uid in present}

    def problem(self) -> str | None:
        """Why the watches are not delivering, or None while they are (or no verdict exists yet)."""
        with self._lock:
            stale = list(self._stale)
        if not stale:
            return None
        shown = ", ".join(stale[:SHOWN]) + (f" and {len(stale) - SHOWN} more" if len(stale) > SHOWN else "")
        return f"watch streams are not delivering: no event carried the current version of {shown}"


def check_forever(
    check: WatchCheck, list_all: Callable[[], list[Listed]], period: float, stop: threading.Event
) -> None:
    """Until `stop`: every `period` seconds, list the watched objects into `check`."""
    while not stop.wait(period):
        try:
            objects = list_all()
        except Exception as error:  # an outage gives no verdict; the next round looks again
            log.info("watch check skipped: the list failed: %s", error)
            continue
        check.listed(objects)
        problem = check.problem()
        if problem:
            log.error("%s", problem)


def discovered(get: Callable[[str], Any], plurals: Iterable[str]) -> bool:
    """Whether the apiserver's discovery lists `plurals` of modelops.io, as kopf's scan reads it (the
    group in /apis, then the resources of its version); False on any error."""
    try:
        groups = get("/apis").get("groups", [])
        versions = [v.get("version") for g in groups if g.get("name") == GROUP for v in g.get("versions", [])]
        served = (
            {r.get("name") for r in get(GROUP_PATH).get("resources", [])} if VERSION in versions else set()
        )
    except Exception:  # not up yet: the caller asks again
        return False
    return set(plurals) <= served


def await_discovery(
    get: Callable[[str], Any], plurals: Iterable[str], wait_s: float = DISCOVERY_WAIT_S
) -> bool:
    """Until discovery lists `plurals` (True) or `wait_s` passed (False, logged; kopf starts anyway)."""
    wanted, deadline = list(plurals), time.monotonic() + wait_s
    while not discovered(get, wanted):
        if time.monotonic() >= deadline:
            log.warning("discovery does not list %s of %s after %.0fs", ", ".join(wanted), GROUP_PATH, wait_s)
            return False
        time.sleep(DISCOVERY_POLL_S)  # start-up only, before any watch runs
    return True
