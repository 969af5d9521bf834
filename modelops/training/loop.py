"""The toy training loop shared by both toy classifiers: tokenizer, model, AdamW, held-out metrics.

Called by `modelops.training.example.run_example` (the toy trainers in tests/support) and by the unit
tests with a handful of epochs. Deterministic for a given dataset, config and seed (one CPU thread).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import torch
from tokenizers import Tokenizer
from torch import nn

from modelops.training.data import LabelledText, stratified_split
from modelops.training.metrics import classification_metrics
from modelops.training.model import ModelConfig, TransformerClassifier
from modelops.training.tokenizer import encode, train_wordpiece

EpochCallback = Callable[[int, float], None]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; the defaults train either example in well under a minute on one core."""

    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 13
    threads: int = 1
    test_fraction: float = 0.2
    vocab_size: int = 1000
    max_length: int = 32
    d_model: int = 64
    num_layers: int = 2


@dataclass
class TrainResult:
    """The trained model and everything the checkpoint and metadata need."""

    model: TransformerClassifier
    tokenizer: Tokenizer
    labels: list[str]
    metrics: dict[str, float]
    training: dict[str, Any] = field(default_factory=dict)


def _seed_everything(config: TrainConfig) -> None:
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    random.seed(config.seed)


def _tensors(tokenizer: Tokenizer, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    ids, mask = encode(tokenizer, texts)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(mask, dtype=torch.long)


def _batches(examples: list[LabelledText], size: int, rng: random.Random) -> list[list[LabelledText]]:
    shuffled = list(examples)
    rng.shuffle(shuffled)
    return [shuffled[start : start + size] for start in range(0, len(shuffled), size)]


def _run_epoch(
    model: TransformerClassifier,
    optimizer: torch.optim.Optimizer,
    batches: list[list[LabelledText]],
    tokenizer: Tokenizer,
    labels: list[str],
) -> float:
    model.train()
    loss_fn, total = nn.CrossEntropyLoss(), 0.0
    for batch in batches:
        ids, mask = _tensors(tokenizer, [e.text for e in batch])
        target = torch.tensor([labels.index(e.label) for e in batch], dtype=torch.long)
        optimizer.zero_grad()
        loss = loss_fn(model(ids, mask), target)
        loss.backward()
        optimizer.step()
        total += float(loss.item()) * len(batch)
    return total / sum(len(batch) for batch in batches)


def predict(model: TransformerClassifier, tokenizer: Tokenizer, texts: Sequence[str]) -> list[int]:
    """Class indices for `texts` (evaluation mode, no gradients)."""
    model.eval()
    with torch.no_grad():
        ids, mask = _tensors(tokenizer, texts)
        return [int(i) for i in model(ids, mask).argmax(dim=-1).tolist()]


def train_classifier(
    examples: list[LabelledText],
    labels: list[str],
    config: TrainConfig,
    positive_label: str | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train on a stratified split and report metrics on the held-out part."""
    _seed_everything(config)
    train, test = stratified_split(examples, config.test_fraction, config.seed)
    tokenizer = train_wordpiece([e.text for e in train], config.vocab_size, config.max_length)
    model_config = ModelConfig(
        vocab_size=tokenizer.get_vocab_size(),
        num_labels=len(labels),
        max_length=config.max_length,
        d_model=config.d_model,
        num_layers=config.num_layers,
    )
    model = TransformerClassifier(model_config)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    rng = random.Random(config.seed)
    for epoch in range(config.epochs):
        loss = _run_epoch(model, optimizer, _batches(train, config.batch_size, rng), tokenizer, labels)
        if on_epoch is not None:
            on_epoch(epoch + 1, loss)
    truth = [labels.index(e.label) for e in test]
    positive = labels.index(positive_label) if positive_label is not None else None
    metrics = classification_metrics(
        truth, predict(model, tokenizer, [e.text for e in test]), len(labels), positive
    )
    training = {
        "data_size": len(examples),
        "train_size": len(train),
        "test_size": len(test),
        "date": datetime.now(UTC).date().isoformat(),
        "epochs": config.epochs,
        "seed": config.seed,
    }
    return TrainResult(model=model, tokenizer=tokenizer, labels=labels, metrics=metrics, training=training)
