"""Inference-server throughput against the in-process ONNX Runtime limit, in one invocation.

Measures, on the same BERT-like encoder (bench/encoder_model.py), the same ORT session options and thread
count, and the same input length:
  1. raw ORT in process on pre-tokenized rows at batch 1 and --batch (the batch sizes the servers run);
  2. in-process tokenize + ORT at --batch (what the server must also do per row);
  3. the real `modelops-server` under saturating load from `wrk` (a separate C process), with batching
     (--max-batch-size) and without (max-batch-size 1).
The measurements are interleaved in --rounds rounds (raw, tokenize, batched server, unbatched server, then
again), so a change in the machine's background load hits the baseline and the server alike; each ratio
is taken within a round and the median over rounds is reported. The server and the in-process baselines
are pinned to --server-cpus, wrk to --load-cpus. Besides requests/s it reports CPU seconds per request
(the server process's own CPU time, from /proc), which contention on a shared machine barely moves.

Usage: .venv/bin/python bench/bench_server.py [--layers 2 --hidden 128 --seq-len 64 --duration 5 --rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from encoder_model import make_encoder_dir

MODEL_TYPE = "bench_encoder"
SERVER = Path(sys.executable).parent / "modelops-server"
WORDS = ["hello", "how", "are", "you", "today", "i", "feel", "happy", "tired", "talk", "about", "work"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SERVER_ENV = dict(os.environ)  # the servers get the caller's environment, not the bench's own tweaks


@dataclass
class LoadResult:
    """One wrk run against one server."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_us_per_request: float = 0.0
    mean_batch: float = 0.0


PREDICT_PATH = f"/api/v1/ml-models/{MODEL_TYPE}/predict"
HEALTH_PATH = f"/api/v1/ml-models/{MODEL_TYPE}/health"


@dataclass
class Server:
    """A running server process, its address and its predict path (a peer's differs from modelops')."""

    base: str
    process: subprocess.Popen[bytes]
    path: str = PREDICT_PATH
    batch_metrics: bool = True  # modelops' modelops_batch_size histogram on /metrics

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process and its live children, all threads (/proc)."""
        return sum(_process_cpu_ticks(pid) for pid in _process_tree(self.process.pid)) / CLOCK_TICKS

    def batch_totals(self) -> tuple[float, float]:
        """(rows, model runs) so far, from the modelops_batch_size histogram."""
        import httpx

        if not self.batch_metrics:
            return 0.0, 0.0
        text = httpx.get(f"{self.base}/metrics", timeout=10).text
        rows = re.search(r"^modelops_batch_size_sum\s+(\S+)", text, re.MULTILINE)
        runs = re.search(r"^modelops_batch_size_count\s+(\S+)", text, re.MULTILINE)
        return float(rows.group(1)) if rows else 0.0, float(runs.group(1)) if runs else 0.0


def _process_cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # a child that just exited
        return 0
    return int(fields[11]) + int(fields[12])


def _process_tree(pid: int) -> list[int]:
    """pid and its descendants (a peer may run its model in worker processes)."""
    tree, index = [pid], 0
    while index < len(tree):
        for task in Path(f"/proc/{tree[index]}/task").glob("*/children"):
            with contextlib.suppress(FileNotFoundError):  # a thread or process that just exited
                tree.extend(int(child) for child in task.read_text().split())
        index += 1
    return tree


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=64, help="tokens per text, [CLS] and [SEP] included")
    parser.add_argument("--threads", type=int, default=1, help="ORT intra-op threads (server and baseline)")
    parser.add_argument("--batch", type=int, default=8, help="raw-ORT batch and server max batch size")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (concurrency)")
    parser.add_argument("--server-cpus", default="0", help="taskset CPU list for server and baselines")
    parser.add_argument("--load-cpus", default="1", help="taskset CPU list for wrk")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    return parser.parse_args()


def bench_text(seq_len: int) -> str:
    """A text that tokenizes to exactly seq_len tokens ([CLS] + words + [SEP]); every word is in the vocab."""
    return " ".join(WORDS[i % len(WORDS)] for i in range(seq_len - 2))


def _cpus(spec: str) -> set[int]:
    cpus: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def _load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class InProcess:
    """The in-process baselines: the server's own session options, tokenizer and input length."""

    def __init__(self, model_dir: Path, args: argparse.Namespace) -> None:
        from modelops.package.metadata import ModelMetadata
        from modelops_server.model import TextClassifier

        self.args = args
        self.model = TextClassifier.load(model_dir, ModelMetadata.load(model_dir), args.threads)
        self.text = bench_text(args.seq_len)
        assert self.model.tokenizer is not None, "the bench model has a tokenizer"
        ids = self.model.tokenizer.encode(self.text).ids
        assert len(ids) == args.seq_len, "bench text does not fill seq-len"
        self.batch_sizes = sorted({1, args.batch})

    def feeds(self, batch: int) -> dict[str, np.ndarray]:
        """Pre-tokenized inputs of `batch` rows, built the way the server builds them."""
        assert self.model.tokenizer is not None
        return self.model._feeds(self.model.tokenizer.encode_batch([self.text] * batch))

    def measure(self) -> dict[str, float]:
        """Rows/s and CPU µs per row at each batch size, and tokenize + ORT at --batch."""
        rates: dict[str, float] = {}
        outputs = self.model.output_names[:1]
        for batch in self.batch_sizes:
            feeds = self.feeds(batch)
            run = lambda f=feeds: self.model.session.run(outputs, f)  # noqa: E731
            rates[f"ort_batch{batch}_rows_per_s"], rates[f"ort_batch{batch}_cpu_us_per_row"] = _rows_per_s(
                run, batch, self.args.duration
            )
        texts = [self.text] * self.args.batch
        rates["tokenize_ort_batch_rows_per_s"], rates["tokenize_ort_batch_cpu_us_per_row"] = _rows_per_s(
            lambda: self.model.predict(texts), self.args.batch, self.args.duration
        )
        return rates


def _rows_per_s(step: Callable[[], Any], rows: int, duration: float) -> tuple[float, float]:
    """(rows per wall second, CPU µs per row) of repeating `step` for `duration` seconds."""
    step()  # warm-up
    done, started, cpu_started = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - started) < duration:
        step()
        done += rows
    return done / elapsed, (time.process_time() - cpu_started) / done * 1e6


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(
    base: str, process: subprocess.Popen[bytes], deadline_s: float = 120.0, path: str = HEALTH_PATH
) -> None:
    import httpx

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # poll interval, bounded by the deadline
    raise SystemExit(f"server not healthy within {deadline_s}s")


def start_server(models_dir: Path, args: argparse.Namespace, max_batch: int) -> Server:
    port = _free_port()
    command = ["taskset", "-c", args.server_cpus, str(SERVER), "serve", "--models-dir", str(models_dir),
               "--model-type", MODEL_TYPE, "--version", "v1.0.0", "--host", "127.0.0.1", "--port", str(port),
               "--threads", str(args.threads), "--max-batch-size", str(max_batch),
               "--log-level", "WARNING"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=SERVER_ENV)
    base = f"http://127.0.0.1:{port}"
    _wait_healthy(base, process)
    return Server(base, process)


def _wrk_script(text: str, directory: Path) -> Path:
    return wrk_post_script({"text": text}, directory / "predict.lua")


def wrk_post_script(document: Any, script: Path) -> Path:
    """A wrk lua script that POSTs `document` as JSON."""
    body = json.dumps(document)
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return script


def _to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(output: str) -> LoadResult:
    """Requests/sec, request count, the 50% and 99% latency lines and non-2xx answers of `wrk --latency`."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    p50 = _to_ms(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _to_ms(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return LoadResult(rps, p50, p99, int(errors.group(1)) if errors else 0, count)


def run_wrk(server: Server, script: Path, args: argparse.Namespace, seconds: float) -> LoadResult:
    """Saturate the server for `seconds`; also account its CPU time and mean batch over the run."""
    url = f"{server.base}{server.path}"
    command = ["taskset", "-c", args.load_cpus, "wrk", "-t1", f"-c{args.connections}",
               f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script), url]  # fmt: skip
    rows, runs = server.batch_totals()
    cpu = server.cpu_seconds()
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = parse_wrk(output)
    result.cpu_us_per_request = (server.cpu_seconds() - cpu) / max(1, result.requests) * 1e6
    rows_after, runs_after = server.batch_totals()
    result.mean_batch = (rows_after - rows) / max(1.0, runs_after - runs)
    return result


def run_round(bench: InProcess, servers: dict[str, Server], script: Path) -> dict[str, Any]:
    """One interleaved round: the in-process baselines, then each server under load."""
    figures: dict[str, Any] = {"load_average": _load_average(), **bench.measure()}
    for name, server in servers.items():
        figures[name] = asdict(run_wrk(server, script, bench.args, bench.args.duration))
    return figures


def round_ratios(figures: dict[str, Any], batch: int) -> dict[str, float]:
    """Ratios within one round; 'best' is the faster raw batch size, 'same' the one the server ran."""
    batched, unbatched = figures["server_batched"], figures["server_unbatched"]
    best = max(figures["ort_batch1_rows_per_s"], figures[f"ort_batch{batch}_rows_per_s"])
    best_cpu = min(figures["ort_batch1_cpu_us_per_row"], figures[f"ort_batch{batch}_cpu_us_per_row"])
    return {
        "ratio_batched_vs_best_ort": batched["requests_per_s"] / best,
        "ratio_batched_vs_same_batch_ort": batched["requests_per_s"]
        / figures[f"ort_batch{batch}_rows_per_s"],
        "ratio_unbatched_vs_batch1_ort": unbatched["requests_per_s"] / figures["ort_batch1_rows_per_s"],
        "ratio_batched_vs_tokenize_ort": batched["requests_per_s"] / figures["tokenize_ort_batch_rows_per_s"],
        "cpu_efficiency_batched": best_cpu / batched["cpu_us_per_request"],
        "batching_gain": batched["requests_per_s"] / unbatched["requests_per_s"],
    }


def report(rounds: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Print each round's headline and the medians over rounds; return everything."""
    per_round = [round_ratios(figures, args.batch) for figures in rounds]
    model = {"layers": args.layers, "hidden": args.hidden, "seq_len": args.seq_len, "threads": args.threads}
    for index, (figures, ratios) in enumerate(zip(rounds, per_round, strict=True)):
        print(f"round {index + 1}: load {figures['load_average']}  "
              f"ort b1/b{args.batch} {figures['ort_batch1_rows_per_s']:.1f}/"
              f"{figures[f'ort_batch{args.batch}_rows_per_s']:.1f}  "
              f"server batched/unbatched {figures['server_batched']['requests_per_s']:.1f}/"
              f"{figures['server_unbatched']['requests_per_s']:.1f} req/s  "
              f"ratio {ratios['ratio_batched_vs_best_ort']:.3f}")  # fmt: skip
    medians = {key: round(statistics.median(r[key] for r in per_round), 3) for key in per_round[0]}
    numbers = {key: round(statistics.median(f[key] for f in rounds), 1)
               for key, value in rounds[0].items() if isinstance(value, float)}  # fmt: skip
    servers = {name: {key: round(statistics.median(f[name][key] for f in rounds), 2)
                      for key in rounds[0][name]}
               for name in ("server_batched", "server_unbatched")}  # fmt: skip
    summary = {"model": model, "rounds": len(rounds), **numbers, **servers, **medians}
    width = max(len(k) for k in summary)
    print("medians over rounds:")
    for key, value in summary.items():
        print(f"  {key:<{width}}  {value}")
    return {**summary, "per_round": [{**f, **r} for f, r in zip(rounds, per_round, strict=True)]}


def _stop(servers: dict[str, Server]) -> None:
    for server in servers.values():
        server.process.send_signal(signal.SIGTERM)
    for server in servers.values():
        server.process.wait(timeout=30)


def measure(models_dir: Path, script: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Start both servers (an idle one costs nothing), warm them up, then run the interleaved rounds."""
    bench = InProcess(models_dir / MODEL_TYPE / "v1.0.0", args)
    servers: dict[str, Server] = {}
    try:
        servers["server_batched"] = start_server(models_dir, args, args.batch)
        servers["server_unbatched"] = start_server(models_dir, args, 1)
        for server in servers.values():
            run_wrk(server, script, args, 2)  # warm-up
        return [run_round(bench, servers, script) for _ in range(args.rounds)]
    finally:
        _stop(servers)


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        raise SystemExit("needs wrk and taskset (Debian: apt-get install wrk util-linux)")
    os.sched_setaffinity(0, _cpus(args.server_cpus))  # the in-process baselines share the server's core
    if args.threads == 1:  # tokenize in process as `modelops-server serve` does with one thread
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory(prefix="bench-server-") as scratch:
        models_dir = Path(scratch) / "models"
        make_encoder_dir(models_dir, args.layers, args.hidden, args.heads, args.seq_len)
        script = _wrk_script(bench_text(args.seq_len), Path(scratch))
        rounds = measure(models_dir, script, args)
    figures = report(rounds, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
