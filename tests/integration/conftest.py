"""Fixtures for the integration tier: a real etcd + kube-apiserver + controller-manager on loopback.

No kubelet: objects are stored, validated, defaulted and garbage-collected for real, but no pod runs.
The binaries come from `hack/localkube build`; each session gets its own PKI and ports, so it can run
while the local cluster runs.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from localkube_py import health, pki, procs
from localkube_py.components import ControlPlane
from localkube_py.kubeconfig import write_kubeconfig
from localkube_py.settings import KUBERNETES_SERVICE_IP, REPO_ROOT, Layout
from support.cluster import Kubectl, Poller, temporary_namespace

CRDS_DIR = REPO_ROOT / "crds"


@dataclass(frozen=True)
class ApiServer:
    """A running test control plane and how to reach it."""

    kubeconfig: Path
    kubectl: Path
    env: dict[str, str]
    server: str

    @property
    def client(self) -> Kubectl:
        return Kubectl(self.kubectl, self.kubeconfig)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _plane(layout: Layout, root: Path) -> ControlPlane:
    if not (layout.kube_bin / "kube-apiserver").exists() or not layout.etcd_bin.exists():
        pytest.fail(
            f"Kubernetes binaries missing in {layout.kube_bin}: run `hack/localkube build`", pytrace=False
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


def _start_all(plane: ControlPlane) -> None:
    pki.ensure_pki(plane.pki, "localkube", plane.advertise_ip, KUBERNETES_SERVICE_IP)
    for identity in ("admin", "controller-manager"):
        write_kubeconfig(
            plane.kubeconfig(identity), server=plane.server_url, pki=plane.pki, identity=identity
        )
    _start(plane, "etcd", plane.etcd_argv(), f"http://127.0.0.1:{plane.etcd_port}/health", None)
    _start(plane, "kube-apiserver", plane.apiserver_argv(), f"{plane.server_url}/readyz", "admin")
    cm_url = f"https://127.0.0.1:{plane.controller_manager_port}/healthz"
    _start(plane, "kube-controller-manager", plane.controller_manager_argv(), cm_url, None)


def _stop_all(plane: ControlPlane) -> None:
    for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
        procs.stop(procs.PidFile(plane.root / "pids", name))


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    plane = _plane(Layout.from_environment(), tmp_path_factory.mktemp("apiserver"))
    try:
        _start_all(plane)
        kubeconfig = plane.kubeconfig("admin")
        kubectl = plane.kube_bin / "kubectl"
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PATH": f"{plane.kube_bin}:{os.environ['PATH']}"}
        yield ApiServer(kubeconfig, kubectl, env, plane.server_url)
    finally:
        _stop_all(plane)


@pytest.fixture(scope="session")
def crds(apiserver: ApiServer) -> list[str]:
    """The project's CRDs (crds/*.yaml) applied and Established; returns their names."""
    files = sorted(CRDS_DIR.glob("*.yaml"))
    if not files:
        pytest.fail(f"no CRDs in {CRDS_DIR}", pytrace=False)
    client = apiserver.client
    applied = client.run("apply", "--server-side", "-o", "name", *(f"-f={f}" for f in files))
    names = [line.split("/", 1)[1] for line in applied.split()]
    for name in names:
        Poller(30, what=f"CRD {name} Established").until(partial(_established, client, name))
    return names


def _established(client: Kubectl, name: str) -> bool:
    crd = client.get("customresourcedefinition", name) or {}
    conditions = crd.get("status", {}).get("conditions", [])
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


@pytest.fixture
def namespace(apiserver: ApiServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of its own for each test, deleted afterwards."""
    with temporary_namespace(apiserver.client, f"it-{request.node.name}") as name:
        yield name
