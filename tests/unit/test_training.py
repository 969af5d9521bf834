"""Training examples: datasets, deterministic tokenizer, metrics, the loop, checkpoints, the scripts."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from modelops.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from modelops.training.data import DatasetError, LabelledText, load_tsv, stratified_split
from modelops.training.loop import TrainConfig, predict, train_classifier
from modelops.training.metrics import classification_metrics
from modelops.training.tokenizer import UNK, train_wordpiece

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "examples" / "data"
TINY = TrainConfig(epochs=3, d_model=32, num_layers=1)


def test_datasets_are_a_few_hundred_labelled_sentences() -> None:
    safety, intent = load_tsv(DATA / "safety.tsv"), load_tsv(DATA / "intent.tsv")
    assert len(safety) >= 250 and len(intent) >= 200
    assert set(Counter(e.label for e in safety)) == {"safe", "risk"}
    assert set(Counter(e.label for e in intent)) == {
        "greeting",
        "goodbye",
        "gratitude",
        "venting",
        "coping",
        "booking",
    }
    assert len({e.text for e in safety}) == len(safety), "duplicate sentences in safety.tsv"


def test_malformed_dataset_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("label\ttext\nsafe\tfine\nno-tab-here\n")
    with pytest.raises(DatasetError, match=r"bad\.tsv:3"):
        load_tsv(bad)


def test_split_is_stratified_and_reproducible() -> None:
    examples = load_tsv(DATA / "safety.tsv")
    train, test = stratified_split(examples, 0.2, seed=1)
    assert stratified_split(examples, 0.2, seed=1) == (train, test)
    assert len(train) + len(test) == len(examples) and not set(train) & set(test)
    share = Counter(e.label for e in test)["risk"] / len(test)
    assert 0.4 < share < 0.6


def test_tokenizer_vocabulary_is_deterministic_and_never_unk_only() -> None:
    texts = [e.text for e in load_tsv(DATA / "intent.tsv")]
    first = train_wordpiece(texts, 500, 32).to_str()
    assert all(train_wordpiece(list(reversed(texts)), 500, 32).to_str() == first for _ in range(3))
    tokens = train_wordpiece(texts, 500, 32).encode("grandparents hummed").tokens
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and UNK not in tokens


def test_binary_and_macro_metrics() -> None:
    binary = classification_metrics([0, 1, 1, 0], [0, 1, 0, 1], 2, positive=1)
    assert binary == {"accuracy": 0.5, "precision": 0.5, "recall": 0.5, "f1": 0.5}
    macro = classification_metrics([0, 1, 2], [0, 1, 1], 3, positive=None)
    assert macro["accuracy"] == 0.6667 and macro["recall"] == 0.6667 and macro["precision"] == 0.5


def test_training_lowers_the_loss_and_checkpoint_round_trips(tmp_path: Path) -> None:
    examples = load_tsv(DATA / "safety.tsv")
    losses: list[float] = []
    result = train_classifier(examples, ["safe", "risk"], TINY, "risk", lambda _e, loss: losses.append(loss))
    assert len(losses) == TINY.epochs and losses[-1] < losses[0]
    assert set(result.metrics) == {"accuracy", "precision", "recall", "f1"}
    assert result.training["data_size"] == len(examples)
    checkpoint = Checkpoint(
        result.model, result.tokenizer, result.labels, result.metrics, result.training, "safety_classifier"
    )
    loaded = load_checkpoint(save_checkpoint(tmp_path / "model.pt", checkpoint))
    texts = [e.text for e in examples[:20]]
    assert predict(loaded.model, loaded.tokenizer, texts) == predict(result.model, result.tokenizer, texts)
    assert loaded.labels == ["safe", "risk"] and loaded.metrics == result.metrics


def test_training_is_reproducible() -> None:
    examples = [LabelledText(f"sentence number {i}", "a" if i % 2 else "b") for i in range(40)]
    config = TrainConfig(epochs=2, d_model=16, num_layers=1)
    first = train_classifier(examples, ["a", "b"], config)
    second = train_classifier(examples, ["a", "b"], config)
    for (name, a), (_, b) in zip(
        first.model.state_dict().items(), second.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


@pytest.mark.parametrize(
    ("script", "model_type"),
    [("toy_train_safety.py", "safety_classifier"), ("toy_train_intent.py", "intent_classifier")],
)
def test_toy_training_script_writes_the_model_directory(script: str, model_type: str, tmp_path: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "tests" / "support" / script),
            "--models-dir",
            str(tmp_path),
            "--version",
            "1.0.0",
            "--epochs",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = tmp_path / model_type / "v1.0.0"
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "model.pt", "tokenizer.json"]
    assert "accuracy=" in done.stdout and "recall=" in done.stdout
    assert time.monotonic() - started < 120
