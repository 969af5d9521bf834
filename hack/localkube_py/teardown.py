"""`down`: stop exactly what `up` started and undo its changes to the host.

Order matters: kube-proxy and kubelet stop first (so nothing restarts pods), then every container task
is force-deleted while containerd still answers, then the control plane and containerd stop. Afterwards
the mounts under the state directory (pod volumes, container root filesystems and, because containerd
runs with `netns_mounts_under_state_dir`, the pods' network namespaces) are unmounted, the cni0 bridge is
deleted and the KUBE-*/CNI-* iptables chains are removed. Images, etcd data and caches stay.
Called by `cli`.
"""

from __future__ import annotations

from pathlib import Path

from localkube_py import network, procs, runtime
from localkube_py.cluster import components, control_plane, node, state_lock
from localkube_py.progress import say
from localkube_py.settings import Layout
from localkube_py.shell import run

NODE_AGENTS = ("kube-proxy", "kubelet")


def down(layout: Layout) -> None:
    """Stop every recorded process, clean mounts, bridge and iptables; leave no process behind."""
    with state_lock(layout):
        plane = control_plane(layout)
        names = [c.name for c in components(layout, plane, node(layout, plane))]
        for name in NODE_AGENTS:
            _stop(layout, name)
        runtime.kill_all_tasks(layout)
        for name in reversed(names):
            _stop(layout, name)
        unmount_under(layout.state)
        network.delete_bridge()
        network.remove_iptables_chains()
        leftovers = running_components(layout, names)
        if leftovers:
            raise SystemExit(f"still running after down: {leftovers}")
    say("localkube is down")


def _stop(layout: Layout, name: str) -> None:
    if procs.stop(procs.PidFile(layout.pids, name)):
        say(f"stopped {name}")


def running_components(layout: Layout, names: list[str]) -> list[str]:
    """Components whose recorded process still runs (empty after a clean `down`)."""
    return [name for name in names if procs.PidFile(layout.pids, name).running_pid() is not None]


def mount_points_under(root: Path) -> list[Path]:
    """Mount points below `root` from /proc/self/mountinfo, deepest first."""
    prefix = str(root.resolve()) + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix):
            points.append(Path(point))
    return sorted(set(points), key=lambda p: len(p.parts), reverse=True)


def unmount_under(root: Path) -> None:
    """Unmount pod volumes, container rootfs and shm mounts the kubelet and containerd left."""
    points = mount_points_under(root)
    for point in points:
        run(["umount", "--lazy", point], check=False)
    if points:
        say(f"unmounted {len(points)} mounts under {root}")
