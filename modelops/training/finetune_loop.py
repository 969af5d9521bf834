"""The torch side of fine-tuning: load the pretrained encoder with a fresh classification head, train it
with AdamW and a linear warm-up/decay schedule (a progress bar on a terminal), choose a binary task's
decision threshold on the validation split and bake it into the head's bias, and predict a split.

Called only by `modelops.training.finetune` (heavy imports stay out of the cache look-up path).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from modelops.sources import configure_tokenizer
from modelops.training.data import LabelledText
from modelops.training.finetune import FinetuneSettings, FinetuneTask
from modelops.training.progress import progress_bar

EVAL_BATCH = 64


def load_base(base: Path, labels: Sequence[str], settings: FinetuneSettings) -> tuple[Any, Tokenizer]:
    """BertForSequenceClassification from the base encoder's weights, and its tokenizer."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    torch.manual_seed(settings.seed)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(base),
        local_files_only=True,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: index for index, label in enumerate(labels)},
        attn_implementation="eager",
    )
    if settings.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    tokenizer = configure_tokenizer(Tokenizer.from_file(str(base / "tokenizer.json")), settings.max_length)
    return model, tokenizer


def _batch(tokenizer: Tokenizer, texts: Sequence[str]) -> dict[str, torch.Tensor]:
    encodings = tokenizer.encode_batch(list(texts))
    return {
        "input_ids": torch.tensor([e.ids for e in encodings]),
        "attention_mask": torch.tensor([e.attention_mask for e in encodings]),
        "token_type_ids": torch.tensor([e.type_ids for e in encodings]),
    }


def fit(
    model: Any,
    tokenizer: Tokenizer,
    rows: Sequence[LabelledText],
    task: FinetuneTask,
    *,
    settings: FinetuneSettings,
    show_progress: bool,
) -> None:
    """Train in place; rows are already shuffled, each epoch reshuffles with the seed."""
    import transformers

    steps_per_epoch = (len(rows) + settings.batch_size - 1) // settings.batch_size
    total = steps_per_epoch * settings.epochs
    trained = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=settings.learning_rate, weight_decay=0.01)
    schedule = transformers.get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        optimizer, int(total * settings.warmup_fraction), total
    )
    weights = torch.ones(len(task.labels))
    if task.positive_label:
        weights[task.labels.index(task.positive_label)] = settings.positive_weight
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    generator = torch.Generator().manual_seed(settings.seed)
    model.train()
    with progress_bar(show_progress, total, "fine-tune") as advance:
        for epoch in range(settings.epochs):
            order = torch.randperm(len(rows), generator=generator).tolist()
            for start in range(0, len(order), settings.batch_size):
                chunk = [rows[i] for i in order[start : start + settings.batch_size]]
                target = torch.tensor([task.labels.index(row.label) for row in chunk])
                logits = model(**_batch(tokenizer, [row.text for row in chunk])).logits
                loss = loss_fn(logits, target)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trained, 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                advance(epoch + 1, loss.item())
    model.eval()


def _logits(model: Any, tokenizer: Tokenizer, rows: Sequence[LabelledText]) -> torch.Tensor:
    parts = []
    with torch.no_grad():
        for start in range(0, len(rows), EVAL_BATCH):
            texts = [row.text for row in rows[start : start + EVAL_BATCH]]
            parts.append(model(**_batch(tokenizer, texts)).logits)
    return torch.cat(parts)


def evaluate(
    model: Any, tokenizer: Tokenizer, rows: Sequence[LabelledText], labels: Sequence[str]
) -> tuple[list[int], list[int]]:
    """(true class ids, predicted class ids) for rows."""
    predicted: list[int] = _logits(model, tokenizer, rows).argmax(dim=1).tolist()
    return [list(labels).index(row.label) for row in rows], predicted


def pick_threshold(
    model: Any, tokenizer: Tokenizer, rows: Sequence[LabelledText], task: FinetuneTask, recall: float
) -> float:
    """The highest probability threshold of the positive class that keeps `recall` on rows (validation),
    kept within [0.05, 0.9] so that a few validation rows cannot push it to an extreme."""
    assert task.positive_label is not None
    positive = task.labels.index(task.positive_label)
    scores = _logits(model, tokenizer, rows).softmax(dim=1)[:, positive].tolist()
    found = sorted(score for score, row in zip(scores, rows, strict=True) if row.label == task.positive_label)
    allowed_misses = int(len(found) * (1.0 - recall))
    # Just below the score of the (allowed_misses + 1)-th lowest positive: it and all above are flagged.
    threshold = found[allowed_misses] * 0.999 if found else 0.5
    return min(0.9, max(0.05, threshold))


def apply_threshold(model: Any, positive: int, threshold: float) -> None:
    """Shift the positive class's bias so that argmax flags it exactly when its softmax probability
    (two classes) is above threshold: p > t  <=>  z_pos - z_neg > log(t / (1 - t))."""
    shift = math.log(threshold / (1.0 - threshold))
    with torch.no_grad():
        model.classifier.bias[positive] -= shift
