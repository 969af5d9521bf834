"""A model pod runs in a namespace that enforces the Pod Security Standards `restricted` profile.

The namespace is labelled `pod-security.kubernetes.io/enforce=restricted`; the model comes from a real
S3-compatible store (hostPath storage can never be restricted), so the pod has the fetch-model init
container too. The operator's pod becomes Ready and serves there. Then the pod spec of before (root
allowed, an init container without a securityContext or resources) is created directly in the same
namespace and the apiserver refuses it with the PodSecurity message: the namespace really enforces the
profile, so the first half of the test can fail.

The operator runs with the platform's metricsAuth on: the pod becomes Ready through the open readiness
path, the health details answer 401 without the token, and the token from the platform's Secret, sent
the operator's way (its header through the apiserver's pod proxy), reads /metrics.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from modelops.vocabulary import METRICS_TOKEN_HEADER
from modelops_operator.kube import Kube, KubeError, load_client
from modelops_operator.metrics_auth import MetricsToken
from support.cluster import Kubectl, Poller, condition_is
from support.e2e import (
    E2E_POLICY,
    http_json,
    push_model,
    running_operator,
    s3_model_objects,
    service_url,
)
from support.models import make_model_dir
from support.s3server import S3Server

MODEL = "safety_classifier"
NAME = "safety-classifier-production"
HEALTH = f"/api/v1/ml-models/{MODEL}/health"
ENFORCE = "pod-security.kubernetes.io/enforce"
METRICS_SECRET = "modelops-metrics"
METRICS_TOKEN = "e2e-metrics-t0ken"


@pytest.fixture
def restricted(kubectl: Kubectl, namespace: str) -> str:
    kubectl.run("label", "namespace", namespace, f"{ENFORCE}=restricted", f"{ENFORCE}-version=latest")
    labels = (kubectl.get("namespace", namespace) or {})["metadata"]["labels"]
    assert labels[ENFORCE] == "restricted", labels
    return namespace


def _objects(namespace: str, s3: S3Server, pushed: dict[str, Any], image: str) -> list[dict[str, Any]]:
    token = {"apiVersion": "v1", "kind": "Secret", "stringData": {"token": METRICS_TOKEN},
             "metadata": {"name": METRICS_SECRET, "namespace": namespace}}  # fmt: skip
    return [token, *s3_model_objects(namespace, s3, {"v1.0.0": pushed}, image, name=NAME, model=MODEL)]


def _available(kubectl: Kubectl, namespace: str) -> dict[str, Any] | None:
    md = kubectl.get("modeldeployment", NAME, namespace)
    status = (md or {}).get("status", {})
    ok = status.get("servingVersion") == "v1.0.0" and condition_is(md, "Available", "True")
    return md if ok else None


def _ready_pods(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]] | None:
    listed = kubectl.json("get", "pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={NAME}")
    pods = [p for p in listed["items"] if condition_is(p, "Ready", "True")]
    return pods or None


def _assert_metrics_need_the_token_through_the_pod_proxy(kubeconfig: Path, namespace: str, pod: Any) -> None:
    kube = Kube(load_client(str(kubeconfig)))
    name = pod["metadata"]["name"]
    with pytest.raises(KubeError) as refused:
        kube.pod_proxy_text(namespace, name, 8080, "/metrics", 10)
    assert refused.value.status == 401, refused.value
    headers = MetricsToken(kube, namespace, METRICS_SECRET).headers()
    text = kube.pod_proxy_text(namespace, name, 8080, "/metrics", 10, headers=headers)
    assert 'modelops_requests_total{code="401",endpoint="metrics"}' in text, text[:2000]
    assert "process_start_time_seconds" in text


def _old_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """The running pod's spec as the operator generated it before the restricted profile (wave 1)."""
    spec = copy.deepcopy(pod["spec"])
    for assigned in ("nodeName", "priority"):  # set by the scheduler and the Priority admission
        spec.pop(assigned, None)
    spec["securityContext"] = {"runAsNonRoot": False}
    spec.pop("automountServiceAccountToken", None)
    for container in [*spec["containers"], *spec.get("initContainers", [])]:
        container.pop("securityContext", None)
    for init in spec.get("initContainers", []):
        init.pop("resources", None)
    meta = {"name": "old-spec", "namespace": pod["metadata"]["namespace"]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


@pytest.mark.usefixtures("crds_installed")
def test_model_pod_runs_in_a_restricted_namespace_and_the_old_spec_is_refused(
    cluster: Any, restricted: str, s3: S3Server, load_image: Any, tmp_path: Path
) -> None:
    kubectl: Kubectl = cluster.client
    namespace = restricted
    pushed = push_model(
        s3, make_model_dir(tmp_path / "models", MODEL, "v1.0.0"), f"s3://models/{MODEL}/v1.0.0/"
    )
    env = {"MODELOPS_OPERATOR_POLICY": json.dumps({**E2E_POLICY, "metricsAuthSecret": METRICS_SECRET})}
    with running_operator(cluster.kubeconfig, namespace, tmp_path, env) as operator:
        kubectl.apply(*_objects(namespace, s3, pushed, str(load_image("server"))))
        Poller(180, what=f"{NAME} Available in restricted namespace {namespace}").until(
            lambda: _available(kubectl, namespace)
        )
        pods = Poller(30, what="a Ready server pod").until(lambda: _ready_pods(kubectl, namespace))
        base = service_url(kubectl, namespace, NAME)
        _, ready = http_json("GET", base + "/v2/health/ready", deadline_s=60)
        assert ready == {"ready": True}, ready
        _, refused = http_json("GET", base + HEALTH, deadline_s=60, accept=(401,))
        assert "metrics token" in refused["error"] and "v1.0.0" not in json.dumps(refused), refused
        headers = {METRICS_TOKEN_HEADER: METRICS_TOKEN}
        _, health = http_json("GET", base + HEALTH, deadline_s=60, headers=headers)
        assert (health["version"], health["status"]) == ("v1.0.0", "healthy"), operator.log_tail()
    _assert_metrics_need_the_token_through_the_pod_proxy(cluster.kubeconfig, namespace, pods[0])
    spec = pods[0]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert [c["name"] for c in spec["initContainers"]] == ["fetch-model"]

    with pytest.raises(subprocess.CalledProcessError) as refused:
        kubectl.run("create", "-f", "-", stdin=json.dumps(_old_pod(pods[0])))
    message = refused.value.stderr
    assert 'violates PodSecurity "restricted:latest"' in message, message
    assert "runAsNonRoot" in message and "fetch-model" in message, message
    assert kubectl.get("pod", "old-spec", namespace) is None
