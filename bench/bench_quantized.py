"""fp32 vs `--optimize` vs `--quantize int8` (and both) for one real model, in one run, in process.

Exports the model three or four ways with `modelops.export.export_model` (the same code `modelctl
deploy-model` runs), then, on one ONNX Runtime thread, measures tokenize + run throughput at --batch and
p50 latency at batch 1 over the evaluation texts, in interleaved rounds (median reported), and each
variant's label agreement with fp32. Default model: the fine-tuned MiniLM safety classifier from
`examples/train_safety_classifier.py` (trained once, then cached). This is the in-process half of the
issue's benchmark; the served comparison with peers (MLServer, KServe) is bench_served_peers.py's.

Usage: .venv/bin/python bench/bench_quantized.py [--model-path DIR] [--eval-data FILE] [--rounds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from modelops.export import ExportOptions, export_model
from modelops.quantize import session
from modelops.sources import configure_tokenizer, read_tokenizer
from modelops.training.data import load_tsv

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {
    "fp32": ExportOptions(),
    "optimized": ExportOptions(optimize=True),
    "int8": ExportOptions(quantize="int8"),
    "optimized+int8": ExportOptions(optimize=True, quantize="int8"),
}


def _default_model() -> Path:
    path = REPO / "examples" / "train_safety_classifier.py"
    spec = importlib.util.spec_from_file_location("finetune_safety", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from modelops.training.finetune import finetune_cached

    return finetune_cached(module.TASK, module.SETTINGS).directory


def _feeds(model_dir: Path, texts: list[str]) -> Any:
    tokenizer = configure_tokenizer(read_tokenizer(model_dir / "tokenizer.json", ""), 64)
    runner = session(model_dir / "model.onnx")
    names = [i.name for i in runner.get_inputs()]
    fields = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}

    def run(batch: list[str]) -> np.ndarray[Any, Any]:
        encodings = tokenizer.encode_batch(batch)
        feeds = {n: np.array([getattr(e, fields[n]) for e in encodings], np.int64) for n in names}
        return np.asarray(runner.run(["logits"], feeds)[0])

    return run


def _measure(run: Any, texts: list[str], batch: int) -> tuple[float, float]:
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        run(texts[start : start + batch])
    throughput = len(texts) / (time.perf_counter() - started)
    latencies = []
    for text in texts[:100]:
        began = time.perf_counter()
        run([text])
        latencies.append(time.perf_counter() - began)
    return throughput, statistics.median(latencies) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-path", type=Path, default=None)
    parser.add_argument("--eval-data", type=Path, default=None, help="label<TAB>text (default heldout.tsv)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model_path = args.model_path or _default_model()
    eval_data = args.eval_data or model_path / "heldout.tsv"
    texts = [row.text for row in load_tsv(eval_data)]
    with tempfile.TemporaryDirectory() as scratch:
        runs, results = {}, {}
        for name, variant in VARIANTS.items():
            out = Path(scratch) / name
            chosen = dataclasses.replace(variant, eval_data=eval_data)
            export_model(model_path, out, "bench", "v1.0.0", options=chosen)
            runs[name] = _feeds(out, texts)
        reference = runs["fp32"](texts).argmax(axis=1)
        for run in runs.values():
            run(texts[: args.batch])  # warm-up: the first run allocates
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for _round in range(args.rounds):
            for name, run in runs.items():
                samples[name].append(_measure(run, texts, args.batch))
        for name, run in runs.items():
            agreement = float(np.mean(run(texts).argmax(axis=1) == reference))
            rows_s = statistics.median(s[0] for s in samples[name])
            p50 = statistics.median(s[1] for s in samples[name])
            results[name] = {"rows_per_s": round(rows_s, 1), "p50_ms_batch1": round(p50, 2),
                             "agreement_with_fp32": round(agreement, 4)}  # fmt: skip
    base = results["fp32"]["rows_per_s"]
    for name, figures in results.items():
        figures["speedup_vs_fp32"] = round(figures["rows_per_s"] / base, 2)
        print(f"{name:>15}: {json.dumps(figures)}")
    print(json.dumps({"texts": len(texts), "batch": args.batch, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
