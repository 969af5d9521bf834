"""Tokenize + ONNX Runtime + softmax: the model code the peers' custom runtimes wrap, written for this bench.

`bench/bench_served_peers.py` serves the plain fp32 export of the fine-tuned MiniLM safety model with MLServer
(`mlserver_runtime.py`) and KServe (`kserve_runtime.py`); both call this class, so the peers run the same
model code and differ only in their serving layers. A peer model directory holds `model.onnx`,
`tokenizer.json` and the Hugging Face `config.json` (labels from `id2label`), as a user of a peer would have
them. Runs inside the peers' own venvs: needs only numpy, tokenizers and onnxruntime.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ENCODING_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


class OnnxTextClassifier:
    """One ORT session on `threads` intra-op threads, the model's tokenizer, its labels."""

    def __init__(self, model_dir: Path, max_length: int, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]")
        id2label = json.loads((model_dir / "config.json").read_text())["id2label"]
        self.labels = [id2label[str(index)] for index in range(len(id2label))]
        self.inputs = [i.name for i in self.session.get_inputs()]

    def probabilities(self, texts: list[str]) -> np.ndarray[Any, Any]:
        """Softmax over the logits, one row per text (the batch padded to its longest text)."""
        encodings = self.tokenizer.encode_batch(texts)
        feeds = {
            name: np.array([getattr(e, ENCODING_FIELDS[name]) for e in encodings], dtype=np.int64)
            for name in self.inputs
        }
        logits = np.asarray(self.session.run(["logits"], feeds)[0], dtype=np.float32)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))

    def classify(self, texts: list[str]) -> list[dict[str, Any]]:
        """[{"label": best label, "scores": {label: probability}}] per text."""
        rows = self.probabilities(texts)
        return [
            {
                "label": self.labels[int(row.argmax())],
                "scores": dict(zip(self.labels, map(float, row), strict=True)),
            }
            for row in rows
        ]
