"""An encrypted model package (`modelctl push --encrypt-key`) is served on localkube, and a version
sealed with another key is refused with the reason in the ModelDeployment's status.

The key Secret is named by `spec.storage.decryptionKeySecret` and allowed by the operator's platform
policy (`decryptionKeySecrets`); the builders mount it into the fetch init container only and make the
model volume and the server's /tmp memory-backed emptyDirs (checked on the pod spec). The serving pods'
directories under this cluster's own kubelet root hold no clear byte of the model: the scan stays on
the kubelet root's filesystem (a memory-backed volume is a mount of its own, whether or not this
process sees it, and never the disk), so it reads no mount table and no host path outside the
checkout. v1.0.0 serves and predicts; v1.1.0, sealed with a different key, fails its fetch with
"wrong decryption key" and the operator rolls back to v1.0.0 with that reason.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelops.package.encryption import encode_key, generate_key
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
DEADLINE_S = 30
KEY_SECRET = "model-key"
PREDICT = f"/api/v1/ml-models/{MODEL}/predict"


def _key_file(path: Path) -> Path:
    path.write_text(encode_key(generate_key()))
    return path


def _md(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    return kubectl.existing("modeldeployment", NAME, namespace)


def _stable(kubectl: Kubectl, namespace: str, version: str) -> dict[str, Any] | None:
    md = _md(kubectl, namespace)
    status = md.get("status", {})
    serving = status.get("stableVersion") == version and status.get("servingVersion") == version
    return md if serving and condition_is(md, "Available", "True") else None


def _manifests(namespace: str, s3: S3Server, pushed: dict[str, Any], image: str, key: Path) -> list[Any]:
    rollback = {"automatic": True, "mode": "RevertSpec", "progressDeadlineSeconds": DEADLINE_S}
    objects = s3_model_objects(namespace, s3, pushed, image, name=NAME, model=MODEL, rollback=rollback)
    objects[-1]["spec"]["storage"].update(
        url="s3://models/{model}/{version}.tar.gz.enc", decryptionKeySecret={"name": KEY_SECRET}
    )
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": KEY_SECRET, "namespace": namespace},
              "stringData": {"key": key.read_text()}}  # fmt: skip
    return [secret, *objects]


@pytest.mark.usefixtures("crds_installed")
def test_encrypted_model_serves_and_a_wrong_key_is_refused_with_the_reason(
    cluster: Any, namespace: str, s3: S3Server, load_image: Any, tmp_path: Path
) -> None:
    kubectl: Kubectl = cluster.client
    key, other = _key_file(tmp_path / "model.key"), _key_file(tmp_path / "other.key")
    dirs = {v: make_model_dir(tmp_path / "models", MODEL, v) for v in ("v1.0.0", "v1.1.0")}
    pushed = {
        v: push_model(
            s3, d, f"s3://models/{MODEL}/{v}.tar.gz.enc", encrypt_key=key if v == "v1.0.0" else other
        )
        for v, d in dirs.items()
    }
    stored = s3.client().get_object(Bucket="models", Key=f"{MODEL}/v1.0.0.tar.gz.enc")["Body"].read()
    assert stored.startswith(b"MOPSENC") and (dirs["v1.0.0"] / "model.onnx").read_bytes()[:64] not in stored
    manifests = _manifests(namespace, s3, pushed, str(load_image("server")), key)
    policy = {"MODELOPS_OPERATOR_POLICY": json.dumps({**E2E_POLICY, "decryptionKeySecrets": [KEY_SECRET]})}
    with running_operator(cluster.kubeconfig, namespace, tmp_path, env=policy) as operator:
        kubectl.apply(*manifests)
        Poller(180, what="encrypted v1.0.0 serving and stable").until(
            lambda: _stable(kubectl, namespace, "v1.0.0")
        )
        _, answer = http_json(
            "POST", service_url(kubectl, namespace, NAME) + PREDICT, deadline_s=60, body={"text": "hello"}
        )
        assert answer["label"] in {"safe", "risk"}, answer
        _check_pod_spec(kubectl, namespace)
        _check_no_clear_bytes_on_disk(cluster, namespace, dirs["v1.0.0"])

        patch = json.dumps({"spec": {"version": "v1.1.0"}})
        kubectl.run("patch", "modeldeployment", NAME, "-n", namespace, "--type=merge", "-p", patch)
        Poller(DEADLINE_S + 90, what="spec.version reverted to v1.0.0").until(
            lambda: _md(kubectl, namespace)["spec"]["version"] == "v1.0.0"
        )
        md = Poller(60, what="v1.0.0 stable again").until(lambda: _stable(kubectl, namespace, "v1.0.0"))
        [failed] = md["status"]["failedVersions"]
        assert failed["version"] == "v1.1.0", operator.log_tail()
        assert "wrong decryption key" in failed["reason"], failed


def _check_no_clear_bytes_on_disk(cluster: Any, namespace: str, model_dir: Path) -> None:
    """No file of the serving pods' kubelet directories, on the kubelet root's own filesystem, holds a
    piece of the clear model (its manifest, a slice from the middle of its graph)."""
    onnx = (model_dir / "model.onnx").read_bytes()
    middle = next(i for i in range(len(onnx) // 2, len(onnx) - 96) if len(set(onnx[i : i + 96])) >= 40)
    needles = [(model_dir / "manifest.json").read_bytes()[:200], onnx[middle : middle + 96]]
    pods = cluster.client.json("get", "pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={NAME}")
    roots = [cluster.layout.kubelet_dir / "pods" / p["metadata"]["uid"] for p in pods["items"]]
    assert roots and all(r.is_dir() for r in roots), roots
    device = os.stat(cluster.layout.kubelet_dir).st_dev
    found = [
        f for r in roots for f in _files_on_device(r, device) if any(n in f.read_bytes() for n in needles)
    ]
    assert not found, f"clear model bytes on the node's disk: {found}"


def _files_on_device(root: Path, device: int) -> Iterator[Path]:
    for entry in os.scandir(root):
        info = entry.stat(follow_symlinks=False)
        if info.st_dev != device:  # another filesystem mounted here (tmpfs of a Memory emptyDir, a Secret)
            continue
        if stat.S_ISDIR(info.st_mode):
            yield from _files_on_device(Path(entry.path), device)
        elif stat.S_ISREG(info.st_mode):
            yield Path(entry.path)


def _check_pod_spec(kubectl: Kubectl, namespace: str) -> None:
    pods = kubectl.json("get", "pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={NAME}")["items"]
    assert pods
    for pod in pods:
        spec = pod["spec"]
        # Every writable volume the clear files can reach (the model volume, the server's /tmp where it
        # loads a private copy from) is memory-backed.
        for volume in (v for v in spec["volumes"] if "emptyDir" in v):
            assert volume["emptyDir"].get("medium") == "Memory", volume
        (init,) = spec["initContainers"]
        assert any(m["name"] == "decryption-key" for m in init["volumeMounts"])
        assert all(m["name"] != "decryption-key" for c in spec["containers"] for m in c["volumeMounts"])
