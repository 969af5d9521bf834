"""A tiny transformer classifier exported from torch serves, and the server reproduces torch's scores."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from support.models import VOCAB, make_model_dir
from support.serving import MODEL_TYPE, SEED_PREDICT, serving, settings_for

torch = pytest.importorskip("torch")


def _tiny_transformer(num_labels: int) -> Any:
    """One attention block + masked mean pooling, in plain ops (the exporter needs no fused fast path)."""
    nn = torch.nn

    class TinyTransformer(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(len(VOCAB), 16)
            self.qkv = nn.Linear(16, 48)
            self.ffn = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16))
            self.norm1, self.norm2 = nn.LayerNorm(16), nn.LayerNorm(16)
            self.head = nn.Linear(16, num_labels)

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            x = self.embed(input_ids)
            q, k, v = self.qkv(x).chunk(3, dim=-1)
            mask = attention_mask.unsqueeze(1).to(x.dtype)
            scores = q @ k.transpose(1, 2) / 4.0 + (1.0 - mask) * -1e4
            x = self.norm1(x + torch.softmax(scores, dim=-1) @ v)
            x = self.norm2(x + self.ffn(x))
            weights = attention_mask.unsqueeze(-1).to(x.dtype)
            return self.head((x * weights).sum(1) / weights.sum(1).clamp(min=1.0))

    torch.manual_seed(0)
    return TinyTransformer().eval()


def _export(model: Any) -> bytes:
    ids = torch.tensor([[2, 5, 6, 3]], dtype=torch.int64)
    buffer = io.BytesIO()
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"}}  # fmt: skip
    torch.onnx.export(model, (ids, torch.ones_like(ids)), buffer, input_names=["input_ids", "attention_mask"],
                      output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False)  # fmt: skip
    return buffer.getvalue()


def _torch_scores(model: Any, model_dir: Path, texts: list[str]) -> np.ndarray:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    encodings = tokenizer.encode_batch(texts)
    ids = torch.tensor([e.ids for e in encodings])
    mask = torch.tensor([e.attention_mask for e in encodings])
    with torch.no_grad():
        return np.asarray(torch.softmax(model(ids, mask), dim=-1).numpy())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_torch_exported_transformer_is_healthy_and_matches_torch(tmp_path: Path) -> None:
    model = _tiny_transformer(2)
    root = tmp_path / "models"
    model_dir = make_model_dir(root, MODEL_TYPE, "v1.0.0", model_bytes=_export(model))
    texts = ["hello friend", "i want to hurt myself today", "kill"]
    expected = _torch_scores(model, model_dir, texts)
    async with serving(settings_for(root)) as client:
        health = await client.get(f"/api/v1/ml-models/{MODEL_TYPE}/health")
        body = (await client.post(SEED_PREDICT, json={"texts": texts})).json()
    assert health.json()["status"] == "healthy", health.json()
    got = np.array([[p["scores"]["safe"], p["scores"]["risk"]] for p in body["predictions"]])
    np.testing.assert_allclose(got, expected, atol=1e-5)
