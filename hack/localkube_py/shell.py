"""Running external commands with errors that carry their output.

Used by every localkube module that calls a tool (ctr, buildah, iptables, apt-get, ip ...).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


class CommandError(RuntimeError):
    """A command failed; the message holds the command line and the tail of its output."""


def run(
    args: Sequence[str | Path],
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; raise CommandError on failure when `check`."""
    argv = [str(a) for a in args]
    environ = None if env is None else dict(env)
    result = subprocess.run(argv, capture_output=True, text=True, env=environ, cwd=cwd, check=False)
    if check and result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-20:]
        raise CommandError(f"command failed (rc {result.returncode}): {' '.join(argv)}\n" + "\n".join(tail))
    return result


def run_logged(args: Sequence[str | Path], *, log: Path, env: Mapping[str, str] | None = None) -> None:
    """Run a long command with its output going to `log`; on failure raise with the log's tail."""
    argv = [str(a) for a in args]
    log.parent.mkdir(parents=True, exist_ok=True)
    environ = None if env is None else dict(env)
    with log.open("ab") as out:
        rc = subprocess.call(argv, stdout=out, stderr=subprocess.STDOUT, env=environ)
    if rc != 0:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        raise CommandError(f"command failed (rc {rc}): {' '.join(argv)}\nlog {log}:\n" + "\n".join(tail))
