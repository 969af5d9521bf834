"""Thin kopf handlers: every event and timer tick of an object runs the one idempotent reconcile.

`main` calls `register` with a registry and the process's runtime (settings, API access, metrics),
and `start_resync`: a thread that re-runs the same reconcile for every object on an interval.
Handlers only translate errors: temporary API errors (409/429/5xx/network) become kopf retries with
backoff; permanent ones are logged and wait for the next change or resync (no hot loop).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf

from modelops_operator import controller, modelversion
from modelops_operator.kube import GROUP_PATH, Kube, KubeError, custom_path
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.settings import Settings

GROUP, VERSION = "modelops.io", "v1alpha1"
log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What every handler needs, built once at start-up."""

    settings: Settings
    kube: Kube
    metrics: OperatorMetrics
    locks: defaultdict[str, threading.Lock] = field(default_factory=lambda: defaultdict(threading.Lock))
    timers: dict[str, tuple[datetime, threading.Timer]] = field(default_factory=dict)


def _guarded(runtime: Runtime, key: str, work: Any) -> None:
    # Event handlers and the timer may fire together for one object; reconciles must not interleave.
    with runtime.locks[key]:
        try:
            work()
        except KubeError as error:
            if error.temporary:
                raise kopf.TemporaryError(
                    str(error), delay=max(2.0, runtime.settings.resync_seconds)
                ) from error
            log.error("permanent error reconciling %s: %s", key, error)


def reconcile_md(runtime: Runtime, namespace: str, name: str) -> None:
    """The one ModelDeployment reconcile, serialised per object; requeued when its plan asks."""
    plans: list[Any] = []
    _guarded(
        runtime,
        f"md/{namespace}/{name}",
        lambda: plans.append(
            controller.reconcile_model_deployment(
                runtime.kube, runtime.settings, runtime.metrics, namespace, name
            )
        ),
    )
    requeue_at = getattr(plans[0], "requeue_at", None) if plans else None
    if requeue_at is not None:
        requeue(runtime, namespace, name, requeue_at)


def requeue(runtime: Runtime, namespace: str, name: str, at: datetime) -> None:
    """Reconcile the object again at `at` (a promotion gate opening); replaces an earlier requeue."""
    key = f"md/{namespace}/{name}"
    earlier = runtime.timers.get(key)
    if earlier is not None and earlier[0] == at and earlier[1].is_alive():
        return
    delay = max(0.5, (at - datetime.now(UTC)).total_seconds() + 0.5)
    timer = threading.Timer(delay, _tolerant, (reconcile_md, runtime, namespace, name))
    timer.daemon = True
    if earlier is not None:
        earlier[1].cancel()
    runtime.timers[key] = (at, timer)
    timer.start()


def reconcile_mv(runtime: Runtime, namespace: str, name: str) -> None:
    """The one ModelVersion status reconcile, serialised per object."""
    _guarded(
        runtime,
        f"mv/{namespace}/{name}",
        lambda: modelversion.reconcile_model_version(runtime.kube, namespace, name),
    )


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    """Register the ModelDeployment and ModelVersion handlers on `registry`.

    No kopf timers: kopf puts a finalizer on every object a timer watches, which blocks deletion
    (and namespace deletion) whenever the operator is not running. `resync_forever` is the timer.
    """

    @kopf.on.login(registry=registry)
    def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo | None:
        return connection_info(settings, runtime.kube.api.configuration.host)

    @kopf.on.resume(GROUP, VERSION, "modeldeployments", registry=registry)
    @kopf.on.create(GROUP, VERSION, "modeldeployments", registry=registry)
    @kopf.on.update(GROUP, VERSION, "modeldeployments", registry=registry)
    def model_deployment_changed(namespace: str | None, name: str, **_: Any) -> None:
        reconcile_md(runtime, str(namespace), name)

    @kopf.on.resume(GROUP, VERSION, "modelversions", registry=registry)
    @kopf.on.create(GROUP, VERSION, "modelversions", registry=registry)
    @kopf.on.update(GROUP, VERSION, "modelversions", registry=registry)
    def model_version_changed(namespace: str | None, name: str, **_: Any) -> None:
        reconcile_mv(runtime, str(namespace), name)


def _listed(runtime: Runtime, plural: str) -> list[tuple[str, str]]:
    namespaces = runtime.settings.namespaces
    paths = [custom_path(ns, plural) for ns in namespaces] or [f"{GROUP_PATH}/{plural}"]
    found = [item["metadata"] for path in paths for item in runtime.kube.list_items(path)]
    return [(meta["namespace"], meta["name"]) for meta in found]


def resync_once(runtime: Runtime, include_versions: bool) -> None:
    """Reconcile every watched object once (level-based: picks up time-driven changes)."""
    for namespace, name in _listed(runtime, "modeldeployments"):
        _tolerant(reconcile_md, runtime, namespace, name)
    if include_versions:
        for namespace, name in _listed(runtime, "modelversions"):
            _tolerant(reconcile_mv, runtime, namespace, name)


def _tolerant(reconcile: Any, runtime: Runtime, namespace: str, name: str) -> None:
    try:
        reconcile(runtime, namespace, name)
    except kopf.TemporaryError as error:  # one object's trouble must not stop the others
        log.warning("resync of %s/%s will be retried: %s", namespace, name, error)


def resync_forever(runtime: Runtime, stop: threading.Event) -> None:
    """Every resync_seconds until `stop`: all ModelDeployments; ModelVersions every 5 s or slower."""
    interval = runtime.settings.resync_seconds
    every = max(1, round(5.0 / interval))
    tick = 0
    while not stop.wait(interval):
        tick += 1
        try:
            resync_once(runtime, include_versions=tick % every == 0)
        except Exception:  # a resync must never die; the next tick retries
            log.exception("resync failed")


def start_resync(runtime: Runtime) -> threading.Event:
    """Run `resync_forever` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=resync_forever, args=(runtime, stop), name="resync", daemon=True).start()
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


def kopf_settings(settings: Settings) -> kopf.OperatorSettings:
    """kopf's own settings: state in modelops.io annotations, no per-handler Events, worker threads."""
    result = kopf.OperatorSettings()
    result.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="modelops.io")
    result.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="modelops.io")
    result.posting.level = logging.WARNING
    result.execution.max_workers = 8
    result.watching.server_timeout = 300
    result.networking.request_timeout = 60
    return result
