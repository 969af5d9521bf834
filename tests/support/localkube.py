"""Driving `hack/localkube` from tests: running its commands and listing the processes it started.

Used by the e2e fixtures (`tests/e2e/conftest.py`) and the down/up test, which must prove that `down`
leaves none of the processes `up` started (components, containerd shims and the pods' processes).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from localkube_py import procs
from localkube_py.settings import REPO_ROOT, Layout
from support.cluster import Kubectl

LOCALKUBE = REPO_ROOT / "hack" / "localkube"
COMPONENTS = (
    "containerd",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
)


@dataclass(frozen=True)
class LocalCluster:
    """What a test needs to drive the local cluster."""

    kubeconfig: Path
    kubectl: Path
    helm: Path
    env: dict[str, str]
    layout: Layout

    @property
    def client(self) -> Kubectl:
        return Kubectl(self.kubectl, self.kubeconfig)


def run_localkube(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """Run hack/localkube; fail the test with its output when it fails."""
    result = subprocess.run(
        [str(LOCALKUBE), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        output = f"{result.stderr}{result.stdout}"
        pytest.fail(f"hack/localkube {' '.join(args)} exited {result.returncode}:\n{output}")
    return result


def _children() -> dict[int, list[int]]:
    """Parent pid -> live child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        stat = procs.read_stat(int(entry.name)) if entry.name.isdigit() else None
        if stat is not None and stat.state not in ("Z", "X"):
            tree.setdefault(stat.ppid, []).append(int(entry.name))
    return tree


def started_processes(layout: Layout) -> dict[int, str]:
    """Every live process localkube started: recorded components, containerd shims, and descendants."""
    roots = {}
    for name in COMPONENTS:
        pid = procs.PidFile(layout.pids, name).running_pid()
        if pid is not None:
            roots[pid] = name
    for shim in procs.pids_with_argument(str(layout.containerd_socket)):
        roots[shim] = "containerd-shim"
    tree, found = _children(), dict(roots)
    pending = list(roots)
    while pending:
        parent = pending.pop()
        for child in tree.get(parent, []):
            found.setdefault(child, f"child of {found[parent]}")
            pending.append(child)
    return found
