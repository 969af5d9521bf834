"""`model.pt`: the trained weights plus everything needed to rebuild and export the model alone.

The checkpoint holds only plain types and tensors (loadable with `torch.load(weights_only=True)`):
the model config, the state dict, the class labels, the tokenizer JSON, metrics and training facts.
Written by the training examples; read by `modelops.export` (`modelctl export` / `deploy-model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from modelops.training.model import ModelConfig, TransformerClassifier

CHECKPOINT_FORMAT = "modelops.io/checkpoint/v1"


class CheckpointError(ValueError):
    """A model.pt that is missing, unreadable or not written by the modelops training code."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model in eval mode and its tokenizer, labels, metrics and facts."""

    model: TransformerClassifier
    tokenizer: Tokenizer
    labels: list[str]
    metrics: dict[str, float]
    training: dict[str, Any]
    model_type: str

    @property
    def max_length(self) -> int:
        """The longest token sequence the model accepts (its position table size)."""
        return self.model.config.max_length


def save_checkpoint(path: Path | str, checkpoint: Checkpoint) -> Path:
    """Write the checkpoint to `path` (parent directories are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model_type": checkpoint.model_type,
        "config": checkpoint.model.config.to_dict(),
        "state_dict": checkpoint.model.state_dict(),
        "labels": list(checkpoint.labels),
        "tokenizer": checkpoint.tokenizer.to_str(),
        "metrics": dict(checkpoint.metrics),
        "training": dict(checkpoint.training),
    }
    torch.save(payload, path)
    return path


def load_checkpoint(path: Path | str) -> Checkpoint:
    """Read a checkpoint and rebuild its model; raise CheckpointError saying what is wrong."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise CheckpointError(f"model file not found: {path}") from error
    except Exception as error:
        raise CheckpointError(f"cannot read model file {path}: {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a modelops checkpoint (format {CHECKPOINT_FORMAT})")
    model = TransformerClassifier(ModelConfig(**payload["config"]))
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return Checkpoint(
        model=model,
        tokenizer=Tokenizer.from_str(payload["tokenizer"]),
        labels=list(payload["labels"]),
        metrics={str(k): float(v) for k, v in payload["metrics"].items()},
        training=dict(payload["training"]),
        model_type=str(payload["model_type"]),
    )
