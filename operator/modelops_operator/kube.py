"""Thin Kubernetes API access for the operator, with errors classified as permanent or temporary.

`observe` reads through it and `apply_plan` writes a reconcile plan through it. Requests go through the
official client's authenticated transport but as raw JSON on explicit paths, so every object is a
plain dict with the API's own field names (what the builders produce and the tests compare).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from modelops.vocabulary import GROUP_PATH, MODEL_DEPLOYMENTS, MODEL_VERSIONS

log = logging.getLogger(__name__)

MANAGER = "modelops-operator"
TEMPORARY_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"


class KubeError(Exception):
    """An API failure; `temporary` says whether retrying later can succeed."""

    def __init__(self, status: int, message: str, body: str = "") -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body

    @property
    def temporary(self) -> bool:
        """409 conflicts, 429 throttling, 5xx and network errors (status 0) are worth a retry."""
        return self.status in TEMPORARY_STATUSES or self.status == 0

    @property
    def not_found(self) -> bool:
        return self.status == 404


def load_client(kubeconfig: str | None = None, connections: int | None = None) -> client.ApiClient:
    """An API client from the in-cluster service account, else a kubeconfig file.

    `connections`: how many kept-alive connections to the apiserver (one per thread that sends
    requests at once). The client's default is 5 per CPU; with more reconcile workers than that, every
    request beyond it would open a new TLS connection and throw it away."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    configuration = client.Configuration.get_default_copy()
    if connections is not None:
        configuration.connection_pool_maxsize = connections
    return client.ApiClient(configuration)


class Kube:
    """The API calls the operator makes, returning plain dicts."""

    def __init__(self, api: client.ApiClient, timeout: float = 10.0) -> None:
        self.api = api
        self.timeout = timeout
        # What this process last applied to each path: (digest, uid, generation) of the result.
        self._applied: dict[str, tuple[str, Any, Any]] = {}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str | None = None,
        query: Mapping[str, str] | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """One API request; JSON answer as Python data, KubeError on a non-2xx status."""
        raw = self.request_bytes(
            method, path, body, content_type=content_type, query=query, timeout=timeout, headers=headers
        )
        return json.loads(raw) if raw else None

    def request_bytes(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str | None = None,
        query: Mapping[str, str] | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """One API request; the raw answer body, KubeError on a non-2xx status.

        `headers` are extra request headers (the apiserver passes them on through a pod proxy)."""
        sent = {"Accept": "application/json, */*", **(headers or {})}
        if body is not None:
            sent["Content-Type"] = content_type or "application/json"
        params = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params=sent,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api.call_api(*params, _request_timeout=timeout or self.timeout)
        except ApiException as error:
            raise KubeError(int(error.status or 0), str(error.reason)) from error
        except Exception as error:  # urllib3 network errors: temporary by nature
            raise KubeError(0, f"{type(error).__name__}: {error}") from error
        raw = response.read()  # type: ignore[no-untyped-call]
        if not 200 <= response.status < 300:
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
            raise KubeError(response.status, _message(text), text)
        return raw if isinstance(raw, bytes) else str(raw or "").encode()

    def get(self, path: str) -> dict[str, Any] | None:
        """GET an object, None when it does not exist."""
        try:
            found: dict[str, Any] = self.request("GET", path)
        except KubeError as error:
            if error.not_found:
                return None
            raise
        return found

    def list_items(
        self, path: str, selector: str | None = None, field_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """The items of a collection, optionally filtered by a label and a field selector."""
        query = {
            k: v for k, v in (("labelSelector", selector), ("fieldSelector", field_selector)) if v
        } or None
        items: list[dict[str, Any]] = self.request("GET", path, query=query).get("items") or []
        return items

    def apply(self, obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """Server-side apply `obj` as the operator's field manager (forcing conflicts)."""
        query = {"fieldManager": MANAGER, "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        applied: dict[str, Any] = self.request(
            "PATCH", object_path(obj), obj, content_type=APPLY_PATCH, query=query
        )
        if not dry_run:
            meta = applied.get("metadata") or {}
            self._applied[object_path(obj)] = (_digest(obj), meta.get("uid"), meta.get("generation"))
        return applied

    def unchanged_since_applied(self, obj: dict[str, Any], uid: str, generation: int) -> bool:
        """True when this process applied exactly `obj` last and the object observed now (`uid`,
        `generation`) is the one that apply left: no one changed its spec or recreated it since, so
        applying it again would change nothing (a request saved per reconcile)."""
        return self._applied.get(object_path(obj)) == (_digest(obj), uid, generation)

    def json_patch(self, path: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        """RFC 6902 patch as the operator's field manager."""
        patched: dict[str, Any] = self.request(
            "PATCH", path, ops, content_type=JSON_PATCH, query={"fieldManager": MANAGER}
        )
        return patched

    def annotate(self, path: str, annotations: dict[str, str]) -> None:
        """Merge `annotations` into an object's; one already gone is fine."""
        try:
            self.request("PATCH", path, {"metadata": {"annotations": annotations}}, content_type=MERGE_PATCH)
        except KubeError as error:
            if not error.not_found:
                raise

    def set_label(self, path: str, key: str, value: str | None) -> None:
        """Set (or, with None, remove) one label of an object."""
        self.request("PATCH", path, {"metadata": {"labels": {key: value}}}, content_type=MERGE_PATCH)

    def write_status(self, path: str, status: dict[str, Any]) -> None:
        """Replace the whole status of a custom object (keys the plan dropped disappear)."""
        self.json_patch(f"{path}/status", [{"op": "add", "path": "/status", "value": status}])

    def post_event(self, involved: dict[str, Any], kind: str, reason: str, message: str, now: str) -> None:
        """A core/v1 Event on `involved` from the operator."""
        meta = involved["metadata"]
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:12]}", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
            },
            "type": kind,
            "reason": reason,
            "message": message[:1024],
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "source": {"component": MANAGER},
            "reportingComponent": MANAGER,
        }
        self.request("POST", f"/api/v1/namespaces/{meta['namespace']}/events", event)

    def pod_proxy_get(
        self,
        namespace: str,
        pod: str,
        port: int,
        path: str,
        timeout: float,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """GET `path` on a pod's port through the apiserver proxy: (HTTP status, JSON or None)."""
        url = _pod_proxy_url(namespace, pod, port, path)
        try:
            return 200, self.request("GET", url, timeout=timeout, headers=headers)
        except KubeError as error:
            return error.status, _json_or_none(error.body)

    def pod_proxy_text(
        self,
        namespace: str,
        pod: str,
        port: int,
        path: str,
        timeout: float,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """GET `path` on a pod's port through the apiserver proxy as text (e.g. Prometheus /metrics)."""
        url = _pod_proxy_url(namespace, pod, port, path)
        return self.request_bytes("GET", url, timeout=timeout, headers=headers).decode(errors="replace")


def _pod_proxy_url(namespace: str, pod: str, port: int, path: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}"


def _message(text: str) -> str:
    parsed = _json_or_none(text)
    if isinstance(parsed, dict) and "message" in parsed:
        return str(parsed["message"])
    return text[:2000]


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def object_path(obj: Mapping[str, Any]) -> str:
    """The REST path of a namespaced object (Deployment, Service, ModelDeployment, ...)."""
    meta, kind = obj["metadata"], obj["kind"]
    plural = {
        "Deployment": "deployments",
        "Service": "services",
        "ConfigMap": "configmaps",
        "ModelDeployment": MODEL_DEPLOYMENTS,
        "ModelVersion": MODEL_VERSIONS,
        "Pod": "pods",
    }[kind]
    api_version = obj["apiVersion"]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{meta['namespace']}/{plural}/{meta['name']}"


def custom_path(namespace: str, plural: str, name: str | None = None) -> str:
    """Path of a modelops.io object or collection."""
    base = f"{GROUP_PATH}/namespaces/{namespace}/{plural}"
    return f"{base}/{name}" if name else base


def _digest(obj: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
