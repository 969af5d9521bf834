"""Background processes identified by pid files, so `down` stops exactly what `up` started.

A pid file holds the pid and the process's start time (from /proc/<pid>/stat), which guards against a
reused pid. PID 1 on this machine does not reap orphans, so a zombie (state Z) counts as stopped.
Used by `cluster` (the local cluster) and by the integration tier's apiserver fixture.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcStat:
    """The parts of /proc/<pid>/stat that matter here."""

    state: str
    ppid: int
    start_time: int


def read_stat(pid: int) -> ProcStat | None:
    """Stat of a process, or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return ProcStat(state=fields[0], ppid=int(fields[1]), start_time=int(fields[19]))


def alive(pid: int, start_time: int | None = None) -> bool:
    """True when `pid` runs (not a zombie) and, if given, started at `start_time`."""
    stat = read_stat(pid)
    if stat is None or stat.state in ("Z", "X"):
        return False
    return start_time is None or stat.start_time == start_time


@dataclass(frozen=True)
class PidFile:
    """`<dir>/<name>.pid` holding `<pid> <start time>`."""

    directory: Path
    name: str

    @property
    def path(self) -> Path:
        return self.directory / f"{self.name}.pid"

    def read(self) -> tuple[int, int] | None:
        try:
            pid, start = self.path.read_text().split()
        except (FileNotFoundError, ValueError):
            return None
        return int(pid), int(start)

    def write(self, pid: int) -> None:
        stat = read_stat(pid)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid} {stat.start_time if stat else 0}\n")

    def running_pid(self) -> int | None:
        """The recorded pid when that very process still runs."""
        record = self.read()
        if record is None or not alive(*record):
            return None
        return record[0]


def start(
    pidfile: PidFile, argv: Sequence[str | Path], log: Path, env: Mapping[str, str] | None = None
) -> int:
    """Start `argv` in its own session, detached, logging to `log`; record its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        child = subprocess.Popen(
            [str(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=None if env is None else dict(env),
        )
    pidfile.write(child.pid)
    return child.pid


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group `pid` leads (it was started with a new session), else the pid."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def wait_gone(pid: int, start_time: int | None, timeout: float) -> bool:
    """Poll until the process is gone or a zombie; False when still running at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid, start_time):
            return True
        time.sleep(0.1)
    return not alive(pid, start_time)


def terminate(pid: int, start_time: int | None = None, timeout: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL it after `timeout` seconds."""
    if not alive(pid, start_time):
        _reap(pid)
        return
    signal_group(pid, signal.SIGTERM)
    if not wait_gone(pid, start_time, timeout):
        signal_group(pid, signal.SIGKILL)
        if not wait_gone(pid, start_time, 5.0):
            raise RuntimeError(f"process {pid} survived SIGKILL")


def stop(pidfile: PidFile, timeout: float = 15.0) -> bool:
    """Stop the recorded process (if it is still the one we started); True when one was stopped."""
    record = pidfile.read()
    pidfile.path.unlink(missing_ok=True)
    if record is None or not alive(*record):
        return False
    terminate(record[0], record[1], timeout)
    return True


def pids_with_argument(argument: str) -> list[int]:
    """Live processes whose command line contains `argument` exactly as one argv element."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argument.encode() in argv and alive(int(entry.name)):
            found.append(int(entry.name))
    return found
