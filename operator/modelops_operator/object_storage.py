"""The `s3://` and node-cache parts of a server pod's fetch-model init container.

`storage.pod_storage` calls `object_store_fetch` for a package whose URL is `s3://...` (a `.tar.gz` key
or a model directory prefix). Endpoint, region and credentials come from the Secret named by
`spec.storage.s3.secretName` (or the operator's default) through `envFrom`, so no credential is ever
written into the pod spec; the init container verifies the download against the pinned digest before
the server starts. With `spec.storage.cache: true`, `node_cache` mounts the node's digest-keyed cache.
For an encrypted package (`spec.storage.decryptionKeySecret`), `decrypting_fetch` mounts the key Secret
into the fetch init container only.
"""

from __future__ import annotations

from typing import Any

S3_SCHEME = "s3://"
NODE_CACHE_PATH = "/var/cache/modelops/artifacts"  # on the node; entries are named by digest only
CACHE_VOLUME, CACHE_MOUNT = "artifact-cache", "/cache"
DECRYPTION_VOLUME, DECRYPTION_MOUNT = "decryption-key", "/var/run/modelops/decryption"


def is_s3(url: str) -> bool:
    return url.startswith(S3_SCHEME)


def _pin(init: dict[str, Any], digest: str) -> None:
    if "--expected-digest" not in init["command"]:
        init["command"] = [*init["command"], "--expected-digest", digest]


def object_store_fetch(init: dict[str, Any], s3: dict[str, Any], digest: str | None) -> None:
    """Complete the fetch init container (in place) for an s3:// source."""
    if digest:
        _pin(init, digest)
    secret = s3.get("secretName")
    if secret:
        init["envFrom"] = [{"secretRef": {"name": secret}}]
    # The last log line (the fetch step's `error: <uri>: <cause>`) becomes the termination message,
    # which the operator reports as the reason the version failed.
    init["terminationMessagePolicy"] = "FallbackToLogsOnError"


def node_cache(init: dict[str, Any], digest: str | None) -> dict[str, Any] | None:
    """Mount the node's digest-keyed cache into the fetch init container; return the volume to add."""
    if not digest:
        return None
    _pin(init, digest)
    init["command"] = [*init["command"], "--cache-dir", CACHE_MOUNT]
    init["volumeMounts"] = [*init["volumeMounts"], {"name": CACHE_VOLUME, "mountPath": CACHE_MOUNT}]
    return {"name": CACHE_VOLUME, "hostPath": {"path": NODE_CACHE_PATH, "type": "DirectoryOrCreate"}}


def decrypting_fetch(
    init: dict[str, Any], secret: dict[str, Any], digest: str | None, memory_limit: str
) -> dict[str, Any]:
    """Give the fetch init container the package key (a read-only Secret file); return its volume.

    The model volume is tmpfs then, and tmpfs pages count against the memory of the container that
    writes them: the caller gives the init container's larger `memory_limit`."""
    if digest:
        _pin(init, digest)
    key = str(secret.get("key") or "key")
    init["command"] = [*init["command"], "--decryption-key-file", f"{DECRYPTION_MOUNT}/{key}"]
    mount = {"name": DECRYPTION_VOLUME, "mountPath": DECRYPTION_MOUNT, "readOnly": True}
    init["volumeMounts"] = [*init["volumeMounts"], mount]
    init["terminationMessagePolicy"] = "FallbackToLogsOnError"
    init["resources"] = {**init["resources"], "limits": {"memory": memory_limit}}
    return {"name": DECRYPTION_VOLUME, "secret": {"secretName": str(secret["name"]), "defaultMode": 0o440}}
