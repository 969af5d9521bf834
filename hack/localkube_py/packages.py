"""Installs the Debian packages localkube needs when they are missing (a fresh CI machine).

Called by `up`, `build`, `load-image` and `image` before they use containerd, runc, CNI plugins, iptables,
buildah/podman, podman-compose or debootstrap.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from localkube_py.progress import say
from localkube_py.shell import run

# Debian package -> a file that proves it is installed.
REQUIRED = {
    "containerd": "/usr/bin/containerd",
    "runc": "/usr/sbin/runc",
    "containernetworking-plugins": "/usr/lib/cni/bridge",
    "iptables": "/usr/sbin/iptables",
    "buildah": "/usr/bin/buildah",
    "podman": "/usr/bin/podman",
    # Not for the cluster: the compose e2e test runs examples/docker-compose.yaml with podman-compose.
    "podman-compose": "/usr/bin/podman-compose",
    "debootstrap": "/usr/sbin/debootstrap",
    "kmod": "/usr/sbin/modprobe",
    "iproute2": "/usr/sbin/ip",
    "conntrack": "/usr/sbin/conntrack",
    "socat": "/usr/bin/socat",
    # Not for the cluster: the Argo CD health-check tests run the Lua scripts with Lua 5.1.
    "lua5.1": "/usr/bin/lua5.1",
}


def missing_packages() -> list[str]:
    """Packages whose marker file is absent."""
    return [name for name, marker in REQUIRED.items() if not Path(marker).exists()]


def ensure_packages() -> None:
    """apt-get install whatever is missing; a no-op on a prepared machine."""
    missing = missing_packages()
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise RuntimeError(f"missing packages {missing} and no apt-get to install them")
    say(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], env=env)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)
