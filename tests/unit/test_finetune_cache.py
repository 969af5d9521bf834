"""The fine-tuning cache (`modelops.training.finetune`): the key follows the settings, and a finished
entry is reused without training; the held-out files stay apart from training; the risk threshold chosen on
validation is baked into the head's bias. Cheap: it hashes the installed base weights but trains nothing."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from pathlib import Path
from typing import Any

import pytest

from modelops.training.cache import DONE_MARKER
from modelops.training.data import LabelledText
from modelops.training.finetune import (
    FinetuneError,
    FinetuneSettings,
    FinetuneTask,
    base_model_dir,
    cache_key,
    finetune_cached,
    load_splits,
)

REPO = Path(__file__).resolve().parents[2]


def _intent_task() -> object:
    path = REPO / "examples" / "train_intent_classifier.py"
    spec = importlib.util.spec_from_file_location("finetune_intent", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TASK


def test_cache_key_follows_settings_and_a_finished_entry_is_reused(tmp_path: Path) -> None:
    task: Any = _intent_task()
    base = base_model_dir()
    first, other = cache_key(task, FinetuneSettings(), base), cache_key(task, FinetuneSettings(seed=1), base)
    assert first != other
    entry = tmp_path / f"{task.model_type}-{first}"
    entry.mkdir()
    (entry / "metrics.json").write_text('{"accuracy": 0.5}')
    (entry / DONE_MARKER).write_text("ok\n")
    result = finetune_cached(task, FinetuneSettings(), cache_root=tmp_path)
    assert result.cached and result.directory == entry and result.metrics == {"accuracy": 0.5}


def test_cache_key_depends_on_data_content_not_on_where_the_checkout_is(tmp_path: Path) -> None:
    task: Any = _intent_task()
    base = base_model_dir()
    moved = []
    for path in task.datasets:
        (tmp_path / path.name).write_bytes(path.read_bytes())
        moved.append(tmp_path / path.name)
    same = dataclasses.replace(task, datasets=moved)
    assert cache_key(same, FinetuneSettings(), base) == cache_key(task, FinetuneSettings(), base)
    moved[0].write_bytes(moved[0].read_bytes() + b"greeting\tHowdy partner\n")
    assert cache_key(same, FinetuneSettings(), base) != cache_key(task, FinetuneSettings(), base)


def test_targets_are_not_part_of_the_key_and_a_held_out_sentence_in_training_is_refused(
    tmp_path: Path,
) -> None:
    task: Any = _intent_task()
    base = base_model_dir()
    stricter = dataclasses.replace(task, targets={"accuracy": 0.99})
    assert cache_key(stricter, FinetuneSettings(), base) == cache_key(task, FinetuneSettings(), base)
    leaked = tmp_path / "leaked.tsv"
    leaked.write_text("label\ttext\ngreeting\tHI THERE\n", encoding="utf-8")  # "Hi there" is in intent.tsv
    with pytest.raises(FinetuneError, match="held-out sentences also in the training data"):
        load_splits(dataclasses.replace(task, heldout=[leaked]), FinetuneSettings())
    train, validation, test = load_splits(task, FinetuneSettings())
    assert len(test) >= 100 and not {r.text for r in test} & {r.text for r in train + validation}


def test_threshold_is_chosen_on_validation_and_baked_into_the_bias(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from modelops.training import finetune_loop

    task = FinetuneTask("safety_classifier", [], [], ["safe", "risk"], positive_label="risk")
    rows = [LabelledText(f"r{i}", "risk") for i in range(10)] + [LabelledText("s", "safe")]
    risk_probability = torch.tensor([0.3, *[0.9] * 9, 0.2])
    logits = torch.stack([torch.zeros(11), torch.log(risk_probability / (1 - risk_probability))], dim=1)
    monkeypatch.setattr(finetune_loop, "_logits", lambda *_: logits)
    # 85 % recall may miss one of ten: just below the second-lowest risk score (0.9). (Exactly 0.9 would
    # allow none: 10 * (1 - 0.9) is 0.999... in floats; to round in the next change of finetune_loop.)
    assert finetune_loop.pick_threshold(None, None, rows, task, 0.85) == pytest.approx(0.9 * 0.999)
    threshold = finetune_loop.pick_threshold(None, None, rows, task, 1.0)  # keep all: just below 0.3
    assert threshold == pytest.approx(0.3 * 0.999)
    model = torch.nn.Module()
    model.classifier = torch.nn.Linear(4, 2)
    finetune_loop.apply_threshold(model, 1, threshold)
    features = torch.randn(500, 4)
    shifted = model.classifier(features)
    with torch.no_grad():
        model.classifier.bias[1] += math.log(threshold / (1 - threshold))  # undo: the unshifted head
        original = model.classifier(features).softmax(dim=1)[:, 1]
    assert torch.equal(shifted.argmax(dim=1) == 1, original > threshold)
