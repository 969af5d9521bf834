"""The fine-tuned MiniLM safety model served by `modelops-server`, MLServer and KServe, in one run.

Side by side, on the same core (--server-cpus, taskset), the same model and one ONNX Runtime thread each:
  - `modelops-server` (--max-batch-size --batch) on the model exported by `modelctl deploy-model`, plain
    (fp32) and `--quantize int8` (what a user gets with modelops' export);
  - MLServer with a custom `MLModel` runtime (bench/peers/mlserver_runtime.py: tokenizers + ORT on the plain
    fp32 export), adaptive batching on (max_batch_size --batch, max_batch_time --mlserver-batch-time);
  - KServe with a custom `kserve.Model` (bench/peers/kserve_runtime.py, the same model code).
Each peer is installed into its own venv under ~/.cache/modelops/bench-peers-<peer>-<hash of its pinned
requirements in bench/peers/>, built once and reused. `wrk` (pinned to --load-cpus) sends each server's own
request format. Interleaved rounds: requests/s and p99 at --connections, p50 at one connection, and the
server's CPU µs per request (all its processes, from /proc: steady on a loaded machine); every ratio is
taken within a round and the median over rounds printed. Before the rounds each peer's labels on the
held-out sentences are checked against modelops fp32 (same model: they must agree).

Usage: .venv/bin/python bench/bench_served_peers.py [--rounds 3 --duration 5 --connections 32 --json F]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_quantized import _default_model
from bench_served_variants import TEXT, VARIANTS, export, make_parser, one_round
from bench_server import (
    MODEL_TYPE,
    PREDICT_PATH,
    Server,
    _free_port,
    _stop,
    _wait_healthy,
    run_wrk,
    start_server,
    wrk_post_script,
)

from modelops.training.data import load_tsv

PEERS_DIR = Path(__file__).resolve().parent / "peers"
CACHE = Path(os.environ.get("MODELOPS_CACHE", Path.home() / ".cache" / "modelops"))
NAME = "safety"  # the model's name on the peers
MODELOPS = ("modelops_fp32", "modelops_int8")


@dataclass(frozen=True)
class Protocol:
    """How one server is asked: its predict path, its request body for one text, the label in its answer."""

    path: str
    body: Callable[[str], Any]
    label: Callable[[Any], str]


PROTOCOLS = {
    "modelops": Protocol(PREDICT_PATH, lambda text: {"text": text}, lambda answer: str(answer["label"])),
    "mlserver": Protocol(
        f"/v2/models/{NAME}/infer",
        lambda text: {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}]},
        lambda answer: next(str(o["data"][0]) for o in answer["outputs"] if o["name"] == "label"),
    ),
    "kserve": Protocol(
        f"/v1/models/{NAME}:predict",
        lambda text: {"instances": [text]},
        lambda answer: str(answer["predictions"][0]["label"]),
    ),
}


def parse_args() -> argparse.Namespace:
    parser = make_parser(__doc__ or "")
    parser.add_argument("--mlserver-batch-time", type=float, default=0.002, help="max_batch_time, seconds")
    parser.add_argument(
        "--mlserver-workers",
        type=int,
        default=0,
        help="MLServer parallel_workers (0: in the server process; 1, its default, fails with uvloop 0.23)",
    )
    parser.add_argument("--agreement-texts", type=int, default=0, help="held-out texts checked (0: all)")
    parser.set_defaults(connections=32)
    return parser.parse_args()


def peer_python(peer: str) -> Path:
    """The peer's venv python, built from bench/peers/<peer>-requirements.txt once (keyed by its hash)."""
    requirements = PEERS_DIR / f"{peer}-requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    venv = CACHE / f"bench-peers-{peer}-{digest}"
    if not (venv / ".installed").exists():
        print(f"installing {peer} into {venv} (once)", flush=True)
        staging = Path(f"{venv}.tmp-{os.getpid()}")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(staging)], check=True)
            subprocess.run([str(staging / "bin" / "python"), "-m", "pip", "install", "-q", "-r",
                            str(requirements)], check=True)  # fmt: skip
            (staging / ".installed").touch()
            shutil.rmtree(venv, ignore_errors=True)
            staging.rename(venv)  # the venv runs as `python -m`/a script path, so the rename is harmless
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return venv / "bin" / "python"


def peer_model_dir(source: Path, fp32_models: Path, root: Path) -> Path:
    """What a peer's user holds: the plain fp32 export, the model's tokenizer.json and its HF config.json."""
    directory = root / "peer-model"
    directory.mkdir()
    (directory / "model.onnx").symlink_to(fp32_models / MODEL_TYPE / "v1.0.0" / "model.onnx")
    for name in ("tokenizer.json", "config.json"):
        (directory / name).symlink_to(source / name)
    return directory


def _spawn(command: list[str], log: Path, cwd: Path, base: str, *, health: str, path: str) -> Server:
    env = {**os.environ, "PYTHONPATH": str(PEERS_DIR)}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
    try:
        _wait_healthy(base, process, 180.0, health)
    except SystemExit:
        process.kill()
        print(log.read_text()[-3000:], file=sys.stderr)
        raise
    return Server(base, process, path, batch_metrics=False)


def start_mlserver(model_dir: Path, max_length: int, root: Path, args: argparse.Namespace) -> Server:
    home = root / "mlserver"
    (home / NAME).mkdir(parents=True)
    port = _free_port()
    settings = {"host": "127.0.0.1", "http_port": port, "grpc_port": _free_port(),
                "metrics_port": _free_port(), "debug": False,
                "parallel_workers": args.mlserver_workers}  # fmt: skip
    (home / "settings.json").write_text(json.dumps(settings))
    model = {"name": NAME, "implementation": "mlserver_runtime.OnnxTextRuntime",
             "max_batch_size": args.batch, "max_batch_time": args.mlserver_batch_time,
             "parameters": {"uri": str(model_dir),
                            "extra": {"max_length": max_length, "threads": args.threads}}}  # fmt: skip
    (home / NAME / "model-settings.json").write_text(json.dumps(model))
    start = "from mlserver.cli import main; main()"  # the `mlserver` console script (no __main__ module)
    command = ["taskset", "-c", args.server_cpus, str(peer_python("mlserver")), "-c", start, "start",
               str(home)]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    return _spawn(command, root / "mlserver.log", home, base, health=f"/v2/models/{NAME}/ready",
                  path=PROTOCOLS["mlserver"].path)  # fmt: skip


def start_kserve(model_dir: Path, max_length: int, root: Path, args: argparse.Namespace) -> Server:
    port = _free_port()
    command = ["taskset", "-c", args.server_cpus, str(peer_python("kserve")),
               str(PEERS_DIR / "kserve_runtime.py"), "--model_name", NAME, "--model_dir", str(model_dir),
               "--max_length", str(max_length), "--threads", str(args.threads), "--http_port", str(port),
               "--enable_grpc", "false", "--enable_latency_logging", "false"]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    return _spawn(command, root / "kserve.log", root, base, health=f"/v1/models/{NAME}",
                  path=PROTOCOLS["kserve"].path)  # fmt: skip


def _protocol(name: str) -> Protocol:
    return PROTOCOLS[name.split("_", maxsplit=1)[0]]


def labels_of(servers: dict[str, Server], texts: list[str]) -> dict[str, list[str]]:
    """Each server's label for each text, one request per text (also warms every server up)."""
    answers: dict[str, list[str]] = {}
    with httpx.Client(timeout=30) as client:
        for name, server in servers.items():
            protocol = _protocol(name)
            answers[name] = []
            for text in texts:
                reply = client.post(f"{server.base}{server.path}", json=protocol.body(text))
                reply.raise_for_status()
                answers[name].append(protocol.label(reply.json()))
    return answers


def round_ratios(figures: dict[str, Any], peers: list[str]) -> dict[str, float]:
    """Within one round: modelops int8 vs the best peer on each figure, modelops fp32 vs each peer."""

    def value(name: str, mode: str, key: str) -> float:
        return float(figures[name][mode][key])

    ratios = {
        "int8_vs_best_peer_requests_per_s": value("modelops_int8", "loaded", "requests_per_s")
        / max(value(p, "loaded", "requests_per_s") for p in peers),
        "int8_vs_best_peer_p99": value("modelops_int8", "loaded", "p99_ms")
        / min(value(p, "loaded", "p99_ms") for p in peers),
        "int8_vs_best_peer_p50_single": value("modelops_int8", "single", "p50_ms")
        / min(value(p, "single", "p50_ms") for p in peers),
        "int8_vs_best_peer_cpu_per_request": value("modelops_int8", "loaded", "cpu_us_per_request")
        / min(value(p, "loaded", "cpu_us_per_request") for p in peers),
    }
    for peer in peers:
        ratios[f"fp32_vs_{peer}_requests_per_s"] = value("modelops_fp32", "loaded", "requests_per_s") / value(
            peer, "loaded", "requests_per_s"
        )
        for mode, key in (("loaded", "p99_ms"), ("single", "p50_ms"), ("loaded", "cpu_us_per_request")):
            label = {"p99_ms": "p99", "p50_ms": "p50_single", "cpu_us_per_request": "cpu_per_request"}[key]
            ratios[f"fp32_vs_{peer}_{label}"] = value("modelops_fp32", mode, key) / value(peer, mode, key)
    return ratios


def report(rounds: list[dict[str, Any]], agreement: dict[str, float], args: argparse.Namespace) -> Any:
    names = [name for name in rounds[0] if name != "load_average"]
    peers = [name for name in names if not name.startswith("modelops")]
    per_round = [round_ratios(figures, peers) for figures in rounds]
    for index, figures in enumerate(rounds):
        rates = "  ".join(f"{n} {figures[n]['loaded']['requests_per_s']:.0f}" for n in names)
        print(f"round {index + 1}: load {figures['load_average']}  req/s {rates}")
    servers = {}
    for name in names:
        servers[name] = {
            "requests_per_s": statistics.median(r[name]["loaded"]["requests_per_s"] for r in rounds),
            "p99_ms_loaded": statistics.median(r[name]["loaded"]["p99_ms"] for r in rounds),
            "p50_ms_single": statistics.median(r[name]["single"]["p50_ms"] for r in rounds),
            "cpu_us_per_request": statistics.median(r[name]["loaded"]["cpu_us_per_request"] for r in rounds),
            "errors": sum(r[name]["loaded"]["errors"] + r[name]["single"]["errors"] for r in rounds),
        }
        figures = servers[name]
        print(f"{name:14s} {figures['requests_per_s']:7.1f} req/s at {args.connections} connections, "
              f"p99 {figures['p99_ms_loaded']:6.1f} ms; "
              f"p50 at 1 connection {figures['p50_ms_single']:6.2f} ms; "
              f"server CPU {figures['cpu_us_per_request']:6.0f} us/request; "
              f"labels agree with modelops fp32 {agreement[name]:.3f}; "
              f"non-2xx {figures['errors']}")  # fmt: skip
    ratios = {key: round(statistics.median(r[key] for r in per_round), 3) for key in per_round[0]}
    print("medians of the within-round ratios:")
    for key, value in ratios.items():
        print(f"  {key:<40s} {value}")
    return {"servers": servers, "ratios": ratios, "agreement": agreement, "rounds": rounds}


def measure(source: Path, root: Path, args: argparse.Namespace) -> Any:
    exported = {f"modelops_{name}": export(source, root, name, VARIANTS[name]) for name in ("fp32", "int8")}
    fp32_models = exported["modelops_fp32"][0]
    metadata = json.loads((fp32_models / MODEL_TYPE / "v1.0.0" / "metadata.json").read_text())
    max_length = int(metadata.get("max_length", 128))
    peer_dir = peer_model_dir(source, fp32_models, root)
    texts = [row.text for row in load_tsv(source / "heldout.tsv")][: args.agreement_texts or None]
    for peer in ("mlserver", "kserve"):
        peer_python(peer)  # installed before any server starts
    servers: dict[str, Server] = {}
    try:
        for name, (models, _facts) in exported.items():
            servers[name] = start_server(models, args, args.batch)
        servers["mlserver"] = start_mlserver(peer_dir, max_length, root, args)
        servers["kserve"] = start_kserve(peer_dir, max_length, root, args)
        answers = labels_of(servers, texts)
        agreement = {name: sum(a == b for a, b in zip(labels, answers["modelops_fp32"], strict=True))
                     / len(texts) for name, labels in answers.items()}  # fmt: skip
        scripts = {
            name: wrk_post_script(_protocol(name).body(TEXT), root / f"{name}.lua") for name in servers
        }
        for name, server in servers.items():
            run_wrk(server, scripts[name], args, 2)  # warm-up under load
        rounds = [one_round(servers, scripts, args) for _ in range(args.rounds)]
    finally:
        _stop(servers)
    result = report(rounds, agreement, args)
    result["export"] = {name: facts for name, (_m, facts) in exported.items()}
    result["agreement_texts"] = len(texts)
    return result


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        raise SystemExit("needs wrk and taskset (Debian: apt-get install wrk util-linux)")
    source = args.model or _default_model()
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as scratch:
        result = measure(source, Path(scratch), args)
    print(f"int8 export's own label agreement with fp32 (held-out, at export): "
          f"{result['export']['modelops_int8'].get('agreement', 'n/a')}")  # fmt: skip
    if args.json:
        result["args"] = {k: str(v) for k, v in vars(args).items()}
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
