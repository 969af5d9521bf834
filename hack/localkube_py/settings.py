"""Where localkube keeps things and which versions and addresses it uses.

One `Layout` is built per command from the repository root and the environment (read once, at start);
every other module receives it instead of reading the environment itself.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

HACK_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = HACK_DIR.parent

SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
CLUSTER_CIDR = "10.244.0.0/16"
NODE_POD_CIDR = "10.244.0.0/24"
CNI_BRIDGE = "cni0"
NODE_NAME = "localkube"


def read_versions(path: Path = HACK_DIR / "versions.env") -> dict[str, str]:
    """Parse the KEY=VALUE lines of hack/versions.env (the one file that pins every version)."""
    versions = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            versions[key.strip()] = value.strip()
    return versions


def primary_ipv4() -> str:
    """The default-route interface's address: the node's InternalIP and the apiserver's advertise address.

    A connected UDP socket sends nothing; it only asks the kernel which source address it would use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.254", 9))
        return str(probe.getsockname()[0])


@dataclass(frozen=True)
class Layout:
    """Paths and versions for one localkube state directory."""

    state: Path
    cache: Path
    kubernetes_version: str
    etcd_version: str
    helm_version: str

    @classmethod
    def from_environment(cls) -> Layout:
        """Build the layout once at start: MODELOPS_CACHE and LOCALKUBE_STATE may override defaults."""
        versions = read_versions()
        cache = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))
        state = Path(os.environ.get("LOCALKUBE_STATE", REPO_ROOT / ".state" / "localkube"))
        return cls(
            state=state.resolve(),
            cache=cache,
            kubernetes_version=versions["KUBERNETES_VERSION"],
            etcd_version=versions["ETCD_VERSION"],
            helm_version=versions["HELM_VERSION"],
        )

    @property
    def kube_bin(self) -> Path:
        return self.cache / "bin" / f"kubernetes-{self.kubernetes_version}"

    @property
    def etcd_bin(self) -> Path:
        return self.cache / "bin" / f"etcd-{self.etcd_version}" / "etcd"

    @property
    def helm_bin(self) -> Path:
        return self.cache / "bin" / f"helm-{self.helm_version}" / "helm"

    @property
    def pause_bin(self) -> Path:
        return self.cache / "bin" / f"pause-{self.kubernetes_version}" / "pause"

    @property
    def kubectl(self) -> Path:
        return self.kube_bin / "kubectl"

    @property
    def image_cache(self) -> Path:
        return self.cache / "images"

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def pids(self) -> Path:
        return self.state / "pids"

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def containerd_dir(self) -> Path:
        return self.state / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.containerd_dir / "containerd.sock"

    @property
    def kubelet_dir(self) -> Path:
        return self.state / "kubelet"

    @property
    def cni_conf_dir(self) -> Path:
        return self.state / "cni" / "net.d"

    @property
    def pause_image(self) -> str:
        return f"localhost/modelops-pause:{self.kubernetes_version}"
