"""containerd for the kubelet: its config, image import into the `k8s.io` namespace, and task clean-up.

containerd runs with a private socket, root and state under the localkube state directory, runc as the
runtime (crun fails here on setrlimit) and `restrict_oom_score_adj` (runc cannot lower oom_score_adj
without CAP_SYS_RESOURCE in this VM). Called by `cluster` (start/stop) and `images` (import).
"""

from __future__ import annotations

from pathlib import Path

from localkube_py import procs
from localkube_py.files import write_if_changed
from localkube_py.settings import Layout
from localkube_py.shell import run

CRI = '"io.containerd.grpc.v1.cri"'


def config_toml(layout: Layout) -> str:
    """containerd 1.6 config (version 2) pointing every path into the state directory."""
    root = layout.containerd_dir
    runc = f"plugins.{CRI}.containerd.runtimes.runc"
    return f"""version = 2
root = "{root / "root"}"
state = "{root / "run"}"
[grpc]
  address = "{layout.containerd_socket}"
[ttrpc]
  address = "{layout.containerd_socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{root / "opt"}"
[plugins.{CRI}]
  sandbox_image = "{layout.pause_image}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
[plugins.{CRI}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{runc}]
  runtime_type = "io.containerd.runc.v2"
[{runc}.options]
  BinaryName = "/usr/sbin/runc"
  SystemdCgroup = false
[plugins.{CRI}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{layout.cni_conf_dir}"
  max_conf_num = 1
"""


def write_config(layout: Layout) -> bool:
    """Write config.toml; True when its content changed (a running containerd must restart)."""
    return write_if_changed(layout.containerd_dir / "config.toml", config_toml(layout))


def ctr(layout: Layout, *args: str | Path, check: bool = True) -> str:
    """Run `ctr` against our containerd in the kubelet's `k8s.io` namespace; return stdout."""
    argv = ["ctr", "--address", layout.containerd_socket, "--namespace", "k8s.io", *args]
    return run(argv, check=check).stdout


def responds(layout: Layout) -> bool:
    """containerd answers on its socket."""
    if not layout.containerd_socket.exists():
        return False
    argv: list[str | Path] = ["ctr", "--address", layout.containerd_socket, "version"]
    return run(argv, check=False).returncode == 0


def has_image(layout: Layout, name: str) -> bool:
    return name in ctr(layout, "images", "ls", "-q").split()


def import_archive(layout: Layout, archive: Path) -> None:
    """Import a docker-archive (or OCI) tarball so the kubelet finds its image without pulling."""
    ctr(layout, "images", "import", archive)


def kill_all_tasks(layout: Layout) -> None:
    """Force-delete every running container task (pods' processes) and wait for the shims to exit."""
    if responds(layout):
        for task_id in ctr(layout, "tasks", "ls", "-q", check=False).split():
            ctr(layout, "tasks", "delete", "--force", task_id, check=False)
    for shim in procs.pids_with_argument(str(layout.containerd_socket)):
        procs.terminate(shim, timeout=5.0)
