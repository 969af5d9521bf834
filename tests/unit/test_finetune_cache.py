"""The fine-tuning cache (`modelops.training.finetune`): the key follows the settings, and a finished
entry is reused without training. Cheap: it hashes the installed base weights but trains nothing."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Any

from modelops.training.cache import DONE_MARKER
from modelops.training.finetune import FinetuneSettings, base_model_dir, cache_key, finetune_cached

REPO = Path(__file__).resolve().parents[2]


def _intent_task() -> object:
    path = REPO / "examples" / "finetune_intent_classifier.py"
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
