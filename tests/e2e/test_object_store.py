"""ModelVersions stored in a real S3-compatible server (versitygw on the host) deploy and serve on localkube.

versitygw listens on the node's InternalIP (read from the Node object), so pods reach it the way they
reach the apiserver. `modelctl push` uploads two model directories; the ModelDeployment's
`spec.storage.s3.secretName` gives the fetch init container its endpoint and credentials. v1.0.0 serves;
v1.1.0's model.onnx is overwritten in the bucket after registration, so the init container's digest
check fails and the operator rolls back to v1.0.0 with a reason naming the URI and the mismatch.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelops_operator.object_storage import NODE_CACHE_PATH
from support.cluster import Kubectl, Poller, condition_is
from support.e2e import (
    digest_of,
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
DEADLINE_S = 30
HEALTH = f"/api/v1/ml-models/{MODEL}/health"
SERVER_UID = 10001  # the server image's user (server/Dockerfile)


def _objects(
    namespace: str, s3: S3Server, pushed: dict[str, dict[str, Any]], image: str
) -> list[dict[str, Any]]:
    rollback = {"automatic": True, "mode": "RevertSpec", "progressDeadlineSeconds": DEADLINE_S}
    return s3_model_objects(namespace, s3, pushed, image, name=NAME, model=MODEL, rollback=rollback)


def _set_version(kubectl: Kubectl, namespace: str, version: str) -> None:
    patch = json.dumps({"spec": {"version": version}})
    kubectl.run("patch", "modeldeployment", NAME, "-n", namespace, "--type=merge", "-p", patch)


def _md(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    return kubectl.existing("modeldeployment", NAME, namespace)


def _stable(kubectl: Kubectl, namespace: str, version: str) -> dict[str, Any] | None:
    md = _md(kubectl, namespace)
    status = md.get("status", {})
    serving = status.get("stableVersion") == version and status.get("servingVersion") == version
    return md if serving and condition_is(md, "Available", "True") else None


@pytest.mark.usefixtures("crds_installed")
def test_s3_model_serves_and_an_overwritten_object_is_rolled_back(
    cluster: Any, namespace: str, s3: S3Server, load_image: Any, tmp_path: Path
) -> None:
    kubectl: Kubectl = cluster.client
    dirs = {v: make_model_dir(tmp_path / "models", MODEL, v) for v in ("v1.0.0", "v1.1.0")}
    pushed = {v: push_model(s3, d, f"s3://models/{MODEL}/{v}/") for v, d in dirs.items()}
    assert pushed["v1.0.0"]["sha256"] == digest_of(dirs["v1.0.0"])
    s3.client().put_object(Bucket="models", Key=f"{MODEL}/v1.1.0/model.onnx", Body=b"overwritten")
    manifests = _objects(namespace, s3, pushed, str(load_image("server")))
    assert "AWS_SECRET_ACCESS_KEY" in manifests[0]["stringData"]
    with running_operator(cluster.kubeconfig, namespace, tmp_path) as operator:
        kubectl.apply(*manifests)
        Poller(120, what="v1.0.0 from S3 serving and stable").until(
            lambda: _stable(kubectl, namespace, "v1.0.0")
        )
        _, health = http_json("GET", service_url(kubectl, namespace, NAME) + HEALTH, deadline_s=60)
        assert (health["version"], health["status"]) == ("v1.0.0", "healthy")
        pods = kubectl.json("get", "pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={NAME}")[
            "items"
        ]
        assert pods and s3.secret_key not in json.dumps([p["spec"] for p in pods]), (
            "no credentials in pod specs"
        )
        s3.wait_logged("s3_GetObject", f"{MODEL}/v1.0.0/model.onnx")  # the pod downloaded from the store

        _set_version(kubectl, namespace, "v1.1.0")
        Poller(DEADLINE_S + 60, interval=0.5, what="spec.version reverted to v1.0.0").until(
            lambda: _md(kubectl, namespace)["spec"]["version"] == "v1.0.0"
        )
        md = Poller(60, what="v1.0.0 stable again").until(lambda: _stable(kubectl, namespace, "v1.0.0"))
        [failed] = md["status"]["failedVersions"]
        assert failed["version"] == "v1.1.0", operator.log_tail()
        assert f"s3://models/{MODEL}/v1.1.0/" in failed["reason"], failed
        assert "sha256 mismatch for model.onnx" in failed["reason"], failed
        assert s3.secret_key not in json.dumps(md)


@pytest.fixture
def node_cache() -> Iterator[Path]:
    """The node's artifact cache (the node is this machine), writable by the server's UID like a
    platform would prepare it; this test's entries are removed afterwards."""
    root = Path(NODE_CACHE_PATH)
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, SERVER_UID, SERVER_UID)
    before = set(root.iterdir())
    yield root
    for entry in set(root.iterdir()) - before:
        shutil.rmtree(entry, ignore_errors=True)


@pytest.mark.usefixtures("crds_installed", "node_cache")
def test_rollback_to_a_cached_version_starts_without_the_store(
    cluster: Any, namespace: str, s3: S3Server, load_image: Any, tmp_path: Path
) -> None:
    kubectl: Kubectl = cluster.client
    node_cache = Path(NODE_CACHE_PATH)
    dirs = {v: make_model_dir(tmp_path / "models", MODEL, v) for v in ("v1.0.0", "v1.1.0")}
    pushed = {v: push_model(s3, d, f"s3://models/{MODEL}/{v}/") for v, d in dirs.items()}
    manifests = _objects(namespace, s3, pushed, str(load_image("server")))
    manifests[-1]["spec"]["storage"]["cache"] = True
    with running_operator(cluster.kubeconfig, namespace, tmp_path):
        started = time.monotonic()
        kubectl.apply(*manifests)
        Poller(120, what="v1.0.0 stable").until(lambda: _stable(kubectl, namespace, "v1.0.0"))
        cold_s = time.monotonic() - started
        assert (node_cache / pushed["v1.0.0"]["sha256"]).is_dir(), sorted(node_cache.iterdir())
        _set_version(kubectl, namespace, "v1.1.0")
        Poller(120, what="v1.1.0 stable").until(lambda: _stable(kubectl, namespace, "v1.1.0"))
        s3.wait_logged("s3_GetObject", f"{MODEL}/v1.0.0/model.onnx")
        gets = s3.requests("s3_GetObject", f"{MODEL}/v1.0.0/model.onnx")
        listing = s3.client().list_objects_v2(Bucket="models", Prefix=f"{MODEL}/v1.0.0/")["Contents"]
        for item in listing:  # only the node's cache can bring v1.0.0 back now
            s3.client().delete_object(Bucket="models", Key=item["Key"])
        started = time.monotonic()
        _set_version(kubectl, namespace, "v1.0.0")
        Poller(120, what="v1.0.0 stable again from the cache").until(
            lambda: _stable(kubectl, namespace, "v1.0.0")
        )
        cached_s = time.monotonic() - started
    assert s3.requests("s3_GetObject", f"{MODEL}/v1.0.0/model.onnx") == gets, "v1.0.0 was downloaded again"
    print(f"\napply -> v1.0.0 stable (cold, from S3): {cold_s:.1f}s")
    print(f"rollback -> v1.0.0 stable (node cache, store emptied): {cached_s:.1f}s")
