"""A small transformer encoder classifier (token + position embeddings, N pre-built encoder layers,
masked mean pooling, linear head).

Attention is written out with plain tensor operations rather than `nn.MultiheadAttention` so the ONNX
export (`modelops.export`) sees simple ops with dynamic batch and sequence axes and no fused fast path.
Built by the training loop and rebuilt from a checkpoint by the export step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

# Added to the attention scores of padding positions: large enough to zero them after softmax, finite
# so that a fully padded row cannot produce NaN.
_MASKED_SCORE = -1.0e4


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the classifier; stored in the checkpoint so the export can rebuild it."""

    vocab_size: int
    num_labels: int
    max_length: int = 32
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    ff_dim: int = 128
    dropout: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the checkpoint."""
        return asdict(self)


class EncoderLayer(nn.Module):
    """Post-norm self-attention + feed-forward block."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.d_model // config.num_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.attention_out = nn.Linear(config.d_model, config.d_model)
        self.feed_forward = nn.Sequential(
            nn.Linear(config.d_model, config.ff_dim), nn.GELU(), nn.Linear(config.ff_dim, config.d_model)
        )
        self.norm_attention = nn.LayerNorm(config.d_model)
        self.norm_output = nn.LayerNorm(config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def attend(self, hidden: torch.Tensor, score_bias: torch.Tensor) -> torch.Tensor:
        """Multi-head self-attention; score_bias is [batch, 1, 1, seq] (0 or _MASKED_SCORE)."""
        batch, seq, width = hidden.size(0), hidden.size(1), hidden.size(2)
        qkv = self.qkv(hidden).reshape(batch, seq, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        scores = query @ key.transpose(-2, -1) / math.sqrt(self.head_dim) + score_bias
        context = scores.softmax(dim=-1) @ value
        merged: torch.Tensor = self.attention_out(context.transpose(1, 2).reshape(batch, seq, width))
        return merged

    def forward(self, hidden: torch.Tensor, score_bias: torch.Tensor) -> torch.Tensor:
        hidden = self.norm_attention(hidden + self.dropout(self.attend(hidden, score_bias)))
        output: torch.Tensor = self.norm_output(hidden + self.dropout(self.feed_forward(hidden)))
        return output


class TransformerClassifier(nn.Module):
    """input_ids, attention_mask (int64, [batch, seq]) → logits (float32, [batch, num_labels])."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model, padding_idx=0)
        self.position_embedding = nn.Embedding(config.max_length, config.d_model)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_layers))
        self.embedding_norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.size(1), device=input_ids.device).unsqueeze(0)
        hidden = self.embedding_norm(self.token_embedding(input_ids) + self.position_embedding(positions))
        mask = attention_mask.to(hidden.dtype)
        score_bias = (1.0 - mask)[:, None, None, :] * _MASKED_SCORE
        for layer in self.layers:
            hidden = layer(hidden, score_bias)
        weights = mask.unsqueeze(-1)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        logits: torch.Tensor = self.head(pooled)
        return logits
