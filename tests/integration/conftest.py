"""Fixtures for the integration tier: a real etcd + kube-apiserver + controller-manager on loopback.

No kubelet: objects are stored, validated, defaulted and garbage-collected for real, but no pod runs.
The binaries come from `hack/localkube build`; each session gets its own PKI and ports, so it can run
while the local cluster runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from localkube_py.loopback import BinariesMissingError, loopback_plane, start_plane, stop_plane
from localkube_py.settings import REPO_ROOT, Layout
from modelops_operator.kube import Kube, load_client
from support.cluster import Kubectl, Poller, condition_is, temporary_namespace
from support.tools import gateway_api_crd

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


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    try:
        plane = loopback_plane(Layout.from_environment(), tmp_path_factory.mktemp("apiserver"))
    except BinariesMissingError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        kubeconfig = start_plane(plane)
        kubectl = plane.kube_bin / "kubectl"
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PATH": f"{plane.kube_bin}:{os.environ['PATH']}"}
        yield ApiServer(kubeconfig, kubectl, env, plane.server_url)
    finally:
        stop_plane(plane)


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


@pytest.fixture(scope="session")
def http_routes(apiserver: ApiServer) -> None:
    """The Gateway API HTTPRoute CRD (standard channel, pinned) installed and Established."""
    client = apiserver.client
    client.run("apply", "--server-side", f"-f={gateway_api_crd('httproutes')}")
    name = "httproutes.gateway.networking.k8s.io"
    Poller(30, what=f"CRD {name} Established").until(partial(_established, client, name))


def _established(client: Kubectl, name: str) -> bool:
    # A CRD applied from a manifest that carries `status: {conditions: null}` (Gateway API's do) reads
    # back with null conditions until the apiextensions controller fills them; condition_is allows that.
    return condition_is(client.get("customresourcedefinition", name), "Established", "True")


@pytest.fixture(scope="session")
def kube(apiserver: ApiServer, crds: list[str]) -> Kube:
    """The operator's own API wrapper on the test apiserver, with the CRDs installed."""
    return Kube(load_client(str(apiserver.kubeconfig)))


@pytest.fixture
def namespace(apiserver: ApiServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of its own for each test, deleted afterwards."""
    with temporary_namespace(apiserver.client, f"it-{request.node.name}") as name:
        yield name
