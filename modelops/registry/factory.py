"""Choosing the registry backend the way the product expects: Kubernetes when a cluster is configured
(in-cluster service account, `$KUBECONFIG` or `~/.kube/config`), else `<models_dir>/registry.json`.

Called by `ModelRegistry()` without a backend and by `modelctl` (`--registry auto`).
"""

from __future__ import annotations

import os
from pathlib import Path

from modelops.registry.backend import RegistryBackend
from modelops.registry.file import FileBackend

DEFAULT_MODELS_DIR = Path("models")
REGISTRY_FILE = "registry.json"
IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def kubeconfig_path() -> Path | None:
    """The kubeconfig kubectl would use, if one exists."""
    configured = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    candidate = Path(configured) if configured else Path.home() / ".kube" / "config"
    return candidate if candidate.is_file() else None


def cluster_configured() -> bool:
    """True when a kubeconfig or an in-cluster service account is available."""
    in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and IN_CLUSTER_TOKEN.is_file()
    return in_cluster or kubeconfig_path() is not None


def file_backend(models_dir: Path | str | None) -> FileBackend:
    """The seed's `models/registry.json`."""
    return FileBackend(Path(models_dir or DEFAULT_MODELS_DIR) / REGISTRY_FILE)


def default_backend(models_dir: Path | str | None = None, namespace: str | None = None) -> RegistryBackend:
    """Kubernetes when a cluster is configured, else the file registry."""
    if cluster_configured():
        from modelops.registry.kubernetes import KubernetesBackend

        return KubernetesBackend.from_config(
            kubeconfig=kubeconfig_path(), namespace=namespace, models_dir=models_dir
        )
    return file_backend(models_dir)
