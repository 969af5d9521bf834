"""Proves localkube is a real cluster: a Ready node at v1.34, real pods behind a Service reached through
kube-proxy and the CNI bridge, and a kubelet that really runs readiness probes (issue 3, Must show 1-3).

Must show 4 (down then up) restarts the shared cluster, so it lives in `test_zz_localkube_restart.py`
and is marked `disruptive` (run last).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from support.cluster import Kubectl, Poller, condition_is
from support.workloads import TESTHTTP_SCRIPT, available, client_pod, service, web_deployment

TESTHTTP = "localhost/modelops-testhttp:dev"


def test_node_is_ready_and_reports_v1_34(cluster: Any, kubectl: Kubectl) -> None:
    nodes = kubectl.json("get", "nodes")["items"]
    assert [n["metadata"]["name"] for n in nodes] == ["localkube"]
    assert condition_is(nodes[0], "Ready", "True"), nodes[0]["status"]["conditions"]
    version = kubectl.json("version")["serverVersion"]
    raw = kubectl.run("get", "--raw", "/version")
    assert version["gitVersion"].startswith("v1.34."), raw
    assert f'"gitVersion": "{cluster.layout.kubernetes_version}"' in raw


def test_service_answers_from_a_second_pod(
    kubectl: Kubectl, namespace: str, load_image: Callable[[str], str]
) -> None:
    image = load_image("testhttp")
    assert image == TESTHTTP
    kubectl.apply(
        web_deployment("web", image), service("web"), client_pod("client", image), namespace=namespace
    )
    Poller(90, what="Deployment web Available with 2 ready replicas").until(
        lambda: available(kubectl.get("deployment", "web", namespace), replicas=2)
    )
    Poller(60, what="client pod Ready").until(
        lambda: condition_is(kubectl.get("pod", "client", namespace), "Ready", "True")
    )
    cluster_ip = kubectl.get("service", "web", namespace)["spec"]["clusterIP"]  # type: ignore[index]
    # kube-proxy programs a new Service asynchronously: retry until the deadline, never one shot.
    answer = Poller(60, interval=1, what=f"GET http://{cluster_ip}/ from pod client").until(
        lambda: kubectl.run(
            "exec",
            "-n",
            namespace,
            "client",
            "--",
            "python3",
            TESTHTTP_SCRIPT,
            "--fetch",
            f"http://{cluster_ip}/",
        )
    )
    assert answer.startswith("hello from web-"), answer


def test_failing_readiness_probe_exceeds_progress_deadline(
    kubectl: Kubectl, namespace: str, load_image: Callable[[str], str]
) -> None:
    image = load_image("testhttp")
    manifest = web_deployment("never-ready", image, probe_port=8081, replicas=1)
    manifest["spec"]["progressDeadlineSeconds"] = 15
    started = time.monotonic()
    kubectl.apply(manifest, namespace=namespace)
    deployment = Poller(40, what="Progressing=False reason=ProgressDeadlineExceeded").until(
        lambda: _deadline_exceeded(kubectl.get("deployment", "never-ready", namespace))
    )
    took = time.monotonic() - started
    assert took <= 40, f"ProgressDeadlineExceeded after {took:.1f}s"
    assert deployment.get("status", {}).get("readyReplicas", 0) == 0
    pods = kubectl.json("get", "pods", "-n", namespace, "-l", "app=never-ready")["items"]
    assert pods, "the Deployment has no pods"
    for pod in pods:
        assert pod["status"]["phase"] == "Running", pod["status"]
        assert condition_is(pod, "Ready", "False"), pod["status"]["conditions"]
    _assert_probe_failures_recorded(kubectl, namespace, pods[0]["metadata"]["name"])


def _deadline_exceeded(deployment: dict[str, Any] | None) -> dict[str, Any] | None:
    if deployment and condition_is(deployment, "Progressing", "False", "ProgressDeadlineExceeded"):
        return deployment
    return None


def _assert_probe_failures_recorded(kubectl: Kubectl, namespace: str, pod: str) -> None:
    """The kubelet posts an Unhealthy Event for each failed readiness probe: proof it really probed."""
    selector = f"involvedObject.name={pod},reason=Unhealthy"
    events = kubectl.json("get", "events", "-n", namespace, "--field-selector", selector)["items"]
    messages = [e["message"] for e in events]
    assert any("Readiness probe failed" in m for m in messages), messages
