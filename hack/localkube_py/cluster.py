"""`up` and `status` of the local cluster: containerd, etcd, the control plane, kubelet and kube-proxy.

Each component is a detached process with a pid file in the state directory; `up` reuses a component
whose recorded process still runs (so a second `up` is a no-op) and starts the rest in dependency order,
waiting for each health check. Called by `cli`; `teardown` is the inverse.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from localkube_py import health, images, network, packages, pki, procs, runtime
from localkube_py.components import ControlPlane, Node
from localkube_py.kubeconfig import write_kubeconfig
from localkube_py.progress import say
from localkube_py.settings import HACK_DIR, KUBERNETES_SERVICE_IP, NODE_NAME, Layout, primary_ipv4

KUBELET_PORT = 10250
KUBELET_HEALTHZ = "http://127.0.0.1:10248/healthz"
KUBE_PROXY_HEALTHZ = "http://127.0.0.1:10256/healthz"
CLIENT_IDENTITIES = ("admin", "controller-manager", "scheduler", "kube-proxy", "kubelet")


@dataclass(frozen=True)
class Component:
    """One background process of the cluster and how to tell it is healthy."""

    name: str
    argv: Callable[[], list[str | Path]]
    healthy: Callable[[], bool]
    ports: tuple[int, ...] = ()
    timeout: float = 60.0


def control_plane(layout: Layout, node_ip: str | None = None) -> ControlPlane:
    ip = node_ip or primary_ipv4()
    return ControlPlane(
        kube_bin=layout.kube_bin, etcd_bin=layout.etcd_bin, root=layout.state, advertise_ip=ip
    )


def node(layout: Layout, plane: ControlPlane) -> Node:
    return Node(plane, layout.containerd_socket, layout.kubelet_dir, plane.advertise_ip)


def components(layout: Layout, plane: ControlPlane, worker: Node) -> list[Component]:
    """Every component in start order (`down` stops them in reverse)."""
    insecure = health.tls_context(None)
    containerd_argv: list[str | Path] = ["containerd", "--config", layout.containerd_dir / "config.toml"]
    etcd_health = f"http://127.0.0.1:{plane.etcd_port}/health"
    cm_health = f"https://127.0.0.1:{plane.controller_manager_port}/healthz"
    scheduler_health = f"https://127.0.0.1:{plane.scheduler_port}/healthz"
    return [
        Component("containerd", lambda: containerd_argv, lambda: runtime.responds(layout)),
        Component(
            "etcd",
            plane.etcd_argv,
            lambda: health.http_ok(etcd_health),
            (plane.etcd_port, plane.etcd_peer_port),
        ),
        Component(
            "kube-apiserver",
            plane.apiserver_argv,
            lambda: apiserver_ready(layout, plane),
            (plane.apiserver_port,),
        ),
        Component(
            "kube-controller-manager",
            plane.controller_manager_argv,
            lambda: health.http_ok(cm_health, insecure),
            (plane.controller_manager_port,),
        ),
        Component(
            "kube-scheduler",
            plane.scheduler_argv,
            lambda: health.http_ok(scheduler_health, insecure),
            (plane.scheduler_port,),
        ),
        Component(
            "kubelet", worker.kubelet_argv, lambda: health.http_ok(KUBELET_HEALTHZ), (KUBELET_PORT, 10248)
        ),
        Component(
            "kube-proxy", worker.kube_proxy_argv, lambda: health.http_ok(KUBE_PROXY_HEALTHZ), (10249, 10256)
        ),
    ]


def apiserver_ready(layout: Layout, plane: ControlPlane) -> bool:
    return health.http_ok(f"{plane.server_url}/readyz", health.tls_context(layout.pki, "admin"))


@contextmanager
def state_lock(layout: Layout) -> Iterator[None]:
    """Serialise `up`, `down` and `load-image` runs on one state directory."""
    layout.state.mkdir(parents=True, exist_ok=True)
    with (layout.state / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def build_binaries() -> None:
    """Run hack/build-binaries (idempotent: it returns at once when every binary is cached)."""
    say("ensuring binaries (hack/build-binaries all)")
    subprocess.run([HACK_DIR / "build-binaries", "all"], check=True)


def prepare_files(layout: Layout, plane: ControlPlane, worker: Node) -> set[str]:
    """PKI, kubeconfigs, component configs, CNI and containerd configs (files are only rewritten when
    their content changes); returns the components whose config changed, which must restart."""
    pki.ensure_pki(layout.pki, NODE_NAME, plane.advertise_ip, KUBERNETES_SERVICE_IP)
    for identity in CLIENT_IDENTITIES:
        write_kubeconfig(
            plane.kubeconfig(identity), server=plane.server_url, pki=layout.pki, identity=identity
        )
    write_kubeconfig(layout.kubeconfig, server=plane.server_url, pki=layout.pki, identity="admin")
    changed = set(worker.write_configs())
    network.write_cni_config(layout)
    if runtime.write_config(layout):
        changed.add("containerd")
    return changed


def ensure_running(layout: Layout, component: Component, restart: bool = False) -> None:
    """Reuse the recorded process if it runs (unless `restart`), else start it; wait until healthy."""
    pidfile = procs.PidFile(layout.pids, component.name)
    log = layout.logs / f"{component.name}.log"
    if restart and procs.stop(pidfile):
        say(f"restarting {component.name}: its configuration changed")
    pid = pidfile.running_pid()
    if pid is not None:
        say(f"{component.name} already running (pid {pid})")
    else:
        _require_free_ports(component, pidfile)
        pid = procs.start(pidfile, component.argv(), log, env=_component_env())
        say(f"started {component.name} (pid {pid}, log {log})")
    health.wait_until(
        component.name, lambda: _healthy_or_dead(component, pidfile, log), component.timeout, log=log
    )


def _require_free_ports(component: Component, pidfile: procs.PidFile) -> None:
    """Refuse to start when a port is taken: the health check would otherwise ask a stranger."""
    for port in component.ports:
        if health.port_in_use(port):
            raise health.StartError(
                f"{component.name}: port {port} is already in use by a process localkube did not start "
                f"(no live pid in {pidfile.path}); stop it, or run `hack/localkube down` for that state dir"
            )


def _healthy_or_dead(component: Component, pidfile: procs.PidFile, log: Path) -> bool:
    """Health check that fails fast (with the log tail) when the process has already exited."""
    if pidfile.running_pid() is None:
        raise health.StartError(
            f"{component.name} exited\n--- last lines of {log} ---\n{health.log_tail(log)}"
        )
    return component.healthy()


def _component_env() -> dict[str, str]:
    """Components inherit a PATH that finds iptables, runc and mount helpers in /usr/sbin."""
    path = os.environ.get("PATH", "")
    return {**os.environ, "PATH": f"{path}:/usr/sbin:/sbin:/usr/bin:/bin"}


def up(layout: Layout) -> None:
    """Bring the whole cluster up (idempotent) and wait for the node to be Ready."""
    packages.ensure_packages()
    build_binaries()
    with state_lock(layout):
        plane = control_plane(layout)
        worker = node(layout, plane)
        changed = prepare_files(layout, plane, worker)
        network.prepare_kernel()
        steps = components(layout, plane, worker)
        ensure_running(layout, steps[0], restart=steps[0].name in changed)
        images.ensure_pause_image(layout)
        for component in steps[1:]:
            ensure_running(layout, component, restart=component.name in changed)
        wait_node_ready(layout, plane)
    say(f"node {NODE_NAME} is Ready; kubeconfig {layout.kubeconfig}")


def wait_node_ready(layout: Layout, plane: ControlPlane) -> None:
    def ready() -> bool:
        return health.node_ready(plane.server_url, layout.pki, NODE_NAME)

    health.wait_until(f"node {NODE_NAME} Ready", ready, 120, log=layout.logs / "kubelet.log")


def status(layout: Layout) -> bool:
    """Print each component's state; True when every component runs."""
    plane = control_plane(layout)
    all_running = True
    for component in components(layout, plane, node(layout, plane)):
        pid = procs.PidFile(layout.pids, component.name).running_pid()
        all_running &= pid is not None
        print(f"{component.name:24} {'running (pid ' + str(pid) + ')' if pid else 'stopped'}")
    if all_running:
        ready = health.node_ready(plane.server_url, layout.pki, NODE_NAME)
        print(f"{'node ' + NODE_NAME:24} {'Ready' if ready else 'NotReady'}")
    return all_running


def env_lines(layout: Layout) -> list[str]:
    """Shell lines for `eval "$(hack/localkube env)"`: KUBECONFIG and a PATH with kubectl and helm first."""
    path = f"{layout.kube_bin}:{layout.helm_bin.parent}:{os.environ.get('PATH', '')}"
    return [f"export KUBECONFIG={layout.kubeconfig}", f"export PATH={path}"]
