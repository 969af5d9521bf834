"""kubeconfig files for the admin user and each component, with certificates embedded.

Embedding (not referencing) the PEMs makes each kubeconfig self-contained, so tests and pods that get
a copy keep working. Called by `cluster.up` and the integration fixture.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from localkube_py.files import write_if_changed


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(
    path: Path, *, server: str, pki: Path, identity: str, cluster: str = "localkube"
) -> Path:
    """Write a kubeconfig for client certificate `<pki>/<identity>.crt` talking to `server`."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {"server": server, "certificate-authority-data": _b64(pki / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": identity,
                "user": {
                    "client-certificate-data": _b64(pki / f"{identity}.crt"),
                    "client-key-data": _b64(pki / f"{identity}.key"),
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": identity}}],
        "current-context": cluster,
    }
    write_if_changed(path, yaml.safe_dump(config, sort_keys=False), mode=0o600)
    return path
