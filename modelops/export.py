"""Export a trained checkpoint (`model.pt`) to ONNX, prove parity with ONNX Runtime, write metadata.

`modelctl export` and `modelctl deploy-model` (`modelops.pipeline`) call `export_model`. The ONNX graph
takes `input_ids` and `attention_mask` (int64, dynamic batch and sequence axes) and returns `logits`.
Parity: torch and ONNX Runtime must agree within PARITY_TOLERANCE on batches of several sizes and
lengths. The golden input/output written into `metadata.json` is what the inference server replays
before it declares the model ready.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from modelops.package.metadata import Golden, ModelMetadata, TensorSpec
from modelops.training.checkpoint import Checkpoint, load_checkpoint
from modelops.training.tokenizer import encode

ONNX_NAME = "model.onnx"
TOKENIZER_NAME = "tokenizer.json"
OPSET = 17
PARITY_TOLERANCE = 1e-4
GOLDEN_TOLERANCE = 1e-4
PARITY_TEXTS = (
    "hello",
    "I had a really good day at work and then went for a walk in the park",
    "I feel tired",
    "Can you help me book an appointment with a therapist next week please",
)
INPUTS = [
    TensorSpec(name="input_ids", dtype="int64", shape=["batch", "sequence"]),
    TensorSpec(name="attention_mask", dtype="int64", shape=["batch", "sequence"]),
]
Step = Callable[[str], None]


class ExportError(RuntimeError):
    """The export failed or the exported graph does not reproduce the torch model."""


@dataclass(frozen=True)
class ExportResult:
    """Where the files went and how close ONNX Runtime came to torch."""

    onnx_path: Path
    metadata: ModelMetadata
    max_abs_diff: float


def _outputs(num_labels: int) -> list[TensorSpec]:
    return [TensorSpec(name="logits", dtype="float32", shape=["batch", num_labels])]


def _feeds(checkpoint: Checkpoint, texts: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
    ids, mask = encode(checkpoint.tokenizer, texts)
    return {"input_ids": np.array(ids, dtype=np.int64), "attention_mask": np.array(mask, dtype=np.int64)}


def write_onnx(checkpoint: Checkpoint, path: Path) -> None:
    """Trace the model to ONNX with dynamic batch and sequence axes."""
    feeds = _feeds(checkpoint, PARITY_TEXTS[:2])
    example = (torch.from_numpy(feeds["input_ids"]), torch.from_numpy(feeds["attention_mask"]))
    dynamic = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            checkpoint.model,
            example,
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={**dynamic, "logits": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _torch_logits(checkpoint: Checkpoint, feeds: dict[str, np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    with torch.no_grad():
        logits = checkpoint.model(
            torch.from_numpy(feeds["input_ids"]), torch.from_numpy(feeds["attention_mask"])
        )
    return np.asarray(logits.numpy())


def check_parity(checkpoint: Checkpoint, onnx_path: Path, tolerance: float = PARITY_TOLERANCE) -> float:
    """Largest |torch - ORT| over batches of 1, 2 and 4 texts; raise ExportError above tolerance."""
    session, worst = _session(onnx_path), 0.0
    for size in (1, 2, len(PARITY_TEXTS)):
        feeds = _feeds(checkpoint, PARITY_TEXTS[:size])
        onnx_logits = session.run(["logits"], feeds)[0]
        worst = max(worst, float(np.max(np.abs(onnx_logits - _torch_logits(checkpoint, feeds)))))
    if not worst <= tolerance:
        raise ExportError(f"ONNX Runtime differs from torch by {worst:.3g} (tolerance {tolerance:g})")
    return worst


def _softmax(logits: Sequence[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(value - top) for value in logits]
    return [value / sum(exps) for value in exps]


def golden_answer(checkpoint: Checkpoint, onnx_path: Path, text: str) -> Golden:
    """The label and per-label probabilities ONNX Runtime gives for `text`."""
    logits = _session(onnx_path).run(["logits"], _feeds(checkpoint, [text]))[0][0]
    scores = _softmax([float(value) for value in logits])
    best = max(range(len(scores)), key=scores.__getitem__)
    return Golden(
        text=text,
        label=checkpoint.labels[best],
        scores={label: round(score, 6) for label, score in zip(checkpoint.labels, scores, strict=True)},
        tolerance=GOLDEN_TOLERANCE,
    )


def build_metadata(checkpoint: Checkpoint, model_type: str, version: str, golden: Golden) -> ModelMetadata:
    """metadata.json contents: signature, labels, golden check, metrics and training facts."""
    return ModelMetadata(
        model_type=model_type,
        version=version,
        labels=list(checkpoint.labels),
        inputs=list(INPUTS),
        outputs=_outputs(len(checkpoint.labels)),
        max_length=checkpoint.max_length,
        golden=golden,
        metrics=dict(checkpoint.metrics),
        training=dict(checkpoint.training),
    )


def export_model(
    model_path: Path | str, out_dir: Path | str, model_type: str, version: str, step: Step | None = None
) -> ExportResult:
    """model.pt → out_dir/{model.onnx, tokenizer.json, metadata.json}, parity-checked."""
    report = step or (lambda _name: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report("load checkpoint")
    checkpoint = load_checkpoint(model_path)
    onnx_path = out_dir / ONNX_NAME
    report("export to ONNX")
    write_onnx(checkpoint, onnx_path)
    report("check parity with ONNX Runtime")
    worst = check_parity(checkpoint, onnx_path)
    report("write metadata and golden check")
    (out_dir / TOKENIZER_NAME).write_text(checkpoint.tokenizer.to_str(), encoding="utf-8")
    metadata = build_metadata(
        checkpoint, model_type, version, golden_answer(checkpoint, onnx_path, PARITY_TEXTS[1])
    )
    metadata.save(out_dir)
    return ExportResult(onnx_path=onnx_path, metadata=metadata, max_abs_diff=worst)
