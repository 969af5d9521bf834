"""Small Kubernetes workloads built from the testhttp image (`hack/images/testhttp`) for the e2e tests.

Used by `tests/e2e/test_localkube.py` and the down/up test; kept here so both build the same objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from support.cluster import condition_is

TESTHTTP_SCRIPT = "/srv/testhttp/server.py"


def web_deployment(name: str, image: str, *, probe_port: int = 8080, replicas: int = 2) -> dict[str, Any]:
    """A Deployment of the test HTTP server with an httpGet readiness probe on `probe_port`."""
    labels = {"app": name}
    container = {
        "name": "web",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 8080, "name": "http"}],
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": probe_port},
            "periodSeconds": 1,
            "failureThreshold": 1,
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }


def client_pod(name: str, image: str) -> dict[str, Any]:
    """A second pod, not behind the Service, to make requests from inside the pod network."""
    container = {
        "name": "client",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--port", "9090"],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container]},
    }


def available(deployment: Mapping[str, Any] | None, replicas: int) -> bool:
    """The Deployment has `replicas` ready pods and reports Available=True."""
    if deployment is None or deployment.get("status", {}).get("readyReplicas") != replicas:
        return False
    return condition_is(deployment, "Available", "True")
