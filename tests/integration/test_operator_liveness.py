"""The operator process under a control plane that restarts or a connection that dies.

After a node restart the operator must reconcile again without anybody deleting its pod: either its
watches recover by themselves, or its liveness endpoint (/healthz, kopf's, with the watch check of
`watchcheck.py`) fails so the kubelet restarts it. The operator runs here as its own process with
`--liveness`, against a real apiserver; the tests play the kubelet by reading /healthz.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from localkube_py.loopback import (
    BinariesMissingError,
    free_port,
    loopback_plane,
    start_api,
    start_plane,
    stop_api,
    stop_plane,
)
from localkube_py.settings import REPO_ROOT, Layout
from modelops_operator.kube import Kube, custom_path, load_client
from support.cluster import Kubectl, Poller, PollTimeout
from support.e2e import OperatorProcess, running_operator
from support.operator_objects import model_deployment, model_version
from support.tcprelay import tcp_relay

CRDS_DIR = REPO_ROOT / "crds"
MD = "modeldeployments"
# The operator's watch_check_seconds: short where a dead watch must fail /healthz quickly, longer where
# kopf's own reconnect backoff after a restart (seconds) must not look like a dead watch.
DEAD_CHECK_S = 3
RESTART_CHECK_S = 15
RECONCILED_S = 60  # a ModelDeployment's first status, from its creation
UNHEALTHY_S = 60  # two watch checks, a list timing out on a dead connection, kopf's 10 s probe cache


class Liveness:
    """What the kubelet sees of the operator's /healthz."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/healthz"

    def status(self) -> int | None:
        try:
            return httpx.get(self.url, timeout=5).status_code
        except httpx.TransportError:
            return None


def _operator(kubeconfig: Path, namespace: str, logs: Path, check_s: int) -> tuple[Any, Liveness]:
    port = free_port()
    operator = running_operator(
        kubeconfig,
        namespace,
        logs,
        env={"MODELOPS_OPERATOR_WATCH_CHECK_SECONDS": str(check_s)},
        args=(f"--liveness=http://127.0.0.1:{port}/healthz",),
    )
    return operator, Liveness(port)


def _create(kube: Kube, namespace: str, environment: str) -> str:
    """A ModelDeployment of version 1.0.0 in `environment`; its name."""
    md = model_deployment("1.0.0", environment=environment, namespace=namespace)
    for generated in ("uid", "generation"):
        md["metadata"].pop(generated)
    created: dict[str, Any] = kube.request("POST", custom_path(namespace, MD), md)
    return str(created["metadata"]["name"])


def _reconciled(kube: Kube, namespace: str, name: str) -> bool:
    md = kube.get(custom_path(namespace, MD, name)) or {}
    return bool((md.get("status") or {}).get("phase"))


def _until(timeout: float, what: str, check: Callable[[], bool], operator: OperatorProcess) -> None:
    """Poll `check`; a timeout shows the operator's log as it was then."""
    try:
        Poller(timeout, what=what).until(check)
    except PollTimeout as timeout_error:
        raise AssertionError(f"{timeout_error}\noperator log:\n{operator.log_tail()}") from None


def _wait_reconciled(kube: Kube, namespace: str, name: str, operator: OperatorProcess) -> None:
    check = partial(_reconciled, kube, namespace, name)
    _until(RECONCILED_S, f"ModelDeployment {namespace}/{name} reconciled", check, operator)


def _until_reconciled_or_unhealthy(
    kube: Kube, namespace: str, name: str, liveness: Liveness, operator: OperatorProcess
) -> None:
    """Either outcome is fine for the user: the operator recovered, or the kubelet would restart it."""
    _until(
        RECONCILED_S,
        f"{name} reconciled or /healthz failing",
        lambda: _reconciled(kube, namespace, name) or liveness.status() not in (200, None),
        operator,
    )


@pytest.fixture(scope="module")
def own_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A control plane of this module's own: the restart test restarts it."""
    try:
        plane = loopback_plane(Layout.from_environment(), tmp_path_factory.mktemp("restarted"))
    except BinariesMissingError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        kubeconfig = start_plane(plane)
        client = Kubectl(plane.kube_bin / "kubectl", kubeconfig)
        client.run("apply", "--server-side", *(f"-f={f}" for f in sorted(CRDS_DIR.glob("*.yaml"))))
        client.run("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        client.run("create", "namespace", "restart")
        yield plane
    finally:
        stop_plane(plane)


def test_operator_reconciles_again_after_the_control_plane_restarts(own_plane: Any, tmp_path: Path) -> None:
    """A ModelDeployment created after etcd and the apiserver restarted is reconciled: by the running
    operator, or, when its watches did not recover, by the one the kubelet starts after /healthz failed."""
    kubeconfig, namespace = own_plane.kubeconfig("admin"), "restart"
    kube = Kube(load_client(str(kubeconfig)))
    kube.request("POST", custom_path(namespace, "modelversions"), model_version("1.0.0", namespace=namespace))
    operator_block, liveness = _operator(kubeconfig, namespace, tmp_path, RESTART_CHECK_S)
    with operator_block as operator:
        _wait_reconciled(kube, namespace, _create(kube, namespace, "before"), operator)
        assert liveness.status() == 200
        stop_api(own_plane)
        start_api(own_plane)
        after = _create(kube, namespace, "after")
        _until_reconciled_or_unhealthy(kube, namespace, after, liveness, operator)
        if not _reconciled(kube, namespace, after):  # liveness failed: restart it as the kubelet would
            operator.stop()
            operator.start()
        _wait_reconciled(kube, namespace, after, operator)
        assert liveness.status() == 200, operator.log_tail()


def test_operator_started_beside_a_starting_apiserver_reconciles(own_plane: Any, tmp_path: Path) -> None:
    """The node-restart order: the operator starts while etcd and the apiserver are down and come up
    (kopf reads discovery once at start; the operator waits until it lists the modelops.io resources)."""
    kubeconfig, namespace = own_plane.kubeconfig("admin"), "restart"
    kube = Kube(load_client(str(kubeconfig)))
    stop_api(own_plane)
    operator_block, liveness = _operator(kubeconfig, namespace, tmp_path, RESTART_CHECK_S)
    with operator_block as operator:
        start_api(own_plane)
        name = _create(kube, namespace, "cold")
        _until_reconciled_or_unhealthy(kube, namespace, name, liveness, operator)
        assert _reconciled(kube, namespace, name), f"/healthz failed:\n{operator.log_tail()}"
        assert liveness.status() == 200


def _relayed_kubeconfig(source: Path, port: int, target: Path) -> Path:
    """`source` with its server reached through the relay on `port` (same certificates)."""
    config = yaml.safe_load(source.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    target.write_text(json.dumps(config))
    return target


def test_liveness_fails_when_the_watch_connections_die(
    apiserver: Any, kube: Kube, namespace: str, tmp_path: Path
) -> None:
    """Every open connection of the operator goes dead (no reset, nothing answers): /healthz fails
    within two watch checks, long before kopf would notice the silent streams by itself (70 s)."""
    kube.request("POST", custom_path(namespace, "modelversions"), model_version("1.0.0", namespace=namespace))
    host, port = apiserver.server.removeprefix("https://").rsplit(":", 1)
    with tcp_relay(host, int(port)) as relay:
        kubeconfig = _relayed_kubeconfig(apiserver.kubeconfig, relay.port, tmp_path / "relayed.kubeconfig")
        operator_block, liveness = _operator(kubeconfig, namespace, tmp_path, DEAD_CHECK_S)
        with operator_block as operator:
            _wait_reconciled(kube, namespace, _create(kube, namespace, "before"), operator)
            assert liveness.status() == 200
            assert relay.freeze() > 0, "the operator had no open connection"
            _create(kube, namespace, "after")
            _until(UNHEALTHY_S, "/healthz failing", lambda: liveness.status() == 500, operator)
            assert "not delivering" in operator.log_tail(), operator.log_tail()
