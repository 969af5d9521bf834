"""The `s3://` parts of a server pod: how the fetch-model init container reaches an object store.

`storage.pod_storage` calls `object_store_fetch` for a package whose URL is `s3://...` (a `.tar.gz` key
or a model directory prefix). Endpoint, region and credentials come from the Secret named by
`spec.storage.s3.secretName` through `envFrom`, so no credential is ever written into the pod spec; the
init container verifies the download against the pinned digest before the server starts.
"""

from __future__ import annotations

from typing import Any

S3_SCHEME = "s3://"


def is_s3(url: str) -> bool:
    return url.startswith(S3_SCHEME)


def object_store_fetch(init: dict[str, Any], s3: dict[str, Any], digest: str | None) -> None:
    """Complete the fetch init container (in place) for an s3:// source."""
    if digest:
        init["command"] = [*init["command"], "--expected-digest", digest]
    secret = s3.get("secretName")
    if secret:
        init["envFrom"] = [{"secretRef": {"name": secret}}]
    # The last log line (the fetch step's `error: <uri>: <cause>`) becomes the termination message,
    # which the operator reports as the reason the version failed.
    init["terminationMessagePolicy"] = "FallbackToLogsOnError"
