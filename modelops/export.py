"""Export a model (see `modelops.sources` for what is accepted) to ONNX, prove parity with ONNX Runtime,
optionally optimize and quantize it, and write metadata.

`modelctl export` and `modelctl deploy-model` (`modelops.pipeline`) call `export_model`. The ONNX graph
takes exactly the model's own inputs (`input_ids`, `attention_mask`, `token_type_ids` where the model has
them; int64, dynamic batch and sequence axes) and returns `logits`. Parity: torch and ONNX Runtime must
agree within PARITY_TOLERANCE on batches of several sizes and lengths. The golden input/output written
into `metadata.json` comes from the final graph and is what the inference server replays before it
declares the model ready.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelops.export_generation import GenerationExportError, export_generation, is_causal_lm
from modelops.package.metadata import Golden, ModelMetadata, TensorSpec
from modelops.quantize import DEFAULT_MIN_AGREEMENT, QuantizationError, optimize, quantize_int8, session
from modelops.sources import SourceError, SourceModel, load_source

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
Step = Callable[[str], None]


class ExportError(RuntimeError):
    """The export failed or the exported graph does not reproduce the torch model."""


@dataclass(frozen=True)
class ExportOptions:
    """How to load the source and what to do to the graph after the fp32 export."""

    trust_pickle: bool = False
    optimize: bool = False
    quantize: str | None = None
    eval_data: Path | None = None
    min_agreement: float = DEFAULT_MIN_AGREEMENT


@dataclass(frozen=True)
class ExportResult:
    """Where the files went and how close ONNX Runtime came to torch."""

    onnx_path: Path
    metadata: ModelMetadata
    max_abs_diff: float


class _LogitsOnly(torch.nn.Module):
    """Positional input tensors in, the logits tensor out: the signature the ONNX graph gets."""

    def __init__(self, source: SourceModel) -> None:
        super().__init__()
        self.source = source
        self.inner = source.module

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.source.logits(tensors, self.inner)


def _traceable(source: SourceModel) -> torch.nn.Module:
    """A TorchScript module is exported as it is (a tracer cannot step into one inside a wrapper); its
    first output becomes `logits`. Anything else goes through `_LogitsOnly`."""
    if isinstance(source.module, torch.jit.ScriptModule):
        return source.module
    return _LogitsOnly(source).eval()


def _inputs(source: SourceModel) -> list[TensorSpec]:
    return [TensorSpec(name=name, dtype="int64", shape=["batch", "sequence"]) for name in source.input_names]


def _outputs(num_labels: int) -> list[TensorSpec]:
    return [TensorSpec(name="logits", dtype="float32", shape=["batch", num_labels])]


def write_onnx(source: SourceModel, path: Path) -> None:
    """Trace the model to ONNX with dynamic batch and sequence axes, inputs exactly the model's."""
    feeds = source.encode(PARITY_TEXTS[:2])
    example = tuple(torch.from_numpy(feeds[name]) for name in source.input_names)
    dynamic: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in source.input_names}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notices
            torch.onnx.export(
                _traceable(source),
                example,
                str(path),
                input_names=list(source.input_names),
                output_names=["logits"],
                dynamic_axes={**dynamic, "logits": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
    except Exception as error:
        raise ExportError(f"ONNX export failed ({source.kind}): {_first_line(error)}") from error


def _torch_logits(source: SourceModel, feeds: dict[str, np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    with torch.no_grad():
        logits = source.logits([torch.from_numpy(feeds[name]) for name in source.input_names])
    return np.asarray(logits.numpy())


def check_parity(source: SourceModel, onnx_path: Path, tolerance: float = PARITY_TOLERANCE) -> float:
    """Largest |torch - ORT| over batches of 1, 2 and 4 texts; raise ExportError above tolerance."""
    runner, worst = session(onnx_path), 0.0
    for size in (1, 2, len(PARITY_TEXTS)):
        feeds = source.encode(PARITY_TEXTS[:size])
        onnx_logits = runner.run(["logits"], feeds)[0]
        worst = max(worst, float(np.max(np.abs(onnx_logits - _torch_logits(source, feeds)))))
    if not worst <= tolerance:
        raise ExportError(f"ONNX Runtime differs from torch by {worst:.3g} (tolerance {tolerance:g})")
    return worst


def _softmax(logits: Sequence[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(value - top) for value in logits]
    return [value / sum(exps) for value in exps]


def golden_answer(source: SourceModel, onnx_path: Path, text: str) -> Golden:
    """The label and per-label probabilities ONNX Runtime gives for `text`."""
    logits = session(onnx_path).run(["logits"], source.encode([text]))[0][0]
    scores = _softmax([float(value) for value in logits])
    best = max(range(len(scores)), key=scores.__getitem__)
    return Golden(
        text=text,
        label=source.labels[best],
        scores={label: round(score, 6) for label, score in zip(source.labels, scores, strict=True)},
        tolerance=GOLDEN_TOLERANCE,
    )


def build_metadata(
    source: SourceModel, model_type: str, version: str, golden: Golden, export: dict[str, Any]
) -> ModelMetadata:
    """metadata.json contents: signature, labels, golden check, metrics, training and export facts."""
    return ModelMetadata(
        model_type=model_type,
        version=version,
        labels=list(source.labels),
        inputs=_inputs(source),
        outputs=_outputs(len(source.labels)),
        max_length=source.max_length,
        golden=golden,
        metrics=dict(source.metrics),
        training=dict(source.training),
        export=export,
    )


def _post_process(
    source: SourceModel, onnx_path: Path, options: ExportOptions, report: Step
) -> dict[str, Any]:
    """--optimize then --quantize, each replacing model.onnx; returns what was done, for metadata."""
    facts: dict[str, Any] = {"source_format": source.kind}
    scratch = onnx_path.with_name("model.fp32.onnx")
    try:
        if options.optimize:
            report("optimize (ONNX Runtime transformer fusions)")
            onnx_path.replace(scratch)
            config = getattr(source.module, "config", None)
            heads, hidden = getattr(config, "num_attention_heads", 0), getattr(config, "hidden_size", 0)
            facts.update(optimize(scratch, onnx_path, source.encode, heads, hidden))
        if options.quantize == "int8":
            report("quantize int8 and check agreement with fp32")
            onnx_path.replace(scratch)
            eval_set = _eval_set(options.eval_data)
            facts.update(
                quantize_int8(
                    scratch,
                    onnx_path,
                    source.encode,
                    source.labels,
                    eval_set=eval_set,
                    min_agreement=options.min_agreement,
                )
            )
    except QuantizationError as error:
        raise ExportError(str(error)) from error
    finally:
        scratch.unlink(missing_ok=True)
    return facts


def _eval_set(path: Path | None) -> list[Any] | None:
    if path is None:
        return None
    from modelops.training.data import DatasetError, load_tsv

    try:
        return load_tsv(path)
    except DatasetError as error:
        raise ExportError(str(error)) from error


def export_model(
    model_path: Path | str,
    out_dir: Path | str,
    model_type: str,
    version: str,
    step: Step | None = None,
    *,
    options: ExportOptions | None = None,
) -> ExportResult:
    """model path → out_dir/{model.onnx, tokenizer.json, metadata.json}, parity-checked."""
    report = step or (lambda _name: None)
    options = options or ExportOptions()
    if is_causal_lm(model_path):
        return _export_causal_lm(model_path, out_dir, (model_type, version), report, options)
    if options.quantize == "int4":
        raise ExportError("--quantize int4 is for causal language models; quantize a classifier with int8")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report("load model")
    source = load_source(model_path, trust_pickle=options.trust_pickle)
    onnx_path = out_dir / ONNX_NAME
    report("export to ONNX")
    write_onnx(source, onnx_path)
    report("check parity with ONNX Runtime")
    worst = check_parity(source, onnx_path)
    facts = {**_post_process(source, onnx_path, options, report), "parity_max_abs_diff": worst}
    report("write metadata and golden check")
    (out_dir / TOKENIZER_NAME).write_text(source.tokenizer.to_str(), encoding="utf-8")
    metadata = build_metadata(
        source, model_type, version, golden_answer(source, onnx_path, PARITY_TEXTS[1]), facts
    )
    metadata.save(out_dir)
    return ExportResult(onnx_path=onnx_path, metadata=metadata, max_abs_diff=worst)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]


__all__ = ["ExportError", "ExportOptions", "ExportResult", "SourceError", "export_model"]


def _export_causal_lm(
    model_path: Path | str,
    out_dir: Path | str,
    name: tuple[str, str],
    report: Step,
    options: ExportOptions,
) -> ExportResult:
    """A causal LM goes through onnxruntime-genai's builder (`modelops.export_generation`)."""
    if options.quantize not in (None, "int4"):
        raise ExportError(
            f"a causal language model exports as fp32 or --quantize int4, not {options.quantize}"
        )
    try:
        result = export_generation(model_path, out_dir, *name, report, precision=options.quantize or "fp32")
    except GenerationExportError as error:
        raise ExportError(str(error)) from error
    return ExportResult(onnx_path=result.onnx_path, metadata=result.metadata, max_abs_diff=0.0)
