"""Tiny real text-classifier models in the seed's directory layout, for tests across the project.

`make_model_dir` writes `<root>/<model_type>/<version>/` with a real ONNX graph (embedding -> masked mean
pool -> linear, built with `onnx.helper`), a WordPiece `tokenizer.json` (Hugging Face `tokenizers`),
metadata.json with a golden answer computed here with ONNX Runtime, and manifest.json; it also points the
`latest` symlink at the newest version. `corrupt_model` flips one byte of model.onnx (a tampered model).
The models are a few kilobytes and load in milliseconds, so tests stay fast on 2 cores.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelops.package.manifest import write_manifest
from modelops.package.metadata import ModelMetadata
from modelops.versions import latest

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
RISK_WORDS = ["hurt", "kill", "die", "danger", "weapon", "harm", "suicide", "attack"]
PLAIN_WORDS = [
    "i", "you", "we", "feel", "want", "to", "the", "a", "is", "am", "good", "happy", "today", "help",
    "me", "myself", "talk", "about", "day", "sad", "tired", "work", "friend", "sleep", "thanks", "hello",
    "how", "are", "what", "can", "do", "##s", "##ing", "##ed",
]  # fmt: skip
VOCAB = SPECIAL_TOKENS + PLAIN_WORDS + RISK_WORDS
GOLDEN_TEXT = "hello, how are you today?"
EMBED_DIM = 8
OPSET = 17


def write_tokenizer(model_dir: Path) -> Path:
    """A BERT-style WordPiece tokenizer.json over VOCAB ([CLS] text [SEP], lower-cased)."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    vocab = {token: index for index, token in enumerate(VOCAB)}
    tokenizer = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    path = model_dir / "tokenizer.json"
    tokenizer.save(str(path))
    return path


def _weights(num_labels: int, seed: int, favour: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    embedding = rng.normal(0.0, 0.3, size=(len(VOCAB), EMBED_DIM)).astype(np.float32)
    embedding[VOCAB.index(RISK_WORDS[0]) :, 0] += 4.0  # risk words push the last label up
    weight = rng.normal(0.0, 0.3, size=(EMBED_DIM, num_labels)).astype(np.float32)
    weight[0, :] = -1.0
    weight[0, -1] = 1.5
    bias = rng.normal(0.0, 0.1, size=(num_labels,)).astype(np.float32)
    bias[0] += 1.0  # neutral text clearly favours the first label, so the golden label is stable
    if favour is not None:
        bias[favour] += 50.0  # a broken classifier: this label wins for every text
    return embedding, weight, bias


def build_onnx_model(num_labels: int, seed: int = 0, favour: int | None = None) -> bytes:
    """Serialized ONNX: input_ids, attention_mask [batch, seq] int64 -> logits [batch, num_labels].

    `favour`: the index of a label that wins for every text (a biased model whose HTTP figures are
    perfectly healthy, for the label-shift analysis).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    embedding, weight, bias = _weights(num_labels, seed, favour)
    nodes = [
        helper.make_node("Gather", ["embedding", "input_ids"], ["embedded"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["embedded", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask_f", "axis1"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "one"], ["safe_count"]),
        helper.make_node("Div", ["summed", "safe_count"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "weight"], ["projected"]),
        helper.make_node("Add", ["projected", "bias"], ["logits"]),
    ]
    initializers = [
        numpy_helper.from_array(embedding, "embedding"),
        numpy_helper.from_array(weight, "weight"),
        numpy_helper.from_array(bias, "bias"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array([1.0], dtype=np.float32), "one"),
    ]
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", num_labels])
    graph = helper.make_graph(nodes, "tiny_text_classifier", [ids, mask], [logits], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def reference_scores(
    model_dir: Path, text: str, labels: Sequence[str], max_length: int = 64
) -> dict[str, float]:
    """Scores for one text computed directly with tokenizers + ONNX Runtime (independent of the server)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length)
    encoding = tokenizer.encode(text)
    ids = np.array([encoding.ids], dtype=np.int64)
    mask = np.array([encoding.attention_mask], dtype=np.int64)
    session = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
    exp = np.exp(logits[0] - logits[0].max())
    probabilities = exp / exp.sum()
    return {label: float(p) for label, p in zip(labels, probabilities, strict=True)}


def _seed_for(model_type: str, version: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{model_type}/{version}".encode()).digest()[:4], "big")


def make_model_dir(
    root: Path | str,
    model_type: str = "safety_classifier",
    version: str = "v1.0.0",
    labels: Sequence[str] = ("safe", "risk"),
    *,
    max_length: int = 64,
    golden: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    model_bytes: bytes | None = None,
) -> Path:
    """Write a complete seed-layout model dir (`<root>/<type>/<version>/`) and return its path.

    `golden` overrides the computed golden answer (e.g. a wrong label to test the golden check);
    `model_bytes` replaces the tiny graph by another ONNX classifier with the same inputs (e.g. an encoder).
    """
    model_dir = Path(root) / model_type / version
    model_dir.mkdir(parents=True, exist_ok=True)
    onnx_bytes = model_bytes or build_onnx_model(len(labels), _seed_for(model_type, version))
    (model_dir / "model.onnx").write_bytes(onnx_bytes)
    write_tokenizer(model_dir)
    scores = reference_scores(model_dir, GOLDEN_TEXT, labels, max_length)
    computed = {"text": GOLDEN_TEXT, "label": max(scores, key=scores.__getitem__), "scores": scores}
    metadata = _metadata(
        model_type=model_type,
        version=version,
        labels=labels,
        max_length=max_length,
        golden=golden or {**computed, "tolerance": 1e-4},
        metrics=metrics,
    )
    metadata.save(model_dir)
    write_manifest(model_dir)
    update_latest_link(model_dir.parent)
    return model_dir


def _metadata(
    *,
    model_type: str,
    version: str,
    labels: Sequence[str],
    max_length: int,
    golden: dict[str, Any],
    metrics: dict[str, float] | None,
) -> ModelMetadata:
    return ModelMetadata(
        model_type=model_type,
        version=version,
        labels=list(labels),
        inputs=[
            {"name": "input_ids", "dtype": "int64", "shape": ["batch", "sequence"]},
            {"name": "attention_mask", "dtype": "int64", "shape": ["batch", "sequence"]},
        ],
        outputs=[{"name": "logits", "dtype": "float32", "shape": ["batch", len(labels)]}],
        max_length=max_length,
        golden=golden,
        metrics=metrics or {"accuracy": 0.9, "precision": 0.88, "recall": 0.91},
        training={"data_size": 100, "date": "2024-01-01"},
        framework="onnx",
    )


def update_latest_link(type_dir: Path) -> Path:
    """Point `<type_dir>/latest` at the newest semver-named version directory."""
    versions = [p.name for p in type_dir.iterdir() if p.is_dir() and not p.is_symlink()]
    link = type_dir / "latest"
    temporary = type_dir / ".latest.tmp"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(latest(versions))
    os.replace(temporary, link)
    return link


def corrupt_model(model_dir: Path | str, offset: int | None = None) -> Path:
    """Flip one byte of model.onnx (in the middle unless `offset` is given) without touching the manifest."""
    path = Path(model_dir) / "model.onnx"
    data = bytearray(path.read_bytes())
    index = len(data) // 2 if offset is None else offset
    data[index] ^= 0xFF
    path.write_bytes(bytes(data))
    return path
