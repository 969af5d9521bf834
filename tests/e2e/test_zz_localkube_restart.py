"""Issue 3, Must show 4: `down` then `up` works, and after `down` no process localkube started is left.

Marked `disruptive` (and named to sort last): it stops the shared cluster every other e2e test uses.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from localkube_py import procs
from localkube_py.teardown import mount_points_under
from support.cluster import Kubectl, Poller, condition_is
from support.localkube import LocalCluster, run_localkube, started_processes
from support.workloads import available, web_deployment


def _describe(pids: list[int]) -> list[str]:
    described = []
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            described.append(f"{pid}: {b' '.join(argv).decode(errors='replace')}")
        except OSError:
            described.append(f"{pid}: (gone)")
    return described


def _iptables_chains() -> list[str]:
    dump = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return [line for line in dump.splitlines() if line.startswith((":KUBE-", ":CNI-"))]


@pytest.mark.disruptive
def test_down_then_up(
    cluster: LocalCluster, kubectl: Kubectl, namespace: str, load_image: Callable[[str], str]
) -> None:
    kubectl.apply(web_deployment("survivor", load_image("testhttp"), replicas=1), namespace=namespace)
    Poller(90, what="Deployment survivor Available").until(
        lambda: available(kubectl.get("deployment", "survivor", namespace), replicas=1)
    )
    before = started_processes(cluster.layout)
    assert {"kubelet", "kube-apiserver", "containerd"} <= set(before.values()), before
    assert any(name.startswith("child of containerd-shim") for name in before.values()), "no pod runs"

    run_localkube("down")

    leftovers = [pid for pid in before if procs.alive(pid)]
    assert not leftovers, _describe(leftovers)
    assert not started_processes(cluster.layout)
    assert not Path("/sys/class/net/cni0").exists(), "cni0 bridge left behind"
    assert not _iptables_chains(), _iptables_chains()
    assert not mount_points_under(cluster.layout.state), mount_points_under(cluster.layout.state)

    run_localkube("up")

    node = Poller(60, what="node localkube Ready after up").until(lambda: kubectl.get("node", "localkube"))
    assert condition_is(node, "Ready", "True")
    assert kubectl.json("version")["serverVersion"]["gitVersion"] == cluster.layout.kubernetes_version
    Poller(120, what="Deployment survivor Available again after up").until(
        lambda: available(kubectl.get("deployment", "survivor", namespace), replicas=1)
    )
