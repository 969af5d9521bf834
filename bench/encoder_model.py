"""A small BERT-like encoder classifier as a real model directory, for `bench_server.py`.

Built with `onnx.helper` (no torch needed): token embeddings, N layers of multi-head self-attention with
the padding mask + GELU feed-forward, each with residual + LayerNorm, [CLS] pooling and a linear head. The
tokenizer, metadata (with golden answer) and manifest come from `tests/support/models.py`, so the server
verifies and loads it exactly like a production model.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from support import models as tiny  # noqa: E402

OPSET = 20


class _Graph:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self, seed: int) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, array: np.ndarray, prefix: str = "c") -> str:
        from onnx import numpy_helper

        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def weight(self, *shape: int) -> str:
        scale = 1.0 / np.sqrt(shape[0])
        return self.const(self.rng.normal(0, scale, size=shape).astype(np.float32), "w")

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def linear(self, x: str, d_in: int, d_out: int) -> str:
        bias = self.const(np.zeros(d_out, dtype=np.float32), "b")
        return self.op("Add", [self.op("MatMul", [x, self.weight(d_in, d_out)]), bias])

    def layer_norm(self, x: str, hidden: int) -> str:
        scale = self.const(np.ones(hidden, dtype=np.float32), "ln_scale")
        bias = self.const(np.zeros(hidden, dtype=np.float32), "ln_bias")
        return self.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=1e-5)


def _heads(g: _Graph, x: str, heads: int, head_dim: int, perm: list[int]) -> str:
    shape = g.const(np.array([0, 0, heads, head_dim], dtype=np.int64), "shape")
    return g.op("Transpose", [g.op("Reshape", [x, shape])], perm=perm)


def _attention(g: _Graph, x: str, mask_bias: str, hidden: int, heads: int) -> str:
    head_dim = hidden // heads
    q = _heads(g, g.linear(x, hidden, hidden), heads, head_dim, [0, 2, 1, 3])
    k = _heads(g, g.linear(x, hidden, hidden), heads, head_dim, [0, 2, 3, 1])
    v = _heads(g, g.linear(x, hidden, hidden), heads, head_dim, [0, 2, 1, 3])
    scale = g.const(np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
    scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), mask_bias])
    context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    merged = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]),
                              g.const(np.array([0, 0, hidden], dtype=np.int64))])  # fmt: skip
    return g.linear(merged, hidden, hidden)


def _layer(g: _Graph, x: str, mask_bias: str, hidden: int, heads: int) -> str:
    x = g.layer_norm(g.op("Add", [x, _attention(g, x, mask_bias, hidden, heads)]), hidden)
    ffn = g.linear(g.op("Gelu", [g.linear(x, hidden, 4 * hidden)]), 4 * hidden, hidden)
    return g.layer_norm(g.op("Add", [x, ffn]), hidden)


def _mask_bias(g: _Graph) -> str:
    mask = g.op("Cast", ["attention_mask"], to=1)
    inverted = g.op("Sub", [g.const(np.array(1.0, dtype=np.float32)), mask])
    bias = g.op("Mul", [inverted, g.const(np.array(-1e4, dtype=np.float32))])
    return g.op("Unsqueeze", [bias, g.const(np.array([1, 2], dtype=np.int64))])


def build_encoder(layers: int, hidden: int, heads: int, num_labels: int, seed: int = 0) -> bytes:
    """Serialized ONNX encoder: input_ids, attention_mask [batch, seq] int64 -> logits [batch, labels]."""
    import onnx
    from onnx import TensorProto, helper

    g = _Graph(seed)
    embedding = g.const(g.rng.normal(0, 0.5, size=(len(tiny.VOCAB), hidden)).astype(np.float32), "embedding")
    x = g.layer_norm(g.op("Gather", [embedding, "input_ids"]), hidden)
    mask_bias = _mask_bias(g)
    for _ in range(layers):
        x = _layer(g, x, mask_bias, hidden, heads)
    cls = g.op("Gather", [x, g.const(np.array(0, dtype=np.int64))], axis=1)
    logits_inner = g.linear(cls, hidden, num_labels)
    g.nodes.append(helper.make_node("Identity", [logits_inner], ["logits"]))
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
              for n in ("input_ids", "attention_mask")]  # fmt: skip
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", num_labels])
    graph = helper.make_graph(g.nodes, "bench_encoder", inputs, [output], g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def make_encoder_dir(root: Path, layers: int, hidden: int, heads: int, seq_len: int) -> Path:
    """A complete, verifiable model dir `<root>/bench_encoder/v1.0.0` holding the encoder."""
    encoder = build_encoder(layers, hidden, heads, num_labels=2)
    return tiny.make_model_dir(root, "bench_encoder", "v1.0.0", max_length=seq_len, model_bytes=encoder)
