"""Running `examples/docker-compose.yaml` with podman-compose as a throw-away project, and removing it.

`ComposeProject` brings the file up under a unique project name with the caller's variables (images,
models directory, loopback ports), collects the containers' logs for failure messages, and takes it down
again: `podman-compose down`, then `podman rm -f` / `pod rm -f` / `network rm -f` for anything the down
left (it must also work after a failed `up`). `leftovers()` lets the test assert that nothing remains.
Used by tests/e2e/test_compose.py.
"""

from __future__ import annotations

import os
import resource
import secrets
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_LABEL = "io.podman.compose.project"


def free_loopback_port() -> int:
    """A TCP port nothing listens on at the moment (the kernel picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_limits() -> str:
    """`podman run` flags for rlimits this process may grant. Rootful podman asks for nofile=1048576 by
    default, which a host without CAP_SYS_RESOURCE (e.g. a VM sandbox with a 20000 hard limit) refuses with
    "error setting rlimit ... operation not permitted"; nproc above 32768 is refused there too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[0], 32768)
    return f"--ulimit=nofile={soft}:{hard} --ulimit=nproc={nproc}:{nproc}"


def podman(*args: str, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=check)


@dataclass
class ComposeProject:
    """One podman-compose project over `compose_file`; `variables` fill its ${VAR:-default}s."""

    compose_file: Path
    variables: Mapping[str, str]
    name: str = field(default_factory=lambda: f"modelops-compose-{secrets.token_hex(4)}")

    def compose(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        argv = ["podman-compose", "--no-ansi", f"--podman-run-args={run_limits()}", "-p", self.name]
        argv += ["-f", str(self.compose_file), *args]
        env = {**os.environ, **self.variables}
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)

    def up(self) -> None:
        """Create and start every service (detached) from the images already in the local storage."""
        result = self.compose("up", "-d", "--no-build")
        if result.returncode != 0:
            raise AssertionError(
                f"podman-compose up exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )

    def containers(self) -> list[str]:
        listed = podman(
            "ps", "-a", "--filter", f"label={PROJECT_LABEL}={self.name}", "--format", "{{.Names}}"
        )
        return listed.stdout.split()

    def pods(self) -> list[str]:
        listed = podman("pod", "ps", "--filter", f"name={self.name}", "--format", "{{.Name}}")
        return listed.stdout.split()

    def networks(self) -> list[str]:
        listed = podman("network", "ls", "--format", "{{.Name}}")
        return [name for name in listed.stdout.split() if name.startswith(f"{self.name}_")]

    def logs(self) -> str:
        """Every container's state and last log lines, for a failure message."""
        parts = []
        for container in self.containers():
            state = podman("inspect", "-f", "{{.State.Status}} exit={{.State.ExitCode}}", container).stdout
            tail = podman("logs", "--tail", "30", container)
            parts.append(f"--- {container} ({state.strip()}):\n{tail.stdout}{tail.stderr}")
        return "\n".join(parts) or "(no containers)"

    def down(self) -> str:
        """podman-compose down, then force-remove whatever it left; returns down's output."""
        result = self.compose("down", "-t", "5")
        for container in self.containers():
            podman("rm", "-f", "-t", "0", container)
        for pod in self.pods():
            podman("pod", "rm", "-f", pod)
        for network in self.networks():
            podman("network", "rm", "-f", network)
        return f"{result.stdout}{result.stderr}"

    def leftovers(self) -> list[str]:
        return [*self.containers(), *self.pods(), *self.networks()]
