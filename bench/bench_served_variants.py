"""The fine-tuned MiniLM safety model served by `modelops-server`: fp32 vs `--optimize` vs `--quantize int8`.

The model is `examples/train_safety_classifier.py`'s (cached after its first training). Each variant is
exported with `modelctl deploy-model` (the int8 one checked against fp32 on the held-out file: its label
agreement is reported), served by the real `modelops-server` pinned to --server-cpus, and loaded by `wrk`
pinned to --load-cpus: requests/s at --connections, p50/p99 at one connection. The variants are
interleaved in --rounds rounds and each ratio (variant / fp32) is taken within a round, the median
reported, so that the machine's background load hits all of them alike. bench_served_peers.py serves the
same model with the peers (MLServer, KServe) beside modelops-server, reusing this script's helpers.

Usage: .venv/bin/python bench/bench_served_variants.py [--duration 5 --rounds 3 --connections 32]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_quantized import _default_model
from bench_server import MODEL_TYPE, Server, _load_average, _stop, _wrk_script, run_wrk, start_server

MODELCTL = Path(sys.executable).parent / "modelctl"
VARIANTS = {"fp32": [], "optimized": ["--optimize"], "int8": ["--quantize", "int8"]}
TEXT = "I have been feeling really low lately and I am not sure who to talk to about it"


def parse_args() -> argparse.Namespace:
    return make_parser(__doc__ or "").parse_args()


def make_parser(description: str) -> argparse.ArgumentParser:
    """The flags this bench and bench_served_peers.py share."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1, help="ORT intra-op threads of the server")
    parser.add_argument("--batch", type=int, default=8, help="server --max-batch-size")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32, help="wrk connections for requests/s")
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--load-cpus", default="1")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument(
        "--model", type=Path, default=None, help="save_pretrained dir (default: the example's)"
    )
    return parser


def export(source: Path, root: Path, name: str, flags: list[str]) -> tuple[Path, dict[str, Any]]:
    """A models dir holding the variant as bench_encoder v1.0.0, and its metadata's export facts."""
    models = root / name
    command = [str(MODELCTL), "--registry", "file", "--models-dir", str(models), "deploy-model",
               "--type", MODEL_TYPE, "--model-path", str(source), "--version", "v1.0.0", "--export", "onnx",
               "--eval-data", str(source / "heldout.tsv"), *flags]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, text=True)
    metadata = json.loads((models / MODEL_TYPE / "v1.0.0" / "metadata.json").read_text())
    return models, dict(metadata.get("export", {}))


def one_round(
    servers: dict[str, Server], scripts: dict[str, Path], args: argparse.Namespace
) -> dict[str, Any]:
    """Each server at --connections, then at one connection; `scripts` holds each server's wrk script."""
    single = argparse.Namespace(**{**vars(args), "connections": 1})
    figures: dict[str, Any] = {"load_average": _load_average()}
    for name, server in servers.items():
        loaded = run_wrk(server, scripts[name], args, args.duration)
        alone = run_wrk(server, scripts[name], single, args.duration)
        figures[name] = {"loaded": asdict(loaded), "single": asdict(alone)}
    return figures


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in VARIANTS:
        out[name] = {
            "requests_per_s": statistics.median(r[name]["loaded"]["requests_per_s"] for r in rounds),
            "p99_ms_loaded": statistics.median(r[name]["loaded"]["p99_ms"] for r in rounds),
            "p50_ms_single": statistics.median(r[name]["single"]["p50_ms"] for r in rounds),
            "throughput_vs_fp32": statistics.median(
                r[name]["loaded"]["requests_per_s"] / r["fp32"]["loaded"]["requests_per_s"] for r in rounds
            ),
            "p50_single_vs_fp32": statistics.median(
                r[name]["single"]["p50_ms"] / r["fp32"]["single"]["p50_ms"] for r in rounds
            ),
            # Server CPU per request: what contention on a shared machine barely moves.
            "cpu_us_per_request": statistics.median(r[name]["loaded"]["cpu_us_per_request"] for r in rounds),
            "cpu_per_request_vs_fp32": statistics.median(
                r[name]["loaded"]["cpu_us_per_request"] / r["fp32"]["loaded"]["cpu_us_per_request"]
                for r in rounds
            ),
        }
    return out


def main() -> None:
    args = parse_args()
    source = args.model or _default_model()
    with tempfile.TemporaryDirectory(prefix="bench-variants-") as scratch:
        root = Path(scratch)
        exported = {name: export(source, root, name, flags) for name, flags in VARIANTS.items()}
        script = _wrk_script(TEXT, root)
        servers: dict[str, Server] = {}
        try:
            for name, (models, _facts) in exported.items():
                servers[name] = start_server(models, args, args.batch)
            scripts = dict.fromkeys(servers, script)
            rounds = [one_round(servers, scripts, args) for _ in range(args.rounds)]
        finally:
            _stop(servers)
    result: dict[str, Any] = {"model": str(source), "args": {k: str(v) for k, v in vars(args).items()},
              "export": {name: facts for name, (_m, facts) in exported.items()},
              "summary": summary(rounds), "rounds": rounds}  # fmt: skip
    for name, figures in result["summary"].items():
        agreement = result["export"][name].get("agreement", 1.0)
        print(f"{name:10s} {figures['requests_per_s']:8.1f} req/s at {args.connections} connections "
              f"(x{figures['throughput_vs_fp32']:.2f} of fp32), p99 {figures['p99_ms_loaded']:.1f} ms; "
              f"p50 at 1 connection {figures['p50_ms_single']:.2f} ms "
              f"(x{figures['p50_single_vs_fp32']:.2f}); "
              f"server CPU {figures['cpu_us_per_request']:.0f} us/request "
              f"(x{figures['cpu_per_request_vs_fp32']:.2f}); label agreement {agreement:.3f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
