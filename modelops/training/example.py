"""Command line of the toy trainers: `--models-dir DIR --version vX.Y.Z [--epochs N]`.

`tests/support/toy_train_safety.py` and `tests/support/toy_train_intent.py` describe their task
and call `run_example`. It trains, prints held-out metrics and writes
`DIR/<type>/<version>/{model.pt, tokenizer.json, metrics.json}`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modelops.training.checkpoint import Checkpoint, save_checkpoint
from modelops.training.data import load_tsv
from modelops.training.loop import TrainConfig, TrainResult, train_classifier
from modelops.versions import canonical


@dataclass(frozen=True)
class ExampleTask:
    """One example classifier: its model type, dataset, class order and positive class (binary)."""

    model_type: str
    dataset: Path
    labels: list[str]
    positive_label: str | None = None


def _parser(task: ExampleTask) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=f"Train the {task.model_type} example model.")
    parser.add_argument("--models-dir", type=Path, default=Path("models"), help="seed models directory")
    parser.add_argument("--version", default="v1.0.0", help="semantic version, e.g. v1.0.0")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--data", type=Path, default=task.dataset, help="label<TAB>text dataset")
    return parser


def write_outputs(out_dir: Path, task: ExampleTask, result: TrainResult) -> Path:
    """Save model.pt, tokenizer.json and metrics.json into out_dir; return the model.pt path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = Checkpoint(
        model=result.model,
        tokenizer=result.tokenizer,
        labels=result.labels,
        metrics=result.metrics,
        training=result.training,
        model_type=task.model_type,
    )
    model_path = save_checkpoint(out_dir / "model.pt", checkpoint)
    (out_dir / "tokenizer.json").write_text(result.tokenizer.to_str(), encoding="utf-8")
    summary = {"metrics": result.metrics, "training": result.training, "labels": result.labels}
    (out_dir / "metrics.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return model_path


def run_example(task: ExampleTask, argv: Sequence[str] | None = None) -> int:
    """Parse arguments, train, print metrics and write the model directory; return an exit code."""
    args = _parser(task).parse_args(argv)
    version = canonical(args.version)
    started = time.monotonic()
    config = TrainConfig(epochs=args.epochs, seed=args.seed)
    result = train_classifier(load_tsv(args.data), task.labels, config, task.positive_label)
    model_path = write_outputs(args.models_dir / task.model_type / version, task, result)
    figures = " ".join(f"{name}={value:.3f}" for name, value in result.metrics.items())
    print(f"{task.model_type} {version}: {figures} ({time.monotonic() - started:.1f} s)")
    print(f"wrote {model_path}")
    return 0
