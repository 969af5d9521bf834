"""Text generation: the server's time to first token and tokens/s against the same model generating in
process with the onnxruntime-genai loop (the limit; goal >= 0.9) and against `transformers.generate`
(what a user would do without modelops), at 1 and --streams concurrent streams, in one invocation.

The model: `--model-path` (a save_pretrained causal LM, e.g. the fine-tuned persona) or, by default, a
random Llama with SmolLM2-135M's body (hidden 576, 30 layers, 9 heads, 3 KV heads) and the tests' small
tokenizer. It is exported once with `modelops.export_generation` (--precision, default int4). Every
generation decodes exactly --new-tokens tokens (min = max, so an end-of-turn token cannot shorten one
side). All three use --threads intra-op threads; the server runs `--max-generations --streams`.
Measurements are interleaved over --rounds rounds (server and genai alternate which goes first); ratios
are taken within a round, medians printed, with the load average before and after. Both sides are warm,
build the prompt inside the timed region, and report CPU ms per token (the server's
process_cpu_seconds_total plus the client's), which a busy machine distorts far less than tokens/s.

Usage: .venv/bin/python bench/bench_generation.py [--model-path DIR] [--new-tokens 64 --streams 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "server")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODEL = "persona_model"
MESSAGES = [{"role": "system", "content": "You are a kind, brief companion."},
            {"role": "user", "content": "I had a long day at work and feel tired. Any advice?"}]  # fmt: skip
Run = dict[str, float]


def build_source(base: Path) -> Path:
    """A random Llama with SmolLM2-135M's body and the tests' byte-level tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from support.tiny_llama import build_tiny_llama

    source = build_tiny_llama(base / "hf")
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
        num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(source)
    return source


def _timed_streams(streams: int, one: Any) -> Run:
    """Run `one(index, record)` in `streams` threads; record(t) marks a token at monotonic time t."""
    firsts: list[float] = []
    counts = [0] * streams
    start = time.monotonic()

    def worker(index: int) -> None:
        def record(_at: float) -> None:
            if counts[index] == 0:
                firsts.append(time.monotonic() - start)
            counts[index] += 1

        one(index, record)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    return {"ttft_s": statistics.median(firsts), "tokens_per_s": sum(counts) / elapsed}


def load_genai(model_dir: Path, threads: int) -> Any:
    """The in-process generator, loaded once and warmed up like the server (same `load_generator`)."""
    from modelops.package.metadata import ModelMetadata
    from modelops_server.generation import load_generator

    generator = load_generator(model_dir, ModelMetadata.load(model_dir), threads)
    generator.greedy(generator.prompt_ids(MESSAGES), 4)
    return generator


def genai_run(generator: Any, new_tokens: int, streams: int) -> Run:
    """In-process onnxruntime-genai loop, one generator per stream, as the server runs it: the prompt is
    rendered and tokenized inside the timed region, as the server must."""
    from modelops_server.generation import Sampling

    sampling = Sampling(max_new_tokens=new_tokens, min_new_tokens=new_tokens)

    def one(_index: int, record: Any) -> None:
        prompt = generator.prompt_ids(MESSAGES)
        generator.run(prompt, sampling, lambda ids, _t: [record(0.0) for _ in ids], threading.Event(), 1e18)

    cpu = time.process_time()
    found = _timed_streams(streams, one)
    return {**found, "cpu_ms_per_token": 1000 * (time.process_time() - cpu) / (streams * new_tokens)}


def torch_run(source: Path, threads: int, new_tokens: int, streams: int) -> Run:
    """transformers.generate: one call with a batch of `streams` prompts (what a user would write)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    model = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.float32).eval()
    prompt = torch.tensor([tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True)] * streams)
    kwargs = {"attention_mask": torch.ones_like(prompt), "do_sample": False, "pad_token_id": 0}
    with torch.no_grad():
        start = time.monotonic()
        model.generate(prompt, max_new_tokens=1, min_new_tokens=1, **kwargs)
        ttft = time.monotonic() - start
        start = time.monotonic()
        model.generate(prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **kwargs)
        elapsed = time.monotonic() - start
    return {"ttft_s": ttft, "tokens_per_s": streams * new_tokens / elapsed}


async def _server_streams(base: str, new_tokens: int, streams: int) -> Run:
    import httpx

    body = {"messages": MESSAGES, "max_new_tokens": new_tokens, "min_new_tokens": new_tokens,
            "temperature": 0, "stream": True}  # fmt: skip
    firsts: list[float] = []
    counts: list[int] = []

    async def one(client: httpx.AsyncClient) -> None:
        tokens, first = 0, None
        async with client.stream("POST", f"/api/v1/ml-models/{MODEL}/generate", json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and '"token_ids"' in line and '"done"' not in line:
                    first = first or time.monotonic() - start
                    tokens += len(json.loads(line[6:])["token_ids"])
        firsts.append(first or 0.0)
        counts.append(tokens)

    # the client (connection pool, SSL context) exists before the clock starts, as a serving client's does
    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=streams)
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits) as client:
        cpu = _server_cpu_s(base), time.process_time()
        start = time.monotonic()
        await asyncio.gather(*(one(client) for _ in range(streams)))
        elapsed = time.monotonic() - start
        client_cpu = time.process_time() - cpu[1]  # before the scrape, whose client is not the server
        spent = _server_cpu_s(base) - cpu[0] + client_cpu
    return {"ttft_s": statistics.median(firsts), "tokens_per_s": sum(counts) / elapsed,
            "cpu_ms_per_token": 1000 * spent / max(1, sum(counts))}  # fmt: skip


def _server_cpu_s(base: str) -> float:
    """The server process's CPU seconds (its own process_cpu_seconds_total)."""
    import httpx

    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("process_cpu_seconds_total "):
            return float(line.split()[1])
    return 0.0


def server_run(base: str, new_tokens: int, streams: int) -> Run:
    return asyncio.run(_server_streams(base, new_tokens, streams))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-path", type=Path, default=None)
    parser.add_argument("--precision", choices=["int4", "fp32"], default="int4")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--skip-torch", action="store_true", help="only the server and the genai loop")
    parser.add_argument("--stream-chunk-ms", type=float, default=None, help="the server's (default: its own)")
    args = parser.parse_args()

    from modelops.export_generation import export_generation
    from modelops.package.manifest import write_manifest
    from support.server_process import server_process

    with tempfile.TemporaryDirectory(prefix="bench-generation-") as scratch:
        base = Path(scratch)
        source = args.model_path or build_source(base)
        model_dir = base / "models" / MODEL / "v1.0.0"
        started = time.monotonic()
        export_generation(source, model_dir, MODEL, "v1.0.0", precision=args.precision)
        write_manifest(model_dir)
        print(f"export ({args.precision}): {time.monotonic() - started:.1f}s")
        server_args = ("--version", "v1.0.0", "--threads", str(args.threads), "--max-generations",
                       str(args.streams), "--max-new-tokens", str(args.new_tokens))  # fmt: skip
        if args.stream_chunk_ms is not None:
            server_args += ("--stream-chunk-ms", str(args.stream_chunk_ms))
        rounds: list[dict[str, Run]] = []
        load = [os.getloadavg()]
        with server_process(base / "models", *server_args, model_type=MODEL) as server:
            server_run(server.base, 4, 1)  # warm-up
            generator = load_genai(model_dir, args.threads)
            for index in range(args.rounds):
                found: dict[str, Run] = {}
                for streams in sorted({1, args.streams}):
                    # alternate which side goes first, so a load change hits both sides alike
                    sides = ("genai", "server") if index % 2 == 0 else ("server", "genai")
                    for side in sides:
                        found[f"{side}_{streams}"] = (
                            genai_run(generator, args.new_tokens, streams) if side == "genai"
                            else server_run(server.base, args.new_tokens, streams)
                        )  # fmt: skip
                    if not args.skip_torch:
                        found[f"torch_{streams}"] = torch_run(source, args.threads, args.new_tokens, streams)
                rounds.append(found)
            rss = _resident_mib(server.base)
        load.append(os.getloadavg())
        args.load_average_before_after = [[round(x, 2) for x in triple] for triple in load]
    report(rounds, args, rss)


def _resident_mib(base: str) -> float:
    """The server process's resident memory after the runs (its own process_resident_memory_bytes)."""
    import httpx

    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("process_resident_memory_bytes "):
            return round(float(line.split()[1]) / 2**20, 1)
    return 0.0


def report(rounds: list[dict[str, Run]], args: argparse.Namespace, rss_mib: float) -> None:
    def median(key: str, field: str) -> float:
        return statistics.median(r[key][field] for r in rounds)

    def ratio(a: str, b: str, field: str) -> float:
        return statistics.median(r[a][field] / r[b][field] for r in rounds)

    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    summary: dict[str, Any] = {"settings": settings, "server_resident_mib": rss_mib}
    sides = ("server", "genai") if args.skip_torch else ("server", "genai", "torch")
    for streams in sorted({1, args.streams}):
        for side in sides:
            key = f"{side}_{streams}"
            summary[key] = {"tokens_per_s": round(median(key, "tokens_per_s"), 1),
                            "ttft_ms": round(1000 * median(key, "ttft_s"), 1)}  # fmt: skip
            if side != "torch":
                summary[key]["cpu_ms_per_token"] = round(median(key, "cpu_ms_per_token"), 2)
        for field in ("tokens_per_s", "ttft_s"):
            summary[f"ratio_server_vs_genai_{field}_{streams}"] = round(
                ratio(f"server_{streams}", f"genai_{streams}", field), 3
            )
        if not args.skip_torch:
            summary[f"ratio_server_vs_torch_tokens_per_s_{streams}"] = round(
                ratio(f"server_{streams}", f"torch_{streams}", "tokens_per_s"), 3
            )
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rounds": rounds}, indent=2))


if __name__ == "__main__":
    main()
