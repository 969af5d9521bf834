"""Smoke test of the integration tier's control plane: a real kube-apiserver at v1.34 on etcd, with the
controller-manager running controllers (namespace deletion, ServiceAccounts) but no kubelet."""

from __future__ import annotations

from typing import Any

from support.cluster import Poller


def test_apiserver_reports_v1_34(apiserver: Any) -> None:
    version = apiserver.client.json("version")["serverVersion"]
    assert version["gitVersion"].startswith("v1.34."), version


def test_objects_round_trip_through_etcd(apiserver: Any, namespace: str) -> None:
    client = apiserver.client
    client.run("create", "configmap", "probe", "-n", namespace, "--from-literal=answer=42")
    stored = client.get("configmap", "probe", namespace)
    assert stored is not None
    assert stored["data"] == {"answer": "42"}
    assert stored["metadata"]["resourceVersion"]


def test_controller_manager_finishes_namespace_deletion(apiserver: Any, namespace: str) -> None:
    """Only the namespace controller can remove a deleted namespace: proves the controller-manager runs."""
    client = apiserver.client
    client.run("delete", "namespace", namespace, "--wait=false")
    Poller(60, what=f"namespace {namespace} gone").until(lambda: client.get("namespace", namespace) is None)


def test_pods_are_accepted_but_never_scheduled_without_a_node(apiserver: Any, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "orphan"},
        "spec": {"containers": [{"name": "c", "image": "localhost/modelops-testhttp:dev"}]},
    }
    apiserver.client.apply(pod, namespace=namespace)
    stored = apiserver.client.get("pod", "orphan", namespace)
    assert stored is not None
    assert stored["status"].get("phase") == "Pending"
    assert not stored["spec"].get("nodeName")
