"""Fixtures for the e2e tier: the real local cluster (`hack/localkube up`), a namespace per test, images.

`cluster` brings localkube up once per session (a no-op when it already runs) and leaves it running for
the next session. Tests marked `disruptive` (they stop or restart the shared cluster) run last. `s3` is
a real S3 server for the object-store, encrypted-package and restricted-namespace tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from localkube_py.settings import REPO_ROOT, Layout
from support.cluster import Kubectl, Poller, condition_is, temporary_namespace
from support.e2e import node_ip
from support.localkube import LocalCluster, run_localkube
from support.s3server import S3Server, running_s3_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move `disruptive` tests (they restart the shared cluster) after every other test."""
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


@pytest.fixture(scope="session")
def cluster() -> LocalCluster:
    run_localkube("up")
    layout = Layout.from_environment()
    path = f"{layout.kube_bin}:{layout.helm_bin.parent}:{os.environ.get('PATH', '')}"
    env = {**os.environ, "KUBECONFIG": str(layout.kubeconfig), "PATH": path}
    return LocalCluster(layout.kubeconfig, layout.kubectl, layout.helm_bin, env, layout)


@pytest.fixture
def kubectl(cluster: LocalCluster) -> Kubectl:
    return cluster.client


@pytest.fixture
def namespace(cluster: LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of its own for each test, deleted afterwards."""
    with temporary_namespace(cluster.client, f"e2e-{request.node.name}") as name:
        yield name


@pytest.fixture(scope="session")
def load_image(cluster: LocalCluster) -> Callable[[str], str]:
    """Build (when its inputs changed) and import a project image once per session; returns its tag."""
    loaded: dict[str, str] = {}

    def load(name: str) -> str:
        if name not in loaded:
            loaded[name] = run_localkube("load-image", name).stdout.strip().splitlines()[-1]
        return loaded[name]

    return load


@pytest.fixture(scope="session")
def crds_installed(cluster: LocalCluster) -> None:
    """The modelops CRDs from crds/, applied server-side and Established, once per session."""
    kubectl = cluster.client
    kubectl.run("apply", "--server-side", "--force-conflicts", "-f", str(REPO_ROOT / "crds"))
    for crd in ("modelversions.modelops.io", "modeldeployments.modelops.io"):
        Poller(60, what=f"CRD {crd} Established").until(
            lambda c=crd: condition_is(kubectl.get("crd", c), "Established", "True")
        )


@pytest.fixture
def s3(cluster: LocalCluster, tmp_path: Path) -> Iterator[S3Server]:
    """A real S3 server (versitygw) on the node's address, with a `models` bucket, for one test."""
    with running_s3_server(tmp_path / "s3", host=node_ip(cluster.client)) as server:
        server.create_bucket("models")
        yield server
