"""Command lines and config files of the Kubernetes components and etcd.

`ControlPlane` describes one etcd + kube-apiserver (+ controller-manager, scheduler) on given ports; the
local cluster and the integration tier's apiserver fixture both build their processes from it.
`Node` describes the kubelet and kube-proxy of the local cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from localkube_py.files import write_if_changed
from localkube_py.settings import CLUSTER_CIDR, NODE_NAME, NODE_POD_CIDR, SERVICE_CIDR


@dataclass(frozen=True)
class ControlPlane:
    """Where one control plane keeps its files and which loopback/host ports it listens on."""

    kube_bin: Path
    etcd_bin: Path
    root: Path
    advertise_ip: str
    bind_ip: str = "0.0.0.0"
    apiserver_port: int = 6443
    etcd_port: int = 23790
    etcd_peer_port: int = 23800
    controller_manager_port: int = 10257
    scheduler_port: int = 10259
    fast_etcd: bool = False

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def server_url(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    def kubeconfig(self, identity: str) -> Path:
        return self.root / "kubeconfigs" / f"{identity}.kubeconfig"

    def etcd_argv(self) -> list[str | Path]:
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        argv: list[str | Path] = [
            self.etcd_bin,
            "--name=localkube",
            f"--data-dir={self.root / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=localkube={peer}",
            "--log-level=warn",
        ]
        # Throw-away test clusters need no durability; skipping fsync makes them much faster.
        return [*argv, "--unsafe-no-fsync"] if self.fast_etcd else argv

    def apiserver_argv(self) -> list[str | Path]:
        pki = self.pki
        return [
            self.kube_bin / "kube-apiserver",
            f"--advertise-address={self.advertise_ip}",
            f"--bind-address={self.bind_ip}",
            f"--secure-port={self.apiserver_port}",
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            "--profiling=false",
        ]

    def controller_manager_argv(self) -> list[str | Path]:
        pki, kubeconfig = self.pki, self.kubeconfig("controller-manager")
        return [
            self.kube_bin / "kube-controller-manager",
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.controller_manager_port}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            "--use-service-account-credentials=true",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--cluster-cidr={CLUSTER_CIDR}",
            "--leader-elect=false",
            "--profiling=false",
        ]

    def scheduler_argv(self) -> list[str | Path]:
        kubeconfig = self.kubeconfig("scheduler")
        return [
            self.kube_bin / "kube-scheduler",
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.scheduler_port}",
            "--leader-elect=false",
            "--profiling=false",
        ]


@dataclass(frozen=True)
class Node:
    """The kubelet and kube-proxy of the single local node."""

    plane: ControlPlane
    containerd_socket: Path
    kubelet_dir: Path
    node_ip: str
    name: str = NODE_NAME

    def kubelet_config(self) -> dict[str, object]:
        """KubeletConfiguration for this VM: cgroup v1 via cgroupfs, swap allowed, no image GC churn."""
        return {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "cgroupDriver": "cgroupfs",
            "failCgroupV1": False,
            "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(self.plane.pki / "ca.crt")},
            },
            "authorization": {"mode": "Webhook"},
            "clusterDomain": "cluster.local",
            "podCIDR": NODE_POD_CIDR,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": 10248,
            # containerd 1.6.20 does not pin the sandbox image, so image GC must never run.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "serializeImagePulls": False,
            "resolvConf": "/etc/resolv.conf",
        }

    def kube_proxy_config(self) -> dict[str, object]:
        """KubeProxyConfiguration: iptables mode; conntrack sysctls left alone (0 = do not set)."""
        return {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.plane.kubeconfig("kube-proxy"))},
            "mode": "iptables",
            "clusterCIDR": CLUSTER_CIDR,
            "hostnameOverride": self.name,
            "healthzBindAddress": "127.0.0.1:10256",
            "metricsBindAddress": "127.0.0.1:10249",
            "nodePortAddresses": ["primary"],
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
        }

    def write_configs(self) -> list[str]:
        """Write kubelet.yaml and kube-proxy.yaml; return the names of the components whose file changed."""
        changed = []
        for name, content in (("kubelet", self.kubelet_config()), ("kube-proxy", self.kube_proxy_config())):
            path = self.plane.root / "config" / f"{name}.yaml"
            if write_if_changed(path, yaml.safe_dump(content, sort_keys=False)):
                changed.append(name)
        return changed

    def kubelet_argv(self) -> list[str | Path]:
        return [
            self.plane.kube_bin / "kubelet",
            f"--config={self.plane.root / 'config' / 'kubelet.yaml'}",
            f"--kubeconfig={self.plane.kubeconfig('kubelet')}",
            f"--hostname-override={self.name}",
            f"--node-ip={self.node_ip}",
            f"--root-dir={self.kubelet_dir}",
            f"--cert-dir={self.kubelet_dir / 'pki'}",
            "--v=1",
        ]

    def kube_proxy_argv(self) -> list[str | Path]:
        return [
            self.plane.kube_bin / "kube-proxy",
            f"--config={self.plane.root / 'config' / 'kube-proxy.yaml'}",
            "--v=1",
        ]
