"""Post-export graph work: ONNX Runtime's transformer fusions (`--optimize`) and dynamic int8
quantization (`--quantize int8`) checked against the fp32 model on an evaluation set.

Called by `modelops.export.export_model` after the fp32 graph passed its parity check. Quantization tries
per-tensor weights first and per-channel weights when per-tensor loses too many labels; the export fails
when even that agrees with fp32 on less than `min_agreement` of the evaluation texts. What was done and
the measured agreement (and accuracy drop, when the evaluation set is labelled) go into metadata.json.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelops.training.data import LabelledText

DEFAULT_MIN_AGREEMENT = 0.98
OPTIMIZE_TOLERANCE = 1e-3
EVAL_BATCH = 32
# Used when no --eval-data is given: varied everyday, risky and idiomatic sentences.
DEFAULT_EVAL_TEXTS = (
    "hello there", "good morning, how are you", "thanks so much for your help", "bye, talk tomorrow",
    "I feel tired and a bit low today", "work has been stressful all week", "I can't sleep at night",
    "can I book a session for Tuesday", "I want to hurt myself", "I don't want to live anymore",
    "this exam is killing me", "I could die laughing at that video", "my phone has a dead battery",
    "I am going to kill it at the interview", "someone threatened me at school", "I feel safe at home",
    "breathing exercises help me calm down", "I went for a long walk in the park",
    "nothing matters and I have a plan to end it", "my friend said she wants to disappear forever",
    "that joke slayed me", "the meeting dragged on and on", "please cancel my appointment",
    "I cooked dinner with my sister", "I keep thinking about taking all my pills",
    "what time does the clinic open", "my heart is racing and I can't breathe", "I love this song",
)  # fmt: skip

Encode = Callable[[Sequence[str]], dict[str, np.ndarray[Any, Any]]]


class QuantizationError(RuntimeError):
    """Quantized (or optimized) model disagrees with fp32 beyond the allowed threshold."""


def session(path: Path) -> Any:
    """A single-threaded CPU ONNX Runtime session."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def logits(path: Path, encode: Encode, texts: Sequence[str]) -> np.ndarray[Any, Any]:
    """Logits for all texts, in batches."""
    runner, rows = session(path), []
    for start in range(0, len(texts), EVAL_BATCH):
        rows.append(runner.run(["logits"], encode(texts[start : start + EVAL_BATCH]))[0])
    return np.concatenate(rows)


def optimize(fp32: Path, out: Path, encode: Encode, num_heads: int, hidden_size: int) -> dict[str, Any]:
    """Fuse attention/LayerNorm/GELU with ORT's BERT optimizer; the result must match fp32 closely."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(
        str(fp32), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=1
    )
    optimized.save_model_to_file(str(out))
    texts = list(DEFAULT_EVAL_TEXTS)
    worst = float(np.max(np.abs(logits(out, encode, texts) - logits(fp32, encode, texts))))
    if not worst <= OPTIMIZE_TOLERANCE:
        raise QuantizationError(f"optimized graph differs from fp32 by {worst:.3g} (> {OPTIMIZE_TOLERANCE})")
    fused = {name: count for name, count in optimized.get_fused_operator_statistics().items() if count}
    return {"optimized": True, "fused_operators": fused, "optimize_max_abs_diff": worst}


def _accuracy(scores: np.ndarray[Any, Any], truth: list[int]) -> float:
    return float(np.mean(scores.argmax(axis=1) == np.array(truth)))


def quantize_int8(
    fp32: Path,
    out: Path,
    encode: Encode,
    labels: Sequence[str],
    *,
    eval_set: Sequence[LabelledText] | None,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
) -> dict[str, Any]:
    """Dynamic int8 weights (per-tensor, then per-channel); raise QuantizationError below min_agreement."""
    from onnx.onnx_pb import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    FLOAT = TensorProto.FLOAT

    texts = [row.text for row in eval_set] if eval_set else list(DEFAULT_EVAL_TEXTS)
    reference = logits(fp32, encode, texts)
    tried: list[str] = []
    for per_channel in (False, True):
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)  # its "consider pre-processing" notice on the root logger
        try:
            quantize_dynamic(
                str(fp32),
                str(out),
                weight_type=QuantType.QInt8,
                per_channel=per_channel,
                extra_options={"DefaultTensorType": FLOAT},  # fused (--optimize) ops lack shape inference
            )
        finally:
            logging.disable(previous)
        quantized = logits(out, encode, texts)
        agreement = float(np.mean(quantized.argmax(axis=1) == reference.argmax(axis=1)))
        tried.append(f"{'per-channel' if per_channel else 'per-tensor'} {agreement:.3f}")
        if agreement >= min_agreement:
            record: dict[str, Any] = {
                "quantization": "int8-dynamic",
                "per_channel": per_channel,
                "agreement": round(agreement, 6),
                "min_agreement": min_agreement,
                "eval_texts": len(texts),
            }
            record.update(_metric_drop(reference, quantized, labels, eval_set))
            return record
    raise QuantizationError(
        f"int8 model agrees with fp32 on too few of {len(texts)} evaluation texts ({', '.join(tried)}; "
        f"--min-agreement {min_agreement:g}): export fp32 or lower --min-agreement"
    )


def _metric_drop(
    reference: np.ndarray[Any, Any],
    quantized: np.ndarray[Any, Any],
    labels: Sequence[str],
    eval_set: Sequence[LabelledText] | None,
) -> dict[str, float]:
    if not eval_set or any(row.label not in labels for row in eval_set):
        return {}
    truth = [list(labels).index(row.label) for row in eval_set]
    fp32_accuracy, int8_accuracy = _accuracy(reference, truth), _accuracy(quantized, truth)
    return {
        "fp32_accuracy": round(fp32_accuracy, 6),
        "int8_accuracy": round(int8_accuracy, 6),
        "accuracy_drop": round(fp32_accuracy - int8_accuracy, 6),
    }
