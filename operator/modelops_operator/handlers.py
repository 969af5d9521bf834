"""Thin kopf handlers: watch events only put keys on the work queue; the queue runs every reconcile.

`main` calls `register` with a registry and the process's `Runtime` (settings, API access, metrics,
queue), then `start`. A ModelDeployment is reconciled when it, the ModelVersions of its model, or the
Deployments and pods it owns change (label-selected, mapped back by the instance label), and again at
the time its last plan asked for; a slow, jittered safety resync re-queues everything every
`resync_seconds`. Idle objects cost nothing between events. An owned object's event queues its
ModelDeployment only when it changed what a reconcile reads (`ownedevents`), and a little later
(`owned_debounce_seconds`), so the Deployment controller's burst of writes after a rollout starts is one
reconcile, not four. Any exception in one object's reconcile is
written as `Degraded=True ReconcileError` on that object and retried for it alone with backoff.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf

from modelops.vocabulary import GROUP, GROUP_PATH, MODEL_DEPLOYMENTS, MODEL_VERSIONS, VERSION
from modelops_operator import conditions as c
from modelops_operator import controller, modelversion
from modelops_operator.builders import INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGER
from modelops_operator.draft import timestamp
from modelops_operator.kube import Kube, KubeError, custom_path
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.ownedevents import OwnedEvents
from modelops_operator.settings import Settings
from modelops_operator.watchcheck import Listed, WatchCheck, check_forever
from modelops_operator.watchindex import DELETED, WatchIndex
from modelops_operator.workqueue import Backoff, WorkQueue

MD, MV = MODEL_DEPLOYMENTS, MODEL_VERSIONS
OWNED = {MANAGED_BY_LABEL: MANAGER}
OWNED_SELECTOR = ",".join(f"{key}={value}" for key, value in OWNED.items())  # the same, as a list query
OWNED_APIS = (("/apis/apps/v1", "deployments"), ("/api/v1", "pods"))  # what the owned-object watches see
METADATA_LIST = {"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"}
# kopf's watch timing. The apiserver ends each watch request after WATCH_SERVER_S; the client gives up
# on a request that outlives that by WATCH_CLIENT_MARGIN_S (the answer never came: a dead connection),
# on a connect after WATCH_CONNECT_S, and on a stream that carried nothing, not even the apiserver's
# bookmark of every minute, for WATCH_INACTIVITY_S. Each time, kopf reconnects and resumes.
WATCH_SERVER_S = 300
WATCH_CLIENT_MARGIN_S = 30
WATCH_CONNECT_S = 10
WATCH_INACTIVITY_S = 70
log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # (plural, namespace, name)


@dataclass
class Runtime:
    """What every handler needs, built once at start-up."""

    settings: Settings
    kube: Kube
    metrics: OperatorMetrics
    queue: WorkQueue[Key] = field(init=False)
    index: WatchIndex = field(default_factory=WatchIndex)
    owned: OwnedEvents = field(default_factory=OwnedEvents)
    watch: WatchCheck = field(default_factory=WatchCheck)

    def __post_init__(self) -> None:
        backoff = Backoff(self.settings.backoff_seconds, self.settings.max_backoff_seconds)
        self.queue = WorkQueue(
            lambda key: reconcile_key(self, key),
            lambda k, e, d: report_failure(self, k, e, d),
            backoff,
            first=lambda key: key[0] == MD,  # a new ModelDeployment's Deployment before MV statuses
        )


def reconcile_key(runtime: Runtime, key: Key) -> float | None:
    """The work of one queue key: a ModelDeployment or ModelVersion reconcile; the requeue delay."""
    plural, namespace, name = key
    log.debug("reconciling %s %s/%s", plural, namespace, name)
    if plural == MV:
        modelversion.reconcile_model_version(runtime.kube, namespace, name)
        return None
    plan = controller.reconcile_model_deployment(
        runtime.kube, runtime.settings, runtime.metrics, namespace, name
    )
    return plan.requeue_after if plan is not None else None


def report_failure(runtime: Runtime, key: Key, error: Exception, retry_in: float) -> None:
    """Log, count, and (for a ModelDeployment) show the failure in its status; never raises further."""
    plural, namespace, name = key
    log.warning("reconcile of %s %s/%s failed (retry in %.0fs): %s", plural, namespace, name, retry_in, error)
    if not isinstance(error, KubeError):  # API errors are counted where they happen
        runtime.metrics.errors.labels(_KINDS[plural], "unexpected").inc()
    if plural != MD:
        return
    path = custom_path(namespace, MD, name)
    md = runtime.kube.get(path)
    if md is None:
        return
    status = dict(md.get("status") or {})
    message = f"reconcile failed ({type(error).__name__}: {error}); retrying in {retry_in:.0f}s"
    condition = c.make(
        c.DEGRADED,
        True,
        c.REASON_RECONCILE_ERROR,
        message,
        generation=int(md["metadata"].get("generation", 1)),
        now=timestamp(datetime.now(UTC)),
    )
    status["conditions"] = c.set_condition(status.get("conditions", []), condition)
    runtime.kube.write_status(path, status)


_KINDS = {MD: "ModelDeployment", MV: "ModelVersion"}


def on_model_deployment(runtime: Runtime, event_type: str | None, body: Any) -> None:
    """A ModelDeployment changed: it (unless only its status did), and the ModelVersions whose status
    says where they serve (those of the versions it named before and names now)."""
    runtime.watch.delivered(event_type, body)
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    if event_type == DELETED:
        runtime.queue.forget((MD, namespace, name))
    elif runtime.index.intent_changed(MD, event_type, body):
        runtime.queue.add((MD, namespace, name))
    for version_name in sorted(runtime.index.model_deployment_event(event_type, body)):
        runtime.queue.add((MV, namespace, version_name))


def on_model_version(runtime: Runtime, event_type: str | None, body: Any) -> None:
    """A ModelVersion's spec, annotations or validity changed: it, and the ModelDeployments that
    target, serve or keep its version. Only its promotion evidence changed (its own status write):
    only those of them with promotion gates, which judge it. Any other status write concerns nobody."""
    runtime.watch.delivered(event_type, body)
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    concerned = runtime.index.model_version_event(event_type, body)
    own, evidence = runtime.index.changes(MV, event_type, body)
    if event_type == DELETED:
        runtime.queue.forget((MV, namespace, name))
    elif own:
        runtime.queue.add((MV, namespace, name))
    readers = concerned if own else runtime.index.gated(namespace, concerned) if evidence else set()
    for deployment in sorted(readers):
        runtime.queue.add((MD, namespace, deployment))


def on_owned(runtime: Runtime, kind: str, event_type: str | None, body: Any) -> None:
    """A Deployment or pod (`kind`) the operator owns changed what a reconcile reads: its
    ModelDeployment looks again, after `owned_debounce_seconds` (the events of that while are one)."""
    runtime.watch.delivered(event_type, body)
    meta = body.get("metadata") or {}
    owner = (meta.get("labels") or {}).get(INSTANCE_LABEL)
    if owner and runtime.owned.changed(kind, event_type, body):
        key = (MD, str(meta.get("namespace", "")), str(owner))
        runtime.queue.add(key, runtime.settings.owned_debounce_seconds)


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    """Register the watch handlers on `registry` (event handlers only: no finalizers, no annotations).

    They are coroutines although they only index and queue (microseconds, a lock held that briefly):
    a sync handler would cost each event two thread hand-offs through kopf's executor, and under a
    burst of thousands of events, with the reconcile workers holding the GIL in turn, those hand-offs
    were most of the event's delay."""

    @kopf.on.login(registry=registry)
    def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo | None:
        return connection_info(settings, runtime.kube.api.configuration.host)

    @kopf.on.probe(id="watches", registry=registry)
    def watches(**_: Any) -> str:
        problem = runtime.watch.problem()
        if problem:
            raise kopf.PermanentError(problem)  # /healthz answers 500: the kubelet restarts the pod
        return "delivering"

    @kopf.on.event(GROUP, VERSION, MD, registry=registry)
    async def model_deployment_event(event: Any, body: Any, **_: Any) -> None:
        on_model_deployment(runtime, event.get("type"), body)

    @kopf.on.event(GROUP, VERSION, MV, registry=registry)
    async def model_version_event(event: Any, body: Any, **_: Any) -> None:
        on_model_version(runtime, event.get("type"), body)

    @kopf.on.event("apps", "v1", "deployments", labels=OWNED, registry=registry)
    async def deployment_event(event: Any, body: Any, **_: Any) -> None:
        on_owned(runtime, "Deployment", event.get("type"), body)

    @kopf.on.event("", "v1", "pods", labels=OWNED, registry=registry)
    async def pod_event(event: Any, body: Any, **_: Any) -> None:
        on_owned(runtime, "Pod", event.get("type"), body)


def _metadata(
    runtime: Runtime, plural: str, api: str = GROUP_PATH, selector: str | None = None
) -> list[dict[str, Any]]:
    """The metadata of every watched object of `plural` under `api` (modelops.io by default), those
    `selector` selects when given: a metadata-only list, no specs, no statuses."""
    namespaces = runtime.settings.namespaces
    paths = [f"{api}/namespaces/{ns}/{plural}" for ns in namespaces] or [f"{api}/{plural}"]
    query = {"labelSelector": selector} if selector else None
    found = [runtime.kube.request("GET", path, headers=METADATA_LIST, query=query) for path in paths]
    return [item["metadata"] for listed in found for item in listed.get("items") or []]  # null when none


def resync_once(runtime: Runtime) -> None:
    """Queue every watched ModelDeployment and ModelVersion (the safety net behind the watches)."""
    for plural in (MD, MV):
        for meta in _metadata(runtime, plural):
            runtime.queue.add((plural, meta["namespace"], meta["name"]), background=True)


def list_watched(runtime: Runtime) -> list[Listed]:
    """Every object a watch delivers, as the watch check compares them: the ModelDeployments and
    ModelVersions, and the Deployments and pods the operator owns (a stalled owned-object watch
    would otherwise leave rollouts, readiness and fail-fast rollback to the safety resync)."""
    found = [(plural, meta) for plural in (MD, MV) for meta in _metadata(runtime, plural)]
    found += [
        (plural, meta)
        for api, plural in OWNED_APIS
        for meta in _metadata(runtime, plural, api, OWNED_SELECTOR)
    ]
    return [
        Listed(meta["uid"], meta["resourceVersion"], f"{plural} {meta['namespace']}/{meta['name']}")
        for plural, meta in found
    ]


def resync_forever(runtime: Runtime, stop: threading.Event) -> None:
    """Until `stop`: a safety resync every resync_seconds, jittered by up to 10 %."""
    while not stop.wait(runtime.settings.resync_seconds * random.uniform(0.9, 1.1)):
        try:
            resync_once(runtime)
        except Exception:  # the resync must never die; the next one retries
            log.exception("resync failed")


def start(runtime: Runtime) -> threading.Event:
    """Start the queue's workers, the safety resync and the watch check; set the returned event to stop
    all three."""
    stop = threading.Event()
    runtime.queue.start(runtime.settings.workers)
    threading.Thread(target=resync_forever, args=(runtime, stop), name="resync", daemon=True).start()
    check = (runtime.watch, lambda: list_watched(runtime), runtime.settings.watch_check_seconds, stop)
    threading.Thread(target=check_forever, args=check, name="watch-check", daemon=True).start()
    return stop


def connection_info(settings: kopf.OperatorSettings, api_host: str) -> kopf.ConnectionInfo | None:
    """kopf's credentials: the pod's service account, else KUBECONFIG.

    A private registry has no default login handler. kopf's service-account login assumes the
    `kubernetes.default.svc` DNS name, which clusters without DNS (localkube) lack, so the server is the
    one the official client found from KUBERNETES_SERVICE_HOST/PORT at start-up.
    """
    in_cluster = kopf.login_with_service_account(settings=settings)
    if in_cluster is not None:
        return dataclasses.replace(in_cluster, server=api_host)
    return kopf.login_with_kubeconfig(settings=settings)


class NoDiffBase(kopf.DiffBaseStorage):
    """kopf's diff base for change handlers, which this operator has none of: kopf would otherwise
    deep-copy every object's essence on every watch event, in its one event loop, to diff nothing."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> Any:
        return None

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def kopf_settings(settings: Settings) -> kopf.OperatorSettings:
    """kopf's own settings: state in modelops.io annotations, no diff base, no per-handler Events."""
    result = kopf.OperatorSettings()
    result.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    result.persistence.diffbase_storage = NoDiffBase()
    result.posting.level = logging.WARNING
    result.execution.max_workers = 8
    result.watching.server_timeout = WATCH_SERVER_S
    result.watching.client_timeout = WATCH_SERVER_S + WATCH_CLIENT_MARGIN_S
    result.watching.connect_timeout = WATCH_CONNECT_S
    result.watching.inactivity_timeout = WATCH_INACTIVITY_S
    result.networking.request_timeout = 60
    return result
