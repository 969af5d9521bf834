"""gRPC vs REST-JSON vs REST-binary on one `modelops-server`: throughput and p99 ratios in one run.

The same server process (pinned to --server-cpus) serves the same model (bench/encoder_model.py) to the
same single-text OIP inference, once per protocol and interleaved over --rounds rounds:
  - rest_json:   POST /v2/models/<m>/infer with a JSON BYTES tensor, JSON outputs        (wrk)
  - rest_binary: the same with the binary data extension in and out                       (wrk)
  - grpc:        ModelInfer with raw_input_contents, answered in raw_output_contents      (ghz)
The load generators are separate native processes pinned to --load-cpus. Ratios are taken within a round
and the median over rounds is reported. Besides requests/s and p99 it reports the server process's own
CPU microseconds per request (from /proc), which a busy shared machine moves far less than throughput.

Needs wrk (Debian: apt-get install wrk) and ghz (go install github.com/bojand/ghz/cmd/ghz@v0.120.0; pass
its path with --ghz). Usage: .venv/bin/python bench/bench_protocols.py [--duration 5 --rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import (
    MODEL_TYPE,
    SERVER,
    SERVER_ENV,
    Server,
    _free_port,
    _wait_healthy,
    bench_text,
    parse_wrk,
)
from encoder_model import make_encoder_dir

PROTO = Path(__file__).resolve().parents[1] / "server" / "modelops_server" / "protos" / "oip_v2.proto"
PROTOCOLS = ("rest_json", "rest_binary", "grpc")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per protocol per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32, help="concurrent requests in flight")
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--load-cpus", default="1")
    parser.add_argument("--ghz", default=shutil.which("ghz") or "ghz", help="path of the ghz binary")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


def _lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{byte}" for byte in data) + '"'


def _bytes_element(text: str) -> bytes:
    encoded = text.encode()
    return struct.pack("<I", len(encoded)) + encoded


def write_loads(text: str, directory: Path) -> dict[str, Path]:
    """The wrk scripts and the ghz binary request: one text per request in each protocol."""
    plain = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}]}
    raw = _bytes_element(text)
    tensor = {"name": "text", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": len(raw)}}
    header = json.dumps({"inputs": [tensor], "parameters": {"binary_data_output": True}}).encode()
    loads = {"rest_json": directory / "json.lua", "rest_binary": directory / "binary.lua"}
    loads["rest_json"].write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(plain))}\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    loads["rest_binary"].write_text(
        f'wrk.method = "POST"\nwrk.body = {_lua_string(header + raw)}\n'
        'wrk.headers["Content-Type"] = "application/octet-stream"\n'
        f'wrk.headers["Inference-Header-Content-Length"] = "{len(header)}"\n'
    )
    from modelops_server.grpc_protocol import message

    request = message("ModelInferRequest")(model_name=MODEL_TYPE, raw_input_contents=[raw])
    request.inputs.add(name="text", datatype="BYTES", shape=[1])
    loads["grpc"] = directory / "infer.bin"
    loads["grpc"].write_bytes(request.SerializeToString())
    return loads


def run_wrk(http: str, script: Path, args: argparse.Namespace) -> dict[str, float]:
    command = ["taskset", "-c", args.load_cpus, "wrk", "-t1", f"-c{args.connections}",
               f"-d{max(1, round(args.duration))}s", "--latency", "-s", str(script),
               f"http://{http}/v2/models/{MODEL_TYPE}/infer"]  # fmt: skip
    result = parse_wrk(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    return {"requests_per_s": result.requests_per_s, "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
            "errors": result.errors, "requests": result.requests}  # fmt: skip


def run_ghz(target: str, request: Path, args: argparse.Namespace) -> dict[str, float]:
    command = ["taskset", "-c", args.load_cpus, args.ghz, "--insecure", "--proto", str(PROTO),
               "--call", "inference.GRPCInferenceService.ModelInfer", "-B", str(request),
               "-c", str(args.connections), "-z", f"{max(1, round(args.duration))}s", "--cpus", "1",
               "--format", "json", target]  # fmt: skip
    report = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    latency = {d["percentage"]: d["latency"] / 1e6 for d in report["latencyDistribution"] or []}
    # ghz closes its connection at the end of -z with requests still in flight; those are not errors
    errors = sum(
        n
        for text, n in (report["errorDistribution"] or {}).items()
        if "closed network connection" not in text
    )
    return {"requests_per_s": report["rps"], "p50_ms": latency.get(50, 0.0), "p99_ms": latency.get(99, 0.0),
            "errors": errors, "requests": report["count"]}  # fmt: skip


def measure(models_dir: Path, loads: dict[str, Path], args: argparse.Namespace) -> list[dict[str, Any]]:
    http, grpc_port = _free_port(), _free_port()
    command = ["taskset", "-c", args.server_cpus, str(SERVER), "serve", "--models-dir", str(models_dir),
               "--model-type", MODEL_TYPE, "--version", "v1.0.0", "--host", "127.0.0.1", "--port", str(http),
               "--grpc-port", str(grpc_port), "--log-level", "WARNING"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=SERVER_ENV)
    try:
        _wait_healthy(f"http://127.0.0.1:{http}", process)
        target = {"rest_json": f"127.0.0.1:{http}", "rest_binary": f"127.0.0.1:{http}",
                  "grpc": f"127.0.0.1:{grpc_port}"}  # fmt: skip

        server = Server(f"http://127.0.0.1:{http}", process)

        def one(protocol: str) -> dict[str, float]:
            cpu = server.cpu_seconds()
            if protocol == "grpc":
                result = run_ghz(target[protocol], loads[protocol], args)
            else:
                result = run_wrk(target[protocol], loads[protocol], args)
            result["cpu_us_per_request"] = (server.cpu_seconds() - cpu) / max(1, result["requests"]) * 1e6
            return result

        for protocol in PROTOCOLS:
            one(protocol)  # warm-up
        return [{protocol: one(protocol) for protocol in PROTOCOLS} for _ in range(args.rounds)]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per protocol and within-round ratios against REST-JSON."""
    summary: dict[str, Any] = {}
    for protocol in PROTOCOLS:
        for key in ("requests_per_s", "p99_ms", "cpu_us_per_request"):
            summary[f"{protocol}_{key}"] = statistics.median(r[protocol][key] for r in rounds)
        summary[f"{protocol}_errors"] = sum(r[protocol]["errors"] for r in rounds)
    for protocol in ("rest_binary", "grpc"):
        summary[f"{protocol}_vs_rest_json_throughput"] = statistics.median(
            r[protocol]["requests_per_s"] / r["rest_json"]["requests_per_s"] for r in rounds
        )
        summary[f"{protocol}_vs_rest_json_p99"] = statistics.median(
            r[protocol]["p99_ms"] / r["rest_json"]["p99_ms"] for r in rounds
        )
        summary[f"{protocol}_vs_rest_json_cpu_per_request"] = statistics.median(
            r[protocol]["cpu_us_per_request"] / r["rest_json"]["cpu_us_per_request"] for r in rounds
        )
    return {**summary, "per_round": rounds}


def main() -> None:
    args = parse_args()
    for tool in ("wrk", "taskset", args.ghz):
        if shutil.which(tool) is None:
            raise SystemExit(f"needs {tool} (see the module docstring)")
    with tempfile.TemporaryDirectory(prefix="bench-protocols-") as scratch:
        models_dir = Path(scratch) / "models"
        make_encoder_dir(models_dir, args.layers, args.hidden, args.heads, args.seq_len)
        loads = write_loads(bench_text(args.seq_len), Path(scratch))
        figures = summarize(measure(models_dir, loads, args))
    print(json.dumps({k: v for k, v in figures.items() if k != "per_round"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
