"""Inference-server throughput against the in-process ONNX Runtime limit, in one invocation.

Measures, on the same BERT-like encoder (bench/encoder_model.py) and the same ORT thread count:
  1. raw ORT in process on pre-tokenized rows at batch 1, 8 and --batch; the best is the limit;
  2. in-process tokenize + ORT at --batch (what the server must also do per row);
  3. the real `modelops-server` under saturating load from `wrk` (a separate C process), with batching
     (--max-batch-size) and without (max-batch-size 1).
The server and the in-process baselines are pinned to --server-cpus, wrk to --load-cpus, so the load
generator does not steal the server's core. Prints rows/s, the server/raw ratio, the batching gain and
p50/p99 latency; `--json` writes the figures too.

Usage: .venv/bin/python bench/bench_server.py [--layers 2 --hidden 128 --seq-len 64 --duration 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from encoder_model import make_encoder_dir

MODEL_TYPE = "bench_encoder"
SERVER = Path(sys.executable).parent / "modelops-server"
WORDS = ["hello", "how", "are", "you", "today", "i", "feel", "happy", "tired", "talk", "about", "work"]


@dataclass
class LoadResult:
    """One wrk run."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


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
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
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


def _session(model_dir: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])


def _rows_per_s(step: Any, rows: int, duration: float) -> float:
    step()  # warm-up
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < duration:
        step()
        done += rows
    return done / elapsed


def raw_ort(model_dir: Path, args: argparse.Namespace) -> dict[str, float]:
    """In-process limits: pre-tokenized ORT at batch 1, 8 and --batch, and tokenize + ORT at --batch."""
    from tokenizers import Tokenizer

    session = _session(model_dir, args.threads)
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(args.seq_len)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    text = bench_text(args.seq_len)
    assert len(tokenizer.encode(text).ids) == args.seq_len, "bench text does not fill seq-len"

    def feeds(batch: int) -> dict[str, np.ndarray]:
        encodings = tokenizer.encode_batch([text] * batch)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        return {"input_ids": ids, "attention_mask": np.ones_like(ids)}

    rates = {}
    for batch in sorted({1, 8, args.batch}):
        batch_feeds = feeds(batch)
        rates[f"ort_batch{batch}_rows_per_s"] = _rows_per_s(
            lambda f=batch_feeds: session.run(None, f), batch, args.duration
        )
    rates["ort_best_rows_per_s"] = max(rates.values())
    with_tokenizing = lambda: session.run(None, feeds(args.batch))  # noqa: E731
    rates["tokenize_ort_batch_rows_per_s"] = _rows_per_s(with_tokenizing, args.batch, args.duration)
    return rates


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(base: str, process: subprocess.Popen[bytes], deadline_s: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/api/v1/ml-models/{MODEL_TYPE}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # poll interval, bounded by the deadline
    raise SystemExit(f"server not healthy within {deadline_s}s")


def start_server(
    models_dir: Path, args: argparse.Namespace, max_batch: int
) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    command = ["taskset", "-c", args.server_cpus, str(SERVER), "serve", "--models-dir", str(models_dir),
               "--model-type", MODEL_TYPE, "--version", "v1.0.0", "--host", "127.0.0.1", "--port", str(port),
               "--threads", str(args.threads), "--max-batch-size", str(max_batch),
               "--log-level", "WARNING"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    _wait_healthy(base, process)
    return base, process


def _wrk_script(text: str, directory: Path) -> Path:
    body = json.dumps({"text": text})
    script = directory / "predict.lua"
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
    """Requests/sec, the 50% and 99% latency lines, and non-2xx answers from `wrk --latency`."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _to_ms(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _to_ms(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return LoadResult(rps, p50, p99, int(errors.group(1)) if errors else 0)


def run_wrk(base: str, script: Path, args: argparse.Namespace) -> LoadResult:
    url = f"{base}/api/v1/ml-models/{MODEL_TYPE}/predict"
    short = [
        "taskset",
        "-c",
        args.load_cpus,
        "wrk",
        "-t1",
        f"-c{args.connections}",
        "-d2s",
        "-s",
        str(script),
        url,
    ]
    subprocess.run(short, capture_output=True, check=True)  # warm-up
    command = [*short[:-4], f"-d{int(args.duration)}s", "--latency", "-s", str(script), url]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout)


def server_under_load(models_dir: Path, args: argparse.Namespace, max_batch: int, script: Path) -> LoadResult:
    base, process = start_server(models_dir, args, max_batch)
    try:
        return run_wrk(base, script, args)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def report(
    raw: dict[str, float], batched: LoadResult, unbatched: LoadResult, args: argparse.Namespace
) -> dict[str, Any]:
    """Print and return the figures; ratios compare requests/s (one row each) with raw ORT rows/s."""
    limit = raw["ort_best_rows_per_s"]
    model = {"layers": args.layers, "hidden": args.hidden, "seq_len": args.seq_len, "threads": args.threads}
    figures = {
        "model": model,
        **{k: round(v, 1) for k, v in raw.items()},
        "server_batched": asdict(batched),
        "server_unbatched": asdict(unbatched),
        "ratio_batched_vs_best_ort": round(batched.requests_per_s / limit, 3),
        "ratio_unbatched_vs_best_ort": round(unbatched.requests_per_s / limit, 3),
        "ratio_batched_vs_tokenize_ort": round(
            batched.requests_per_s / raw["tokenize_ort_batch_rows_per_s"], 3
        ),
        "batching_gain": round(batched.requests_per_s / unbatched.requests_per_s, 3),
    }
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    return figures


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        raise SystemExit("needs wrk and taskset (Debian: apt-get install wrk util-linux)")
    with tempfile.TemporaryDirectory(prefix="bench-server-") as scratch:
        models_dir = Path(scratch) / "models"
        make_encoder_dir(models_dir, args.layers, args.hidden, args.heads, args.seq_len)
        model_dir = models_dir / MODEL_TYPE / "v1.0.0"
        script = _wrk_script(bench_text(args.seq_len), Path(scratch))
        affinity = os.sched_getaffinity(0)
        os.sched_setaffinity(0, _cpus(args.server_cpus))
        raw = raw_ort(model_dir, args)
        os.sched_setaffinity(0, affinity)
        batched = server_under_load(models_dir, args, args.batch, script)
        unbatched = server_under_load(models_dir, args, 1, script)
    figures = report(raw, batched, unbatched, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
