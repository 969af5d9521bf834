"""How a server pod gets its model files: volumes, mounts and init containers per `spec.storage`.

The builders call `pod_storage` for the Deployment's pod template. When a ModelDeployment has no
`spec.storage`, it is derived from the ModelVersion's `artifact.uri` (a path → hostPath of the models
directory, `pvc://claim/dir` → pvc, an http(s) URL → package), so a registry `deploy_model` needs no
storage knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from modelops.package.archive import ExtractLimits

from .object_storage import decrypting_fetch, is_s3, node_cache, object_store_fetch

MODELS_MOUNT = "/models"
VOLUME_NAME = "models"
# The emptyDir holds the downloaded package and its unpacked files at once (TMPDIR is the emptyDir), so
# its size limit is the extractor's download limit plus its content limit: the extractor refuses a big
# package with a clear reason before the kubelet would evict the pod for the volume's size.
_EXTRACT = ExtractLimits()
PACKAGE_SIZE_LIMIT = f"{(_EXTRACT.max_download_bytes + _EXTRACT.max_total_bytes) >> 20}Mi"
# Every container of a server pod, the fetch-model init container too (restricted profile).
CONTAINER_SECURITY_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
# The init container streams and unpacks one package: memory does not grow with the package (1 MiB
# chunks; only the pinned manifest, at most archive.MAX_MANIFEST_BYTES, and tar headers, at most
# tarsafe.MAX_HEADER_BYTES, are held), so a fixed limit fits: `fetch` peaks at ~30 MiB on a 48 MiB
# package and ~41 MiB with the biggest manifest allowed (tests/unit/server/test_fetch_memory.py).
FETCH_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"memory": "256Mi"},
}
# An encrypted package is fetched into a tmpfs emptyDir, whose pages count against the fetching
# container's memory: its limit is the volume's size limit plus the fetch's own 256 Mi.
DECRYPTING_FETCH_MEMORY = f"{((_EXTRACT.max_download_bytes + _EXTRACT.max_total_bytes) >> 20) + 256}Mi"


class StorageError(ValueError):
    """Storage that cannot be resolved: a permanent spec error."""


@dataclass(frozen=True)
class PodStorage:
    """The pod-template pieces that make the model available under MODELS_MOUNT."""

    volumes: list[dict[str, Any]]
    mounts: list[dict[str, Any]]
    init_containers: list[dict[str, Any]] = field(default_factory=list)


def resolve(md_storage: dict[str, Any] | None, artifact_uri: str, model: str, version: str) -> dict[str, Any]:
    """The effective storage spec: the ModelDeployment's, or one derived from the artifact URI."""
    if md_storage:
        return md_storage
    uri = artifact_uri.removeprefix("file://")
    if uri.startswith(("http://", "https://", "s3://")):
        return {"type": "package", "url": uri}
    if uri.startswith("pvc://"):
        claim, _, sub = uri.removeprefix("pvc://").partition("/")
        return {"type": "pvc", "claimName": claim, "subPath": _models_root(sub, model, version)}
    if uri.startswith("/"):
        return {"type": "hostPath", "path": "/" + _models_root(uri, model, version).lstrip("/")}
    raise StorageError(f"cannot derive spec.storage from artifact.uri {artifact_uri!r}")


def _models_root(path: str, model: str, version: str) -> str:
    # A seed-layout URI names <root>/<model>/<version>; the server wants <root>.
    parts = PurePosixPath(path).parts
    if len(parts) >= 2 and parts[-2:] == (model, version):
        return str(PurePosixPath(*parts[:-2])) if len(parts) > 2 else ""
    return path


def pod_storage(
    storage: dict[str, Any],
    model: str,
    version: str,
    image: str,
    pull: str,
    *,
    digest: str | None = None,
    s3_secret: str = "",
) -> PodStorage:
    """Volumes, mounts and init containers for one storage spec.

    `digest` is the pinned artifact sha256; `s3_secret` the operator's default Secret for s3:// sources.
    """
    mount = {"name": VOLUME_NAME, "mountPath": MODELS_MOUNT, "readOnly": True}
    kind = storage.get("type")
    if kind == "hostPath":
        volume = {"name": VOLUME_NAME, "hostPath": {"path": storage["path"], "type": "Directory"}}
        return PodStorage([volume], [mount])
    if kind == "pvc":
        claim = {"claimName": storage["claimName"], "readOnly": True}
        sub = storage.get("subPath")
        return PodStorage(
            [{"name": VOLUME_NAME, "persistentVolumeClaim": claim}],
            [{**mount, "subPath": sub} if sub else mount],
        )
    if kind == "package":
        return _package_pieces(storage, model, version, image=image, pull=pull, mount=mount,
                               digest=digest, s3_secret=s3_secret)  # fmt: skip
    raise StorageError(f"unknown spec.storage.type {kind!r}")


def _package_pieces(
    storage: dict[str, Any], model: str, version: str, *, image: str, pull: str, mount: dict[str, Any],
    digest: str | None, s3_secret: str,
) -> PodStorage:  # fmt: skip
    pieces = _package_storage(storage["url"], model, version, image=image, pull=pull, mount=mount)
    init = pieces.init_containers[0]
    if is_s3(storage["url"]):
        s3 = storage.get("s3") or ({"secretName": s3_secret} if s3_secret else {})
        object_store_fetch(init, s3, digest)
    key_secret = storage.get("decryptionKeySecret")
    if key_secret:
        # Clear bytes stay in memory: the model volume is tmpfs, the key is mounted in the init
        # container only, and the node cache (clear directories on the node's disk) is not used.
        pieces.volumes[0]["emptyDir"]["medium"] = "Memory"
        return PodStorage(
            [*pieces.volumes, decrypting_fetch(init, key_secret, digest, DECRYPTING_FETCH_MEMORY)],
            pieces.mounts,
            [init],
        )
    cache = node_cache(init, digest) if storage.get("cache") else None
    return PodStorage([*pieces.volumes, cache], pieces.mounts, [init]) if cache else pieces


def _package_storage(
    url: str, model: str, version: str, *, image: str, pull: str, mount: dict[str, Any]
) -> PodStorage:
    source = url.replace("{version}", version).replace("{model}", model)
    fetch = {
        "name": "fetch-model",
        "image": image,
        "imagePullPolicy": pull,
        "command": ["modelops-server", "fetch", source, f"{MODELS_MOUNT}/{model}/{version}"],
        # Read-only root filesystem: the download and staging dir live in the emptyDir itself (the
        # final move is then a rename), and are gone when the fetch ends.
        "env": [{"name": "TMPDIR", "value": MODELS_MOUNT}],
        "volumeMounts": [{"name": VOLUME_NAME, "mountPath": MODELS_MOUNT}],
        "resources": FETCH_RESOURCES,
        "securityContext": CONTAINER_SECURITY_CONTEXT,
    }
    volume = {"name": VOLUME_NAME, "emptyDir": {"sizeLimit": PACKAGE_SIZE_LIMIT}}
    return PodStorage([volume], [mount], [fetch])
