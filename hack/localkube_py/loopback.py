"""A control plane (etcd + kube-apiserver + controller-manager) on free loopback ports, no kubelet.

The integration tier's `apiserver` fixture and `bench/bench_operator.py` start one each: objects are
stored, validated, defaulted and garbage-collected for real, but no pod runs. Each gets its own PKI
and ports, so it can run beside the local cluster.
"""

from __future__ import annotations

import socket
from pathlib import Path

from localkube_py import health, pki, procs
from localkube_py.components import ControlPlane
from localkube_py.kubeconfig import write_kubeconfig
from localkube_py.settings import KUBERNETES_SERVICE_IP, Layout


class BinariesMissingError(RuntimeError):
    """`hack/localkube build` has not been run."""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def loopback_plane(layout: Layout, root: Path) -> ControlPlane:
    """The description of a control plane under `root` on free loopback ports."""
    if not (layout.kube_bin / "kube-apiserver").exists() or not layout.etcd_bin.exists():
        raise BinariesMissingError(
            f"Kubernetes binaries missing in {layout.kube_bin}: run `hack/localkube build`"
        )
    ports = {name: free_port() for name in ("apiserver", "etcd", "peer", "cm", "scheduler")}
    return ControlPlane(
        kube_bin=layout.kube_bin,
        etcd_bin=layout.etcd_bin,
        root=root,
        advertise_ip="127.0.0.1",
        bind_ip="127.0.0.1",
        apiserver_port=ports["apiserver"],
        etcd_port=ports["etcd"],
        etcd_peer_port=ports["peer"],
        controller_manager_port=ports["cm"],
        scheduler_port=ports["scheduler"],
        fast_etcd=True,
    )


def _start(plane: ControlPlane, name: str, argv: list[str | Path], url: str, identity: str | None) -> None:
    pidfile = procs.PidFile(plane.root / "pids", name)
    log = plane.root / "logs" / f"{name}.log"
    procs.start(pidfile, argv, log)
    context = health.tls_context(plane.pki if identity else None, identity)
    health.wait_until(name, lambda: health.http_ok(url, context), 60, log=log)


def start_plane(plane: ControlPlane) -> Path:
    """Start etcd, the apiserver and the controller-manager; the admin kubeconfig."""
    pki.ensure_pki(plane.pki, "localkube", plane.advertise_ip, KUBERNETES_SERVICE_IP)
    for identity in ("admin", "controller-manager"):
        write_kubeconfig(
            plane.kubeconfig(identity), server=plane.server_url, pki=plane.pki, identity=identity
        )
    _start(plane, "etcd", plane.etcd_argv(), f"http://127.0.0.1:{plane.etcd_port}/health", None)
    _start(plane, "kube-apiserver", plane.apiserver_argv(), f"{plane.server_url}/readyz", "admin")
    cm_url = f"https://127.0.0.1:{plane.controller_manager_port}/healthz"
    _start(plane, "kube-controller-manager", plane.controller_manager_argv(), cm_url, None)
    return plane.kubeconfig("admin")


def stop_api(plane: ControlPlane) -> None:
    """Stop the apiserver and etcd (their data stays): the control plane's half of a node going down."""
    for name in ("kube-apiserver", "etcd"):
        procs.stop(procs.PidFile(plane.root / "pids", name))


def start_api(plane: ControlPlane) -> None:
    """Start etcd and the apiserver again after `stop_api`; returns once the apiserver is ready."""
    _start(plane, "etcd", plane.etcd_argv(), f"http://127.0.0.1:{plane.etcd_port}/health", None)
    _start(plane, "kube-apiserver", plane.apiserver_argv(), f"{plane.server_url}/readyz", "admin")


def stop_plane(plane: ControlPlane) -> None:
    """Stop what `start_plane` started (missing processes are fine)."""
    for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
        procs.stop(procs.PidFile(plane.root / "pids", name))
