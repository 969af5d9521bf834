"""Labelled example sentences: loading the TSV datasets in `examples/data/` and a reproducible split.

Used by the training loop (`modelops.training.loop`) and the example scripts.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


class DatasetError(ValueError):
    """A dataset file that is missing, empty or malformed."""


@dataclass(frozen=True)
class LabelledText:
    """One sentence and its class name."""

    text: str
    label: str


def load_tsv(path: Path | str) -> list[LabelledText]:
    """Read a `label<TAB>text` file with a header row; raise DatasetError naming the bad line."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
    except OSError as error:
        raise DatasetError(f"cannot read dataset {path}: {error}") from error
    examples = [_parse_row(path, number, row) for number, row in enumerate(rows[1:], start=2)]
    if not examples:
        raise DatasetError(f"dataset {path} has no examples")
    return examples


def _parse_row(path: Path, number: int, row: list[str]) -> LabelledText:
    if len(row) != 2 or not row[0].strip() or not row[1].strip():
        raise DatasetError(f"{path}:{number}: expected 'label<TAB>text', got {row!r}")
    return LabelledText(text=row[1].strip(), label=row[0].strip())


def stratified_split(
    examples: list[LabelledText], test_fraction: float, seed: int
) -> tuple[list[LabelledText], list[LabelledText]]:
    """Split every class in the same proportion; the same seed always gives the same split."""
    by_label: dict[str, list[LabelledText]] = defaultdict(list)
    for example in examples:
        by_label[example.label].append(example)
    rng = random.Random(seed)
    train: list[LabelledText] = []
    test: list[LabelledText] = []
    for label in sorted(by_label):
        group = list(by_label[label])
        rng.shuffle(group)
        held_out = max(1, round(len(group) * test_fraction))
        test.extend(group[:held_out])
        train.extend(group[held_out:])
    return train, test
