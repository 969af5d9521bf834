"""Shadow overhead on a stable server: its CPU seconds per predict request with mirroring off, and with
mirroring to a real candidate server at --fractions, in one invocation (alternating rounds).

Two real `modelops-server` processes on loopback serve the tests' tiny classifier: the stable one with
`--shadow-config-file` (the file the operator's ConfigMap fills), the candidate. A pool of clients sends
--requests predictions per phase; the stable process's CPU time (user + system, /proc/<pid>/stat) over
the phase, divided by the requests, is its CPU per request. Mirroring is turned on and off by rewriting
the target file, as the operator does; each phase starts once the server's gauge says it read it.

Usage: .venv/bin/python bench/bench_shadow.py [--requests 2000 --fractions 0.1,1.0 --rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "server")]

from support.models import make_model_dir  # noqa: E402
from support.server_process import server_process  # noqa: E402
from support.serving import MODEL_TYPE, SEED_PREDICT  # noqa: E402

CLIENTS = 8
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` (and its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def server_pid(port: int) -> int:
    """The pid listening on `port` (the server process started by server_process)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1].endswith(f":{port:04X}") and parts[3] == "0A":
            inode = parts[9]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(
                os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]"
                for fd in os.listdir(f"/proc/{pid}/fd")
            ):
                return int(pid)
        except OSError:
            continue
    raise RuntimeError(f"no process listens on {port}")


def wait_fraction(base: str, fraction: float) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in httpx.get(f"{base}/metrics").text.splitlines():
            if line.startswith("modelops_shadow_sample_fraction ") and float(line.split()[1]) == fraction:
                return
        time.sleep(0.1)  # poll interval, bounded by the deadline
    raise RuntimeError(f"the server did not read fraction {fraction}")


def phase(base: str, pid: int, requests: int) -> float:
    """CPU seconds of the stable server per request over `requests` predictions."""
    texts = [f"bench text number {i} about a quiet evening" for i in range(requests)]
    with httpx.Client(base_url=base, timeout=10) as client, ThreadPoolExecutor(CLIENTS) as pool:
        before = cpu_seconds(pid)
        codes = list(pool.map(lambda t: client.post(SEED_PREDICT, json={"text": t}).status_code, texts))
        time.sleep(0.5)  # let queued mirrors finish: their CPU belongs to this phase
        spent = cpu_seconds(pid) - before
    assert set(codes) == {200}, set(codes)
    return spent / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--fractions", default="0.1,1.0")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        models, target = Path(tmp) / "models", Path(tmp) / "target.json"
        make_model_dir(models, MODEL_TYPE, "v1.0.0")
        target.write_text("{}")
        with (
            server_process(models) as candidate,
            server_process(models, "--shadow-config-file", str(target)) as stable,
        ):
            pid = server_pid(int(stable.http.rsplit(":", 1)[1]))
            runs: dict[float, list[float]] = {0.0: [], **{f: [] for f in fractions}}
            for _ in range(args.rounds):
                for fraction, results in runs.items():
                    document = {
                        "url": candidate.base + SEED_PREDICT,
                        "version": "v2",
                        "sampleFraction": fraction,
                    }
                    target.write_text(json.dumps(document) if fraction else "{}")
                    wait_fraction(stable.base, fraction)
                    results.append(phase(stable.base, pid, args.requests))
    off = statistics.median(runs[0.0])
    print(f"stable server CPU per request, median of {args.rounds} rounds of {args.requests} requests:")
    print(f"  mirroring off: {off * 1e3:.3f} ms")
    for fraction in fractions:
        on = statistics.median(runs[fraction])
        print(f"  mirroring {fraction:.0%}: {on * 1e3:.3f} ms  (ratio {on / off:.2f})")


if __name__ == "__main__":
    main()
